// The signaling client driven by a fake socket and a fake clock: no network.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SignalingClient, signalingUrl } from '../../src/sprechzimmer/static/js/signaling.js';

const SESSION = '0123456789abcdef0123456789abcdef';
const TOKEN = 'T'.repeat(43);

class FakeSocket {
  readyState = 0;
  /** @type {string[]} */
  sent = [];
  /** @type {number | undefined} */
  closedWith;
  onopen = /** @type {any} */ (null);
  onmessage = /** @type {any} */ (null);
  onclose = /** @type {any} */ (null);
  onerror = /** @type {any} */ (null);
  /** @param {string} url */
  constructor(url) {
    this.url = url;
  }
  /** @param {string} data */
  send(data) {
    this.sent.push(data);
  }
  /** @param {number} [code] */
  close(code) {
    this.closedWith = code;
    this.readyState = 3;
  }
  // --- test side
  open() {
    this.readyState = 1;
    this.onopen?.({});
  }
  /** @param {object} message */
  receive(message) {
    this.onmessage?.({ data: JSON.stringify(message) });
  }
  /** @param {number} code */
  drop(code) {
    this.readyState = 3;
    this.onclose?.({ code, reason: '' });
  }
  get messages() {
    return this.sent.map((s) => JSON.parse(s));
  }
}

/** A clock whose timers run when the test says so. */
class FakeTime {
  now = 0;
  /** @type {{at: number, fn: () => void, id: number}[]} */
  timers = [];
  nextId = 1;
  /** @param {() => void} fn @param {number} ms */
  setTimeout = (fn, ms) => {
    const id = this.nextId++;
    this.timers.push({ at: this.now + ms, fn, id });
    return id;
  };
  /** @param {number} id */
  clearTimeout = (id) => {
    this.timers = this.timers.filter((t) => t.id !== id);
  };
  /** @param {number} ms */
  advance(ms) {
    const end = this.now + ms;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at);
      const next = this.timers[0];
      if (!next || next.at > end) break;
      this.timers.shift();
      this.now = next.at;
      next.fn();
    }
    this.now = end;
  }
}

function setup(extra = {}) {
  const time = new FakeTime();
  /** @type {FakeSocket[]} */
  const sockets = [];
  /** @type {string[]} */
  const resumes = [];
  const client = new SignalingClient({
    url: 'ws://127.0.0.1:8000/ws',
    session: SESSION,
    token: TOKEN,
    createSocket: (url) => {
      const s = new FakeSocket(url);
      sockets.push(s);
      return s;
    },
    setTimeout: time.setTimeout,
    clearTimeout: time.clearTimeout,
    now: () => time.now,
    random: () => 0.5,
    onResume: (r) => resumes.push(r),
    ...extra,
  });
  return { client, time, sockets, resumes };
}

const welcome = {
  type: 'welcome',
  role: 'client',
  session: SESSION,
  client_id: null,
  ice_servers: [],
  heartbeat_interval: 10,
  polite: true,
  resume: 'resume-1',
  peer_present: true,
  admitted: false,
};

test('hello first, then welcome opens the connection', () => {
  const { client, sockets, resumes } = setup();
  /** @type {string[]} */
  const states = [];
  client.on('state', (s) => states.push(s));
  /** @type {any[]} */
  const welcomes = [];
  client.on('welcome', (w) => welcomes.push(w));
  client.connect();
  assert.equal(sockets.length, 1);
  assert.equal(sockets[0].url, 'ws://127.0.0.1:8000/ws');
  sockets[0].open();
  assert.deepEqual(sockets[0].messages, [{ type: 'hello', protocol: 1, session: SESSION, token: TOKEN }]);
  assert.equal(client.send({ type: 'ping' }), false, 'nothing but hello before welcome');
  sockets[0].receive(welcome);
  assert.equal(client.state, 'open');
  assert.deepEqual(states, ['connecting', 'open']);
  assert.equal(welcomes[0].resume, 'resume-1');
  assert.deepEqual(resumes, ['resume-1']);
  assert.equal(client.send({ type: 'media', state: 'connected' }), true);
});

test('heartbeat: ping every interval; a silent server counts as a broken line', () => {
  const { client, sockets, time } = setup();
  client.connect();
  sockets[0].open();
  sockets[0].receive(welcome);
  time.advance(10_000);
  assert.deepEqual(sockets[0].messages.at(-1), { type: 'ping' });
  sockets[0].receive({ type: 'pong' });
  time.advance(10_000);
  time.advance(10_000);
  time.advance(10_000);
  assert.equal(client.state, 'open');
  time.advance(10_000); // 40 s without a word: > 3 intervals
  assert.equal(client.state, 'reconnecting');
  assert.equal(sockets[0].closedWith, 4000);
});

test('a broken line reconnects with the resume secret; a welcome resets the backoff', () => {
  const { client, sockets, time } = setup();
  /** @type {any[]} */
  const closes = [];
  client.on('closed', (c) => closes.push(c));
  client.connect();
  sockets[0].open();
  sockets[0].receive(welcome);
  sockets[0].drop(1006);
  assert.equal(client.state, 'reconnecting');
  assert.deepEqual(closes, [{ code: 1006, reason: '', reconnecting: true, attempt: 1, error: null }]);
  time.advance(249);
  assert.equal(sockets.length, 1);
  time.advance(1);
  assert.equal(sockets.length, 2);
  sockets[1].open();
  assert.deepEqual(sockets[1].messages[0], { type: 'hello', protocol: 1, session: SESSION, token: TOKEN, resume: 'resume-1' });
  sockets[1].receive({ ...welcome, resume: 'resume-2' });
  sockets[1].drop(1001);
  time.advance(250);
  sockets[2].open();
  assert.equal(sockets[2].messages[0].resume, 'resume-2');
});

test("a client's name and consent go in every hello of the visit, a resuming one too", () => {
  const { client, sockets, time } = setup({ name: 'Maria Müller', consent: true });
  client.connect();
  sockets[0].open();
  const hello = { type: 'hello', protocol: 1, session: SESSION, token: TOKEN, name: 'Maria Müller', consent: true };
  assert.deepEqual(sockets[0].messages[0], hello);
  sockets[0].receive(welcome);
  sockets[0].drop(1012); // a server restart: the new one must learn the name again
  time.advance(250);
  sockets[1].open();
  assert.deepEqual(sockets[1].messages[0], { ...hello, resume: 'resume-1' });
});

test('a therapist (no name given) says neither', () => {
  const { client, sockets } = setup();
  client.connect();
  sockets[0].open();
  assert.ok(!('name' in sockets[0].messages[0]) && !('consent' in sockets[0].messages[0]));
});

test('gives up after the bounded number of attempts', () => {
  const { client, sockets, time } = setup({ maxReconnectAttempts: 3 });
  /** @type {any[]} */
  const closes = [];
  client.on('closed', (c) => closes.push(c));
  client.connect();
  sockets[0].drop(1006);
  for (let i = 1; i <= 3; i++) {
    time.advance(60_000);
    sockets[i].drop(1006);
  }
  assert.equal(sockets.length, 4);
  assert.equal(client.state, 'closed');
  assert.deepEqual(closes.map((c) => c.reconnecting), [true, true, true, false]);
  time.advance(600_000);
  assert.equal(sockets.length, 4);
});

for (const code of [1000, 4003, 4009, 4000]) {
  test(`no reconnect after close ${code}`, () => {
    const { client, sockets, time } = setup();
    client.connect();
    sockets[0].open();
    sockets[0].receive(welcome);
    sockets[0].drop(code);
    time.advance(600_000);
    assert.equal(sockets.length, 1);
    assert.equal(client.state, 'closed');
  });
}

test('a fatal error is a decision even if the close frame is lost', () => {
  const { client, sockets, time } = setup();
  /** @type {any[]} */
  const closes = [];
  client.on('closed', (c) => closes.push(c));
  client.connect();
  sockets[0].open();
  sockets[0].receive(welcome);
  const error = { type: 'error', code: 'replaced', message: 'Replaced.', message_de: 'Ersetzt.', fatal: true };
  sockets[0].receive(error);
  sockets[0].drop(1006);
  time.advance(600_000);
  assert.equal(sockets.length, 1);
  assert.deepEqual(closes[0].error, error);
});

test('hangup sends bye, closes with 1000 and never comes back', () => {
  const { client, sockets, time } = setup();
  client.connect();
  sockets[0].open();
  sockets[0].receive(welcome);
  client.hangup();
  assert.deepEqual(sockets[0].messages.at(-1), { type: 'bye' });
  assert.equal(sockets[0].closedWith, 1000);
  assert.equal(client.state, 'closed');
  sockets[0].drop(1006);
  time.advance(600_000);
  assert.equal(sockets.length, 1);
});

test('unreadable frames are dropped and reported, the connection stays', () => {
  const { client, sockets } = setup();
  /** @type {Error[]} */
  const errors = [];
  client.on('protocol-error', (e) => errors.push(e));
  /** @type {any[]} */
  const knocks = [];
  client.on('knock', (k) => knocks.push(k));
  client.connect();
  sockets[0].open();
  sockets[0].receive(welcome);
  sockets[0].onmessage({ data: '{"type":"surprise"}' });
  sockets[0].receive({ type: 'knock' });
  assert.equal(errors.length, 1);
  assert.deepEqual(knocks, [{ type: 'knock' }]);
  assert.equal(client.state, 'open');
});

test('signaling URL follows the page scheme and host', () => {
  assert.equal(signalingUrl({ protocol: 'https:', host: 'praxis.example:8443' }), 'wss://praxis.example:8443/ws');
  assert.equal(signalingUrl({ protocol: 'http:', host: '127.0.0.1:8000' }), 'ws://127.0.0.1:8000/ws');
});

test('a resuming hello carries the key epoch; a timeout is no decision, it reconnects', () => {
  let epoch = 4;
  const { client, sockets, time } = setup({ epoch: () => epoch });
  client.connect();
  sockets[0].open();
  assert.equal(sockets[0].messages[0].epoch, undefined); // nothing to resume yet
  sockets[0].receive(welcome);
  epoch = 6;
  // The server stopped hearing us (our network was away): error, then 4408.
  sockets[0].receive({ type: 'error', code: 'timeout', message: 'x', message_de: 'x', fatal: true });
  sockets[0].drop(4408);
  assert.equal(client.state, 'reconnecting');
  time.advance(250);
  sockets[1].open();
  assert.deepEqual(sockets[1].messages[0], { type: 'hello', protocol: 1, session: SESSION, token: TOKEN, resume: 'resume-1', epoch: 6 });
  // Any other fatal error is the server's decision: no new attempt.
  sockets[1].receive({ type: 'error', code: 'occupied', message: 'x', message_de: 'x', fatal: true });
  sockets[1].drop(4009);
  assert.equal(client.state, 'closed');
});

test('server-busy is no decision either: the service lost its shared state for a moment', () => {
  const { client, sockets, time } = setup({ epoch: () => 3 });
  client.connect();
  sockets[0].open();
  sockets[0].receive(welcome);
  sockets[0].drop(1012); // the room's process went
  time.advance(250);
  sockets[1].open();
  sockets[1].receive({ type: 'error', code: 'server-busy', message: 'x', message_de: 'x', fatal: true });
  sockets[1].drop(1013); // Redis is away: refused for now
  assert.equal(client.state, 'reconnecting');
  time.advance(500);
  sockets[2].open();
  assert.equal(sockets[2].messages[0].resume, 'resume-1');
});

test('auth-timeout is no decision: a hello that came too late goes again, with the ticket', () => {
  const { client, sockets, time } = setup({ epoch: () => 3 });
  client.connect();
  sockets[0].open();
  sockets[0].receive(welcome);
  sockets[0].drop(1012);
  time.advance(250);
  sockets[1].open();
  // Our page was too busy to say hello within the deadline: error, then 4001.
  sockets[1].receive({ type: 'error', code: 'auth-timeout', message: 'x', message_de: 'x', fatal: true });
  sockets[1].drop(4001);
  assert.equal(client.state, 'reconnecting');
  time.advance(500);
  sockets[2].open();
  assert.deepEqual(sockets[2].messages[0], { type: 'hello', protocol: 1, session: SESSION, token: TOKEN, resume: 'resume-1', epoch: 3 });
  // The same close code after the first message was no hello: a decision.
  sockets[2].receive({ type: 'error', code: 'not-authenticated', message: 'x', message_de: 'x', fatal: true });
  sockets[2].drop(4001);
  assert.equal(client.state, 'closed');
});

test('a resuming therapist says its call is relay-only', () => {
  const { client, sockets, time } = setup({ epoch: () => 2, relayOnly: () => true });
  client.connect();
  sockets[0].open();
  assert.equal(sockets[0].messages[0].relay_only, undefined); // nothing to resume yet
  sockets[0].receive(welcome);
  sockets[0].drop(1006);
  time.advance(250);
  sockets[1].open();
  assert.equal(sockets[1].messages[0].relay_only, true);
  assert.equal(sockets[1].messages[0].epoch, 2);
});

test('our media state goes out now and again after every welcome; the other side\'s is an event', () => {
  const { client, sockets, time } = setup();
  /** @type {any[]} */
  const heard = [];
  client.on('media-state', (m) => heard.push(m));
  /** @type {any[]} */
  const notices = [];
  client.on('notice', (n) => notices.push(n));
  const none = { camera: 'none', microphone: 'none', audio_only: false };
  // Before the connection opens: kept, not lost.
  assert.equal(client.setMediaState(/** @type {any} */ (none)), false);
  client.connect();
  sockets[0].open();
  assert.deepEqual(sockets[0].messages, [{ type: 'hello', protocol: 1, session: SESSION, token: TOKEN }]);
  sockets[0].receive(welcome);
  // `paused` and `screen` are always said: absent would mean the same, but an explicit false ends a pause or a share at once.
  assert.deepEqual(sockets[0].messages.at(-1), { type: 'media-state', ...none, paused: false, screen: false });
  const muted = { camera: 'on', microphone: 'off', audio_only: false };
  assert.equal(client.setMediaState(/** @type {any} */ (muted)), true);
  assert.deepEqual(sockets[0].messages.at(-1), { type: 'media-state', ...muted, paused: false, screen: false });
  // A value the protocol does not know is refused and not kept.
  assert.throws(() => client.setMediaState(/** @type {any} */ ({ ...muted, camera: 'blocked' })), /media-state.camera/);
  // After a broken line the new welcome brings our latest state again.
  sockets[0].drop(1006);
  time.advance(250);
  sockets[1].open();
  sockets[1].receive({ ...welcome, resumed: true });
  assert.deepEqual(sockets[1].messages.slice(1), [{ type: 'media-state', ...muted, paused: false, screen: false }]);
  // The privacy pause goes the same way.
  assert.equal(client.setMediaState(/** @type {any} */ ({ ...muted, paused: true, screen: false })), true);
  assert.deepEqual(sockets[1].messages.at(-1), { type: 'media-state', ...muted, paused: true, screen: false });
  // The other side's state and the therapist's notices arrive as events.
  sockets[1].receive({ type: 'media-state', camera: 'off', microphone: 'on', audio_only: true, paused: true, from: 'therapist' });
  assert.deepEqual(heard, [{ type: 'media-state', camera: 'off', microphone: 'on', audio_only: true, paused: true, from: 'therapist' }]);
  sockets[1].receive({ type: 'notice', notice: 'link-in-use' });
  assert.deepEqual(notices, [{ type: 'notice', notice: 'link-in-use' }]);
});

test('occupied is final: no reconnect, and the page is told not to offer joining again', async () => {
  const { FINAL_ERRORS, RECOVERABLE_ERRORS, ERRORS } = await import('../../src/sprechzimmer/static/js/protocol.js');
  for (const code of FINAL_ERRORS) {
    assert.equal(ERRORS[code].fatal, true, code);
    assert.equal(RECOVERABLE_ERRORS.has(code), false, code);
  }
  const { client, sockets, time } = setup();
  /** @type {any[]} */
  const closes = [];
  client.on('closed', (c) => closes.push(c));
  client.connect();
  sockets[0].open();
  const error = { type: 'error', code: 'occupied', message: 'Someone is already …', message_de: 'Mit diesem Link …', fatal: true };
  sockets[0].receive(error);
  sockets[0].drop(4009);
  time.advance(60_000);
  assert.equal(sockets.length, 1);
  assert.equal(client.state, 'closed');
  assert.equal(closes[0].reconnecting, false);
  assert.ok(FINAL_ERRORS.has(closes[0].error.code));
});
