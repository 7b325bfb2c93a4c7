// Frame keys for a group (issue 16): the pure part; groupencryption.js drives it in a call.
//
// In a call of up to nine members (the therapist and up to eight clients)
// every member encrypts its frames under its own sender key, one per group
// epoch, and hands that key to every other current member wrapped under the
// pair's own key. So an SFU that forwards one upload to all only ever sees
// SFrame ciphertext, and the server that relays the wrapped keys (on the SFU
// path; in a mesh they go over the data channels) never holds a key.
//
//   member index  0: the therapist, 1..8: the client seats
//   KID           epoch * 16 + index (a receiver knows whose key a frame needs)
//   pair key      K(i,j) = HKDF-SHA256(ikm = ECDH(i, j),
//                   salt = SHA-256(lp(LABEL) || u8(lo) || lp(pub lo) || u8(hi) || lp(pub hi)),
//                   info = "sprechzimmer group pair", 16 bytes), lo < hi the indices
//   member-key    {type:'member-key', from, to, pub}: our call key for member `to`, the
//                   first message on each pair's channel (base64 of the 65 raw bytes)
//   sender-key    {type:'sender-key', epoch, from, to, iv, sealed}:
//                   sealed = AES-128-GCM(K(from,to), iv (12 random bytes), the 16-byte
//                   base key, aad = lp(LABEL) || "sender-key" || u64(epoch) || u8(from) || u8(to))
//   group code    T = SHA-256(lp(LABEL) || u8(n) || for each member by index: u8(index) || lp(pub));
//                   SAS = HKDF-SHA256(T, "", "sprechzimmer group sas", 4) as uint32 mod 10^6
//
// pub: each member's ephemeral ECDH P-256 public key for the call (raw, 65
// bytes); lp(x) = 4-byte big-endian length || x. The group code covers every
// member's key, so it is the same on every screen only if every member got
// the same keys of every other: a substituted key shows as a different code.
//
// Renewal: whenever a member joins or leaves, and on the 10-minute schedule,
// the server moves the group epoch on and every member makes a fresh sender
// key and sends it only to the members present now. One who left never gets a
// key of the new epoch (cannot decrypt what follows); one who joins only gets
// keys from its first epoch on (cannot decrypt what came before). A member
// sends under its new key once every current member acknowledged it (or after
// ACK_TIMEOUT_MS: a member that never acknowledges only fails itself), and
// drops the receive keys of older epochs GRACE_MS later.
//
// The crypto functions use WebCrypto (browser and Node 20); `GroupKeyring`
// is pure: messages, membership and time in, actions out.

import { concatBytes } from './bytes.js';
import { PUBLIC_KEY_BYTES, ecdhSecret, fromBase64, hkdf, toBase64 } from './e2ee.js';
import { MAX_GROUP_KEY } from './protocol.js';

export const GROUP_LABEL = 'sprechzimmer-group-v1';
export const INFO_PAIR = 'sprechzimmer group pair';
export const INFO_GROUP_SAS = 'sprechzimmer group sas';
/** The therapist and eight clients: what German rules allow a group by video. */
export const MAX_MEMBERS = 9;
/** KIDs leave room for 16 indices per epoch; 0..8 are used. */
export const KID_INDICES = 16;
export const BASE_KEY_BYTES = 16;
export const IV_BYTES = 12;
/** How long a member waits for every acknowledgement before it sends under its new key. */
export const ACK_TIMEOUT_MS = 8000;
/** How long the receive keys of an older epoch stay after the new one is in use. */
export const GRACE_MS = 10000;

const encoder = new TextEncoder();

/** @typedef {Uint8Array<ArrayBuffer>} Bytes */
/** @typedef {{index: number, pub: Uint8Array}} GroupMember */
/**
 * @typedef {object} SenderKeyMessage
 * @property {'sender-key'} type
 * @property {number} epoch
 * @property {number} from
 * @property {number} to
 * @property {string} iv base64, 12 bytes
 * @property {string} sealed base64, 16 + 16 bytes
 */
/** @typedef {{type: 'sender-key-ack', epoch: number, from: number, to: number}} SenderKeyAck */
/**
 * A member's ECDH public key for this call, to another member (the pair key's half).
 * @typedef {{type: 'member-key', from: number, to: number, pub: string}} MemberKeyMessage
 */
/** @typedef {SenderKeyMessage | SenderKeyAck | MemberKeyMessage} GroupMessage */

export class GroupKeyError extends Error {}

/** @param {number} index */
function checkIndex(index) {
  if (!Number.isInteger(index) || index < 0 || index >= MAX_MEMBERS) throw new GroupKeyError(`member index ${index} out of range`);
  return index;
}

/** @param {number} epoch */
function checkEpoch(epoch) {
  if (!Number.isSafeInteger(epoch) || epoch < 0 || epoch * KID_INDICES > Number.MAX_SAFE_INTEGER) throw new GroupKeyError(`epoch ${epoch} out of range`);
  return epoch;
}

/** @param {Uint8Array} bytes @returns {Bytes} */
function lp(bytes) {
  const out = new Uint8Array(4 + bytes.length);
  new DataView(out.buffer).setUint32(0, bytes.length);
  out.set(bytes, 4);
  return out;
}

/** @param {number} epoch @returns {Bytes} */
function u64(epoch) {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(epoch));
  return out;
}

/** The KID a member's frames of an epoch carry. @param {number} epoch @param {number} index */
export function kidOf(epoch, index) {
  return checkEpoch(epoch) * KID_INDICES + checkIndex(index);
}

/** Whose key, of which epoch, a KID names. @param {number} kid */
export function memberOfKid(kid) {
  if (!Number.isSafeInteger(kid) || kid < 0) throw new GroupKeyError(`kid ${kid} out of range`);
  return { epoch: Math.floor(kid / KID_INDICES), index: checkIndex(kid % KID_INDICES) };
}

/**
 * The pair's key bytes (see the module comment).
 * @param {CryptoKey} ownPrivate our ECDH private key
 * @param {GroupMember} own
 * @param {GroupMember} peer
 * @returns {Promise<Bytes>} 16 bytes
 */
export async function pairKeyBytes(ownPrivate, own, peer) {
  checkIndex(own.index);
  checkIndex(peer.index);
  if (own.index === peer.index) throw new GroupKeyError('a pair needs two members');
  const [lo, hi] = own.index < peer.index ? [own, peer] : [peer, own];
  const salt = new Uint8Array(
    await crypto.subtle.digest('SHA-256', concatBytes(lp(encoder.encode(GROUP_LABEL)), Uint8Array.of(lo.index), lp(lo.pub), Uint8Array.of(hi.index), lp(hi.pub))),
  );
  return hkdf(await ecdhSecret(ownPrivate, peer.pub), salt, INFO_PAIR, BASE_KEY_BYTES);
}

/** @param {Uint8Array} bytes @returns {Promise<CryptoKey>} */
export function importPairKey(bytes) {
  return crypto.subtle.importKey('raw', new Uint8Array(bytes), { name: 'AES-GCM' }, false, ['encrypt', 'decrypt']);
}

/** @param {number} epoch @param {number} from @param {number} to @returns {Bytes} */
export function senderKeyAad(epoch, from, to) {
  return concatBytes(lp(encoder.encode(GROUP_LABEL)), encoder.encode('sender-key'), u64(checkEpoch(epoch)), Uint8Array.of(checkIndex(from)), Uint8Array.of(checkIndex(to)));
}

/**
 * Our sender key of `epoch`, wrapped for member `to`.
 * @param {CryptoKey} pairKey K(from, to)
 * @param {{epoch: number, from: number, to: number, baseKey: Uint8Array}} what
 * @param {Uint8Array} [iv] 12 bytes; random unless given (golden vectors)
 * @returns {Promise<SenderKeyMessage>}
 */
export async function wrapSenderKey(pairKey, { epoch, from, to, baseKey }, iv = crypto.getRandomValues(new Uint8Array(IV_BYTES))) {
  if (baseKey.length !== BASE_KEY_BYTES || iv.length !== IV_BYTES) throw new GroupKeyError('a base key has 16 bytes, an iv 12');
  const sealed = await crypto.subtle.encrypt({ name: 'AES-GCM', iv: new Uint8Array(iv), additionalData: senderKeyAad(epoch, from, to) }, pairKey, new Uint8Array(baseKey));
  return { type: 'sender-key', epoch, from, to, iv: toBase64(iv), sealed: toBase64(new Uint8Array(sealed)) };
}

/**
 * The sender key in a message meant for us; throws GroupKeyError for one that is
 * not for us, or that does not open under the pair's key (forged, altered, replayed
 * for another epoch or pair).
 * @param {CryptoKey} pairKey K(from, us)
 * @param {SenderKeyMessage} message
 * @param {number} self our index
 * @returns {Promise<Bytes>} the 16-byte base key
 */
export async function unwrapSenderKey(pairKey, message, self) {
  if (message.to !== self) throw new GroupKeyError('a sender key for another member');
  const iv = fromBase64(message.iv);
  const sealed = fromBase64(message.sealed);
  if (!iv || !sealed || iv.length !== IV_BYTES || sealed.length !== BASE_KEY_BYTES + 16) throw new GroupKeyError('a sender key of the wrong size');
  try {
    const plain = await crypto.subtle.decrypt({ name: 'AES-GCM', iv, additionalData: senderKeyAad(message.epoch, message.from, message.to) }, pairKey, sealed);
    return new Uint8Array(plain);
  } catch {
    throw new GroupKeyError('a sender key that does not open under the pair key');
  }
}

/**
 * The group's verification code: the same on every screen exactly when every member
 * has the same keys of all. "123 456".
 * @param {GroupMember[]} members
 * @returns {Promise<string>}
 */
export async function groupSas(members) {
  const sorted = [...members].sort((a, b) => a.index - b.index);
  const indices = new Set(sorted.map((m) => checkIndex(m.index)));
  if (indices.size !== sorted.length || sorted.length < 2) throw new GroupKeyError('a group code needs two or more distinct members');
  const parts = [lp(encoder.encode(GROUP_LABEL)), Uint8Array.of(sorted.length)];
  for (const m of sorted) parts.push(Uint8Array.of(m.index), lp(m.pub));
  const transcript = new Uint8Array(await crypto.subtle.digest('SHA-256', concatBytes(...parts)));
  const bytes = await hkdf(transcript, new Uint8Array(0), INFO_GROUP_SAS, 4);
  const digits = String(new DataView(bytes.buffer).getUint32(0) % 1_000_000).padStart(6, '0');
  return `${digits.slice(0, 3)} ${digits.slice(3)}`;
}

// ---------------------------------------------------------------------------
// The messages' codec: exactly the documented fields (docs/protocol.md,
// "Group keys"); golden vectors in tests/vectors/protocol/group-keys.json.

/** Longest group-key message, in characters: what the server relays on the SFU path. */
export const MAX_GROUP_MESSAGE = MAX_GROUP_KEY;

/** @param {unknown} v */
const isIndex = (v) => Number.isInteger(v) && /** @type {number} */ (v) >= 0 && /** @type {number} */ (v) < MAX_MEMBERS;
/** @param {unknown} v */
const isEpoch = (v) => Number.isSafeInteger(v) && /** @type {number} */ (v) >= 0 && /** @type {number} */ (v) * KID_INDICES <= Number.MAX_SAFE_INTEGER;
/** @param {unknown} v @param {number} n */
const isBase64Of = (v, n) => typeof v === 'string' && fromBase64(v)?.length === n;

/**
 * The message if it has exactly the documented form, else null.
 * @param {unknown} value
 * @returns {GroupMessage | null}
 */
function validGroupMessage(value) {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
  const m = /** @type {Record<string, unknown>} */ (value);
  const keys = Object.keys(m).sort().join(',');
  if (m.type === 'member-key') {
    if (keys !== 'from,pub,to,type' || !isIndex(m.from) || !isIndex(m.to) || m.from === m.to) return null;
    if (!isBase64Of(m.pub, PUBLIC_KEY_BYTES) || fromBase64(/** @type {string} */ (m.pub))?.[0] !== 4) return null;
    return { type: 'member-key', from: /** @type {number} */ (m.from), to: /** @type {number} */ (m.to), pub: /** @type {string} */ (m.pub) };
  }
  if (!isEpoch(m.epoch) || !isIndex(m.from) || !isIndex(m.to) || m.from === m.to) return null;
  const head = { epoch: /** @type {number} */ (m.epoch), from: /** @type {number} */ (m.from), to: /** @type {number} */ (m.to) };
  if (m.type === 'sender-key') {
    if (keys !== 'epoch,from,iv,sealed,to,type' || !isBase64Of(m.iv, IV_BYTES) || !isBase64Of(m.sealed, BASE_KEY_BYTES + 16)) return null;
    return { type: 'sender-key', ...head, iv: /** @type {string} */ (m.iv), sealed: /** @type {string} */ (m.sealed) };
  }
  if (m.type === 'sender-key-ack') return keys === 'epoch,from,to,type' ? { type: 'sender-key-ack', ...head } : null;
  return null;
}

/**
 * @param {GroupMessage} message
 * @returns {string} throws GroupKeyError for a message the protocol does not allow
 */
export function encodeGroupMessage(message) {
  if (validGroupMessage(message) === null) throw new GroupKeyError('not a group-key message');
  const text = JSON.stringify(message);
  if (text.length > MAX_GROUP_MESSAGE) throw new GroupKeyError('too long');
  return text;
}

/**
 * A received frame's message, or null for anything that is not exactly one.
 * @param {unknown} data
 * @returns {GroupMessage | null}
 */
export function decodeGroupMessage(data) {
  if (typeof data !== 'string' || data.length > MAX_GROUP_MESSAGE) return null;
  try {
    return validGroupMessage(JSON.parse(data));
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------
// The keyring's state: pure

/**
 * What the driver must do, in order.
 * - `make-key`: a fresh random sender key for `epoch` (install it to send later)
 * - `send-key`: wrap our key of `epoch` for member `to` and send it
 * - `install`: install the received key under `kid` for decrypting
 * - `ack`: tell member `to` we installed its key of `epoch`
 * - `use`: encrypt from now on under our key `kid`
 * - `remove`: drop the receive key `kid`
 * - `code`: the group's verification code changed: compute it over these members
 * @typedef {{type: 'make-key', epoch: number}
 *   | {type: 'send-key', epoch: number, to: number}
 *   | {type: 'install', kid: number}
 *   | {type: 'ack', epoch: number, to: number}
 *   | {type: 'use', kid: number}
 *   | {type: 'remove', kid: number}
 *   | {type: 'code', members: number[]}} KeyringAction
 */

export class GroupKeyring {
  #self;
  /** Current members' indices, ourselves included. @type {Set<number>} */
  #members = new Set();
  /** The group epoch the server announced last. @type {number | null} */
  #epoch = null;
  /** The epoch our frames go out under. @type {number | null} */
  #sending = null;
  /** Who has yet to acknowledge our key of #epoch. @type {Set<number>} */
  #waiting = new Set();
  /** @type {number | null} */
  #useDeadline = null;
  /** Installed receive keys: kid -> when to drop it (Infinity: in use). @type {Map<number, number>} */
  #receive = new Map();

  /** @param {number} self our member index */
  constructor(self) {
    this.#self = checkIndex(self);
  }

  get epoch() {
    return this.#epoch;
  }

  get sendingEpoch() {
    return this.#sending;
  }

  /** The receive keys installed now, by KID. */
  get receiveKids() {
    return [...this.#receive.keys()].sort((a, b) => a - b);
  }

  /**
   * The server announced the members present and the group epoch (a join, a leave,
   * or the schedule). A newer epoch means a fresh sender key for those members.
   * @param {number[]} members indices, ourselves included
   * @param {number} epoch
   * @param {number} now ms
   * @returns {KeyringAction[]}
   */
  membership(members, epoch, now) {
    checkEpoch(epoch);
    const next = new Set(members.map(checkIndex));
    if (!next.has(this.#self)) throw new GroupKeyError('a membership without ourselves');
    if (this.#epoch !== null && epoch <= this.#epoch) return [];
    /** @type {KeyringAction[]} */
    const out = [];
    const changed = next.size !== this.#members.size || [...next].some((i) => !this.#members.has(i));
    // A member who left: its keys go at once (it sends nothing more we should read).
    for (const kid of [...this.#receive.keys()]) {
      if (!next.has(memberOfKid(kid).index)) {
        this.#receive.delete(kid);
        out.push({ type: 'remove', kid });
      }
    }
    this.#members = next;
    this.#epoch = epoch;
    if (changed) out.push({ type: 'code', members: [...next].sort((a, b) => a - b) });
    out.push({ type: 'make-key', epoch });
    this.#waiting = new Set([...next].filter((i) => i !== this.#self));
    for (const to of [...this.#waiting].sort((a, b) => a - b)) out.push({ type: 'send-key', epoch, to });
    this.#useDeadline = now + ACK_TIMEOUT_MS;
    if (this.#waiting.size === 0) out.push(...this.#use());
    return out;
  }

  /**
   * A member's sender key arrived and opened under the pair key.
   * @param {number} from @param {number} epoch @param {number} now
   * @returns {KeyringAction[]}
   */
  received(from, epoch, now) {
    checkIndex(from);
    checkEpoch(epoch);
    // Not a current member, or from before its (or our) membership: not installed.
    if (!this.#members.has(from) || from === this.#self || this.#epoch === null || epoch > this.#epoch + 1) return [];
    const kid = kidOf(epoch, from);
    /** @type {KeyringAction[]} */
    const out = [];
    if (!this.#receive.has(kid)) {
      this.#receive.set(kid, Infinity);
      out.push({ type: 'install', kid });
      // The sender's older keys stay for the grace window: frames in flight.
      for (const [old] of this.#receive) {
        const m = memberOfKid(old);
        if (m.index === from && m.epoch < epoch && this.#receive.get(old) === Infinity) this.#receive.set(old, now + GRACE_MS);
      }
    }
    out.push({ type: 'ack', epoch, to: from });
    return out;
  }

  /**
   * A member acknowledged our key of `epoch`.
   * @param {number} from @param {number} epoch @param {number} now
   * @returns {KeyringAction[]}
   */
  acknowledged(from, epoch, now) {
    if (epoch !== this.#epoch || !this.#waiting.delete(from)) return [];
    return this.#waiting.size === 0 ? this.#use() : [];
  }

  /** @param {number} now @returns {KeyringAction[]} */
  tick(now) {
    /** @type {KeyringAction[]} */
    const out = [];
    if (this.#useDeadline !== null && now >= this.#useDeadline && this.#sending !== this.#epoch) out.push(...this.#use());
    for (const [kid, until] of [...this.#receive]) {
      if (now >= until) {
        this.#receive.delete(kid);
        out.push({ type: 'remove', kid });
      }
    }
    return out;
  }

  /** When `tick` has something to do next (ms), or null. */
  nextDeadline() {
    const times = [...this.#receive.values()].filter(Number.isFinite);
    if (this.#useDeadline !== null && this.#sending !== this.#epoch) times.push(this.#useDeadline);
    return times.length ? Math.min(...times) : null;
  }

  /** @returns {KeyringAction[]} */
  #use() {
    if (this.#epoch === null || this.#sending === this.#epoch) return [];
    this.#sending = this.#epoch;
    this.#useDeadline = null;
    this.#waiting.clear();
    return [{ type: 'use', kid: kidOf(this.#epoch, this.#self) }];
  }
}
