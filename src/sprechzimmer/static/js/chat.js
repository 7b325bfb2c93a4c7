// The session channel between the two browsers: chat messages and the
// client's safety net (docs/protocol.md, "Session channel"). Pure: the codec,
// the rate limiter and the chat's memory, with time passed in; no DOM, no
// clock, no storage. chatview.js does the page.
//
// Must never store anything: the log lives in this object's arrays and goes
// with `wipe()` (the page calls it when the call finishes). The server never
// sees any of it: it travels only over the browsers' own data channel.

/** Negotiated next to the key agreement's (0) and the quality channel (1). */
export const SESSION_CHANNEL_LABEL = 'sprechzimmer-session';
export const SESSION_CHANNEL_ID = 2;

/** Longest frame on the channel, in UTF-16 units (a chat of 1000 code points fits with room). */
export const MAX_SESSION_FRAME = 4096;
/** Longest chat message, in code points: a few sentences, not a letter. */
export const MAX_CHAT_CHARS = 1000;
/** At most this many messages in RATE_WINDOW_MS: a stuck key or a script cannot flood the other's screen. */
export const RATE_MESSAGES = 5;
export const RATE_WINDOW_MS = 5000;
export const MAX_PHONE_CHARS = 40;
export const MAX_LOCATION_CHARS = 200;
/** Each page says `alive` this often while the channel is open: the other sees a silent line. */
export const ALIVE_INTERVAL_MS = 1000;
/**
 * A message not acknowledged this long after it went goes again while the line
 * carries: its ack may have been dropped by a page whose line was down for a
 * moment too short to notice (Firefox in a second ICE restart), and without it
 * the message would wait for the next cut.
 */
export const RESEND_MS = 3000;
/** Ids are made by the sender (crypto.randomUUID()); the form keeps them harmless to compare and log. */
const ID_PATTERN = /^[A-Za-z0-9-]{1,64}$/;

/**
 * @typedef {{type: 'chat', id: string, text: string}} ChatMessage
 * @typedef {{type: 'chat-ack', id: string}} ChatAckMessage
 * @typedef {{type: 'safety', phone: string | null, location: string | null}} SafetyMessage
 * @typedef {{type: 'alive'}} AliveMessage
 * @typedef {ChatMessage | ChatAckMessage | SafetyMessage | AliveMessage} SessionMessage
 */

export class SessionMessageError extends Error {}

/** @param {string} s */
function codePoints(s) {
  return [...s].length;
}

/**
 * The message if it has exactly the documented form, else null.
 * @param {unknown} value
 * @returns {SessionMessage | null}
 */
function validated(value) {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
  const m = /** @type {Record<string, unknown>} */ (value);
  const keys = Object.keys(m).sort().join(',');
  const isId = (/** @type {unknown} */ v) => typeof v === 'string' && ID_PATTERN.test(v);
  switch (m.type) {
    case 'chat':
      if (keys !== 'id,text,type' || !isId(m.id) || typeof m.text !== 'string') return null;
      if (m.text.trim() === '' || codePoints(m.text) > MAX_CHAT_CHARS) return null;
      return { type: 'chat', id: /** @type {string} */ (m.id), text: m.text };
    case 'chat-ack':
      if (keys !== 'id,type' || !isId(m.id)) return null;
      return { type: 'chat-ack', id: /** @type {string} */ (m.id) };
    case 'alive':
      return keys === 'type' ? { type: 'alive' } : null;
    case 'safety': {
      if (keys !== 'location,phone,type') return null;
      const ok = (/** @type {unknown} */ v, /** @type {number} */ max) =>
        v === null || (typeof v === 'string' && v.trim() !== '' && codePoints(v) <= max);
      if (!ok(m.phone, MAX_PHONE_CHARS) || !ok(m.location, MAX_LOCATION_CHARS)) return null;
      return {
        type: 'safety',
        phone: /** @type {string | null} */ (m.phone),
        location: /** @type {string | null} */ (m.location),
      };
    }
    default:
      return null;
  }
}

/**
 * @param {SessionMessage} message
 * @returns {string}
 * @throws {SessionMessageError} when the message is not of the documented form
 */
export function encodeSessionMessage(message) {
  const ok = validated(message);
  if (!ok) throw new SessionMessageError('not a session channel message');
  const text = JSON.stringify(ok);
  if (text.length > MAX_SESSION_FRAME) throw new SessionMessageError('too long');
  return text;
}

/**
 * A frame from the other browser, or null: anything else (no JSON, too long,
 * an unknown type, a field missing, extra or out of bounds) is ignored, so
 * that a broken or newer peer cannot break the page.
 * @param {unknown} data
 * @returns {SessionMessage | null}
 */
export function decodeSessionMessage(data) {
  if (typeof data !== 'string' || data.length > MAX_SESSION_FRAME) return null;
  try {
    return validated(JSON.parse(data));
  } catch {
    return null;
  }
}

/** A sliding window: at most `limit` takes in any `windowMs`. */
export class RateLimiter {
  /** @type {number[]} */
  #taken = [];
  #limit;
  #windowMs;

  constructor(limit = RATE_MESSAGES, windowMs = RATE_WINDOW_MS) {
    this.#limit = limit;
    this.#windowMs = windowMs;
  }

  /** @param {number} now ms @returns {boolean} whether one more is allowed now (and counted) */
  take(now) {
    this.#taken = this.#taken.filter((t) => now - t < this.#windowMs);
    if (this.#taken.length >= this.#limit) return false;
    this.#taken.push(now);
    return true;
  }

  /** @param {number} now @returns {number} ms until the next take is allowed (0: now) */
  waitMs(now) {
    const live = this.#taken.filter((t) => now - t < this.#windowMs);
    if (live.length < this.#limit) return 0;
    return this.#windowMs - (now - live[0]);
  }

  clear() {
    this.#taken = [];
  }
}

/**
 * @typedef {object} ChatEntry
 * @property {string} id
 * @property {'me' | 'peer'} from
 * @property {string} text
 * @property {boolean} delivered mine: the other browser acknowledged it; theirs: always true
 */

/** @typedef {'empty' | 'too-long' | 'rate'} ChatRefusal */

/**
 * The chat of one call: what is on screen, what still has to reach the other
 * browser, what came already. A message stays in the outbox until the other
 * browser acknowledges it, and goes again on every channel that opens (the
 * other side reloaded, a new peer connection after a restart); the receiver
 * drops an id it has seen, so each message shows once.
 */
export class ChatLog {
  /** @type {ChatEntry[]} */
  entries = [];
  unread = 0;
  panelOpen = false;
  /** Mine, not yet acknowledged, in the order written. @type {ChatMessage[]} */
  #outbox = [];
  /** When each outbox message last went (ms), by id. @type {Map<string, number>} */
  #sentAt = new Map();
  /** Ids of the other's messages shown here. @type {Set<string>} */
  #seen = new Set();
  #rate;

  /** @param {RateLimiter} [rate] */
  constructor(rate) {
    this.#rate = rate ?? new RateLimiter();
  }

  /**
   * The person wrote `text`. On success the message is in the log and the
   * outbox; send it now if the channel is open (`outbox` says it again later).
   * @param {string} text
   * @param {string} id fresh, from the page (crypto.randomUUID())
   * @param {number} now ms
   * @returns {{message: ChatMessage} | {refused: ChatRefusal}}
   */
  compose(text, id, now) {
    const trimmed = text.trim();
    if (trimmed === '') return { refused: 'empty' };
    if (codePoints(trimmed) > MAX_CHAT_CHARS) return { refused: 'too-long' };
    if (!this.#rate.take(now)) return { refused: 'rate' };
    /** @type {ChatMessage} */
    const message = { type: 'chat', id, text: trimmed };
    this.#outbox.push(message);
    this.entries.push({ id, from: 'me', text: trimmed, delivered: false });
    return { message };
  }

  /** What to send when a channel opens: every message not yet acknowledged. */
  get outbox() {
    return [...this.#outbox];
  }

  /**
   * A message of the outbox went out at `now` (ms).
   * @param {string} id
   * @param {number} now
   */
  sent(id, now) {
    if (this.#outbox.some((m) => m.id === id)) this.#sentAt.set(id, now);
  }

  /**
   * What to send again at `now` (ms): each message not acknowledged `RESEND_MS`
   * after it last went, or never sent.
   * @param {number} now
   * @returns {ChatMessage[]}
   */
  due(now) {
    return this.#outbox.filter((m) => now - (this.#sentAt.get(m.id) ?? -Infinity) >= RESEND_MS);
  }

  /**
   * A message of the other browser arrived.
   * @param {SessionMessage} message
   * @returns {{ack: ChatAckMessage | null, shown: boolean}} the ack to send back; whether the log grew
   */
  receive(message) {
    if (message.type === 'chat-ack') {
      this.#outbox = this.#outbox.filter((m) => m.id !== message.id);
      this.#sentAt.delete(message.id);
      const mine = this.entries.find((e) => e.from === 'me' && e.id === message.id);
      if (mine) mine.delivered = true;
      return { ack: null, shown: false };
    }
    if (message.type !== 'chat') return { ack: null, shown: false };
    // Acknowledged again even when seen: the first ack may have been lost with its channel.
    const ack = /** @type {ChatAckMessage} */ ({ type: 'chat-ack', id: message.id });
    if (this.#seen.has(message.id)) return { ack, shown: false };
    this.#seen.add(message.id);
    this.entries.push({ id: message.id, from: 'peer', text: message.text, delivered: true });
    if (!this.panelOpen) this.unread += 1;
    return { ack, shown: true };
  }

  /** @param {boolean} open */
  setPanelOpen(open) {
    this.panelOpen = open;
    if (open) this.unread = 0;
  }

  /** The call is over: nothing of it stays in memory. */
  wipe() {
    this.entries = [];
    this.#outbox = [];
    this.#sentAt.clear();
    this.#seen.clear();
    this.unread = 0;
    this.#rate.clear();
  }
}

/**
 * The text cut into plain parts and http(s) links, for the page to show as
 * text nodes and `<a rel="noopener noreferrer">`. Anything that is not an
 * absolute http or https URL stays text (no `javascript:`, no `data:`).
 * @param {string} text
 * @returns {Array<{text: string} | {href: string, text: string}>}
 */
export function linkSegments(text) {
  /** @type {Array<{text: string} | {href: string, text: string}>} */
  const out = [];
  let last = 0;
  for (const m of text.matchAll(/https?:\/\/[^\s<>"']+/gi)) {
    // A sentence's closing punctuation is not part of the link.
    const raw = m[0].replace(/[.,;:!?)\]]+$/, '');
    const start = /** @type {number} */ (m.index);
    /** @type {URL | null} */
    let url = null;
    try {
      url = new URL(raw);
    } catch {
      url = null;
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) continue;
    if (start > last) out.push({ text: text.slice(last, start) });
    out.push({ href: url.href, text: raw });
    last = start + raw.length;
  }
  if (last < text.length) out.push({ text: text.slice(last) });
  return out;
}
