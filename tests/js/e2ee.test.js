// The key agreement of frame E2EE: fingerprints, transcript, key schedule,
// verification code, data-channel codec, and the rekey/ack/grace state
// machine with time passed in.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  FingerprintError,
  PeerMessageError,
  commitment,
  decodePeerMessage,
  directionKeys,
  dtlsFingerprint,
  ecdhSecret,
  fromBase64,
  generateEphemeral,
  hkdf,
  keysFor,
  sasCode,
  toBase64,
  transcriptBytes,
  transcriptHash,
} from '../../src/sprechzimmer/static/js/e2ee.js';
import { GRACE_MS, KeyAgreement, NEGOTIATION_TIMEOUT_MS } from '../../src/sprechzimmer/static/js/keyagreement.js';
import { parseDebugSwitches, testHooks } from '../../src/sprechzimmer/static/js/e2ee-debug.js';

const hex = (/** @type {Uint8Array} */ b) => Buffer.from(b).toString('hex');
const FP_T = 'AB:'.repeat(31) + 'CD';
const FP_C = '01:'.repeat(31) + '02';

// Shape of Chromium's SDP: the fingerprint repeated in every m-section.
const CHROME_SDP = [
  'v=0',
  'o=- 4611731400430051336 2 IN IP4 127.0.0.1',
  's=-',
  't=0 0',
  'a=group:BUNDLE 0 1 2',
  'm=application 9 UDP/DTLS/SCTP webrtc-datachannel',
  'a=fingerprint:sha-256 ' + FP_T,
  'a=setup:actpass',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111',
  'a=fingerprint:sha-256 ' + FP_T,
  'm=video 9 UDP/TLS/RTP/SAVPF 96 97',
  'a=fingerprint:sha-256 ' + FP_T,
  '',
].join('\r\n');

/**
 * Real SDP (tests/js/fixtures/sdp/README.md): what the browsers write, and what
 * they keep of an offer to which a line `a=fingerprint:sha-1 AA:BB:…` was added
 * after the sha-256 one of the first, bundled m-section.
 * @param {string} name
 */
const fixture = (name) => readFileSync(new URL(`./fixtures/sdp/${name}.sdp`, import.meta.url), 'utf8');
const CHROMIUM_FP = '69:91:a4:31:91:4c:6c:a0:74:3a:b2:54:f7:a9:8e:b3:38:e0:5e:8a:d1:46:d9:f4:a8:62:f7:83:78:93:b1:4b';
const FIREFOX_FP = '15:0f:c7:15:9c:b8:1f:4c:9b:e1:46:76:43:de:55:a0:a9:5b:da:43:ff:de:75:2c:a8:6f:ad:49:df:4f:f9:f4';

test('fingerprint: the sha-256 one, canonical lowercase with colons', () => {
  assert.equal(dtlsFingerprint(CHROME_SDP), FP_T.toLowerCase());
  assert.equal(dtlsFingerprint('v=0\r\na=fingerprint:SHA-256 ' + FP_C + '\r\nm=audio 9 x 0\r\n'), FP_C.toLowerCase());
  // Real SDP: media level (Chromium), session level (Firefox).
  assert.equal(dtlsFingerprint(fixture('chromium-156-offer')), CHROMIUM_FP);
  assert.equal(dtlsFingerprint(fixture('firefox-153-offer')), FIREFOX_FP);
  // Line endings do not matter (a checkout may change them).
  assert.equal(dtlsFingerprint(fixture('firefox-153-offer').replaceAll('\r\n', '\n')), FIREFOX_FP);
});

test('fingerprint: none gives null', () => {
  assert.equal(dtlsFingerprint('v=0\r\nm=audio 9 x 0\r\n'), null);
  assert.equal(dtlsFingerprint(''), null);
});

test('fingerprint: an added line of another hash is refused, not skipped (issue 10, point 10)', () => {
  // What each browser kept of the offer with the added sha-1 line: Chromium
  // checks the sha-1 one for the bundled transport, yet the sha-256 value of
  // the other m-sections is still there to be bound.
  for (const name of ['chromium-156-remote-sha1-added', 'firefox-153-remote-sha1-added']) {
    const sdp = fixture(name);
    assert.match(sdp, /^a=fingerprint:sha-1 /m, name);
    assert.throws(() => dtlsFingerprint(sdp), FingerprintError, name);
  }
  const media = `${CHROME_SDP}a=fingerprint:sha-1 ${'aa:'.repeat(19)}bb\r\n`;
  assert.throws(() => dtlsFingerprint(media), FingerprintError);
  const first = `v=0\r\na=fingerprint:sha-512 ${'aa:'.repeat(63)}bb\r\n${CHROME_SDP}`;
  assert.throws(() => dtlsFingerprint(first), FingerprintError);
});

test('fingerprint: a line the old pattern did not read is refused too', () => {
  const refused = [
    'a=fingerprint:sha-256 ab:cd', // too short
    `a=fingerprint:sha-256 ${FP_C}`, // a second certificate
    `a=fingerprint:sha-256 ${FP_T} extra`, // more than a hash and a value
    'a=fingerprint:sha-256', // no value
    `a=FINGERPRINT:sha-1 ${'aa:'.repeat(19)}bb`, // any case of the attribute
    `a=fingerprint:sha-1 ${'zz:'.repeat(19)}zz`, // not hex
    ` a=fingerprint:sha-1 ${'aa:'.repeat(19)}bb`, // leading space
  ];
  for (const line of refused) {
    assert.throws(() => dtlsFingerprint(`${CHROME_SDP}${line}\r\n`), FingerprintError, line);
  }
  // A line ending of its own (a lone CR) does not hide one either.
  assert.throws(() => dtlsFingerprint(`a=x:y\ra=fingerprint:sha-1 ${'aa:'.repeat(19)}bb\r\n${CHROME_SDP}`), FingerprintError);
});

test('fingerprint: the refusal says what, never the SDP\'s own text', () => {
  const sdp = `${CHROME_SDP}a=fingerprint:sha-1<script> x\r\n`;
  assert.throws(() => dtlsFingerprint(sdp), (/** @type {Error} */ error) => {
    assert.ok(error instanceof FingerprintError);
    assert.doesNotMatch(error.message, /script|sha-1/);
    return true;
  });
});

const pubT = new Uint8Array(65).fill(4);
const pubC = new Uint8Array(65).fill(5);
const input = { epoch: 3, therapistFingerprint: FP_T.toLowerCase(), clientFingerprint: FP_C.toLowerCase(), therapistPub: pubT, clientPub: pubC };

test('transcript: length-prefixed label, epoch, both fingerprints, both public keys', () => {
  const bytes = transcriptBytes(input);
  const label = 'sprechzimmer-e2ee-v1';
  assert.equal(bytes.length, 4 + label.length + 8 + (4 + 95) * 2 + (4 + 65) * 2);
  assert.equal(hex(bytes.subarray(0, 4)), '00000014');
  assert.equal(Buffer.from(bytes.subarray(4, 24)).toString(), label);
  assert.equal(hex(bytes.subarray(24, 32)), '0000000000000003');
});

test('transcript: any change of epoch, fingerprint, key or role order changes T and the code', async () => {
  const t0 = await transcriptHash(input);
  assert.equal(t0.length, 32);
  const variants = [
    { ...input, epoch: 4 },
    { ...input, therapistFingerprint: FP_C.toLowerCase() },
    { ...input, clientFingerprint: FP_T.toLowerCase() },
    { ...input, therapistPub: pubC, clientPub: pubT },
    { ...input, clientPub: new Uint8Array(65).fill(6) },
  ];
  const sas0 = await sasCode(t0);
  for (const v of variants) {
    const t = await transcriptHash(v);
    assert.notEqual(hex(t), hex(t0));
  }
  assert.match(sas0, /^\d{3} \d{3}$/);
});

test('HKDF-SHA256 matches RFC 5869 test case 1', async () => {
  const ikm = new Uint8Array(22).fill(0x0b);
  const salt = Uint8Array.from(Buffer.from('000102030405060708090a0b0c', 'hex'));
  // info f0..f9 is not text; check via the raw WebCrypto call our helper wraps.
  const key = await crypto.subtle.importKey('raw', ikm, 'HKDF', false, ['deriveBits']);
  const info = Uint8Array.from(Buffer.from('f0f1f2f3f4f5f6f7f8f9', 'hex'));
  const okm = new Uint8Array(await crypto.subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt, info }, key, 42 * 8));
  assert.equal(hex(okm), '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865');
  // Our helper: same construction, text info.
  const ours = await hkdf(ikm, salt, 'x', 16);
  const ref = new Uint8Array(await crypto.subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt, info: new TextEncoder().encode('x') }, key, 128));
  assert.equal(hex(ours), hex(ref));
});

test('ECDH both ways gives one secret, and per-direction keys that differ', async () => {
  const a = await generateEphemeral();
  const b = await generateEphemeral();
  assert.equal(a.pub.length, 65);
  assert.equal(a.pub[0], 4);
  assert.equal(a.privateKey.extractable, false);
  const s1 = await ecdhSecret(a.privateKey, b.pub);
  const s2 = await ecdhSecret(b.privateKey, a.pub);
  assert.equal(hex(s1), hex(s2));
  const t = await transcriptHash({ ...input, therapistPub: a.pub, clientPub: b.pub });
  const keys = await directionKeys(s1, t);
  assert.equal(keys.therapistToClient.length, 16);
  assert.notEqual(hex(keys.therapistToClient), hex(keys.clientToTherapist));
  // What one sends with, the other receives with.
  const therapist = keysFor('therapist', keys);
  const client = keysFor('client', keys);
  assert.equal(hex(therapist.send), hex(client.receive));
  assert.equal(hex(client.send), hex(therapist.receive));
  // Another salt (transcript) gives other keys from the same secret.
  const other = await directionKeys(s1, await transcriptHash({ ...input, epoch: 9, therapistPub: a.pub, clientPub: b.pub }));
  assert.notEqual(hex(other.therapistToClient), hex(keys.therapistToClient));
});

test('verification code: HKDF(T, "sprechzimmer sas") as six digits', async () => {
  const t = new Uint8Array(32);
  const bytes = await hkdf(t, new Uint8Array(0), 'sprechzimmer sas', 4);
  const n = new DataView(bytes.buffer).getUint32(0) % 1_000_000;
  const digits = String(n).padStart(6, '0');
  assert.equal(await sasCode(t), `${digits.slice(0, 3)} ${digits.slice(3)}`);
});

test('commitment is SHA-256 of the raw public key', async () => {
  const c = await commitment(pubT);
  assert.equal(hex(c), hex(new Uint8Array(await crypto.subtle.digest('SHA-256', pubT))));
});

test('base64: round trip, and only canonical text', () => {
  const b = Uint8Array.from([0, 1, 2, 250, 251, 252, 253]);
  assert.deepEqual(fromBase64(toBase64(b)), b);
  assert.equal(fromBase64('AAE'), null);
  assert.equal(fromBase64('AA=B'), null);
  assert.equal(fromBase64('AB=='), null); // non-zero padding bits
});

const PUB = toBase64(Uint8Array.from([4, ...new Uint8Array(64).fill(9)]));
const COMMIT = toBase64(new Uint8Array(32).fill(1));

test('data-channel messages decode to themselves', () => {
  for (const m of [
    { type: 'key-commit', epoch: 1, commit: COMMIT },
    { type: 'key-share', epoch: 2, pub: PUB },
    { type: 'key-ack', epoch: 2 },
    { type: 'verified' },
    { type: 'e2ee-unsupported' },
  ]) {
    assert.deepEqual(decodePeerMessage(JSON.stringify(m)), m);
  }
  assert.deepEqual(decodePeerMessage(JSON.stringify({ type: 'e2ee-unsupported', reason: 'aiortc' })), { type: 'e2ee-unsupported' });
});

test('bad data-channel messages are refused', () => {
  const bad = [
    new ArrayBuffer(3),
    'x'.repeat(2000),
    'not json',
    '[]',
    JSON.stringify({ type: 'key-share', epoch: 1, pub: PUB, extra: 1 }),
    JSON.stringify({ type: 'key-share', epoch: -1, pub: PUB }),
    JSON.stringify({ type: 'key-share', epoch: 1.5, pub: PUB }),
    JSON.stringify({ type: 'key-share', epoch: 1, pub: toBase64(new Uint8Array(65).fill(2)) }),
    JSON.stringify({ type: 'key-share', epoch: 1, pub: toBase64(new Uint8Array(33).fill(4)) }),
    JSON.stringify({ type: 'key-commit', epoch: 1, commit: toBase64(new Uint8Array(31)) }),
    JSON.stringify({ type: 'key-ack' }),
    JSON.stringify({ type: 'sframe-key', key: 'AAAA' }),
  ];
  for (const data of bad) assert.throws(() => decodePeerMessage(data), PeerMessageError, String(data).slice(0, 60));
});

test('debug switches only from the exact words', () => {
  const none = { noReceiveTransform: false, wrongReceiveKey: false, forceTransform: null, captureFrames: false };
  assert.deepEqual(parseDebugSwitches(null), none);
  assert.deepEqual(parseDebugSwitches('capture-frames'), { ...none, captureFrames: true });
  assert.deepEqual(parseDebugSwitches('capture'), none);
  assert.deepEqual(parseDebugSwitches('no-receive-transform'), { ...none, noReceiveTransform: true });
  assert.deepEqual(parseDebugSwitches('wrong-receive-key, no-receive-transform'), { ...none, noReceiveTransform: true, wrongReceiveKey: true });
  assert.deepEqual(parseDebugSwitches('1'), none);
});

test('test hooks: none without a switch; the spoiled key is the test hook\'s doing', () => {
  assert.deepEqual(testHooks(parseDebugSwitches(null)), {});
  const hooks = testHooks(parseDebugSwitches('wrong-receive-key'));
  assert.equal(hooks.skipReceiveTransform, undefined);
  const key = new Uint8Array([0x00, 0x0f, 0xff]);
  hooks.spoilReceiveKey?.(key);
  assert.deepEqual([...key], [0xff, 0xf0, 0x00]);
  assert.deepEqual(testHooks(parseDebugSwitches('no-receive-transform')), { skipReceiveTransform: true });
  assert.deepEqual(testHooks(parseDebugSwitches('capture-frames')), { captureFrames: true });
});

// ---------------------------------------------------------------------------
// The state machine: two of them wired together, the driver's crypto faked
// (the machine decides order, not bytes).

/**
 * @param {{required?: boolean, supportedT?: boolean, supportedC?: boolean, epoch?: number}} [o]
 */
function pair(o = {}) {
  const t = new KeyAgreement({ role: 'therapist', required: o.required ?? true, supported: o.supportedT ?? true, epoch: o.epoch ?? 1 });
  const c = new KeyAgreement({ role: 'client', required: o.required ?? true, supported: o.supportedC ?? true, epoch: o.epoch ?? 1 });
  /** @type {{from: 'T' | 'C', message: any}[]} */
  const wire = [];
  /** @type {Record<'T' | 'C', any[]>} */
  const effects = { T: [], C: [] };
  let now = 0;
  /** @param {'T' | 'C'} who @param {import('../../src/sprechzimmer/static/js/keyagreement.js').AgreementAction[]} actions */
  const run = (who, actions) => {
    const self = who === 'T' ? t : c;
    for (const a of actions) {
      effects[who].push(a);
      if (a.type === 'send') wire.push({ from: who, message: a.message });
      else if (a.type === 'commit') wire.push({ from: who, message: { type: 'key-commit', epoch: a.epoch, commit: COMMIT } });
      else if (a.type === 'share') wire.push({ from: who, message: { type: 'key-share', epoch: a.epoch, pub: PUB } });
      else if (a.type === 'derive') run(who, self.derived(a.epoch, `sas-${a.epoch}`, now));
    }
  };
  /** Deliver everything on the wire, in order. */
  const flush = () => {
    while (wire.length) {
      const { from, message } = /** @type {{from: 'T' | 'C', message: any}} */ (wire.shift());
      const to = from === 'T' ? 'C' : 'T';
      run(to, (to === 'T' ? t : c).receive(message, now));
    }
  };
  return {
    t,
    c,
    wire,
    effects,
    run,
    flush,
    /** @param {number} ms */
    at: (ms) => {
      now = ms;
    },
    get now() {
      return now;
    },
  };
}

/** @param {any[]} list @param {string} type */
const ofType = (list, type) => list.filter((a) => a.type === type);

test('first agreement: commit, share, reveal, both acks; sending starts only after the peer ack', () => {
  const p = pair({ epoch: 5 });
  p.run('T', p.t.start(0));
  p.run('C', p.c.start(0));
  p.run('C', p.c.channelOpen(0)); // the client waits for the therapist
  assert.equal(p.wire.length, 0);
  p.run('T', p.t.channelOpen(0));
  assert.deepEqual(p.wire.map((w) => w.message.type), ['key-commit']);
  p.flush();
  for (const m of [p.t, p.c]) {
    assert.equal(m.state, 'active');
    assert.equal(m.sendEpoch, 5);
    assert.equal(m.receiveEpoch, 5);
    assert.equal(m.sas, 'sas-5');
  }
  // Each side switched exactly once, after its own derive and the peer's ack.
  for (const who of /** @type {const} */ (['T', 'C'])) {
    const types = p.effects[who].map((a) => a.type);
    assert.deepEqual(ofType(p.effects[who], 'use-send-key'), [{ type: 'use-send-key', epoch: 5 }]);
    assert.ok(types.indexOf('use-send-key') > types.indexOf('derive'));
  }
  assert.equal(p.t.timer(), null);
});

test('no send switch before the peer acknowledged: an ack that is held back holds the switch', () => {
  const p = pair();
  p.run('T', p.t.channelOpen(0));
  p.run('C', p.c.channelOpen(0));
  // Deliver until the client's ack is on the wire, then hold it.
  while (p.wire.length && !(p.wire[0].from === 'C' && p.wire[0].message.type === 'key-ack')) {
    const { from, message } = /** @type {any} */ (p.wire.shift());
    const to = from === 'T' ? 'C' : 'T';
    p.run(to, (to === 'T' ? p.t : p.c).receive(message, 0));
  }
  assert.equal(p.t.sendEpoch, null);
  assert.equal(p.t.state, 'negotiating');
  assert.equal(p.t.receiveEpoch, 1); // the therapist can already receive
  p.flush();
  assert.equal(p.t.sendEpoch, 1);
  assert.equal(p.c.sendEpoch, 1);
});

test('rekey: fresh agreement, switch after ack, old receive key removed after the grace window', () => {
  const p = pair({ epoch: 1 });
  p.run('T', p.t.channelOpen(0));
  p.run('C', p.c.channelOpen(0));
  p.flush();
  p.at(600_000);
  p.run('C', p.c.rekey(2, p.now)); // the client does not start anything
  assert.equal(p.wire.length, 0);
  p.run('T', p.t.rekey(2, p.now));
  p.run('T', p.t.rekey(2, p.now)); // a repeat changes nothing
  assert.deepEqual(p.wire.map((w) => w.message.type), ['key-commit']);
  p.flush();
  assert.equal(p.t.sendEpoch, 2);
  assert.equal(p.c.sendEpoch, 2);
  assert.equal(p.t.sas, 'sas-1'); // the code names the connection, from its first transcript
  assert.equal(p.t.keyAgeSeconds(p.now + 61_000), 61);
  // Epoch 1 stays for the grace window, then goes.
  assert.equal(p.t.timer(), 600_000 + GRACE_MS);
  assert.deepEqual(p.t.handleTimer(600_000 + GRACE_MS - 1), []);
  assert.deepEqual(p.t.handleTimer(600_000 + GRACE_MS), [{ type: 'remove-receive-key', epoch: 1 }]);
  assert.deepEqual(p.c.handleTimer(600_000 + GRACE_MS), [{ type: 'remove-receive-key', epoch: 1 }]);
  assert.equal(p.t.timer(), null);
  // An old epoch from the server is ignored.
  assert.deepEqual(p.t.rekey(1, p.now), []);
});

test('a rekey before the channel is open is the epoch of the first agreement', () => {
  const p = pair({ epoch: 1 });
  p.run('T', p.t.rekey(2, 0));
  assert.equal(p.wire.length, 0);
  p.run('T', p.t.channelOpen(0));
  assert.deepEqual(p.wire.map((w) => w.message), [{ type: 'key-commit', epoch: 2, commit: COMMIT }]);
});

test('fail closed: no key-share within the timeout ends the media (required)', () => {
  const t = new KeyAgreement({ role: 'therapist', required: true, supported: true, epoch: 1 });
  t.start(0);
  assert.equal(t.timer(), null); // nothing runs before the connection is up
  t.connected(1000);
  t.channelOpen(1500);
  assert.equal(t.timer(), 1000 + NEGOTIATION_TIMEOUT_MS);
  assert.deepEqual(t.handleTimer(1000 + NEGOTIATION_TIMEOUT_MS - 1), []);
  assert.deepEqual(t.handleTimer(1000 + NEGOTIATION_TIMEOUT_MS), [
    { type: 'send', message: { type: 'e2ee-unsupported' } },
    { type: 'end-media', reason: 'timeout' },
  ]);
  assert.equal(t.state, 'failed');
  // Late key messages change nothing.
  assert.deepEqual(t.receive({ type: 'key-share', epoch: 1, pub: PUB }, 20_000), []);
  assert.equal(t.state, 'failed');
});

test('the timeout falls back to dtls-only when the operator allows it', () => {
  const c = new KeyAgreement({ role: 'client', required: false, supported: true, epoch: 1 });
  c.connected(0);
  assert.deepEqual(c.handleTimer(NEGOTIATION_TIMEOUT_MS), [{ type: 'passthrough' }]);
  assert.equal(c.state, 'dtls-only');
  // The channel opening late still tells the peer.
  assert.deepEqual(c.channelOpen(9000), [{ type: 'send', message: { type: 'e2ee-unsupported' } }]);
});

test('peer says e2ee-unsupported: end media (required) or dtls-only on both sides', () => {
  const strict = new KeyAgreement({ role: 'therapist', required: true, supported: true, epoch: 1 });
  strict.channelOpen(0);
  assert.deepEqual(strict.receive({ type: 'e2ee-unsupported' }, 100), [{ type: 'end-media', reason: 'peer-unsupported' }]);
  assert.equal(strict.state, 'unsupported');
  assert.equal(strict.timer(), null);

  const lax = new KeyAgreement({ role: 'therapist', required: false, supported: true, epoch: 1 });
  lax.channelOpen(0);
  assert.deepEqual(lax.receive({ type: 'e2ee-unsupported' }, 100), [{ type: 'passthrough' }]);
  assert.equal(lax.state, 'dtls-only');
});

test('a browser without encoded transforms decides at once and tells the peer when it can', () => {
  const p = pair({ required: false, supportedC: false });
  p.run('C', p.c.start(0));
  assert.equal(p.c.state, 'dtls-only');
  assert.deepEqual(ofType(p.effects.C, 'passthrough').length, 1);
  p.run('T', p.t.channelOpen(10));
  p.run('C', p.c.channelOpen(10));
  p.flush();
  assert.equal(p.t.state, 'dtls-only');
  assert.equal(p.c.state, 'dtls-only');
  assert.equal(p.t.sas, null);

  const strict = new KeyAgreement({ role: 'client', required: true, supported: false, epoch: 1 });
  assert.deepEqual(strict.start(0), [{ type: 'end-media', reason: 'local-unsupported' }]);
  assert.equal(strict.state, 'unsupported');
});

test('once active, a claim of no support changes nothing', () => {
  const p = pair();
  p.run('T', p.t.channelOpen(0));
  p.run('C', p.c.channelOpen(0));
  p.flush();
  assert.deepEqual(p.t.receive({ type: 'e2ee-unsupported' }, 5), []);
  assert.equal(p.t.state, 'active');
});

test('protocol violations during the first agreement fail; later they are dropped', () => {
  const t = new KeyAgreement({ role: 'therapist', required: true, supported: true, epoch: 1 });
  t.channelOpen(0);
  // A key-share for an epoch nobody committed to.
  assert.deepEqual(t.receive({ type: 'key-share', epoch: 7, pub: PUB }, 1), [
    { type: 'send', message: { type: 'e2ee-unsupported' } },
    { type: 'end-media', reason: 'protocol' },
  ]);
  const c = new KeyAgreement({ role: 'client', required: false, supported: true, epoch: 1 });
  c.channelOpen(0);
  // The client never takes a commitment from... the client side of a swap: a key-share before any commit.
  assert.equal(c.receive({ type: 'key-share', epoch: 1, pub: PUB }, 1).at(-1)?.type, 'passthrough');

  const p = pair();
  p.run('T', p.t.channelOpen(0));
  p.run('C', p.c.channelOpen(0));
  p.flush();
  assert.deepEqual(p.c.receive({ type: 'key-commit', epoch: 1, commit: COMMIT }, 5), []); // stale epoch
  assert.deepEqual(p.t.receive({ type: 'key-commit', epoch: 9, commit: COMMIT }, 5), []); // wrong direction
  assert.equal(p.t.state, 'active');
  assert.equal(p.c.state, 'active');
});

test('the driver reporting a failed derivation (e.g. a commitment mismatch) fails closed', () => {
  const c = new KeyAgreement({ role: 'client', required: true, supported: true, epoch: 1 });
  c.channelOpen(0);
  c.receive({ type: 'key-commit', epoch: 1, commit: COMMIT }, 1);
  const actions = c.receive({ type: 'key-share', epoch: 1, pub: PUB }, 2);
  assert.deepEqual(actions, [{ type: 'derive', epoch: 1, peerPub: PUB, commit: COMMIT }]);
  assert.deepEqual(c.failed(1, 'commitment does not match', 3).at(-1), { type: 'end-media', reason: 'protocol' });
  assert.equal(c.state, 'failed');
});

test('verification: the therapist confirms, the client follows; only with a code', () => {
  const p = pair();
  assert.deepEqual(p.t.verify(), []); // nothing to verify yet
  p.run('T', p.t.channelOpen(0));
  p.run('C', p.c.channelOpen(0));
  p.flush();
  assert.deepEqual(p.c.verify(), []); // the client has no confirm control
  p.run('T', p.t.verify());
  assert.equal(p.t.verified, true);
  assert.equal(p.c.verified, false);
  p.flush();
  assert.equal(p.c.verified, true);
  // The therapist does not take a verification from the client.
  const t2 = new KeyAgreement({ role: 'therapist', required: true, supported: true, epoch: 1 });
  t2.receive({ type: 'verified' }, 0);
  assert.equal(t2.verified, false);
});
