import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clearPrefixLength, framingCodec, protect, unprotect } from '../../src/sprechzimmer/static/js/framing.js';
import { SFrameContext, SFrameError, decodeHeader } from '../../src/sprechzimmer/static/js/sframe.js';

/** @param {string} text */
const bytes = (text) => new Uint8Array(Buffer.from(text.replace(/\s/g, ''), 'hex'));

/** @param {SFrameError['code']} code */
const rejectsWith = (code) => (/** @type {unknown} */ error) => error instanceof SFrameError && error.code === code;

/**
 * @param {number} length
 * @param {number} seed
 */
function payload(length, seed) {
  return Uint8Array.from({ length }, (_, i) => (i * 31 + seed) & 0xff);
}

// VP8 (RFC 6386 §9.1): a 3-byte frame tag (bit 0 of byte 0 clear on key
// frames), then on key frames the start code 9d 01 2a and 14-bit width and
// height, here 640x480.
const VP8_KEY = new Uint8Array([...bytes('50 42 00  9d 01 2a  80 02 e0 01'), ...payload(300, 1)]);
const VP8_DELTA = new Uint8Array([...bytes('31 0b 00'), ...payload(120, 2)]);
// Opus (RFC 6716 §3.1): TOC 0xfc is CELT-only fullband 20 ms, stereo, one frame.
const OPUS = new Uint8Array([0xfc, ...payload(80, 3)]);

async function pair() {
  const base = bytes('000102030405060708090a0b0c0d0e0f');
  const sender = new SFrameContext();
  const receiver = new SFrameContext();
  await sender.addKey(1, base);
  await receiver.addKey(1, base);
  return { sender, receiver };
}

test('codec names and MIME types', () => {
  assert.equal(framingCodec('VP8'), 'vp8');
  assert.equal(framingCodec('video/VP8'), 'vp8');
  assert.equal(framingCodec('audio/opus'), 'opus');
  assert.equal(framingCodec('opus'), 'opus');
  assert.equal(framingCodec('video/H264'), 'other');
  assert.equal(framingCodec('video/vp8x'), 'other');
});

test('clear prefix: VP8 key 10, VP8 delta 1, Opus 1, others 0', () => {
  assert.equal(clearPrefixLength(VP8_KEY, 'video/VP8'), 10);
  assert.equal(clearPrefixLength(VP8_DELTA, 'video/VP8'), 1);
  assert.equal(clearPrefixLength(OPUS, 'audio/opus'), 1);
  assert.equal(clearPrefixLength(VP8_KEY, 'video/AV1'), 0);
  assert.equal(clearPrefixLength(new Uint8Array(0), 'video/VP8'), 0);
});

for (const [name, frame, codec, prefix] of /** @type {const} */ ([
  ['VP8 key frame', VP8_KEY, 'video/VP8', 10],
  ['VP8 delta frame', VP8_DELTA, 'video/VP8', 1],
  ['Opus frame', OPUS, 'audio/opus', 1],
  ['Opus TOC-only frame', Uint8Array.of(0xf8), 'audio/opus', 1],
  ['frame of another codec', payload(50, 4), 'video/H264', 0],
])) {
  test(`${name}: prefix in clear, rest encrypted, round trip`, async () => {
    const { sender, receiver } = await pair();
    const sealed = await protect(sender, 1, frame, codec);
    const clear = new Uint8Array(frame.subarray(0, prefix));
    // A VP8 key frame's start code is masked on the wire (see framing.js).
    if (prefix === 10) clear.set([0, 0, 0], 3);
    assert.deepEqual(sealed.subarray(0, prefix), clear);
    const header = decodeHeader(sealed.subarray(prefix));
    assert.deepEqual([header.kid, header.ctr], [1n, 0n]);
    assert.equal(sealed.length, frame.length + header.length + 16);
    // The payload is not visible anywhere in the protected frame.
    const body = frame.subarray(prefix);
    if (body.length >= 8) assert.ok(!Buffer.from(sealed).includes(Buffer.from(body.subarray(0, 8))));
    // What is handed to the packetizer is a buffer of its own.
    assert.equal(sealed.byteOffset, 0);
    assert.equal(sealed.buffer.byteLength, sealed.length);

    const opened = await unprotect(receiver, sealed, codec);
    assert.deepEqual(opened, { kid: 1n, ctr: 0n, frame: new Uint8Array(frame) });
    assert.equal(opened.frame.buffer.byteLength, frame.length);
  });

  test(`${name}: any flipped bit fails`, async () => {
    const { sender, receiver } = await pair();
    const sealed = await protect(sender, 1, frame, codec);
    for (let i = 0; i < sealed.length; i += 1) {
      const forged = new Uint8Array(sealed);
      forged[i] ^= i < prefix ? 0x01 : 0x40;
      await assert.rejects(unprotect(receiver, forged, codec), (error) => error instanceof SFrameError, `byte ${i}`);
    }
  });
}

test('tampering: clear prefix and ciphertext are authenticated', async () => {
  const { sender, receiver } = await pair();
  const key = await protect(sender, 1, VP8_KEY, 'video/VP8');
  // Change the width in the clear prefix.
  const resized = new Uint8Array(key);
  resized[6] ^= 0x10;
  await assert.rejects(unprotect(receiver, resized, 'video/VP8'), rejectsWith('auth-failed'));
  // Turn the key frame into a "delta frame": the split moves.
  const demoted = new Uint8Array(key);
  demoted[0] |= 0x01;
  await assert.rejects(unprotect(receiver, demoted, 'video/VP8'), (error) => error instanceof SFrameError);
  // A bit in the encrypted payload and one in the tag.
  for (const at of [key.length - 40, key.length - 1]) {
    const forged = new Uint8Array(key);
    forged[at] ^= 0x80;
    await assert.rejects(unprotect(receiver, forged, 'video/VP8'), rejectsWith('auth-failed'));
  }
  // Opened as the wrong codec, the split is wrong.
  await assert.rejects(unprotect(receiver, key, 'audio/opus'), (error) => error instanceof SFrameError);
  // The genuine frame still opens.
  assert.deepEqual((await unprotect(receiver, key, 'video/VP8')).frame, VP8_KEY);
});

test('wrong key fails authentication, unknown KID is unknown-key', async () => {
  const { sender } = await pair();
  const sealed = await protect(sender, 1, OPUS, 'audio/opus');
  const wrong = new SFrameContext();
  await wrong.addKey(1, bytes('ff0102030405060708090a0b0c0d0e0f'));
  await assert.rejects(unprotect(wrong, sealed, 'audio/opus'), rejectsWith('auth-failed'));
  const other = new SFrameContext();
  await other.addKey(2, bytes('000102030405060708090a0b0c0d0e0f'));
  await assert.rejects(unprotect(other, sealed, 'audio/opus'), rejectsWith('unknown-key'));
});

test('audio and video frames from one context share its counter', async () => {
  const { sender, receiver } = await pair();
  const frames = [
    [await protect(sender, 1, VP8_KEY, 'video/VP8'), 'video/VP8'],
    [await protect(sender, 1, OPUS, 'audio/opus'), 'audio/opus'],
    [await protect(sender, 1, VP8_DELTA, 'video/VP8'), 'video/VP8'],
  ];
  const counters = [];
  for (const [sealed, codec] of /** @type {[Uint8Array, string][]} */ (frames)) counters.push((await unprotect(receiver, sealed, codec)).ctr);
  assert.deepEqual(counters, [0n, 1n, 2n]);
});

test('a VP8 key frame shorter than its clear prefix is refused', async () => {
  const { sender } = await pair();
  await assert.rejects(protect(sender, 1, VP8_KEY.subarray(0, 9), 'video/VP8'), rejectsWith('malformed'));
});

test('protected frames too short for their prefix are malformed', async () => {
  const { receiver } = await pair();
  await assert.rejects(unprotect(receiver, VP8_KEY.subarray(0, 10), 'video/VP8'), rejectsWith('malformed'));
  await assert.rejects(unprotect(receiver, Uint8Array.of(0xfc), 'audio/opus'), rejectsWith('malformed'));
  await assert.rejects(unprotect(receiver, Uint8Array.of(0xfc, 0x10), 'audio/opus'), rejectsWith('malformed'));
});

test('empty frames pass through without using a counter', async () => {
  const { sender, receiver } = await pair();
  assert.deepEqual(await protect(sender, 1, new Uint8Array(0), 'video/VP8'), new Uint8Array(0));
  assert.deepEqual(await unprotect(receiver, new Uint8Array(0), 'video/VP8'), { kid: null, ctr: null, frame: new Uint8Array(0) });
  const next = await protect(sender, 1, OPUS, 'audio/opus');
  assert.equal(decodeHeader(next.subarray(1)).ctr, 0n);
});

test('frames given as views into a larger buffer', async () => {
  const { sender, receiver } = await pair();
  const backing = new Uint8Array(VP8_DELTA.length + 20);
  backing.set(VP8_DELTA, 7);
  const view = backing.subarray(7, 7 + VP8_DELTA.length);
  const sealed = await protect(sender, 1, view, 'video/VP8');
  const wire = new Uint8Array(sealed.length + 5);
  wire.set(sealed, 5);
  assert.deepEqual((await unprotect(receiver, wire.subarray(5), 'video/VP8')).frame, VP8_DELTA);
});


test('a VP8 key frame is unreadable to a decoder that does not decrypt', async () => {
  const { sender, receiver } = await pair();
  const sealed = await protect(sender, 1, VP8_KEY, 'video/VP8');
  // libvpx refuses a key frame without the sync code 9d 01 2a: no noise picture.
  assert.deepEqual([...sealed.subarray(3, 6)], [0, 0, 0]);
  assert.deepEqual([...sealed.subarray(6, 10)], [...VP8_KEY.subarray(6, 10)]); // size stays readable
  const opened = await unprotect(receiver, sealed, 'video/VP8');
  assert.deepEqual(opened.frame, VP8_KEY);
  // An unmasked key frame on the wire is not ours: refused before decryption.
  const unmasked = new Uint8Array(sealed);
  unmasked.set([0x9d, 0x01, 0x2a], 3);
  await assert.rejects(unprotect(receiver, unmasked, 'video/VP8'), rejectsWith('malformed'));
});
