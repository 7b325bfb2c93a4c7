// SFrame (RFC 9605): authenticated encryption of single media frames, the
// second layer of our media encryption (docs/architecture.md). This module
// is the pure codec and crypto: header encoding, key derivation, the AEAD of
// each cipher suite, and a context that owns the keys and counters of one
// direction. It knows nothing about WebRTC (see framing.js) and nothing about
// how keys are agreed. It runs unchanged in a Worker and in Node 20
// (globalThis.crypto.subtle). It never logs and never puts key material or
// frame contents into an error message.
//
// We use suite 0x0004 AES_128_GCM_SHA256_128. The AES-CTR-HMAC suites (RFC
// 9605 and draft-barnes-sframe-iana-256) are here because they cost little
// and let us check the whole of the RFC's test vectors.
//
// Over 400 lines on purpose: one RFC, header to AEAD, read best in one place
// beside the RFC's text and its test vectors.

import { concatBytes, equalBytes, hkdfExpand, hkdfExtract } from './bytes.js';

// framing.js and the tests know these from here.
export { concatBytes, hkdfExpand, hkdfExtract };

/** @typedef {Uint8Array<ArrayBuffer>} Bytes */

/**
 * Why a frame could not be protected or opened.
 * - `malformed`: not an SFrame ciphertext (truncated, non-canonical header)
 * - `unknown-key`: no key with this KID (not yet added, or already removed)
 * - `auth-failed`: wrong key, or the frame or its metadata was modified
 * - `replay`: this counter was already accepted (only with a replay window)
 * - `counter-exhausted`: the key has encrypted its last frame; renew the key
 * @typedef {'malformed' | 'unknown-key' | 'auth-failed' | 'replay' | 'counter-exhausted'} SFrameErrorCode
 */

export class SFrameError extends Error {
  /**
   * @param {SFrameErrorCode} code
   * @param {string} message
   */
  constructor(code, message) {
    super(message);
    this.name = 'SFrameError';
    /** @readonly */
    this.code = code;
  }
}

/**
 * A cipher suite with the parameters of the IANA "SFrame Cipher Suites"
 * registry. `nka` is 0 for the AES-GCM suites, which use sframe_key whole.
 * @typedef {object} CipherSuite
 * @property {number} id
 * @property {string} name
 * @property {'SHA-256' | 'SHA-512'} hash hash of HKDF (and of HMAC in the CTR suites)
 * @property {number} nh hash output length in bytes
 * @property {number} nka AES key length inside sframe_key (CTR suites only)
 * @property {number} nk sframe_key length
 * @property {number} nn nonce length
 * @property {number} nt authentication tag length
 */

export const AES_128_CTR_HMAC_SHA256_80 = 0x0001;
export const AES_128_CTR_HMAC_SHA256_64 = 0x0002;
export const AES_128_CTR_HMAC_SHA256_32 = 0x0003;
export const AES_128_GCM_SHA256_128 = 0x0004;
export const AES_256_GCM_SHA512_128 = 0x0005;
export const AES_256_CTR_HMAC_SHA512_80 = 0x0006;
export const AES_256_CTR_HMAC_SHA512_64 = 0x0007;
export const AES_256_CTR_HMAC_SHA512_32 = 0x0008;

/** @type {ReadonlyMap<number, Readonly<CipherSuite>>} */
export const CIPHER_SUITES = new Map(
  /** @type {CipherSuite[]} */ ([
    { id: 1, name: 'AES_128_CTR_HMAC_SHA256_80', hash: 'SHA-256', nh: 32, nka: 16, nk: 48, nn: 12, nt: 10 },
    { id: 2, name: 'AES_128_CTR_HMAC_SHA256_64', hash: 'SHA-256', nh: 32, nka: 16, nk: 48, nn: 12, nt: 8 },
    { id: 3, name: 'AES_128_CTR_HMAC_SHA256_32', hash: 'SHA-256', nh: 32, nka: 16, nk: 48, nn: 12, nt: 4 },
    { id: 4, name: 'AES_128_GCM_SHA256_128', hash: 'SHA-256', nh: 32, nka: 0, nk: 16, nn: 12, nt: 16 },
    { id: 5, name: 'AES_256_GCM_SHA512_128', hash: 'SHA-512', nh: 64, nka: 0, nk: 32, nn: 12, nt: 16 },
    { id: 6, name: 'AES_256_CTR_HMAC_SHA512_80', hash: 'SHA-512', nh: 64, nka: 32, nk: 96, nn: 12, nt: 10 },
    { id: 7, name: 'AES_256_CTR_HMAC_SHA512_64', hash: 'SHA-512', nh: 64, nka: 32, nk: 96, nn: 12, nt: 8 },
    { id: 8, name: 'AES_256_CTR_HMAC_SHA512_32', hash: 'SHA-512', nh: 64, nka: 32, nk: 96, nn: 12, nt: 4 },
  ]).map((suite) => [suite.id, Object.freeze(suite)]),
);

/** KID and CTR are unsigned 64-bit integers (RFC 9605 §4.3). */
export const MAX_U64 = (1n << 64n) - 1n;

/** @type {Bytes} */
const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();

/**
 * @param {number} id
 * @returns {Readonly<CipherSuite>}
 */
export function cipherSuite(id) {
  const suite = CIPHER_SUITES.get(id);
  if (!suite) throw new RangeError(`unsupported SFrame cipher suite ${id}`);
  return suite;
}

/**
 * A KID or CTR from the caller: a bigint or a safe integer number.
 * @param {bigint | number} value
 * @param {string} what
 * @returns {bigint}
 */
export function toU64(value, what) {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new RangeError(`${what} must be an integer`);
    value = BigInt(value);
  }
  if (typeof value !== 'bigint' || value < 0n || value > MAX_U64) {
    throw new RangeError(`${what} must be an unsigned 64-bit integer`);
  }
  return value;
}

// ---------------------------------------------------------------------------
// Header (RFC 9605 §4.3)
//
//   0 1 2 3 4 5 6 7
//  +-+-+-+-+-+-+-+-+------------+------------+
//  |X|  K  |Y|  C  |  KID ...   |  CTR ...   |
//  +-+-+-+-+-+-+-+-+------------+------------+
//
// A value 0..7 sits in K (or C) with X (or Y) clear. A larger value follows
// the config byte big-endian in the fewest bytes (1..8), KID first, with X
// (or Y) set and K (or C) holding that length minus one.

/**
 * @typedef {object} SFrameHeader
 * @property {bigint} kid
 * @property {bigint} ctr
 * @property {number} length encoded length in bytes (1..17)
 */

/** @param {bigint} value */
function minimalLength(value) {
  let n = 1;
  while (value >> BigInt(8 * n) > 0n) n += 1;
  return n;
}

/**
 * @param {Uint8Array} out
 * @param {number} offset
 * @param {bigint} value
 * @param {number} length
 */
function writeBigEndian(out, offset, value, length) {
  for (let i = length - 1; i >= 0; i -= 1) {
    out[offset + i] = Number(value & 0xffn);
    value >>= 8n;
  }
}

/**
 * @param {Uint8Array} bytes
 * @param {number} offset
 * @param {number} length
 */
function readBigEndian(bytes, offset, length) {
  let value = 0n;
  for (let i = 0; i < length; i += 1) value = (value << 8n) | BigInt(bytes[offset + i] ?? 0);
  return value;
}

/**
 * @param {bigint} value
 * @param {number} length
 * @returns {Bytes}
 */
function bigEndian(value, length) {
  const out = new Uint8Array(length);
  writeBigEndian(out, 0, value, length);
  return out;
}

/**
 * @param {bigint | number} kid
 * @param {bigint | number} ctr
 * @returns {Bytes}
 */
export function encodeHeader(kid, ctr) {
  const k = toU64(kid, 'KID');
  const c = toU64(ctr, 'CTR');
  const kidLength = k < 8n ? 0 : minimalLength(k);
  const ctrLength = c < 8n ? 0 : minimalLength(c);
  const out = new Uint8Array(1 + kidLength + ctrLength);
  const kBits = kidLength ? 0x80 | ((kidLength - 1) << 4) : Number(k) << 4;
  const cBits = ctrLength ? 0x08 | (ctrLength - 1) : Number(c);
  out[0] = kBits | cBits;
  if (kidLength) writeBigEndian(out, 1, k, kidLength);
  if (ctrLength) writeBigEndian(out, 1 + kidLength, c, ctrLength);
  return out;
}

/**
 * Reads the header at the start of an SFrame ciphertext. Rejects
 * non-minimal encodings: the RFC requires senders to use the fewest bytes,
 * so one (kid, ctr) has exactly one header.
 * @param {Uint8Array} bytes
 * @returns {SFrameHeader}
 */
export function decodeHeader(bytes) {
  const config = bytes[0];
  if (config === undefined) throw new SFrameError('malformed', 'empty SFrame ciphertext');
  const kidLength = config & 0x80 ? ((config >> 4) & 0x07) + 1 : 0;
  const ctrLength = config & 0x08 ? (config & 0x07) + 1 : 0;
  const length = 1 + kidLength + ctrLength;
  if (bytes.length < length) throw new SFrameError('malformed', 'truncated SFrame header');
  const kid = kidLength ? readBigEndian(bytes, 1, kidLength) : BigInt((config >> 4) & 0x07);
  const ctr = ctrLength ? readBigEndian(bytes, 1 + kidLength, ctrLength) : BigInt(config & 0x07);
  if ((kidLength && (kid < 8n || minimalLength(kid) !== kidLength)) || (ctrLength && (ctr < 8n || minimalLength(ctr) !== ctrLength))) {
    throw new SFrameError('malformed', 'non-minimal SFrame header');
  }
  return { kid, ctr, length };
}

// ---------------------------------------------------------------------------
// Key derivation (RFC 9605 §4.4.2)

/**
 * The HKDF-Expand labels of §4.4.2: the ASCII text, the KID as 8 bytes and
 * the cipher suite as 2 bytes, both big-endian.
 * @param {number} suiteId
 * @param {bigint | number} kid
 * @returns {{ key: Bytes, salt: Bytes }}
 */
export function derivationLabels(suiteId, kid) {
  const tail = concatBytes(bigEndian(toU64(kid, 'KID'), 8), bigEndian(BigInt(suiteId), 2));
  return {
    key: concatBytes(encoder.encode('SFrame 1.0 Secret key '), tail),
    salt: concatBytes(encoder.encode('SFrame 1.0 Secret salt '), tail),
  };
}

/**
 * sframe_secret, sframe_key and sframe_salt for one base key. Exported for
 * the test vectors; the context keeps the results only as CryptoKeys.
 * @param {number} suiteId
 * @param {bigint | number} kid
 * @param {Uint8Array} baseKey
 * @returns {Promise<{ secret: Bytes, key: Bytes, salt: Bytes }>}
 */
export async function deriveKeyMaterial(suiteId, kid, baseKey) {
  const suite = cipherSuite(suiteId);
  if (baseKey.length === 0) throw new RangeError('SFrame base key is empty');
  const labels = derivationLabels(suiteId, kid);
  const secret = await hkdfExtract(suite.hash, EMPTY, baseKey);
  const key = await hkdfExpand(suite.hash, secret, labels.key, suite.nk);
  const salt = await hkdfExpand(suite.hash, secret, labels.salt, suite.nn);
  return { secret, key, salt };
}

/**
 * nonce = sframe_salt XOR CTR, the counter left-padded with zeros to Nn
 * bytes (§4.4.3).
 * @param {Uint8Array} salt
 * @param {bigint} ctr
 * @returns {Bytes}
 */
export function frameNonce(salt, ctr) {
  const nonce = new Uint8Array(salt);
  const counter = bigEndian(ctr, 8);
  const offset = nonce.length - counter.length;
  for (let i = 0; i < counter.length; i += 1) nonce[offset + i] ^= counter[i] ?? 0;
  return nonce;
}

// ---------------------------------------------------------------------------
// AEAD (RFC 9605 §4.4.3 with AES-GCM; §4.5.1 AES-CTR with HMAC)

/**
 * @typedef {object} Aead
 * @property {(nonce: Bytes, aad: Bytes, plaintext: Bytes) => Promise<Bytes>} seal ciphertext || tag
 * @property {(nonce: Bytes, aad: Bytes, ciphertext: Bytes) => Promise<Bytes>} open throws SFrameError 'auth-failed'
 */

/**
 * The AEAD of a cipher suite keyed with sframe_key (for the CTR suites:
 * AES key || HMAC key, as in the RFC's `aes_ctr_hmac` vectors).
 * @param {number} suiteId
 * @param {Uint8Array} rawKey Nk bytes
 * @returns {Promise<Aead>}
 */
export async function importAead(suiteId, rawKey) {
  const suite = cipherSuite(suiteId);
  if (rawKey.length !== suite.nk) throw new RangeError(`${suite.name} needs a ${suite.nk}-byte key`);
  if (suite.nka === 0) return importGcm(suite, new Uint8Array(rawKey));
  return importCtrHmac(suite, new Uint8Array(rawKey));
}

/**
 * @param {Readonly<CipherSuite>} suite
 * @param {Bytes} rawKey
 * @returns {Promise<Aead>}
 */
async function importGcm(suite, rawKey) {
  const key = await crypto.subtle.importKey('raw', rawKey, 'AES-GCM', false, ['encrypt', 'decrypt']);
  const tagLength = suite.nt * 8;
  return {
    async seal(nonce, aad, plaintext) {
      const params = { name: 'AES-GCM', iv: nonce, additionalData: aad, tagLength };
      return new Uint8Array(await crypto.subtle.encrypt(params, key, plaintext));
    },
    async open(nonce, aad, ciphertext) {
      try {
        const params = { name: 'AES-GCM', iv: nonce, additionalData: aad, tagLength };
        return new Uint8Array(await crypto.subtle.decrypt(params, key, ciphertext));
      } catch {
        throw new SFrameError('auth-failed', 'SFrame authentication failed');
      }
    },
  };
}

/**
 * @param {Readonly<CipherSuite>} suite
 * @param {Bytes} rawKey
 * @returns {Promise<Aead>}
 */
async function importCtrHmac(suite, rawKey) {
  const encKey = await crypto.subtle.importKey('raw', rawKey.subarray(0, suite.nka), 'AES-CTR', false, ['encrypt', 'decrypt']);
  const authKey = await crypto.subtle.importKey('raw', rawKey.subarray(suite.nka), { name: 'HMAC', hash: suite.hash }, false, ['sign']);
  /**
   * The AES-CTR counter block is the nonce followed by a 32-bit block
   * counter starting at zero.
   * @param {Bytes} nonce
   */
  const ctrParams = (nonce) => ({ name: 'AES-CTR', counter: concatBytes(nonce, new Uint8Array(4)), length: 32 });
  /**
   * tag = HMAC(auth_key, len(aad) || len(ct) || Nt || nonce || aad || ct),
   * lengths as 8-byte big-endian, truncated to Nt bytes.
   * @param {Bytes} nonce
   * @param {Bytes} aad
   * @param {Uint8Array} ciphertext
   */
  const tag = async (nonce, aad, ciphertext) => {
    const lengths = concatBytes(bigEndian(BigInt(aad.length), 8), bigEndian(BigInt(ciphertext.length), 8), bigEndian(BigInt(suite.nt), 8));
    const mac = await crypto.subtle.sign('HMAC', authKey, concatBytes(lengths, nonce, aad, ciphertext));
    return new Uint8Array(mac, 0, suite.nt);
  };
  return {
    async seal(nonce, aad, plaintext) {
      const ciphertext = new Uint8Array(await crypto.subtle.encrypt(ctrParams(nonce), encKey, plaintext));
      return concatBytes(ciphertext, await tag(nonce, aad, ciphertext));
    },
    async open(nonce, aad, sealed) {
      const split = sealed.length - suite.nt;
      if (split < 0) throw new SFrameError('auth-failed', 'SFrame authentication failed');
      const ciphertext = sealed.subarray(0, split);
      if (!equalBytes(await tag(nonce, aad, ciphertext), sealed.subarray(split))) {
        throw new SFrameError('auth-failed', 'SFrame authentication failed');
      }
      return new Uint8Array(await crypto.subtle.decrypt(ctrParams(nonce), encKey, new Uint8Array(ciphertext)));
    },
  };
}

// ---------------------------------------------------------------------------
// Keys and the context

/** One derived key: the AEAD and the salt for one KID. */
export class SFrameKey {
  /**
   * Use SFrameKey.derive.
   * @param {Readonly<CipherSuite>} suite
   * @param {bigint} kid
   * @param {Bytes} salt
   * @param {Aead} aead
   */
  constructor(suite, kid, salt, aead) {
    /** @readonly */
    this.suite = suite;
    /** @readonly */
    this.kid = kid;
    /** @readonly */
    this.salt = salt;
    /** @readonly */
    this.aead = aead;
  }

  /**
   * @param {number} suiteId
   * @param {bigint | number} kid
   * @param {Uint8Array} baseKey
   */
  static async derive(suiteId, kid, baseKey) {
    const id = toU64(kid, 'KID');
    const { secret, key, salt } = await deriveKeyMaterial(suiteId, id, baseKey);
    try {
      return new SFrameKey(cipherSuite(suiteId), id, salt, await importAead(suiteId, key));
    } finally {
      // Only the non-extractable CryptoKeys stay; drop our copies.
      secret.fill(0);
      key.fill(0);
    }
  }

  /**
   * Encrypts one frame under counter `ctr`. The caller guarantees that no
   * counter is ever used twice with this key.
   * @param {bigint} ctr
   * @param {Uint8Array} metadata authenticated, not encrypted, not sent
   * @param {Uint8Array} plaintext
   * @returns {Promise<Bytes>} header || ciphertext || tag
   */
  async seal(ctr, metadata, plaintext) {
    const header = encodeHeader(this.kid, ctr);
    const sealed = await this.aead.seal(frameNonce(this.salt, ctr), concatBytes(header, metadata), new Uint8Array(plaintext));
    return concatBytes(header, sealed);
  }

  /**
   * @param {SFrameHeader} header decoded from the start of `frame`
   * @param {Uint8Array} frame the whole SFrame ciphertext
   * @param {Uint8Array} metadata
   * @returns {Promise<Bytes>} the plaintext
   */
  async open(header, frame, metadata) {
    const aad = concatBytes(frame.subarray(0, header.length), metadata);
    return this.aead.open(frameNonce(this.salt, header.ctr), aad, frame.slice(header.length));
  }
}

/**
 * Which counters of one key were accepted, in a window below the highest
 * (the anti-replay window of SRTP, RFC 3711 §3.3.2, counted in frames).
 */
class ReplayWindow {
  /** @param {number} size */
  constructor(size) {
    this.size = BigInt(size);
    this.bits = new Uint8Array(Math.ceil(size / 8));
    /** @type {bigint} */
    this.highest = -1n;
  }

  /** @param {bigint} ctr */
  #slot(ctr) {
    const index = Number(ctr % this.size);
    return { byte: index >> 3, mask: 1 << (index & 7) };
  }

  /**
   * Whether a frame with this counter may still be accepted.
   * @param {bigint} ctr
   */
  fresh(ctr) {
    if (ctr > this.highest) return true;
    if (this.highest - ctr >= this.size) return false;
    const { byte, mask } = this.#slot(ctr);
    return ((this.bits[byte] ?? 0) & mask) === 0;
  }

  /** @param {bigint} ctr a counter for which fresh() is true */
  accept(ctr) {
    if (ctr > this.highest) {
      if (ctr - this.highest >= this.size) {
        this.bits.fill(0);
      } else {
        for (let c = this.highest + 1n; c <= ctr; c += 1n) {
          const { byte, mask } = this.#slot(c);
          this.bits[byte] = (this.bits[byte] ?? 0) & ~mask;
        }
      }
      this.highest = ctr;
    }
    const { byte, mask } = this.#slot(ctr);
    this.bits[byte] = (this.bits[byte] ?? 0) | mask;
  }
}

/**
 * @typedef {object} SFrameContextOptions
 * @property {number} [cipherSuite] default AES_128_GCM_SHA256_128
 * @property {bigint | number} [maxCounter] the last counter a key may
 *   encrypt under (default 2^64 - 1); lower it to force key renewal earlier
 * @property {number} [replayWindow] accept each counter once per key,
 *   tolerating this many frames of reordering; 0 (default) turns the check off
 */

/**
 * @typedef {object} KeyEntry
 * @property {Promise<SFrameKey>} key
 * @property {bigint} nextCounter
 * @property {ReplayWindow | null} replay
 */

/**
 * @typedef {object} DecryptedFrame
 * @property {bigint} kid
 * @property {bigint} ctr
 * @property {Bytes} plaintext
 */

/**
 * The keys of one direction of a call and, for sending, their counters.
 * Every frame encrypted under one key must come from the same context:
 * two contexts holding the same base key and KID would reuse nonces.
 */
export class SFrameContext {
  /** @type {Map<bigint, KeyEntry>} */
  #keys = new Map();
  /** KIDs this context has held; a KID is never taken again. */
  #used = new Set();
  #suite;
  #maxCounter;
  #replayWindow;

  /** @param {SFrameContextOptions} [options] */
  constructor(options = {}) {
    this.#suite = cipherSuite(options.cipherSuite ?? AES_128_GCM_SHA256_128);
    this.#maxCounter = toU64(options.maxCounter ?? MAX_U64, 'maxCounter');
    const window = options.replayWindow ?? 0;
    if (!Number.isSafeInteger(window) || window < 0) throw new RangeError('replayWindow must be a non-negative integer');
    this.#replayWindow = window;
  }

  get cipherSuite() {
    return this.#suite;
  }

  /**
   * Derives and installs the key for `kid`. A KID can be added only once in
   * the life of a context, so that a key's counter never starts over.
   * Frames may be passed to encrypt/decrypt before the returned promise
   * settles; they wait for the derivation.
   * @param {bigint | number} kid
   * @param {Uint8Array} baseKey
   * @returns {Promise<void>}
   */
  async addKey(kid, baseKey) {
    const id = toU64(kid, 'KID');
    if (this.#used.has(id)) throw new RangeError(`SFrame KID ${id} was already used in this context`);
    if (!(baseKey instanceof Uint8Array) || baseKey.length === 0) throw new TypeError('SFrame base key must be non-empty bytes');
    this.#used.add(id);
    // Copy now: the caller may wipe its buffer as soon as we return.
    const base = new Uint8Array(baseKey);
    const key = SFrameKey.derive(this.#suite.id, id, base);
    /** @type {KeyEntry} */
    const entry = { key, nextCounter: 0n, replay: this.#replayWindow ? new ReplayWindow(this.#replayWindow) : null };
    this.#keys.set(id, entry);
    try {
      await key;
    } catch (error) {
      if (this.#keys.get(id) === entry) this.#keys.delete(id);
      throw error;
    } finally {
      base.fill(0);
    }
  }

  /**
   * @param {bigint | number} kid
   * @returns {boolean} whether the key was there
   */
  removeKey(kid) {
    return this.#keys.delete(toU64(kid, 'KID'));
  }

  /** @param {bigint | number} kid */
  hasKey(kid) {
    return this.#keys.has(toU64(kid, 'KID'));
  }

  /**
   * @param {bigint | number} kid
   * @param {Uint8Array} plaintext
   * @param {Uint8Array} [metadata] authenticated, not encrypted, not included
   * @returns {Promise<Bytes>} the SFrame ciphertext: header || ciphertext || tag
   */
  async encrypt(kid, plaintext, metadata = EMPTY) {
    const id = toU64(kid, 'KID');
    const entry = this.#keys.get(id);
    if (!entry) throw new SFrameError('unknown-key', `no SFrame key with KID ${id}`);
    const ctr = entry.nextCounter;
    if (ctr > this.#maxCounter) throw new SFrameError('counter-exhausted', `SFrame key ${id} has no counters left`);
    // Taken before the first await, so concurrent calls never share a nonce.
    entry.nextCounter = ctr + 1n;
    const key = await entry.key;
    return key.seal(ctr, metadata, plaintext);
  }

  /**
   * @param {Uint8Array} frame an SFrame ciphertext
   * @param {Uint8Array} [metadata] as given to encrypt
   * @returns {Promise<DecryptedFrame>}
   */
  async decrypt(frame, metadata = EMPTY) {
    const header = decodeHeader(frame);
    const entry = this.#keys.get(header.kid);
    if (!entry) throw new SFrameError('unknown-key', `no SFrame key with KID ${header.kid}`);
    if (frame.length - header.length < this.#suite.nt) throw new SFrameError('malformed', 'SFrame ciphertext shorter than its tag');
    const { replay } = entry;
    if (replay && !replay.fresh(header.ctr)) throw new SFrameError('replay', `SFrame counter ${header.ctr} replayed or too old`);
    const key = await entry.key;
    const plaintext = await key.open(header, frame, metadata);
    // Recorded only once authentic, and checked again: another copy of this
    // frame may have been opened while we awaited.
    if (replay) {
      if (!replay.fresh(header.ctr)) throw new SFrameError('replay', `SFrame counter ${header.ctr} replayed or too old`);
      replay.accept(header.ctr);
    }
    return { kid: header.kid, ctr: header.ctr, plaintext };
  }
}
