// Frame end-to-end encryption: the key agreement between the two browsers,
// as pure logic. Layer 2 of our media encryption (docs/protocol.md, "Media
// frame encryption"); the frames themselves are protected by sframe.js and
// framing.js in e2ee-worker.js, and frame-encryption.js wires this module to the
// peer connection, the data channel and the worker.
//
// What is here: the data-channel messages and their codec, the DTLS
// fingerprint of an SDP, the transcript, the per-direction key schedule
// (HKDF), the verification code (SAS), ECDH. `KeyAgreement`, the state
// machine of one peer connection's key agreement (rekey, ack, grace window,
// fail-closed timeout) with the time passed in, is keyagreement.js.
//
// It must never send anything to the signaling server: every message here
// goes over the WebRTC data channel `sprechzimmer-e2ee` (negotiated, id 0),
// which is DTLS-protected between the two browsers. No key, secret or value
// derived from one is ever logged.
//
// Runs in the browser and in Node 20 (globalThis.crypto.subtle, btoa/atob).
//
// ## The key agreement (data channel, JSON text messages, at most 1 KiB)
//
// The therapist (the impolite peer) drives it, for each epoch E (the
// `epoch` of `admitted`, then of each `rekey`):
//
//   therapist -> client  {type:'key-commit', epoch:E, commit:b64(SHA-256(pubT))}
//   client -> therapist  {type:'key-share',  epoch:E, pub:b64(pubC)}
//   therapist -> client  {type:'key-share',  epoch:E, pub:b64(pubT)}   (client checks the commit)
//   each side, once its receive key for E is installed: {type:'key-ack', epoch:E}
//   each side sends under KID E only after the other's key-ack for E.
//
// pubT/pubC: fresh ephemeral ECDH P-256 public keys (raw, 65 bytes). The
// commitment comes first so that a man in the middle, who must pick its own
// public keys for both legs, cannot try keys until the two verification codes
// match: the therapist's key is fixed before anyone sees the client's, and the
// client's before anyone sees the therapist's.
//
//   T = SHA-256(lp("sprechzimmer-e2ee-v1") || u64(E) || lp(fpT) || lp(fpC) || lp(pubT) || lp(pubC))
//     lp(x) = 4-byte big-endian length || x; u64 big-endian; fp = the SDP's
//     sha-256 `a=fingerprint`, lowercase hex with colons, as ASCII (an SDP
//     with any other fingerprint is refused: see dtlsFingerprint).
//   secret   = ECDH(own private, peer public)  (32 bytes)
//   key t->c = HKDF-SHA256(ikm=secret, salt=T, info="sprechzimmer t->c", 16 bytes)
//   key c->t = HKDF-SHA256(ikm=secret, salt=T, info="sprechzimmer c->t", 16 bytes)
//   SAS      = HKDF-SHA256(ikm=T of the connection's first epoch, salt="",
//              info="sprechzimmer sas", 4 bytes) as uint32 mod 10^6, "123 456"
//
// Other messages: {type:'verified'} (therapist -> client: the therapist
// compared the codes), {type:'e2ee-unsupported'} (either side: no frame
// encryption on this connection; the headless peer sends it).

import { concatBytes, equalBytes, hkdfSha256 } from './bytes.js';

// frame-encryption.js compares the commitment with it.
export { equalBytes };

/** @typedef {Uint8Array<ArrayBuffer>} Bytes */
/** @typedef {'therapist' | 'client'} Role */

export const DATA_CHANNEL_LABEL = 'sprechzimmer-e2ee';
export const DATA_CHANNEL_ID = 0;
export const TRANSCRIPT_LABEL = 'sprechzimmer-e2ee-v1';
export const INFO_THERAPIST_TO_CLIENT = 'sprechzimmer t->c';
export const INFO_CLIENT_TO_THERAPIST = 'sprechzimmer c->t';
export const INFO_SAS = 'sprechzimmer sas';
/** Length of each direction's SFrame base key, in bytes. */
export const BASE_KEY_BYTES = 16;
/** Raw uncompressed P-256 public key: 0x04 || x || y. */
export const PUBLIC_KEY_BYTES = 65;
/** Longest data-channel message we accept, in characters. */
export const MAX_PEER_MESSAGE = 1024;
const MAX_EPOCH = Number.MAX_SAFE_INTEGER;

const encoder = new TextEncoder();

// ---------------------------------------------------------------------------
// Bytes

/** @param {Uint8Array} bytes */
export function toBase64(bytes) {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

/**
 * @param {string} text
 * @returns {Bytes | null} null unless canonical standard base64
 */
export function fromBase64(text) {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) return null;
  let raw;
  try {
    raw = atob(text);
  } catch {
    return null;
  }
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i += 1) out[i] = raw.charCodeAt(i);
  return toBase64(out) === text ? out : null;
}


// ---------------------------------------------------------------------------
// Data-channel messages

/**
 * @typedef {{type: 'key-commit', epoch: number, commit: string}} KeyCommitMessage therapist only
 * @typedef {{type: 'key-share', epoch: number, pub: string}} KeyShareMessage
 * @typedef {{type: 'key-ack', epoch: number}} KeyAckMessage
 * @typedef {{type: 'verified'}} VerifiedMessage therapist only
 * @typedef {{type: 'e2ee-unsupported'}} UnsupportedMessage
 * @typedef {KeyCommitMessage | KeyShareMessage | KeyAckMessage | VerifiedMessage | UnsupportedMessage} PeerMessage
 */

export class PeerMessageError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = 'PeerMessageError';
  }
}

/**
 * @param {Record<string, unknown>} o
 * @param {string[]} fields
 */
function exactFields(o, fields) {
  for (const name of Object.keys(o)) {
    if (name !== 'type' && !fields.includes(name)) throw new PeerMessageError(`${o.type}.${name}: unknown field`);
  }
}

/** @param {unknown} v @param {string} where */
function epochField(v, where) {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v > MAX_EPOCH) {
    throw new PeerMessageError(`${where}: expected a non-negative integer`);
  }
  return v;
}

/** @param {unknown} v @param {number} length @param {string} where */
function bytesField(v, length, where) {
  const bytes = typeof v === 'string' ? fromBase64(v) : null;
  if (!bytes || bytes.length !== length) throw new PeerMessageError(`${where}: expected ${length} bytes in base64`);
  return /** @type {string} */ (v);
}

/**
 * One data-channel message from the other browser, checked and bounded.
 * @param {unknown} data
 * @returns {PeerMessage}
 */
export function decodePeerMessage(data) {
  if (typeof data !== 'string') throw new PeerMessageError('expected a text message');
  if (data.length > MAX_PEER_MESSAGE) throw new PeerMessageError('message too large');
  /** @type {unknown} */
  let obj;
  try {
    obj = JSON.parse(data);
  } catch {
    throw new PeerMessageError('not JSON');
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new PeerMessageError('not a JSON object');
  const o = /** @type {Record<string, unknown>} */ (obj);
  switch (o.type) {
    case 'key-commit':
      exactFields(o, ['epoch', 'commit']);
      return { type: 'key-commit', epoch: epochField(o.epoch, 'key-commit.epoch'), commit: bytesField(o.commit, 32, 'key-commit.commit') };
    case 'key-share': {
      exactFields(o, ['epoch', 'pub']);
      const pub = bytesField(o.pub, PUBLIC_KEY_BYTES, 'key-share.pub');
      if (fromBase64(pub)?.[0] !== 0x04) throw new PeerMessageError('key-share.pub: expected an uncompressed point');
      return { type: 'key-share', epoch: epochField(o.epoch, 'key-share.epoch'), pub };
    }
    case 'key-ack':
      exactFields(o, ['epoch']);
      return { type: 'key-ack', epoch: epochField(o.epoch, 'key-ack.epoch') };
    case 'verified':
      exactFields(o, []);
      return { type: 'verified' };
    case 'e2ee-unsupported':
      // Extra fields allowed: another implementation may say why.
      return { type: 'e2ee-unsupported' };
    default:
      throw new PeerMessageError('unknown type');
  }
}

/** @param {PeerMessage} message */
export function encodePeerMessage(message) {
  return JSON.stringify(message);
}

// ---------------------------------------------------------------------------
// Fingerprints and the transcript

/** An SDP whose fingerprints we refuse to bind (see dtlsFingerprint). */
export class FingerprintError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = 'FingerprintError';
  }
}

const SHA256_FINGERPRINT = /^[0-9a-f]{2}(:[0-9a-f]{2}){31}$/;

/**
 * The DTLS certificate fingerprint of an SDP, canonical: the sha-256
 * `a=fingerprint` value in lowercase hex with colons; null when there is none.
 *
 * Every `a=fingerprint` line of the SDP, at session or media level, must be
 * sha-256 and name the same certificate; anything else throws
 * FingerprintError: a fingerprint of another hash, one we cannot read, or a
 * second certificate. Why refuse rather than pick the sha-256 line: the
 * browser checks the peer's DTLS certificate against the fingerprints of the
 * SDP it was given, which need not be the one we bind. Seen with an
 * `a=fingerprint:sha-1` line added after the sha-256 one of the first
 * (bundled) m-section (tests/js/fixtures/sdp): Chromium 156 keeps only the
 * sha-1 line there, the one its DTLS transport then checks; Firefox 153 keeps
 * both. Whoever can add such a line on the signaling path (the server, or
 * anyone in it) could thus sit in the DTLS path while both transcripts bound
 * the genuine value and both codes matched. Chromium (the same value in each
 * m-section) and Firefox (one value at session level) write exactly one
 * sha-256 certificate, so the rule costs a genuine call nothing and leaves no
 * line unbound; binding all lines instead would also work, but fail less
 * clearly (two different codes instead of this error). Lines are split at any
 * line ending and the attribute is matched in any case, so that no line a
 * browser might read escapes the check.
 *
 * @param {string} sdp
 * @returns {string | null}
 * @throws {FingerprintError}
 */
export function dtlsFingerprint(sdp) {
  /** @type {string | null} */
  let found = null;
  for (const raw of sdp.split(/\r\n|\r|\n/)) {
    const line = raw.trim();
    if (!/^a=fingerprint:/i.test(line)) continue;
    const m = /^a=fingerprint:(\S+)[ \t]+(\S+)$/i.exec(line);
    if (!m) throw new FingerprintError('a fingerprint line that cannot be read');
    // The SDP's own text never goes into the error: it ends up in a log.
    if (m[1].toLowerCase() !== 'sha-256') throw new FingerprintError('a fingerprint of a hash other than sha-256');
    const value = m[2].toLowerCase();
    if (!SHA256_FINGERPRINT.test(value)) throw new FingerprintError('a malformed sha-256 fingerprint');
    if (found !== null && found !== value) throw new FingerprintError('fingerprints of two certificates');
    found = value;
  }
  return found;
}

/** @param {Uint8Array} bytes */
function lengthPrefixed(bytes) {
  const out = new Uint8Array(4 + bytes.length);
  new DataView(out.buffer).setUint32(0, bytes.length);
  out.set(bytes, 4);
  return out;
}


/**
 * @typedef {object} TranscriptInput
 * @property {number} epoch
 * @property {string} therapistFingerprint canonical (dtlsFingerprint)
 * @property {string} clientFingerprint
 * @property {Uint8Array} therapistPub raw P-256 public key
 * @property {Uint8Array} clientPub
 */

/**
 * The bytes the transcript hash covers (see the module comment).
 * @param {TranscriptInput} input
 * @returns {Bytes}
 */
export function transcriptBytes(input) {
  const epoch = new Uint8Array(8);
  new DataView(epoch.buffer).setBigUint64(0, BigInt(epochField(input.epoch, 'epoch')));
  return concatBytes(
    lengthPrefixed(encoder.encode(TRANSCRIPT_LABEL)),
    epoch,
    lengthPrefixed(encoder.encode(input.therapistFingerprint)),
    lengthPrefixed(encoder.encode(input.clientFingerprint)),
    lengthPrefixed(input.therapistPub),
    lengthPrefixed(input.clientPub),
  );
}

/**
 * @param {TranscriptInput} input
 * @returns {Promise<Bytes>} T, 32 bytes
 */
export async function transcriptHash(input) {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', transcriptBytes(input)));
}

/**
 * HKDF-SHA256 (RFC 5869).
 * @param {Uint8Array} ikm
 * @param {Uint8Array} salt
 * @param {string} info
 * @param {number} length bytes
 * @returns {Promise<Bytes>}
 */
export async function hkdf(ikm, salt, info, length) {
  return hkdfSha256(ikm, salt, encoder.encode(info), length);
}

/**
 * The two directions' SFrame base keys of one epoch.
 * @param {Uint8Array} secret the ECDH shared secret
 * @param {Uint8Array} transcript T
 * @returns {Promise<{therapistToClient: Bytes, clientToTherapist: Bytes}>}
 */
export async function directionKeys(secret, transcript) {
  return {
    therapistToClient: await hkdf(secret, transcript, INFO_THERAPIST_TO_CLIENT, BASE_KEY_BYTES),
    clientToTherapist: await hkdf(secret, transcript, INFO_CLIENT_TO_THERAPIST, BASE_KEY_BYTES),
  };
}

/**
 * Which key a role sends with and which it receives with.
 * @param {Role} role
 * @param {{therapistToClient: Bytes, clientToTherapist: Bytes}} keys
 */
export function keysFor(role, keys) {
  return role === 'therapist'
    ? { send: keys.therapistToClient, receive: keys.clientToTherapist }
    : { send: keys.clientToTherapist, receive: keys.therapistToClient };
}

/**
 * The verification code of a transcript: six digits as "123 456".
 * @param {Uint8Array} transcript
 * @returns {Promise<string>}
 */
export async function sasCode(transcript) {
  const bytes = await hkdf(transcript, new Uint8Array(0), INFO_SAS, 4);
  const n = new DataView(bytes.buffer).getUint32(0) % 1_000_000;
  const digits = String(n).padStart(6, '0');
  return `${digits.slice(0, 3)} ${digits.slice(3)}`;
}

// ---------------------------------------------------------------------------
// ECDH (WebCrypto; the private key is never extractable)

/**
 * @typedef {object} Ephemeral
 * @property {CryptoKey} privateKey
 * @property {Bytes} pub raw public key, 65 bytes
 */

/** @returns {Promise<Ephemeral>} */
export async function generateEphemeral() {
  const pair = /** @type {CryptoKeyPair} */ (await crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, false, ['deriveBits']));
  const pub = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey));
  return { privateKey: pair.privateKey, pub };
}

/**
 * @param {CryptoKey} privateKey
 * @param {Uint8Array} peerPub raw
 * @returns {Promise<Bytes>} 32 bytes
 */
export async function ecdhSecret(privateKey, peerPub) {
  const pub = await crypto.subtle.importKey('raw', new Uint8Array(peerPub), { name: 'ECDH', namedCurve: 'P-256' }, false, []);
  return new Uint8Array(await crypto.subtle.deriveBits({ name: 'ECDH', public: pub }, privateKey, 256));
}

/** @param {Uint8Array} pub @returns {Promise<Bytes>} */
export async function commitment(pub) {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', new Uint8Array(pub)));
}
