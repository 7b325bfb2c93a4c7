// The privacy pause (issue 15): someone comes into the room, and one tap stops
// camera and microphone at once; the other person's page says "Pausiert seit
// 14:32" and holds its own camera and microphone too, so that neither side is
// seen or heard by the one who came in. One tap of the one who paused resumes;
// the other side cannot end someone else's pause (that would switch their
// camera on from afar).
//
// It travels as `paused` in our `media-state` (docs/protocol.md): through the
// server, not the data channel, so that it also reaches a page whose media is
// still being set up or has failed, and a page that comes back (the server
// keeps each member's latest). No time travels with it: each page shows when
// *it* learned of the pause, by its own clock, so a wrong clock on the other
// device cannot show a wrong time here.
//
// Pure: no DOM, no clock; `now` is a wall-clock time in ms (Date.now()) passed in.

/**
 * What the page shows. `since` is a wall-clock time in ms.
 * @typedef {{key: 'pause.ownSince' | 'pause.peerSince', since: number} | null} PauseBanner
 */

export class PrivacyPause {
  /** When we paused, or null. @type {number | null} */
  #ownSince = null;
  /** When we learned that the other side paused, or null. @type {number | null} */
  #peerSince = null;

  /** We paused. */
  get own() {
    return this.#ownSince !== null;
  }

  /** The other side paused. */
  get peer() {
    return this.#peerSince !== null;
  }

  /** Our camera and microphone are held and the other's picture and sound hidden: either side paused. */
  get held() {
    return this.own || this.peer;
  }

  /**
   * Our button: pause, or resume our own pause.
   * @param {number} now
   * @returns {boolean} whether we are paused now
   */
  toggle(now) {
    this.#ownSince = this.#ownSince === null ? now : null;
    return this.own;
  }

  /**
   * The other side's `media-state` said whether it is paused. The same state
   * again (a `welcome`, an `admitted`) keeps the time we first learned it.
   * @param {boolean} paused
   * @param {number} now
   */
  peerSaid(paused, now) {
    if (!paused) this.#peerSince = null;
    else if (this.#peerSince === null) this.#peerSince = now;
  }

  /** The other side left (or its seat went): its pause goes with it. */
  peerGone() {
    this.#peerSince = null;
  }

  /** The call is over: nothing is held any more. */
  reset() {
    this.#ownSince = null;
    this.#peerSince = null;
  }

  /**
   * The sentence over the other's video. Our own pause comes first: only we can
   * end it, and the banner says how.
   * @returns {PauseBanner}
   */
  banner() {
    if (this.#ownSince !== null) return { key: 'pause.ownSince', since: this.#ownSince };
    if (this.#peerSince !== null) return { key: 'pause.peerSince', since: this.#peerSince };
    return null;
  }
}

/**
 * "14:32": a wall-clock time in the viewer's own time zone and language.
 * @param {number} since ms since the epoch
 * @param {string} lang
 * @param {string} [timeZone] for tests; the viewer's own when left out
 */
export function clockTime(since, lang, timeZone) {
  return new Intl.DateTimeFormat(lang, { hour: '2-digit', minute: '2-digit', hour12: false, timeZone }).format(new Date(since));
}
