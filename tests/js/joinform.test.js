// The client's name and consent before joining, and the room check at the
// start of a call: the pure parts (the form's verdict, the name's rules, the
// call logic's room check, the hello the signaling client writes).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkJoinForm } from '../../src/sprechzimmer/static/js/joinform.js';
import { clientNameProblem, encodeClientMessage, MAX_CLIENT_NAME, ProtocolError } from '../../src/sprechzimmer/static/js/protocol.js';
import { CallMachine } from '../../src/sprechzimmer/static/js/callstate.js';

/** @typedef {import('../../src/sprechzimmer/static/js/callstate.js').CallInput} CallInput */

test('the form sends a trimmed name and the consent, and nothing before both are there', () => {
  assert.deepEqual(checkJoinForm({ name: '  Maria Müller ', consent: true, required: true }), { ok: { name: 'Maria Müller', consent: true } });
  assert.deepEqual(checkJoinForm({ name: '', consent: true, required: true }), { problem: 'name.missing', field: 'name' });
  assert.deepEqual(checkJoinForm({ name: '   ', consent: true, required: true }), { problem: 'name.missing', field: 'name' });
  assert.deepEqual(checkJoinForm({ name: 'Maria', consent: false, required: true }), { problem: 'consent.missing', field: 'consent' });
  // The operator's "optional": no name is fine, consent still is not.
  assert.deepEqual(checkJoinForm({ name: '', consent: true, required: false }), { ok: { name: undefined, consent: true } });
  assert.deepEqual(checkJoinForm({ name: '', consent: false, required: false }), { problem: 'consent.missing', field: 'consent' });
});

test('the form refuses what the server would: too long, control characters', () => {
  const long = checkJoinForm({ name: 'a'.repeat(MAX_CLIENT_NAME + 1), consent: true, required: true });
  assert.deepEqual(long, { problem: 'name.tooLong', params: { max: 80 }, field: 'name' });
  assert.ok('ok' in checkJoinForm({ name: '😀'.repeat(MAX_CLIENT_NAME), consent: true, required: true }), 'code points, not UTF-16 units');
  for (const bad of ['Maria\tM.', 'Maria\u0000', 'A\u0085B', 'A\u2028B', 'A\u202eB', 'A\u2067B']) {
    assert.deepEqual(checkJoinForm({ name: bad, consent: true, required: true }), { problem: 'name.control', field: 'name' }, JSON.stringify(bad));
    assert.equal(clientNameProblem(bad), 'control');
  }
  assert.equal(clientNameProblem('Zoë 👩‍⚕️'), null, 'a zero-width joiner is no control character');
});

test('a hello with a bad name never leaves the browser', () => {
  const hello = { type: 'hello', protocol: 1, session: '0'.repeat(32), token: 'T'.repeat(43) };
  assert.ok(encodeClientMessage(/** @type {any} */ ({ ...hello, name: 'Maria', consent: true })));
  assert.throws(() => encodeClientMessage(/** @type {any} */ ({ ...hello, name: 'a'.repeat(81) })), ProtocolError);
  assert.throws(() => encodeClientMessage(/** @type {any} */ ({ ...hello, name: ' ' })), ProtocolError);
});

/** @param {'therapist' | 'client'} role @returns {CallInput} */
const welcome = (role) => ({
  type: 'welcome',
  welcome: { type: 'welcome', role, session: 's', client_id: null, ice_servers: [], heartbeat_interval: 10, polite: role === 'client', resume: 'r', peer_present: true, admitted: true },
});

test('the room check shows from the call start until the therapist ticks it, on both sides', () => {
  const therapist = new CallMachine();
  const client = new CallMachine();
  let now = 0;
  for (const [m, role] of /** @type {const} */ ([[therapist, 'therapist'], [client, 'client']])) {
    m.handle({ type: 'join' }, (now += 1));
    m.handle(welcome(role), (now += 1));
    assert.equal(m.snapshot.roomCheck, false, 'not before the call starts');
    m.handle({ type: 'admitted', relayOnly: false }, (now += 1));
    assert.equal(m.snapshot.roomCheck, true, `${role}: shown at the start`);
  }
  // Only the therapist's tick goes out; the client cannot tick it.
  assert.deepEqual(client.handle({ type: 'tick-room-check' }, (now += 1)), []);
  assert.equal(client.snapshot.roomCheck, true);
  assert.deepEqual(therapist.handle({ type: 'tick-room-check' }, (now += 1)), [{ type: 'send', message: { type: 'room-check-done' } }]);
  assert.equal(therapist.snapshot.roomCheck, false);
  assert.deepEqual(therapist.handle({ type: 'tick-room-check' }, (now += 1)), [], 'ticked once');
  client.handle({ type: 'room-check-done' }, (now += 1));
  assert.equal(client.snapshot.roomCheck, false);
  // A call restarted in the same admission does not ask again; a new one does.
  client.handle({ type: 'admitted', relayOnly: false, roomCheck: false }, (now += 1));
  assert.equal(client.snapshot.roomCheck, false);
  therapist.handle({ type: 'peer-left', reason: 'hangup' }, (now += 1));
  therapist.handle({ type: 'knock' }, (now += 1));
  therapist.handle({ type: 'admit' }, (now += 1));
  therapist.handle({ type: 'admitted', relayOnly: false, roomCheck: true }, (now += 1));
  assert.equal(therapist.snapshot.roomCheck, true);
  therapist.handle({ type: 'hangup' }, (now += 1));
  assert.equal(therapist.snapshot.roomCheck, false, 'gone with the call');
});
