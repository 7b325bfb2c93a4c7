// How an encoded WebRTC frame becomes an SFrame-protected frame and back.
// The RTP packetizer and depacketizer read the first bytes of some codecs'
// frames, so those bytes stay in clear, authenticated as SFrame metadata:
//
//   protected = clear prefix || SFrame ciphertext (header || ct || tag)
//   SFrame AAD = SFrame header || clear prefix
//
// Clear prefix by codec:
// - VP8 key frame (bit 0 of byte 0 is 0): 10 bytes, the 3-byte frame tag
//   plus start code and dimensions; the receiver's depacketizer reads the
//   size of a key frame from them. On the wire the start code 9d 01 2a is
//   replaced by 00 00 00 (and restored before authentication and decoding):
//   a decoder that gets the frame without decrypting it finds no VP8 sync
//   code and decodes nothing, instead of painting ciphertext as noise.
// - VP8 delta frame: 1 byte, which carries the key-frame bit.
// - Opus: 1 byte, the TOC (mode, bandwidth, frame size).
// - any other codec: nothing.
// The receiver finds the prefix length from the same clear bytes, so a
// change to them changes the split, and authentication fails.
//
// An empty frame carries nothing and passes through unchanged both ways.
// Pure module, no DOM; runs in the worker of the encoded transform.

import { SFrameContext, SFrameError, concatBytes } from './sframe.js';

/** @typedef {import('./sframe.js').Bytes} Bytes */

/** @typedef {'vp8' | 'opus' | 'other'} FramingCodec */

const VP8_KEY_FRAME_PREFIX = 10;
const VP8_START_CODE = [0x9d, 0x01, 0x2a];
const VP8_WIRE_START_CODE = [0x00, 0x00, 0x00];

/**
 * Writes `code` over the VP8 key frame start code (bytes 3..5) of a copy of `prefix`.
 * @param {Uint8Array} prefix
 * @param {number[]} code
 * @returns {Bytes}
 */
function withStartCode(prefix, code) {
  const copy = new Uint8Array(prefix);
  copy.set(code, 3);
  return copy;
}

/**
 * @param {Uint8Array} prefix
 * @param {number[]} code
 */
function hasStartCode(prefix, code) {
  return prefix[3] === code[0] && prefix[4] === code[1] && prefix[5] === code[2];
}

/**
 * Whether a clear prefix is that of a VP8 key frame.
 * @param {Uint8Array} prefix
 * @param {string} codec
 */
function isVp8KeyPrefix(prefix, codec) {
  return framingCodec(codec) === 'vp8' && prefix.length === VP8_KEY_FRAME_PREFIX;
}

/**
 * The framing of a codec, from a short name ('vp8', 'opus') or a MIME type
 * as in RTCRtpCodecParameters or frame metadata ('video/VP8', 'audio/opus').
 * @param {string} codec
 * @returns {FramingCodec}
 */
export function framingCodec(codec) {
  const name = codec.toLowerCase().replace(/^(audio|video)\//, '');
  if (name === 'vp8' || name === 'opus') return name;
  return 'other';
}

/**
 * How many leading bytes of `frame` stay in clear.
 * @param {Uint8Array} frame an encoded frame, or a protected one (the prefix reads the same)
 * @param {string} codec
 * @returns {number}
 */
export function clearPrefixLength(frame, codec) {
  const first = frame[0];
  if (first === undefined) return 0;
  switch (framingCodec(codec)) {
    case 'vp8':
      return (first & 0x01) === 0 ? VP8_KEY_FRAME_PREFIX : 1;
    case 'opus':
      return 1;
    case 'other':
      return 0;
  }
}

/**
 * Encrypts one encoded frame for sending.
 * @param {SFrameContext} ctx
 * @param {bigint | number} kid
 * @param {Uint8Array} frame
 * @param {string} codec
 * @returns {Promise<Bytes>} a fresh buffer: clear prefix || SFrame ciphertext
 */
export async function protect(ctx, kid, frame, codec) {
  if (frame.length === 0) return new Uint8Array(0);
  const prefixLength = clearPrefixLength(frame, codec);
  // A VP8 key frame is never this short; cutting the prefix short would
  // make the receiver split the frame wrongly.
  if (frame.length < prefixLength) throw new SFrameError('malformed', `${codec} frame shorter than its clear prefix`);
  const prefix = frame.subarray(0, prefixLength);
  const sealed = await ctx.encrypt(kid, frame.subarray(prefixLength), prefix);
  if (isVp8KeyPrefix(prefix, codec)) {
    if (!hasStartCode(prefix, VP8_START_CODE)) throw new SFrameError('malformed', 'VP8 key frame without its start code');
    return concatBytes(withStartCode(prefix, VP8_WIRE_START_CODE), sealed);
  }
  return concatBytes(prefix, sealed);
}

/**
 * @typedef {{ kid: bigint, ctr: bigint, frame: Bytes } | { kid: null, ctr: null, frame: Bytes }} UnprotectedFrame
 *   `kid` and `ctr` are null only for an empty frame, which passes through
 */

/**
 * Decrypts one received frame. Throws SFrameError ('malformed',
 * 'unknown-key', 'auth-failed', 'replay'); the caller drops such frames.
 * @param {SFrameContext} ctx
 * @param {Uint8Array} data
 * @param {string} codec
 * @returns {Promise<UnprotectedFrame>} `frame` is a fresh buffer
 */
export async function unprotect(ctx, data, codec) {
  if (data.length === 0) return { kid: null, ctr: null, frame: new Uint8Array(0) };
  const prefixLength = clearPrefixLength(data, codec);
  if (data.length <= prefixLength) throw new SFrameError('malformed', `protected ${codec} frame too short`);
  let prefix = data.subarray(0, prefixLength);
  if (isVp8KeyPrefix(prefix, codec)) {
    if (!hasStartCode(prefix, VP8_WIRE_START_CODE)) throw new SFrameError('malformed', 'VP8 key frame not masked');
    prefix = withStartCode(prefix, VP8_START_CODE);
  }
  const { kid, ctr, plaintext } = await ctx.decrypt(data.subarray(prefixLength), prefix);
  return { kid, ctr, frame: concatBytes(prefix, plaintext) };
}
