// The browser codec against the messages of docs/protocol.md.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeServerMessage,
  encodeClientMessage,
  isReconnectableClose,
  reconnectDelay,
  sdpFingerprint,
  ProtocolError,
  ERRORS,
  MAX_SERVER_FRAME_BYTES,
} from '../../src/sprechzimmer/static/js/protocol.js';

const SESSION = '0123456789abcdef0123456789abcdef';
const TOKEN = 'A'.repeat(21) + '_-' + 'b'.repeat(20);

// Outside a call: STUN alone, and which relays exist (no credentials).
const welcome = {
  type: 'welcome',
  role: 'therapist',
  session: SESSION,
  client_id: 'K-2041',
  ice_servers: [{ urls: ['stun:turn.example.org:3478'] }],
  heartbeat_interval: 15,
  polite: false,
  resume: 'r'.repeat(43),
  peer_present: false,
  admitted: false,
  relay_urls: ['turn:turn.example.org:3478?transport=udp', 'turns:turn.example.org:443?transport=tcp'],
};

const validServerMessages = [
  welcome,
  { ...welcome, role: 'client', client_id: null, ice_servers: [], polite: true, relay_urls: [] },
  // A seat taken back during a call: its own fresh credentials.
  {
    ...welcome,
    ice_servers: [{ urls: ['turn:turn.example.org:3478?transport=udp'], username: '1700000000:x', credential: 'c2VjcmV0' }],
    peer_present: true,
    admitted: true,
    resumed: true,
  },
  { type: 'waiting' },
  { type: 'knock' },
  { type: 'knock-cancelled' },
  {
    type: 'admitted',
    ice_servers: [{ urls: ['turns:turn.example.org:443?transport=tcp'], username: '1700000000:x', credential: 'c2VjcmV0' }],
    ice_transport_policy: 'all',
    epoch: 1,
    rekey_interval: 600,
    e2ee_required: true,
  },
  { type: 'admitted', ice_servers: [], ice_transport_policy: 'relay', epoch: 7, rekey_interval: 2.5, e2ee_required: false },
  { type: 'rekey', epoch: 8 },
  { type: 'declined' },
  { type: 'peer-joined', role: 'client', admitted: true },
  { type: 'peer-left', role: 'therapist', reason: 'hangup' },
  { type: 'peer-left', role: 'client', reason: 'timeout' },
  { type: 'pong' },
  { type: 'error', code: 'forbidden', message: 'This link is not valid.', message_de: 'Dieser Link ist ungültig.', fatal: true },
  { type: 'offer', sdp: 'v=0\r\n', from: 'therapist' },
  { type: 'answer', sdp: 'v=0\r\n', from: 'client' },
  { type: 'candidate', candidate: 'candidate:1 1 udp 2122260223 192.0.2.1 54321 typ host', sdpMid: '0', sdpMLineIndex: 0, from: 'client' },
  { type: 'candidate', candidate: '', sdpMid: null, sdpMLineIndex: null, from: 'therapist' },
  { type: 'restart', from: 'client' },
];

test('every server message of the protocol decodes to itself', () => {
  for (const message of validServerMessages) {
    assert.deepEqual(decodeServerMessage(JSON.stringify(message)), message, message.type);
  }
});

test('unknown fields from a newer server are dropped, not fatal', () => {
  const decoded = decodeServerMessage(JSON.stringify({ type: 'pong', extra: 1 }));
  assert.deepEqual(decoded, { type: 'pong' });
});

test('a welcome without relay_urls (an older server) still decodes', () => {
  const { relay_urls: _, ...older } = welcome;
  assert.deepEqual(decodeServerMessage(JSON.stringify(older)), older);
});

test('an ice server url given as one string becomes a list', () => {
  const decoded = decodeServerMessage(JSON.stringify({ ...welcome, ice_servers: [{ urls: 'stun:192.0.2.1:3478' }] }));
  assert.equal(decoded.type, 'welcome');
  assert.deepEqual(decoded.type === 'welcome' && decoded.ice_servers, [{ urls: ['stun:192.0.2.1:3478'] }]);
});

const invalidServerFrames = {
  binary: new Uint8Array([1, 2]),
  'not JSON': '{',
  array: '[]',
  'no type': '{}',
  'unknown type': JSON.stringify({ type: 'knock-knock' }),
  'missing field': JSON.stringify({ type: 'peer-left', role: 'client' }),
  'wrong enum': JSON.stringify({ type: 'peer-left', role: 'client', reason: 'bored' }),
  'wrong role': JSON.stringify({ type: 'restart', from: 'operator' }),
  'bool as string': JSON.stringify({ type: 'peer-joined', role: 'client', admitted: 'true' }),
  'negative heartbeat': JSON.stringify({ ...welcome, heartbeat_interval: -1 }),
  'http ice server': JSON.stringify({ ...welcome, ice_servers: [{ urls: ['https://example.org/'] }] }),
  'relay_urls not a list': JSON.stringify({ ...welcome, relay_urls: 'turn:turn.example.org' }),
  'relay_urls with a stun url': JSON.stringify({ ...welcome, relay_urls: ['stun:turn.example.org:3478'] }),
  'relay_urls with an http url': JSON.stringify({ ...welcome, relay_urls: ['https://turn.example.org/'] }),
  'relay_urls with a server object': JSON.stringify({ ...welcome, relay_urls: [{ urls: ['turn:x'], username: 'u', credential: 'c' }] }),
  'relay_urls with a url too long': JSON.stringify({ ...welcome, relay_urls: ['turn:' + 'x'.repeat(512)] }),
  'sdp too long': JSON.stringify({ type: 'offer', sdp: 'x'.repeat(60001), from: 'client' }),
  // The server's frames may be longer than ours: the limit is the operator's, and a relay adds `from`.
  'frame too large': JSON.stringify({ type: 'pong', pad: 'x'.repeat(MAX_SERVER_FRAME_BYTES) }),
  'admitted without its configuration': JSON.stringify({ type: 'admitted' }),
  'admitted with an unknown policy': JSON.stringify({ type: 'admitted', ice_servers: [], ice_transport_policy: 'none', epoch: 1, rekey_interval: 600, e2ee_required: true }),
  'admitted without its key epoch': JSON.stringify({ type: 'admitted', ice_servers: [], ice_transport_policy: 'all', rekey_interval: 600, e2ee_required: true }),
  'admitted with e2ee_required as string': JSON.stringify({ type: 'admitted', ice_servers: [], ice_transport_policy: 'all', epoch: 1, rekey_interval: 600, e2ee_required: 'false' }),
  'rekey with a negative epoch': JSON.stringify({ type: 'rekey', epoch: -1 }),
  'rekey with a fractional epoch': JSON.stringify({ type: 'rekey', epoch: 1.5 }),
  'admitted with an http ice server': JSON.stringify({ type: 'admitted', ice_servers: [{ urls: ['http://x/'] }], ice_transport_policy: 'all' }),
  'mline index too big': JSON.stringify({ type: 'candidate', candidate: '', sdpMid: null, sdpMLineIndex: 256, from: 'client' }),
};

for (const [name, frame] of Object.entries(invalidServerFrames)) {
  test(`server frame refused: ${name}`, () => {
    assert.throws(() => decodeServerMessage(frame), ProtocolError);
  });
}

test('client messages encode with exactly their fields', () => {
  assert.deepEqual(
    JSON.parse(encodeClientMessage({ type: 'hello', protocol: 1, session: SESSION, token: TOKEN, resume: 'abc' })),
    { type: 'hello', protocol: 1, session: SESSION, token: TOKEN, resume: 'abc' },
  );
  assert.deepEqual(JSON.parse(encodeClientMessage({ type: 'hello', protocol: 1, session: SESSION, token: TOKEN })), {
    type: 'hello',
    protocol: 1,
    session: SESSION,
    token: TOKEN,
  });
  for (const type of /** @type {const} */ (['admit', 'decline', 'restart', 'ping', 'bye'])) {
    assert.equal(encodeClientMessage({ type }), JSON.stringify({ type }));
  }
  assert.deepEqual(JSON.parse(encodeClientMessage({ type: 'media', state: 'connected' })), { type: 'media', state: 'connected' });
  for (const enabled of [true, false]) {
    assert.deepEqual(JSON.parse(encodeClientMessage({ type: 'relay-only', enabled })), { type: 'relay-only', enabled });
  }
  assert.deepEqual(
    JSON.parse(encodeClientMessage({ type: 'candidate', candidate: 'candidate:1 1 udp 1 192.0.2.1 1 typ host', sdpMid: '0', sdpMLineIndex: 0 })),
    { type: 'candidate', candidate: 'candidate:1 1 udp 1 192.0.2.1 1 typ host', sdpMid: '0', sdpMLineIndex: 0 },
  );
});

test('client messages the server would refuse are not sent', () => {
  /** @type {any[]} */
  const bad = [
    { type: 'hello', protocol: 2, session: SESSION, token: TOKEN },
    { type: 'hello', protocol: 1, session: 'xyz', token: TOKEN },
    { type: 'hello', protocol: 1, session: SESSION, token: 'short' },
    { type: 'hello', protocol: 1, session: SESSION, token: TOKEN, resume: 'r'.repeat(129) },
    { type: 'hello', protocol: 1, session: SESSION, token: TOKEN, resume: 'r', epoch: -1 },
    { type: 'offer', sdp: 'x'.repeat(60001) },
    { type: 'offer', sdp: 'v=0', from: 'client' },
    { type: 'candidate', sdpMid: '0', sdpMLineIndex: 0 },
    { type: 'media', state: 'up' },
    { type: 'relay-only' },
    { type: 'relay-only', enabled: 'true' },
    { type: 'relay-only', enabled: true, policy: 'relay' },
    { type: 'pong' },
    { type: 'ping', extra: true },
  ];
  for (const message of bad) assert.throws(() => encodeClientMessage(message), ProtocolError, JSON.stringify(message).slice(0, 80));
});

test('reconnect only after a broken line', () => {
  for (const code of [1006, 1001, 1012, 1013, 4408]) assert.equal(isReconnectableClose(code), true, String(code));
  for (const code of [1000, 4000, 4001, 4003, 4009, 1009, 1011]) assert.equal(isReconnectableClose(code), false, String(code));
});

test('error table matches the close codes of the protocol', () => {
  assert.equal(ERRORS.forbidden.close, 4003);
  assert.equal(ERRORS.replaced.close, 4009);
  assert.equal(ERRORS['no-peer'].fatal, false);
  for (const [code, { fatal, close }] of Object.entries(ERRORS)) {
    assert.equal(close !== null, fatal, code);
  }
});

test('backoff grows, is bounded and gives up', () => {
  assert.equal(reconnectDelay(1, 0.5), 250);
  assert.equal(reconnectDelay(2, 0.5), 500);
  // A restart of a few seconds: attempts stay 0.625 s apart at most, even with full jitter.
  for (let n = 2; n <= 16; n++) assert.ok(/** @type {number} */ (reconnectDelay(n, 0.999)) <= 625, String(n));
  assert.equal(reconnectDelay(17, 0.5), 1000);
  assert.equal(reconnectDelay(20, 0.5), 8000);
  assert.equal(reconnectDelay(21, 0.5), null);
  assert.ok(/** @type {number} */ (reconnectDelay(3, 0)) < /** @type {number} */ (reconnectDelay(3, 0.99)));
  assert.equal(reconnectDelay(9, 0.5, 8), null);
  assert.equal(reconnectDelay(0, 0.5), null);
});

test('DTLS fingerprint is read from an SDP', () => {
  const sdp = 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\na=fingerprint:sha-256 AB:CD:EF\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n';
  assert.equal(sdpFingerprint(sdp), 'sha-256 ab:cd:ef');
  assert.equal(sdpFingerprint('v=0\r\n'), null);
});

test('quality: the summary of docs/protocol.md, validated before sending', async () => {
  const { encodeClientMessage: encode, ProtocolError: PE } = await import('../../src/sprechzimmer/static/js/protocol.js');
  assert.equal(encode({ type: 'quality' }), '{"type":"quality"}');
  const full = {
    type: /** @type {const} */ ('quality'),
    bitrate_out_kbps: 812.5,
    bitrate_in_kbps: null,
    loss_pct: 0,
    rtt_ms: 41,
    jitter_ms: 3.2,
    fps: 19.8,
    height: 480,
    local_candidate: /** @type {const} */ ('relay'),
    remote_candidate: /** @type {const} */ ('host'),
    errors: 'ice-restart,no-key',
  };
  assert.deepEqual(JSON.parse(encode(full)), full);
  for (const bad of [
    { bitrate_out_kbps: 100001 },
    { loss_pct: -1 },
    { rtt_ms: Infinity },
    { fps: '20' },
    { height: 480.5 },
    { local_candidate: 'lan' },
    { errors: 'ice-failed,bogus' },
    { errors: 'ice-failed, no-key' },
    { address: '10.0.0.1' },
  ]) {
    assert.throws(() => encode(/** @type {any} */ ({ type: 'quality', ...bad })), PE, JSON.stringify(bad));
  }
});
