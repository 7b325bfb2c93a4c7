// The client's safety net for a dropped line: a phone number where the
// therapist can reach the client and where the client is now, both optional,
// typed at the room check. They go only over the browsers' session channel
// (chat.js, message `safety`) into the therapist's page's memory, and show
// there only when the call drops for a while or the client left by its quick
// exit. Pure: time passed in, no DOM, no storage; safetyview.js does the page.

/** How long the client's page must be silent before the therapist sees the details. */
export const SAFETY_AFTER_MS = 5000;

/** @typedef {{phone: string | null, location: string | null}} SafetyDetails */

/**
 * The therapist's side: what the client said, and whether to show it now.
 * The client's side only needs `SafetyNet.message`.
 */
export class SafetyNet {
  /** @type {SafetyDetails | null} */
  details = null;
  /**
   * When the client's page was last heard on the session channel (ms), or null.
   * Silence, not the connection's state, is what counts: a browser may take
   * several seconds to call a dead connection `disconnected`.
   * @type {number | null}
   */
  #heardAt = null;
  #quickExit = false;

  /**
   * What the client typed, as the message to send (trimmed, blank as null).
   * @param {string} phone @param {string} location
   * @returns {import('./chat.js').SafetyMessage}
   */
  static message(phone, location) {
    const clean = (/** @type {string} */ s) => (s.trim() === '' ? null : s.trim());
    return { type: 'safety', phone: clean(phone), location: clean(location) };
  }

  /** The client's latest; both null: it has taken them back. @param {import('./chat.js').SafetyMessage} m */
  received(m) {
    this.details = m.phone === null && m.location === null ? null : { phone: m.phone, location: m.location };
  }

  /**
   * The client's page said something (any session message, `alive` every
   * second). Before the first word there is no call to miss.
   * @param {number} now ms
   */
  heard(now) {
    this.#heardAt = now;
  }

  /** The client left by its quick exit: show at once, until the therapist's call ends. */
  quickExit() {
    this.#quickExit = true;
  }

  /** @param {number} now ms @returns {SafetyDetails | null} what to show now */
  shown(now) {
    if (this.details === null) return null;
    if (this.#quickExit) return this.details;
    if (this.#heardAt !== null && now - this.#heardAt >= SAFETY_AFTER_MS) return this.details;
    return null;
  }

  /** @returns {number | null} when `shown` may change by itself (ms), or null */
  timer() {
    if (this.details === null || this.#quickExit || this.#heardAt === null) return null;
    return this.#heardAt + SAFETY_AFTER_MS;
  }

  /** The conversation is over: nothing of it stays. */
  wipe() {
    this.details = null;
    this.#heardAt = null;
    this.#quickExit = false;
  }
}
