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
//   size of a key frame from them.
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
  const prefix = data.subarray(0, prefixLength);
  const { kid, ctr, plaintext } = await ctx.decrypt(data.subarray(prefixLength), prefix);
  return { kid, ctr, frame: concatBytes(prefix, plaintext) };
}
