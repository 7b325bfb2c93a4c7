// An undisturbed consultation (KBV Anlage 31b: no signal tones of other
// callers). A therapist often has the dashboard and more than one call page
// open in one browser; a knock in another session must not ring or pop up a
// notification while a consultation runs. The banner, the list and the tab's
// title still say that someone waits: the therapist sees it when they look.
//
// How a page knows that a call runs elsewhere: the call page that is in a call
// says so to the other pages of the same origin over a BroadcastChannel (in
// memory, never leaves this browser, nothing stored), every few seconds while
// the call lasts, so that a tab that was closed or crashed goes quiet by
// itself. The dashboard also reads `in_call` of its session list, for a call
// on another device.

const CHANNEL = 'sprechzimmer-undisturbed';
/** How often a page in a call says so. */
export const BEAT_MS = 2000;
/** A page not heard of for this long is no longer in a call (closed, crashed, frozen). */
export const FRESH_MS = 3 * BEAT_MS;

/**
 * @typedef {object} CallBeat
 * @property {'call-beat'} type
 * @property {string} page a random id of the sending page, new on every load
 * @property {boolean} inCall
 */

/**
 * Whether any other page was in a call at `now`: `heard` maps a page's id to
 * when it last said it was in a call (pure; the times come in).
 *
 * @param {Map<string, number>} heard
 * @param {number} now
 */
export function callElsewhere(heard, now) {
  for (const at of heard.values()) if (now - at < FRESH_MS) return true;
  return false;
}

/**
 * Keep `heard` up to date with one message from another page; anything else
 * on the channel is ignored.
 *
 * @param {Map<string, number>} heard
 * @param {unknown} data
 * @param {number} now
 */
export function hear(heard, data, now) {
  if (typeof data !== 'object' || data === null) return;
  const beat = /** @type {Partial<CallBeat>} */ (data);
  if (beat.type !== 'call-beat' || typeof beat.page !== 'string') return;
  if (beat.inCall === true) heard.set(beat.page, now);
  else heard.delete(beat.page);
}

/**
 * This page's side of the channel: tell the others while this page is in a
 * call, and know whether another one is. Without BroadcastChannel (very old
 * browsers) a page only knows of itself; the dashboard's list still helps.
 */
export class CallPresence {
  /** @type {Map<string, number>} */
  #heard = new Map();
  /** @type {BroadcastChannel | null} */
  #channel = null;
  #page = Math.random().toString(36).slice(2);
  /** @type {ReturnType<typeof setInterval> | null} */
  #beat = null;

  constructor() {
    if (typeof BroadcastChannel !== 'function') return;
    this.#channel = new BroadcastChannel(CHANNEL);
    this.#channel.onmessage = (event) => hear(this.#heard, event.data, performance.now());
    // A page that goes away stops counting at once, not only after FRESH_MS.
    window.addEventListener('pagehide', () => this.setInCall(false));
  }

  /**
   * Say whether this page is in a call now; cheap to call on every render.
   *
   * @param {boolean} inCall
   */
  setInCall(inCall) {
    if (inCall === (this.#beat !== null)) return;
    if (inCall) {
      this.#say(true);
      this.#beat = setInterval(() => this.#say(true), BEAT_MS);
    } else {
      if (this.#beat !== null) clearInterval(this.#beat);
      this.#beat = null;
      this.#say(false);
    }
  }

  /** Another page of this browser is in a call now: stay silent. */
  callElsewhere() {
    return callElsewhere(this.#heard, performance.now());
  }

  /** @param {boolean} inCall */
  #say(inCall) {
    /** @type {CallBeat} */
    const beat = { type: 'call-beat', page: this.#page, inCall };
    try {
      this.#channel?.postMessage(beat);
    } catch {
      // the channel is closed while the page unloads: nothing to tell any more
    }
  }
}
