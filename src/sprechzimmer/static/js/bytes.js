// Bytes and HKDF, shared by the key agreement (e2ee.js) and SFrame
// (sframe.js): written once, so that a fix to one is a fix to both.
//
// Runs in the page, in the frame-encryption worker and in Node 20
// (globalThis.crypto.subtle). Nothing here logs or keeps a key.

/** @typedef {Uint8Array<ArrayBuffer>} Bytes */

const EMPTY = new Uint8Array(0);

/**
 * @param {Uint8Array[]} parts
 * @returns {Bytes}
 */
export function concatBytes(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/**
 * Compares without an early exit, so timing does not tell how much of a
 * forged tag or commitment was right.
 * @param {Uint8Array} a
 * @param {Uint8Array} b
 */
export function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i += 1) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

/** @param {'SHA-256' | 'SHA-512'} hash */
function hashLength(hash) {
  return hash === 'SHA-256' ? 32 : 64;
}

/**
 * HKDF-Extract (RFC 5869).
 * @param {'SHA-256' | 'SHA-512'} hash
 * @param {Uint8Array} salt
 * @param {Uint8Array} ikm
 * @returns {Promise<Bytes>}
 */
export async function hkdfExtract(hash, salt, ikm) {
  // An empty salt means HashLen zero bytes (RFC 5869 §2.2). WebCrypto will
  // not import an empty HMAC key; HMAC pads keys with zeros, so both agree.
  const key = salt.length ? new Uint8Array(salt) : new Uint8Array(hashLength(hash));
  const cryptoKey = await crypto.subtle.importKey('raw', key, { name: 'HMAC', hash }, false, ['sign']);
  return new Uint8Array(await crypto.subtle.sign('HMAC', cryptoKey, new Uint8Array(ikm)));
}

/**
 * HKDF-Expand (RFC 5869).
 * @param {'SHA-256' | 'SHA-512'} hash
 * @param {Uint8Array} prk
 * @param {Uint8Array} info
 * @param {number} length
 * @returns {Promise<Bytes>}
 */
export async function hkdfExpand(hash, prk, info, length) {
  if (!Number.isInteger(length) || length < 1 || length > 255 * hashLength(hash)) {
    throw new RangeError('HKDF-Expand length out of range');
  }
  const key = await crypto.subtle.importKey('raw', new Uint8Array(prk), { name: 'HMAC', hash }, false, ['sign']);
  const out = new Uint8Array(length);
  /** @type {Uint8Array} */
  let block = EMPTY;
  for (let i = 1, offset = 0; offset < length; i += 1) {
    block = new Uint8Array(await crypto.subtle.sign('HMAC', key, concatBytes(block, info, Uint8Array.of(i))));
    out.set(block.subarray(0, length - offset), offset);
    offset += block.length;
  }
  return out;
}

/**
 * HKDF-SHA256 in one step (RFC 5869), WebCrypto's own: the key agreement's
 * key schedule and verification code. (SFrame needs the two steps apart,
 * above.) Only `ikm` becomes a CryptoKey; an empty salt is never imported as
 * a key of zeros.
 * @param {Uint8Array} ikm
 * @param {Uint8Array} salt
 * @param {Uint8Array} info
 * @param {number} length bytes
 * @returns {Promise<Bytes>}
 */
export async function hkdfSha256(ikm, salt, info, length) {
  const key = await crypto.subtle.importKey('raw', new Uint8Array(ikm), 'HKDF', false, ['deriveBits']);
  const bits = await crypto.subtle.deriveBits(
    { name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(salt), info: new Uint8Array(info) },
    key,
    length * 8,
  );
  return new Uint8Array(bits);
}
