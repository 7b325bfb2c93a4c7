import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  AES_128_GCM_SHA256_128,
  MAX_U64,
  SFrameContext,
  SFrameError,
  SFrameKey,
  decodeHeader,
  derivationLabels,
  deriveKeyMaterial,
  encodeHeader,
  frameNonce,
  importAead,
} from '../../src/sprechzimmer/static/js/sframe.js';

// RFC 9605 Appendix C, from the SFrame working group's test-vectors.json.
// KIDs and CTRs go up to 2^64 - 1, beyond what a JSON number keeps exactly
// in JavaScript, so they are read as strings (and used as BigInt).
const VECTORS = JSON.parse(
  readFileSync(new URL('./fixtures/sframe-rfc9605.json', import.meta.url), 'utf8').replace(/("(?:kid|ctr)":\s*)(\d+)/g, '$1"$2"'),
);

/** @param {string} text */
const bytes = (text) => new Uint8Array(Buffer.from(text, 'hex'));
/** @param {Uint8Array} data */
const hex = (data) => Buffer.from(data).toString('hex');
const utf8 = (/** @type {string} */ text) => new TextEncoder().encode(text);

/** @param {SFrameError['code']} code */
const rejectsWith = (code) => (/** @type {unknown} */ error) => error instanceof SFrameError && error.code === code;

test('every header vector encodes and decodes (§4.3, C.1)', () => {
  assert.equal(VECTORS.header.length, 289);
  for (const { kid, ctr, encoded } of VECTORS.header) {
    const k = BigInt(kid);
    const c = BigInt(ctr);
    assert.equal(hex(encodeHeader(k, c)), encoded, `kid=${kid} ctr=${ctr}`);
    // Decoding reads only the header, whatever follows.
    const decoded = decodeHeader(bytes(encoded + 'c0ffee'));
    assert.deepEqual(decoded, { kid: k, ctr: c, length: encoded.length / 2 });
  }
});

test('the extremes of the header encode exactly', () => {
  assert.equal(hex(encodeHeader(MAX_U64, MAX_U64)), 'ff' + 'ff'.repeat(16));
  assert.deepEqual(decodeHeader(bytes('ff' + 'ff'.repeat(16))), { kid: MAX_U64, ctr: MAX_U64, length: 17 });
  assert.equal(hex(encodeHeader(2n ** 56n, 7n)), 'f7' + '01' + '00'.repeat(7));
  assert.equal(hex(encodeHeader(7n, 8n)), '7808');
});

test('headers accept numbers and bigints but only unsigned 64-bit values', () => {
  assert.equal(hex(encodeHeader(291, 17767)), '9901234567');
  for (const bad of [-1, 1.5, Number.MAX_SAFE_INTEGER + 1, -1n, MAX_U64 + 1n]) {
    assert.throws(() => encodeHeader(bad, 0), RangeError);
    assert.throws(() => encodeHeader(0, bad), RangeError);
  }
});

test('truncated and non-minimal headers are malformed', () => {
  for (const encoded of [
    '', // nothing
    '80', // KID length 1, missing
    '9901234', // odd: CTR cut short
    '990123', // CTR missing
    'f8' + 'ff'.repeat(7), // 8-byte KID cut short
    '8007', // KID 7 must sit in the config byte
    '0805', // CTR 5 likewise
    '900012', // KID 0x12 in two bytes
    '0900ff', // CTR 0xff in two bytes
  ]) {
    assert.throws(() => decodeHeader(bytes(encoded)), rejectsWith('malformed'), encoded);
  }
});

test('key derivation labels, secret, key, salt and nonce match every suite (§4.4.2, C.4)', async () => {
  assert.equal(VECTORS.sframe.length, 5);
  for (const v of VECTORS.sframe) {
    const what = `suite ${v.cipher_suite}`;
    const labels = derivationLabels(v.cipher_suite, BigInt(v.kid));
    assert.equal(hex(labels.key), v.sframe_key_label, what);
    assert.equal(hex(labels.salt), v.sframe_salt_label, what);
    const material = await deriveKeyMaterial(v.cipher_suite, BigInt(v.kid), bytes(v.base_key));
    assert.equal(hex(material.secret), v.sframe_secret, what);
    assert.equal(hex(material.key), v.sframe_key, what);
    assert.equal(hex(material.salt), v.sframe_salt, what);
    assert.equal(hex(frameNonce(material.salt, BigInt(v.ctr))), v.nonce, what);
  }
});

test('the label text is the RFC text', () => {
  const { key, salt } = derivationLabels(AES_128_GCM_SHA256_128, 0);
  assert.equal(Buffer.from(key.subarray(0, -10)).toString('latin1'), 'SFrame 1.0 Secret key ');
  assert.equal(Buffer.from(salt.subarray(0, -10)).toString('latin1'), 'SFrame 1.0 Secret salt ');
  assert.equal(hex(key.subarray(-10)), '00000000000000000004');
});

test('SFrame encryption matches every suite, and the context opens it (C.4)', async () => {
  for (const v of VECTORS.sframe) {
    const what = `suite ${v.cipher_suite}`;
    const key = await SFrameKey.derive(v.cipher_suite, BigInt(v.kid), bytes(v.base_key));
    const ct = await key.seal(BigInt(v.ctr), bytes(v.metadata), bytes(v.pt));
    assert.equal(hex(ct), v.ct, what);
    // The AAD of the vector is header || metadata.
    assert.equal(hex(ct.subarray(0, 5)) + v.metadata, v.aad, what);

    const receiver = new SFrameContext({ cipherSuite: v.cipher_suite });
    await receiver.addKey(BigInt(v.kid), bytes(v.base_key));
    const opened = await receiver.decrypt(bytes(v.ct), bytes(v.metadata));
    assert.deepEqual({ kid: opened.kid, ctr: opened.ctr, pt: hex(opened.plaintext) }, { kid: BigInt(v.kid), ctr: BigInt(v.ctr), pt: v.pt }, what);
  }
});

test('the AES-CTR-HMAC AEAD matches its vectors, 128- and 256-bit (§4.5.1, C.2, C.3)', async () => {
  // Suites 6-8 come from draft-barnes-sframe-iana-256 (IANA registry),
  // not RFC 9605 itself; the construction is the same with SHA-512.
  const vectors = [...VECTORS.aes_ctr_hmac, ...VECTORS.aes_256_ctr_hmac];
  assert.deepEqual(vectors.map((v) => v.cipher_suite), [1, 2, 3, 6, 7, 8]);
  for (const v of vectors) {
    const what = `suite ${v.cipher_suite}`;
    assert.equal(v.key, v.enc_key + v.auth_key, what);
    const aead = await importAead(v.cipher_suite, bytes(v.key));
    assert.equal(hex(await aead.seal(bytes(v.nonce), bytes(v.aad), bytes(v.pt))), v.ct, what);
    assert.equal(hex(await aead.open(bytes(v.nonce), bytes(v.aad), bytes(v.ct))), v.pt, what);
    const forged = bytes(v.ct);
    forged[forged.length - 1] ^= 1;
    await assert.rejects(aead.open(bytes(v.nonce), bytes(v.aad), forged), rejectsWith('auth-failed'), what);
    await assert.rejects(aead.open(bytes(v.nonce), utf8('other aad'), bytes(v.ct)), rejectsWith('auth-failed'), what);
  }
});

/** Two contexts sharing one base key, as sender and receiver. */
async function pair(/** @type {import('../../src/sprechzimmer/static/js/sframe.js').SFrameContextOptions} */ options = {}) {
  const base = bytes('101112131415161718191a1b1c1d1e1f');
  const sender = new SFrameContext(options);
  const receiver = new SFrameContext(options);
  await sender.addKey(5, base);
  await receiver.addKey(5, base);
  return { sender, receiver, base };
}

test('the context round-trips frames with rising counters from 0', async () => {
  const { sender, receiver } = await pair();
  assert.equal(sender.cipherSuite.name, 'AES_128_GCM_SHA256_128');
  for (let i = 0; i < 10; i += 1) {
    const pt = utf8(`frame ${i}`.repeat(i));
    const ct = await sender.encrypt(5n, pt, utf8('meta'));
    assert.equal(ct.length, 1 + (i >= 8 ? 1 : 0) + pt.length + 16);
    assert.deepEqual(decodeHeader(ct), { kid: 5n, ctr: BigInt(i), length: i >= 8 ? 2 : 1 });
    const opened = await receiver.decrypt(ct, utf8('meta'));
    assert.equal(opened.ctr, BigInt(i));
    assert.deepEqual(opened.plaintext, pt);
  }
});

test('concurrent encryptions never share a counter', async () => {
  const { sender } = await pair();
  const frames = await Promise.all(Array.from({ length: 50 }, () => sender.encrypt(5, utf8('x'))));
  const counters = new Set(frames.map((f) => decodeHeader(f).ctr));
  assert.equal(counters.size, 50);
});

test('frames may be encrypted while the key is still being derived', async () => {
  const ctx = new SFrameContext();
  const added = ctx.addKey(9, utf8('base key'));
  const ct = await ctx.encrypt(9, utf8('early'));
  await added;
  assert.deepEqual((await ctx.decrypt(ct)).plaintext, utf8('early'));
});

test('tampering with header, metadata, ciphertext or tag fails authentication', async () => {
  const { sender, receiver } = await pair();
  await sender.encrypt(5, utf8('burn a counter'));
  const ct = await sender.encrypt(5, utf8('confidential'), utf8('meta'));
  await assert.rejects(receiver.decrypt(ct, utf8('mets')), rejectsWith('auth-failed'));
  await assert.rejects(receiver.decrypt(ct), rejectsWith('auth-failed'));
  for (let i = 0; i < ct.length; i += 1) {
    for (const bit of [0x01, 0x80]) {
      const forged = new Uint8Array(ct);
      forged[i] ^= bit;
      // A flipped header bit may name another KID (unknown) or break the
      // header (malformed); never does a forged frame open.
      await assert.rejects(receiver.decrypt(forged, utf8('meta')), (error) => error instanceof SFrameError, `byte ${i}`);
    }
  }
  // Counter field changed to another valid counter: authentication fails.
  const moved = new Uint8Array(ct);
  moved[0] ^= 0x01; // ctr 1 -> 0
  await assert.rejects(receiver.decrypt(moved, utf8('meta')), rejectsWith('auth-failed'));
  // Truncated to less than a tag.
  await assert.rejects(receiver.decrypt(ct.subarray(0, 16), utf8('meta')), rejectsWith('malformed'));
  await assert.rejects(receiver.decrypt(new Uint8Array(0)), rejectsWith('malformed'));
  // The genuine frame still opens.
  assert.deepEqual((await receiver.decrypt(ct, utf8('meta'))).plaintext, utf8('confidential'));
});

test('a wrong key fails authentication, a missing key is unknown', async () => {
  const { sender } = await pair();
  const ct = await sender.encrypt(5, utf8('hello'));
  const wrong = new SFrameContext();
  await wrong.addKey(5, bytes('101112131415161718191a1b1c1d1e1e'));
  await assert.rejects(wrong.decrypt(ct), rejectsWith('auth-failed'));
  const otherSuite = new SFrameContext({ cipherSuite: 5 });
  await otherSuite.addKey(5, bytes('101112131415161718191a1b1c1d1e1f'));
  await assert.rejects(otherSuite.decrypt(ct), rejectsWith('auth-failed'));
  const empty = new SFrameContext();
  await assert.rejects(empty.decrypt(ct), rejectsWith('unknown-key'));
  await assert.rejects(empty.encrypt(5, utf8('hello')), rejectsWith('unknown-key'));
});

test('removed keys are unknown and a KID is never taken twice', async () => {
  const { sender, receiver, base } = await pair();
  const ct = await sender.encrypt(5, utf8('before'));
  assert.equal(receiver.removeKey(5n), true);
  assert.equal(receiver.removeKey(5n), false);
  assert.equal(receiver.hasKey(5), false);
  await assert.rejects(receiver.decrypt(ct), rejectsWith('unknown-key'));
  assert.equal(sender.removeKey(5), true);
  await assert.rejects(sender.encrypt(5, utf8('after')), rejectsWith('unknown-key'));
  // Re-adding would restart the counter at 0 and reuse nonces.
  await assert.rejects(sender.addKey(5, base), RangeError);
  await assert.rejects(sender.addKey(6, new Uint8Array(0)), TypeError);
  // The failed attempt did not take KID 6.
  await sender.addKey(6, base);
});

test('keys live side by side: the KID picks the key (renewal)', async () => {
  const sender = new SFrameContext();
  const receiver = new SFrameContext();
  await Promise.all([sender.addKey(1, utf8('epoch one')), receiver.addKey(1, utf8('epoch one'))]);
  const old = await sender.encrypt(1, utf8('old'));
  await Promise.all([sender.addKey(2, utf8('epoch two')), receiver.addKey(2, utf8('epoch two'))]);
  const fresh = await sender.encrypt(2, utf8('new'));
  assert.equal(decodeHeader(fresh).ctr, 0n);
  assert.deepEqual((await receiver.decrypt(fresh)).plaintext, utf8('new'));
  assert.deepEqual((await receiver.decrypt(old)).plaintext, utf8('old'));
  receiver.removeKey(1);
  await assert.rejects(receiver.decrypt(old), rejectsWith('unknown-key'));
});

test('encryption stops when the counter would pass maxCounter', async () => {
  const { sender, receiver } = await pair({ maxCounter: 2 });
  for (let i = 0; i < 3; i += 1) await receiver.decrypt(await sender.encrypt(5, utf8('x')));
  await assert.rejects(sender.encrypt(5, utf8('x')), rejectsWith('counter-exhausted'));
  await assert.rejects(sender.encrypt(5, utf8('x')), rejectsWith('counter-exhausted'));
  assert.throws(() => new SFrameContext({ maxCounter: MAX_U64 + 1n }), RangeError);
});

test('the last counter 2^64 - 1 is usable and still decrypts', async () => {
  const key = await SFrameKey.derive(AES_128_GCM_SHA256_128, 5, utf8('k'));
  const ct = await key.seal(MAX_U64, utf8('m'), utf8('last'));
  assert.equal(hex(ct.subarray(0, 9)), '5f' + 'ff'.repeat(8));
  const ctx = new SFrameContext();
  await ctx.addKey(5, utf8('k'));
  assert.deepEqual(await ctx.decrypt(ct, utf8('m')), { kid: 5n, ctr: MAX_U64, plaintext: utf8('last') });
});

test('without a replay window a frame may be opened twice', async () => {
  const { sender, receiver } = await pair();
  const ct = await sender.encrypt(5, utf8('again'));
  await receiver.decrypt(ct);
  await receiver.decrypt(ct);
});

test('a replay window accepts each counter once, reordered within the window', async () => {
  const { sender, receiver } = await pair({ replayWindow: 4 });
  const frames = [];
  for (let i = 0; i < 8; i += 1) frames.push(await sender.encrypt(5, utf8(`f${i}`)));
  const open = (/** @type {number} */ i) => receiver.decrypt(/** @type {Uint8Array} */ (frames[i]));
  await open(1);
  await open(0); // late but within the window
  await assert.rejects(open(1), rejectsWith('replay'));
  await open(5);
  await assert.rejects(open(1), rejectsWith('replay')); // now too old
  await open(2); // 5 - 2 < 4: still inside
  await open(4);
  await assert.rejects(open(4), rejectsWith('replay'));
  await open(7);
  await open(6);
  await assert.rejects(open(3), rejectsWith('replay')); // 7 - 3 = 4: outside
  // Two copies of one frame opened concurrently: one wins.
  const extra = await sender.encrypt(5, utf8('f8'));
  const results = await Promise.allSettled([receiver.decrypt(extra), receiver.decrypt(extra)]);
  assert.deepEqual(results.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
  // A forged frame must not take a counter: the genuine one still opens.
  const genuine = await sender.encrypt(5, utf8('f9'));
  const forged = new Uint8Array(genuine);
  forged[forged.length - 1] ^= 1;
  await assert.rejects(receiver.decrypt(forged), rejectsWith('auth-failed'));
  await receiver.decrypt(genuine);
});

test('a replay window survives big jumps', async () => {
  const key = await SFrameKey.derive(AES_128_GCM_SHA256_128, 5, utf8('k'));
  const receiver = new SFrameContext({ replayWindow: 64 });
  await receiver.addKey(5, utf8('k'));
  for (const ctr of [0n, 1000n, 1001n, 999n, 2n ** 40n, 2n ** 40n - 63n]) {
    await receiver.decrypt(await key.seal(ctr, new Uint8Array(0), utf8('x')));
  }
  for (const ctr of [0n, 1000n, 2n ** 40n - 64n, 2n ** 40n - 63n]) {
    await assert.rejects(receiver.decrypt(await key.seal(ctr, new Uint8Array(0), utf8('x'))), rejectsWith('replay'), String(ctr));
  }
});

test('unsupported suites and bad options are refused', () => {
  assert.throws(() => new SFrameContext({ cipherSuite: 0 }), RangeError);
  assert.throws(() => new SFrameContext({ cipherSuite: 0xf000 }), RangeError);
  assert.throws(() => new SFrameContext({ replayWindow: -1 }), RangeError);
});
