// The call page's state machine, driven through its whole table: role x
// admitted x peer present x reconnects x hang-ups, with a clock of our own.
//
// Every machine made here records the transitions it took; the last test
// checks that together they are exactly the table, so a transition removed
// from the table fails the test that takes it, and one added without a test
// fails the last.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ALLOWED, CallMachine, FINAL, RELAY_SWITCH_MS } from '../../src/sprechzimmer/static/js/callstate.js';

/** @typedef {import('../../src/sprechzimmer/static/js/callstate.js').CallState} CallState */
/** @typedef {import('../../src/sprechzimmer/static/js/callstate.js').CallInput} CallInput */
/** @typedef {import('../../src/sprechzimmer/static/js/callstate.js').CallAction} CallAction */

/** Every transition any machine of this file took, "from -> to". */
const exercised = new Set();

function machine() {
  return new CallMachine({
    log: (text) => {
      const m = /^status: (\S+) -> (\S+)$/.exec(text);
      if (m) exercised.add(`${m[1]} -> ${m[2]}`);
    },
  });
}

/**
 * @param {'therapist' | 'client'} role
 * @param {boolean} admitted
 * @param {boolean} present the other side is there
 * @param {boolean} [resumed]
 * @returns {CallInput}
 */
function welcome(role, admitted, present, resumed = false) {
  return {
    type: 'welcome',
    welcome: {
      type: 'welcome',
      role,
      session: 's',
      client_id: role === 'therapist' ? 'K-1' : null,
      ice_servers: [],
      heartbeat_interval: 10,
      polite: role === 'client',
      resume: 'r',
      peer_present: present,
      admitted,
      resumed,
    },
  };
}

/** @param {boolean} reconnecting @param {number} [code] @returns {CallInput} */
const closed = (reconnecting, code = 1006) => ({ type: 'closed', closed: { code, reason: '', reconnecting, attempt: reconnecting ? 1 : 0, error: null } });
/** @param {RTCPeerConnectionState} state @returns {CallInput} */
const conn = (state, recovering = false, noRelay = false) => ({ type: 'connection', state, recovering, noRelay });
/** @param {string} code @param {boolean} fatal @returns {CallInput} */
const error = (code, fatal) => ({ type: 'error', error: { type: 'error', code, message: 'No.', message_de: 'Nein.', fatal } });

/**
 * @param {CallMachine} m
 * @param {CallInput[]} inputs
 * @returns {CallAction[]} the actions of the last input
 */
function drive(m, ...inputs) {
  let out = /** @type {CallAction[]} */ ([]);
  inputs.forEach((input, i) => {
    out = m.handle(input, i * 100);
  });
  return out;
}

/** @param {CallAction[]} actions */
const types = (actions) => actions.map((a) => (a.type === 'open-peer' ? `open-peer:${a.then}` : a.type));

/**
 * A machine brought to `state` the way a real call gets there.
 * @param {CallState} state
 * @param {'therapist' | 'client'} [role]
 */
function reach(state, role = 'therapist') {
  const m = machine();
  const inCall = [{ type: 'join' }, welcome(role, true, true), { type: 'admitted', relayOnly: false }, conn('connected')];
  /** @type {Record<string, CallInput[]>} */
  const ways = {
    'device-check': [],
    connecting: [{ type: 'join' }],
    waiting: [{ type: 'join' }, welcome(role, false, false)],
    knocking: [{ type: 'join' }, welcome('therapist', false, true)],
    'in-call': inCall,
    reconnecting: [...inCall, conn('disconnected')],
    'no-connection': [...inCall, conn('failed', true, true)],
    'e2ee-failed': [...inCall, { type: 'e2ee-failed', state: 'failed' }],
    incompatible: [...inCall, { type: 'negotiation-failed', reason: 'sdp-refused' }],
  };
  drive(m, .../** @type {CallInput[]} */ (ways[state]));
  assert.equal(m.state, state, `reach ${state}`);
  return m;
}

// ---------------------------------------------------------------------------
// The client

test('client: join, waiting room, admitted, in call, the therapist hangs up', () => {
  const m = machine();
  assert.equal(m.snapshot.status, 'device-check');
  assert.equal(m.snapshot.view, 'device');
  drive(m, { type: 'join' });
  assert.deepEqual([m.snapshot.status, m.snapshot.view, m.snapshot.text], ['connecting', 'none', { key: 'call.connecting' }]);

  assert.deepEqual(types(m.handle(welcome('client', false, true), 1)), ['close-peer']);
  assert.deepEqual([m.snapshot.status, m.snapshot.view, m.snapshot.text], ['waiting', 'waiting-room', { key: 'call.waitingRoom' }]);
  assert.equal(m.snapshot.role, 'client');
  assert.equal(m.snapshot.admitted, false);

  assert.deepEqual(types(m.handle({ type: 'admitted', relayOnly: false }, 2)), ['close-peer', 'open-peer:null']);
  assert.deepEqual([m.snapshot.status, m.snapshot.view, m.snapshot.text], ['connecting', 'call', { key: 'call.startingMedia' }]);
  assert.equal(m.snapshot.peer, true);
  assert.deepEqual(types(m.handle({ type: 'offer', sdp: 'o', fromOtherConnection: false }, 3)), ['describe']);

  drive(m, conn('connecting'));
  assert.equal(m.snapshot.status, 'connecting', 'not up yet');
  drive(m, conn('connected'));
  assert.deepEqual([m.snapshot.status, m.snapshot.text], ['in-call', { key: 'call.inCall' }]);

  const out = m.handle({ type: 'peer-left', reason: 'hangup' }, 4);
  assert.deepEqual(out, [{ type: 'close-peer' }, { type: 'clear-remote' }, { type: 'finish', bye: true }]);
  assert.deepEqual([m.snapshot.status, m.snapshot.view, m.snapshot.text], ['ended', 'end', { key: 'call.peerHungUp' }]);
  assert.equal(m.snapshot.finished, true);
  assert.equal(m.snapshot.ending, 'peer-hung-up', 'the end screen offers to join again');
});

test('client: a welcome that says admitted, the therapist away, keeps the call view', () => {
  const m = machine();
  drive(m, { type: 'join' });
  assert.deepEqual(types(m.handle(welcome('client', true, false), 1)), ['close-peer']);
  assert.deepEqual([m.snapshot.status, m.snapshot.view, m.snapshot.text], ['waiting', 'call', { key: 'call.peerInterrupted' }]);
  drive(m, { type: 'peer-joined', admitted: true });
  assert.deepEqual([m.snapshot.status, m.snapshot.text], ['connecting', { key: 'call.startingMedia' }]);
});

test('client: admitted and the therapist there after a reconnect: wait for `admitted`', () => {
  const m = machine();
  drive(m, { type: 'join' }, welcome('client', true, true));
  assert.deepEqual([m.snapshot.status, m.snapshot.view, m.snapshot.text], ['connecting', 'call', { key: 'call.startingMedia' }]);
  assert.equal(m.snapshot.peer, false, 'no connection until `admitted`');
});

test('client: the therapist goes away during the call, and away from the waiting room', () => {
  const m = reach('in-call', 'client');
  assert.deepEqual(types(m.handle({ type: 'peer-left', reason: 'disconnected' }, 9)), ['close-peer', 'clear-remote']);
  assert.deepEqual([m.snapshot.status, m.snapshot.view, m.snapshot.text], ['waiting', 'call', { key: 'call.peerInterrupted' }]);

  const w = reach('waiting', 'client');
  const seq = w.snapshot.seq;
  drive(w, { type: 'peer-left', reason: 'timeout' });
  assert.equal(w.snapshot.status, 'waiting');
  assert.equal(w.snapshot.seq, seq, 'the waiting room says nothing');
  assert.equal(w.snapshot.view, 'waiting-room');
});

test('client: sent back to the waiting room, and declined', () => {
  const m = reach('in-call', 'client');
  drive(m, { type: 'waiting' });
  assert.deepEqual([m.snapshot.status, m.snapshot.view, m.snapshot.admitted], ['waiting', 'waiting-room', false]);
  assert.deepEqual(m.handle({ type: 'declined' }, 1), [{ type: 'finish', bye: false }]);
  assert.deepEqual([m.snapshot.status, m.snapshot.text, m.snapshot.view], ['declined', { key: 'call.declined' }, 'end']);
});

test('client: knocks and peer-joined without admission mean nothing to the client', () => {
  const m = reach('waiting', 'client');
  const seq = m.snapshot.seq;
  assert.deepEqual(m.handle({ type: 'knock' }, 1), []);
  assert.deepEqual(m.handle({ type: 'peer-joined', admitted: false }, 2), []);
  assert.deepEqual(m.handle({ type: 'knock-cancelled' }, 3), []);
  assert.equal(m.snapshot.seq, seq);
});

test('client: an answer is always handed to the connection', () => {
  const m = reach('in-call', 'client');
  assert.deepEqual(m.handle({ type: 'answer', sdp: 'a', fromOtherConnection: true }, 1), [{ type: 'describe', description: 'answer', sdp: 'a' }]);
});

// ---------------------------------------------------------------------------
// The therapist

test('therapist: waits, a knock rings, admit, in call, hangs up', () => {
  const m = machine();
  drive(m, { type: 'join' });
  assert.deepEqual(types(m.handle(welcome('therapist', false, false), 1)), ['close-peer']);
  assert.deepEqual([m.snapshot.status, m.snapshot.view, m.snapshot.text], ['waiting', 'call', { key: 'call.waitingForClient' }]);

  assert.deepEqual(types(m.handle({ type: 'knock' }, 2)), ['close-peer', 'chime']);
  assert.deepEqual([m.snapshot.status, m.snapshot.view, m.snapshot.text], ['knocking', 'call', { key: 'call.knocking' }]);

  assert.deepEqual(m.handle({ type: 'admit' }, 3), [{ type: 'send', message: { type: 'admit' } }]);
  assert.equal(m.snapshot.status, 'knocking', 'until the server says admitted');
  assert.deepEqual(types(m.handle({ type: 'admitted', relayOnly: false }, 4)), ['close-peer', 'open-peer:offer']);
  assert.equal(m.snapshot.status, 'connecting');
  drive(m, conn('connected'));
  assert.equal(m.snapshot.status, 'in-call');

  assert.deepEqual(m.handle({ type: 'hangup' }, 5), [{ type: 'finish', bye: true }]);
  assert.deepEqual([m.snapshot.status, m.snapshot.text], ['ended', { key: 'call.ended' }]);
});

test('therapist: the client is already knocking when we join; no ring', () => {
  const m = machine();
  drive(m, { type: 'join' });
  assert.deepEqual(types(m.handle(welcome('therapist', false, true), 1)), ['close-peer']);
  assert.equal(m.snapshot.status, 'knocking');
});

test('therapist: decline, and a knock that is cancelled', () => {
  const m = reach('knocking');
  assert.deepEqual(m.handle({ type: 'decline' }, 1), [{ type: 'send', message: { type: 'decline' } }]);
  assert.deepEqual([m.snapshot.status, m.snapshot.text], ['waiting', { key: 'call.waitingForClient' }]);
  const seq = m.snapshot.seq;
  drive(m, { type: 'knock-cancelled' });
  assert.equal(m.snapshot.seq, seq, 'not knocking: nothing to cancel');

  const k = reach('knocking');
  drive(k, { type: 'knock-cancelled' });
  assert.deepEqual([k.snapshot.status, k.snapshot.text], ['waiting', { key: 'call.waitingForClient' }]);
});

test('therapist: the client is admitted and there after our reconnect: `admitted` follows', () => {
  const m = machine();
  drive(m, { type: 'join' }, welcome('therapist', true, true));
  assert.deepEqual([m.snapshot.status, m.snapshot.text], ['connecting', { key: 'call.startingMedia' }]);
});

test('therapist: the client left by its quick exit, and the page says so', () => {
  const h = reach('in-call');
  assert.deepEqual(types(h.handle({ type: 'peer-left', reason: 'quick-exit' }, 1)), ['close-peer', 'clear-remote']);
  assert.deepEqual([h.snapshot.status, h.snapshot.text, h.snapshot.view], ['waiting', { key: 'exit.peerLeft' }, 'call']);
  assert.deepEqual([h.snapshot.finished, h.snapshot.admitted], [false, false], 'the admission ended, as with a hang-up');
});

test('therapist: the client admitted but away keeps our connection', () => {
  const m = reach('in-call');
  assert.deepEqual(m.handle(welcome('therapist', true, false), 1), []);
  assert.deepEqual([m.snapshot.status, m.snapshot.text, m.snapshot.peer], ['waiting', { key: 'call.waitingForClient' }, true]);
});

test('therapist: the client leaves the waiting room, or the call', () => {
  const m = reach('knocking');
  drive(m, { type: 'peer-left', reason: 'hangup' });
  assert.deepEqual([m.snapshot.status, m.snapshot.text], ['waiting', { key: 'call.waitingForClient' }], 'not in a call: no end');

  // A client who hangs up leaves the therapist in the room, not at an end
  // screen: the client may have tapped by mistake and knocks again.
  const h = reach('in-call');
  assert.deepEqual(types(h.handle({ type: 'peer-left', reason: 'hangup' }, 1)), ['close-peer', 'clear-remote']);
  assert.deepEqual([h.snapshot.status, h.snapshot.text, h.snapshot.view], ['waiting', { key: 'call.clientLeft' }, 'call']);
  assert.deepEqual([h.snapshot.finished, h.snapshot.admitted, h.snapshot.ending], [false, false, null]);
  drive(h, { type: 'knock' });
  assert.equal(h.snapshot.status, 'knocking', 'the knock of the same client is answered from the same page');

  const c = reach('in-call');
  drive(c, { type: 'peer-left', reason: 'timeout' });
  assert.deepEqual([c.snapshot.status, c.snapshot.text, c.snapshot.view], ['waiting', { key: 'call.peerInterrupted' }, 'call']);
  drive(c, { type: 'peer-joined', admitted: true });
  assert.deepEqual([c.snapshot.status, c.snapshot.text], ['connecting', { key: 'call.startingMedia' }]);
  drive(c, { type: 'admitted', relayOnly: false });
  assert.equal(c.snapshot.status, 'connecting', 'the call was interrupted: a fresh start, not "reconnecting"');
});

test('therapist: an answer from a new connection of the client starts over', () => {
  const m = reach('in-call');
  assert.deepEqual(types(m.handle({ type: 'answer', sdp: 'a', fromOtherConnection: true }, 1)), ['close-peer', 'open-peer:offer']);
  assert.equal(m.snapshot.status, 'in-call', 'media goes on meanwhile');
  assert.deepEqual(m.handle({ type: 'answer', sdp: 'b', fromOtherConnection: false }, 2), [{ type: 'describe', description: 'answer', sdp: 'b' }]);
});

// ---------------------------------------------------------------------------
// Connections and reconnects

test('an offer opens a connection when there is none, and starts over from another one', () => {
  const m = reach('waiting', 'client');
  assert.deepEqual(types(m.handle({ type: 'offer', sdp: 'o', fromOtherConnection: true }, 1)), ['open-peer:null', 'describe']);
  assert.deepEqual(types(m.handle({ type: 'offer', sdp: 'o', fromOtherConnection: true }, 2)), ['close-peer', 'open-peer:null', 'describe']);
  assert.deepEqual(types(m.handle({ type: 'offer', sdp: 'o', fromOtherConnection: false }, 3)), ['describe']);
});

test('nothing connects before the welcome', () => {
  const m = reach('connecting');
  assert.deepEqual(types(m.handle({ type: 'offer', sdp: 'o', fromOtherConnection: false }, 1)), ['describe']);
  assert.equal(m.snapshot.peer, false);
});

test('a lost connection is "reconnecting" once the call was up, and back in call', () => {
  const m = reach('in-call', 'client');
  drive(m, conn('disconnected'));
  assert.deepEqual([m.snapshot.status, m.snapshot.text], ['reconnecting', { key: 'call.recovering' }]);
  drive(m, conn('connected', true));
  assert.equal(m.snapshot.status, 'reconnecting', 'connected, but recovery is not done');
  drive(m, conn('connected'));
  assert.equal(m.snapshot.status, 'in-call');
  drive(m, conn('failed'));
  assert.equal(m.snapshot.status, 'reconnecting');
  drive(m, { type: 'admitted', relayOnly: false });
  assert.equal(m.snapshot.status, 'reconnecting', 'a fresh connection of a call that was up');
});

test('a first connection that fails is not "reconnecting"', () => {
  const m = machine();
  drive(m, { type: 'join' }, welcome('client', true, true), { type: 'admitted', relayOnly: false }, conn('failed', true));
  assert.equal(m.snapshot.status, 'connecting');
});

test('no direct path and no relay: "no connection", until it connects after all', () => {
  const m = machine();
  drive(m, { type: 'join' }, welcome('therapist', true, true), { type: 'admitted', relayOnly: false }, conn('failed', true, true));
  assert.deepEqual([m.snapshot.status, m.snapshot.text], ['no-connection', { key: 'call.noRelay' }]);
  drive(m, conn('checking'));
  assert.equal(m.snapshot.status, 'no-connection', 'it stays said');
  drive(m, conn('connected'));
  assert.equal(m.snapshot.status, 'in-call');
  drive(m, conn('disconnected'));
  assert.equal(m.snapshot.status, 'reconnecting', 'said once, forgotten once connected');
});

test('a fresh connection (compatibility mode): the therapist offers, the client asks for a restart', () => {
  const t = reach('in-call');
  assert.deepEqual(types(t.handle({ type: 'fresh-connection' }, 1)), ['close-peer', 'open-peer:offer']);
  assert.equal(t.snapshot.status, 'in-call');
  const c = reach('in-call', 'client');
  assert.deepEqual(types(c.handle({ type: 'fresh-connection' }, 1)), ['close-peer', 'open-peer:restart-ice']);
  const f = reach('no-connection');
  drive(f, { type: 'fresh-connection' });
  assert.deepEqual([f.snapshot.status, f.snapshot.text], ['connecting', { key: 'call.startingMedia' }]);
});

test('the line to the server breaks during a call: the call goes on, then the seat is taken back', () => {
  for (const from of /** @type {CallState[]} */ (['in-call', 'reconnecting'])) {
    const m = reach(from);
    drive(m, closed(true));
    assert.equal(m.snapshot.state, from);
    assert.equal(m.snapshot.serverAway, true);
    if (from === 'in-call') assert.deepEqual(m.snapshot.text, { key: 'call.serverReconnecting' });
    assert.deepEqual(m.handle(welcome('therapist', true, true, true), 1), [{ type: 'report-media' }]);
    assert.equal(m.snapshot.serverAway, false);
    assert.equal(m.snapshot.peer, true, 'the same connection');
    if (from === 'in-call') assert.deepEqual(m.snapshot.text, { key: 'call.inCall' });
    else assert.equal(m.snapshot.status, 'reconnecting');
  }
});

test('a seat taken back while connected but not yet "in call" goes to the call', () => {
  const m = reach('in-call', 'client');
  drive(m, welcome('client', true, false)); // waiting, the connection closed
  drive(m, { type: 'admitted', relayOnly: false }, conn('connected'), { type: 'waiting' });
  drive(m, { type: 'offer', sdp: 'o', fromOtherConnection: false }, conn('connected'));
  assert.equal(m.snapshot.status, 'in-call');
});

test('the line breaks outside a call: "reconnecting" to the server', () => {
  const m = reach('waiting', 'client');
  drive(m, closed(true));
  assert.deepEqual([m.snapshot.status, m.snapshot.text, m.snapshot.view], ['connecting', { key: 'call.reconnecting' }, 'waiting-room']);
  assert.equal(m.snapshot.serverAway, false);
});

test('how the socket ended decides the sentence', () => {
  /** @type {Array<[CallInput, CallState, object]>} */
  const cases = [
    [closed(false, 1000), 'ended', { key: 'call.ended' }],
    [closed(false, 1006), 'error', { key: 'call.gaveUp' }],
    [closed(false, 1001), 'error', { key: 'call.gaveUp' }],
    [closed(false, 4003), 'error', { key: 'call.closed' }],
  ];
  for (const [input, state, text] of cases) {
    const m = reach('waiting');
    assert.deepEqual(m.handle(input, 1), [{ type: 'finish', bye: false }]);
    assert.deepEqual([m.snapshot.state, m.snapshot.text], [state, text]);
    assert.equal(m.snapshot.ending, state === 'ended' ? 'hung-up' : 'failed', 'a broken line may be retried');
  }
  const m = reach('waiting');
  const e = { type: 'error', code: 'forbidden', message: 'No.', message_de: 'Nein.', fatal: true };
  drive(m, { type: 'closed', closed: { code: 4003, reason: '', reconnecting: false, attempt: 0, error: /** @type {any} */ (e) } });
  assert.deepEqual(m.snapshot.text, { error: e, fallback: 'error.unexpected' });
  assert.equal(m.snapshot.ending, 'link', 'a refused link is not retried');
});

test('the end says which next step can work', () => {
  /** @type {Array<[string, string]>} */
  const cases = [
    ['not-authenticated', 'failed'],
    ['forbidden', 'link'],
    ['occupied', 'elsewhere'],
    ['replaced', 'elsewhere'],
    ['session-ended', 'closed'],
    ['internal', 'failed'],
    ['slow-down', 'failed'],
  ];
  for (const [code, ending] of cases) {
    const m = reach('waiting', 'client');
    drive(m, error(code, true));
    assert.deepEqual([m.snapshot.status, m.snapshot.ending], ['error', ending], code);
  }
  const d = reach('waiting', 'client');
  drive(d, { type: 'declined' });
  assert.deepEqual([d.snapshot.status, d.snapshot.ending], ['declined', 'declined']);
  const h = reach('in-call', 'therapist');
  drive(h, { type: 'hangup' });
  assert.deepEqual([h.snapshot.status, h.snapshot.ending], ['ended', 'hung-up']);
});

test('server errors: only a fatal one that does not come back ends the page', () => {
  const m = reach('in-call');
  assert.deepEqual(m.handle(error('no-peer', false), 1), []);
  assert.deepEqual(m.handle(error('timeout', true), 2), []);
  assert.deepEqual(m.handle(error('server-busy', true), 3), []);
  assert.equal(m.snapshot.status, 'in-call');
  assert.deepEqual(m.handle(error('forbidden', true), 4), [{ type: 'finish', bye: false }]);
  assert.equal(m.snapshot.status, 'error');
  assert.equal(/** @type {any} */ (m.snapshot.text).fallback, 'error.unexpected');
});

test('frame encryption fails closed: shown as an error, in the call view; a new admission starts over', () => {
  const m = reach('in-call', 'client');
  assert.deepEqual(m.handle({ type: 'e2ee-failed', state: 'unsupported' }, 1), [{ type: 'close-peer' }, { type: 'clear-remote' }]);
  assert.deepEqual([m.snapshot.state, m.snapshot.status, m.snapshot.view, m.snapshot.finished], ['e2ee-failed', 'error', 'call', false]);
  assert.deepEqual(m.snapshot.text, { key: 'e2ee.unsupportedCall' });
  assert.deepEqual(m.handle({ type: 'e2ee-failed', state: 'failed' }, 2), [], 'no connection left to fail');
  drive(m, { type: 'admitted', relayOnly: false });
  assert.equal(m.snapshot.status, 'connecting', 'a fresh start');

  const f = reach('e2ee-failed');
  assert.deepEqual(f.snapshot.text, { key: 'e2ee.failedCall' });
});

test('browsers that cannot agree: no more retries, said in the call view; a new admission starts over', () => {
  const m = reach('connecting', 'client');
  drive(m, welcome('client', true, true), { type: 'admitted', relayOnly: false });
  assert.deepEqual(m.handle({ type: 'negotiation-failed', reason: 'no-common-codec' }, 1), [{ type: 'close-peer' }, { type: 'clear-remote' }]);
  assert.deepEqual([m.snapshot.state, m.snapshot.status, m.snapshot.view, m.snapshot.finished], ['incompatible', 'error', 'call', false]);
  assert.deepEqual(m.snapshot.text, { key: 'call.incompatible' });
  // Said by both browsers (ours found it, the other's message follows): once.
  assert.deepEqual(m.handle({ type: 'negotiation-failed', reason: 'sdp-refused' }, 2), [], 'no connection left to fail');
  // Whatever the connection of the closed peer still reports changes nothing.
  assert.deepEqual(m.handle(conn('failed', true, true), 3), []);
  assert.equal(m.snapshot.state, 'incompatible');
  drive(m, { type: 'admitted', relayOnly: false });
  assert.equal(m.snapshot.status, 'connecting', 'a fresh start');
});

// ---------------------------------------------------------------------------
// Before joining, after the end

test('a page without an invite ends at once, with no offer to rejoin', () => {
  const m = machine();
  drive(m, { type: 'bad-link' });
  assert.deepEqual([m.snapshot.status, m.snapshot.text, m.snapshot.view], ['error', { key: 'call.badLink' }, 'end']);
  assert.deepEqual([m.snapshot.finished, m.snapshot.ending], [true, 'bad-link']);
});

test('before joining, nothing but joining counts', () => {
  const m = machine();
  for (const input of /** @type {CallInput[]} */ ([welcome('client', true, true), closed(true), { type: 'hangup' }, conn('connected')])) {
    assert.deepEqual(m.handle(input, 1), []);
  }
  assert.equal(m.snapshot.status, 'device-check');
});

test('once over, nothing more happens', () => {
  for (const end of /** @type {CallInput[]} */ ([{ type: 'hangup' }, { type: 'declined' }, error('forbidden', true)])) {
    const m = reach('in-call');
    drive(m, end);
    const before = m.snapshot;
    for (const input of /** @type {CallInput[]} */ ([closed(false, 1000), closed(true), welcome('therapist', true, true), { type: 'admitted', relayOnly: true }, { type: 'hangup' }, { type: 'knock' }])) {
      assert.deepEqual(m.handle(input, 9), []);
    }
    assert.deepEqual(m.snapshot, before);
  }
});

// ---------------------------------------------------------------------------
// Relay-only: the one timer

test('relay-only: the wish shows until the server answers, or for RELAY_SWITCH_MS', () => {
  const m = reach('in-call');
  assert.equal(m.timer(), null);
  drive(m, welcome('therapist', true, true, true));
  m.handle({ type: 'relay-only-asked', enabled: true }, 1000);
  assert.deepEqual([m.snapshot.relayOnly, m.snapshot.relayOnlyShown, m.snapshot.relaySwitching], [false, true, true]);
  assert.equal(m.timer(), 1000 + RELAY_SWITCH_MS);
  assert.deepEqual(m.handleTimer(1000 + RELAY_SWITCH_MS - 1), []);
  assert.equal(m.snapshot.relaySwitching, true, 'not before its time');
  m.handleTimer(1000 + RELAY_SWITCH_MS);
  assert.deepEqual([m.snapshot.relayOnlyShown, m.snapshot.relaySwitching, m.timer()], [false, false, null]);

  m.handle({ type: 'relay-only-asked', enabled: true }, 7000);
  m.handle({ type: 'admitted', relayOnly: true }, 7500);
  assert.deepEqual([m.snapshot.relayOnly, m.snapshot.relayOnlyShown, m.snapshot.relaySwitching, m.timer()], [true, true, false, null]);
  m.handle({ type: 'relay-only-asked', enabled: false }, 8000);
  m.handle({ type: 'hangup' }, 8100);
  assert.deepEqual([m.snapshot.relayOnlyShown, m.timer()], [true, null], 'the end forgets the wish');
});

test('relay-only outside a call: the wish holds for the next call, no timer', () => {
  const m = reach('waiting');
  m.handle({ type: 'relay-only-asked', enabled: true }, 0);
  assert.deepEqual([m.snapshot.relayOnlyShown, m.snapshot.relaySwitching, m.timer()], [true, false, null]);
  assert.deepEqual(m.handleTimer(1e9), []);
  assert.equal(m.snapshot.relayOnlyShown, true);
});

// ---------------------------------------------------------------------------
// The whole table, one row per transition

/**
 * [from, to, role, inputs]: from the state `reach` makes, the inputs before
 * the last one end in `from` again (they set the scene), and the last one
 * makes the transition.
 * @type {Array<[CallState, CallState, 'therapist' | 'client', CallInput[]]>}
 */
const ROWS = [
  ['device-check', 'connecting', 'client', [{ type: 'join' }]],
  ['device-check', 'error', 'client', [{ type: 'bad-link' }]],

  ['connecting', 'waiting', 'client', [welcome('client', false, false)]],
  ['connecting', 'knocking', 'therapist', [welcome('therapist', false, true)]],
  ['connecting', 'in-call', 'client', [welcome('client', true, true), { type: 'admitted', relayOnly: false }, conn('connected')]],
  // A new welcome (not a resumed seat) while a call that was up recovers, and it is still down.
  ['connecting', 'reconnecting', 'therapist', [welcome('therapist', true, true), { type: 'admitted', relayOnly: false }, conn('connected'), conn('disconnected'), welcome('therapist', true, true), conn('disconnected', true)]],
  ['connecting', 'no-connection', 'client', [welcome('client', true, true), { type: 'admitted', relayOnly: false }, conn('failed', true, true)]],
  ['connecting', 'e2ee-failed', 'client', [welcome('client', true, true), { type: 'admitted', relayOnly: false }, { type: 'e2ee-failed', state: 'failed' }]],
  ['connecting', 'incompatible', 'client', [welcome('client', true, true), { type: 'admitted', relayOnly: false }, { type: 'negotiation-failed', reason: 'sdp-refused' }]],
  ['connecting', 'ended', 'client', [{ type: 'hangup' }]],
  ['connecting', 'declined', 'client', [{ type: 'declined' }]],
  ['connecting', 'error', 'client', [closed(false, 4003)]],

  ['waiting', 'connecting', 'therapist', [{ type: 'peer-joined', admitted: true }]],
  ['waiting', 'knocking', 'therapist', [{ type: 'knock' }]],
  // The therapist keeps the connection while the admitted client is away; it comes back.
  ['waiting', 'in-call', 'therapist', [{ type: 'admitted', relayOnly: false }, conn('connected'), welcome('therapist', true, false), conn('connected')]],
  ['waiting', 'reconnecting', 'therapist', [{ type: 'admitted', relayOnly: false }, conn('connected'), welcome('therapist', true, false), { type: 'admitted', relayOnly: false }]],
  ['waiting', 'e2ee-failed', 'therapist', [{ type: 'admitted', relayOnly: false }, conn('connected'), welcome('therapist', true, false), { type: 'e2ee-failed', state: 'unsupported' }]],
  ['waiting', 'incompatible', 'therapist', [{ type: 'admitted', relayOnly: false }, conn('connected'), welcome('therapist', true, false), { type: 'negotiation-failed', reason: 'sdp-refused' }]],
  ['waiting', 'ended', 'client', [{ type: 'hangup' }]],
  ['waiting', 'declined', 'client', [{ type: 'declined' }]],
  ['waiting', 'error', 'client', [error('forbidden', true)]],

  ['knocking', 'connecting', 'therapist', [{ type: 'admit' }, { type: 'admitted', relayOnly: false }]],
  ['knocking', 'waiting', 'therapist', [{ type: 'decline' }]],
  // The client's new tab knocks during a call; admitted, it is a reconnect.
  ['knocking', 'reconnecting', 'therapist', [welcome('therapist', true, true), { type: 'admitted', relayOnly: false }, conn('connected'), { type: 'knock' }, { type: 'admitted', relayOnly: false }]],
  ['knocking', 'e2ee-failed', 'therapist', [{ type: 'offer', sdp: 'stale', fromOtherConnection: false }, { type: 'e2ee-failed', state: 'failed' }]],
  // A stale offer opened a connection; the answer to it is refused.
  ['knocking', 'incompatible', 'therapist', [{ type: 'offer', sdp: 'stale', fromOtherConnection: false }, { type: 'negotiation-failed', reason: 'sdp-refused' }]],
  ['knocking', 'ended', 'therapist', [{ type: 'hangup' }]],
  ['knocking', 'declined', 'therapist', [{ type: 'declined' }]],
  ['knocking', 'error', 'therapist', [closed(false, 1006)]],

  // A resumed welcome that says "not admitted" keeps the call; the therapist
  // then leaves (no hang-up), and the socket breaks: "connecting".
  ['in-call', 'connecting', 'client', [welcome('client', false, true, true), { type: 'peer-left', reason: 'disconnected' }, closed(true)]],
  ['in-call', 'waiting', 'therapist', [{ type: 'peer-left', reason: 'disconnected' }]],
  ['in-call', 'knocking', 'therapist', [{ type: 'knock' }]],
  ['in-call', 'reconnecting', 'client', [conn('disconnected')]],
  ['in-call', 'no-connection', 'client', [conn('failed', true, true)]],
  ['in-call', 'e2ee-failed', 'client', [{ type: 'e2ee-failed', state: 'failed' }]],
  // A renegotiation (relay-only, an ICE restart) is refused.
  ['in-call', 'incompatible', 'client', [{ type: 'negotiation-failed', reason: 'sdp-refused' }]],
  ['in-call', 'ended', 'client', [{ type: 'peer-left', reason: 'hangup' }]],
  ['in-call', 'declined', 'client', [{ type: 'declined' }]],
  ['in-call', 'error', 'client', [error('forbidden', true)]],

  ['reconnecting', 'connecting', 'therapist', [welcome('therapist', true, true)]],
  ['reconnecting', 'waiting', 'therapist', [{ type: 'peer-left', reason: 'timeout' }]],
  ['reconnecting', 'knocking', 'therapist', [{ type: 'knock' }]],
  ['reconnecting', 'in-call', 'client', [conn('connected')]],
  ['reconnecting', 'no-connection', 'client', [conn('failed', true, true)]],
  ['reconnecting', 'e2ee-failed', 'client', [{ type: 'e2ee-failed', state: 'failed' }]],
  ['reconnecting', 'incompatible', 'client', [{ type: 'negotiation-failed', reason: 'sdp-refused' }]],
  ['reconnecting', 'ended', 'client', [{ type: 'hangup' }]],
  ['reconnecting', 'declined', 'client', [{ type: 'declined' }]],
  ['reconnecting', 'error', 'client', [closed(false, 1001)]],

  ['no-connection', 'connecting', 'client', [closed(true)]],
  ['no-connection', 'waiting', 'client', [{ type: 'waiting' }]],
  ['no-connection', 'knocking', 'therapist', [{ type: 'knock' }]],
  ['no-connection', 'in-call', 'client', [conn('connected')]],
  ['no-connection', 'reconnecting', 'client', [{ type: 'admitted', relayOnly: false }]],
  ['no-connection', 'e2ee-failed', 'client', [{ type: 'e2ee-failed', state: 'failed' }]],
  ['no-connection', 'incompatible', 'client', [{ type: 'negotiation-failed', reason: 'no-common-codec' }]],
  ['no-connection', 'ended', 'client', [closed(false, 1000)]],
  ['no-connection', 'declined', 'client', [{ type: 'declined' }]],
  ['no-connection', 'error', 'client', [error('forbidden', true)]],

  ['e2ee-failed', 'connecting', 'client', [{ type: 'admitted', relayOnly: false }]],
  ['e2ee-failed', 'waiting', 'therapist', [welcome('therapist', false, false)]],
  ['e2ee-failed', 'knocking', 'therapist', [{ type: 'knock' }]],
  // A connection of the other side's making comes up; the next admission is a reconnect.
  ['e2ee-failed', 'reconnecting', 'client', [{ type: 'offer', sdp: 'o', fromOtherConnection: false }, conn('connected'), { type: 'admitted', relayOnly: false }]],
  ['e2ee-failed', 'ended', 'client', [{ type: 'hangup' }]],
  ['e2ee-failed', 'declined', 'client', [{ type: 'declined' }]],
  ['e2ee-failed', 'error', 'client', [error('forbidden', true)]],
  // The other side's next offer opens a connection, and that one cannot agree.
  ['e2ee-failed', 'incompatible', 'client', [{ type: 'offer', sdp: 'o', fromOtherConnection: false }, { type: 'negotiation-failed', reason: 'sdp-refused' }]],

  // Compatibility mode or relay-only brings a new admission: it starts over.
  ['incompatible', 'connecting', 'client', [{ type: 'admitted', relayOnly: false }]],
  ['incompatible', 'waiting', 'therapist', [{ type: 'peer-left', reason: 'hangup' }]],
  ['incompatible', 'knocking', 'therapist', [{ type: 'knock' }]],
  ['incompatible', 'reconnecting', 'client', [{ type: 'offer', sdp: 'o', fromOtherConnection: false }, conn('connected'), { type: 'admitted', relayOnly: false }]],
  ['incompatible', 'e2ee-failed', 'client', [{ type: 'offer', sdp: 'o', fromOtherConnection: false }, { type: 'e2ee-failed', state: 'failed' }]],
  ['incompatible', 'ended', 'client', [{ type: 'hangup' }]],
  ['incompatible', 'declined', 'client', [{ type: 'declined' }]],
  ['incompatible', 'error', 'client', [error('forbidden', true)]],
];

for (const [from, to, role, inputs] of ROWS) {
  test(`table: ${from} -> ${to} (${role})`, () => {
    const m = reach(from, role);
    drive(m, ...inputs.slice(0, -1));
    assert.equal(m.state, from, `the setup ends in ${from}`);
    m.handle(/** @type {CallInput} */ (inputs.at(-1)), 10_000);
    assert.equal(m.state, to);
  });
}

// ---------------------------------------------------------------------------
// Whatever comes in whatever order, the table has the transition

test('random inputs in any order never find a transition the table lacks', () => {
  let seed = 11;
  // mulberry32: a small PRNG, so a failure can be replayed
  const random = () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  /** @template T @param {T[]} xs @returns {T} */
  const pick = (xs) => xs[Math.floor(random() * xs.length)];
  const coin = () => random() < 0.5;
  /** @param {'therapist' | 'client'} role @param {boolean} final @returns {CallInput[]} */
  const inputs = (role, final) => [
    welcome(role, coin(), coin(), coin()),
    { type: 'waiting' },
    { type: 'knock' },
    { type: 'knock-cancelled' },
    { type: 'admitted', relayOnly: coin() },
    { type: 'peer-joined', admitted: coin() },
    { type: 'peer-left', reason: pick(['disconnected', 'timeout']) },
    { type: 'offer', sdp: 'o', fromOtherConnection: coin() },
    { type: 'answer', sdp: 'a', fromOtherConnection: coin() },
    error(pick(['timeout', 'no-peer']), coin()),
    closed(true),
    conn(pick(['new', 'connecting', 'connected', 'disconnected', 'failed']), coin(), random() < 0.3),
    conn('connected'),
    { type: 'e2ee-failed', state: pick(['failed', 'unsupported']) },
    { type: 'negotiation-failed', reason: pick(['sdp-refused', 'no-common-codec', 'transform-failed']) },
    { type: 'fresh-connection' },
    { type: 'relay-only-asked', enabled: coin() },
    { type: 'decline' },
    { type: 'admit' },
    ...(final
      ? /** @type {CallInput[]} */ ([
          { type: 'hangup' },
          { type: 'declined' },
          { type: 'peer-left', reason: 'hangup' },
          error('forbidden', true),
          closed(false, pick([1000, 1001, 1006, 4003])),
        ])
      : []),
  ];
  for (let run = 0; run < 30000; run++) {
    const role = pick(/** @type {const} */ (['therapist', 'client']));
    const m = new CallMachine();
    m.handle({ type: 'join' }, 0);
    let finishes = 0;
    const steps = Math.floor(random() * 25);
    for (let i = 0; i <= steps; i++) {
      const out = m.handle(pick(inputs(role, i === steps)), i);
      finishes += out.filter((a) => a.type === 'finish').length;
    }
    assert.equal(finishes, m.snapshot.finished ? 1 : 0, 'a finish comes once, with the end');
  }
});

// ---------------------------------------------------------------------------
// Last: the tests above took every transition of the table, and no other

test('every transition of the table is exercised', () => {
  const table = new Set(Object.entries(ALLOWED).flatMap(([from, tos]) => [...tos].map((to) => `${from} -> ${to}`)));
  assert.deepEqual([...table].filter((t) => !exercised.has(t)).sort(), [], 'in the table, never taken');
  assert.deepEqual([...exercised].filter((t) => !table.has(t)).sort(), [], 'taken, not in the table');
  for (const state of FINAL) assert.equal(ALLOWED[state].size, 0, `${state} is final`);
});
