// The ICE recovery policy, driven with a clock of our own: no sleeping.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  RecoveryPolicy,
  GRACE_MS,
  FIRST_CONNECT_MS,
  ESCALATE_AFTER,
  DEDUPE_MS,
  backoffMs,
  patienceMs,
} from '../../src/sprechzimmer/static/js/recovery.js';

/** @param {Partial<import('../../src/sprechzimmer/static/js/recovery.js').RecoveryOptions>} [options] */
function connected(options = {}) {
  const policy = new RecoveryPolicy({ now: 0, turnAvailable: true, compatAvailable: true, compat: false, ...options });
  assert.deepEqual(policy.iceState('checking', 100), []);
  assert.deepEqual(policy.iceState('connected', 500), []);
  assert.equal(policy.phase, 'connected');
  assert.equal(policy.timer(), null);
  return policy;
}

/** @param {import('../../src/sprechzimmer/static/js/recovery.js').RecoveryAction[]} actions */
const types = (actions) => actions.map((a) => a.type);

test('a short disconnection heals by itself: no restart', () => {
  const p = connected();
  assert.deepEqual(p.iceState('disconnected', 1000), []);
  assert.equal(p.phase, 'grace');
  assert.equal(p.recovering, true);
  assert.equal(p.timer(), 1000 + GRACE_MS);
  assert.deepEqual(p.handleTimer(1000 + GRACE_MS - 1), [], 'not before its time');
  assert.deepEqual(p.iceState('connected', 1500), []);
  assert.equal(p.phase, 'connected');
  assert.equal(p.recovering, false);
  assert.equal(p.timer(), null);
  assert.equal(p.restarts, 0);
});

test('a lasting disconnection restarts after the grace time', () => {
  const p = connected();
  p.iceState('disconnected', 1000);
  const actions = p.handleTimer(1000 + GRACE_MS);
  assert.deepEqual(types(actions), ['restart']);
  assert.equal(p.phase, 'restarting');
  assert.equal(p.recovering, true);
  assert.equal(p.timer(), 1000 + GRACE_MS + patienceMs(1));
  p.iceState('checking', 3100);
  p.iceState('connected', 3500);
  assert.equal(p.phase, 'connected');
  assert.equal(p.attempts, 0);
  assert.equal(p.restarts, 1);
});

test('ICE failed restarts at once', () => {
  const p = connected();
  assert.deepEqual(types(p.iceState('failed', 1000)), ['restart']);
  assert.equal(p.attempts, 1);
});

test('failed right after a restart waits for the backoff', () => {
  const p = connected();
  p.iceState('failed', 1000);
  assert.deepEqual(p.iceState('failed', 1100), [], 'too soon');
  assert.equal(p.timer(), 1000 + backoffMs(1));
  assert.deepEqual(types(p.handleTimer(1000 + backoffMs(1))), ['restart']);
  assert.equal(p.attempts, 2);
});

test('after repeated failures: compatibility mode, once', () => {
  const p = connected();
  let now = 1000;
  const seen = [];
  for (let i = 0; i < ESCALATE_AFTER + 3; i += 1) {
    const actions = i === 0 ? p.iceState('failed', now) : p.handleTimer(/** @type {number} */ (p.timer()));
    now = /** @type {number} */ (p.timer());
    seen.push(...types(actions));
  }
  assert.deepEqual(seen, [
    ...Array(ESCALATE_AFTER).fill('restart'),
    'compat',
    'restart',
    'restart',
  ]);
  assert.equal(p.compat, true);
  assert.equal(p.restarts, ESCALATE_AFTER + 3);
});

test('no escalation without a TCP/TLS relay, or when already in compatibility mode', () => {
  for (const options of [{ compatAvailable: false }, { compat: true }]) {
    const p = connected(options);
    p.iceState('failed', 1000);
    for (let i = 0; i < 5; i += 1) {
      assert.deepEqual(types(p.handleTimer(/** @type {number} */ (p.timer()))), ['restart'], JSON.stringify(options));
    }
  }
});

test('backoff and patience grow and are bounded', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 10].map(backoffMs), [1000, 2000, 4000, 8000, 8000, 8000]);
  assert.deepEqual([1, 2, 3, 4, 10].map(patienceMs), [6000, 10000, 15000, 20000, 20000]);
});

test('a fresh connection that never comes up is restarted', () => {
  const p = new RecoveryPolicy({ now: 0, turnAvailable: true, compatAvailable: true, compat: false });
  assert.equal(p.timer(), FIRST_CONNECT_MS);
  assert.equal(p.recovering, false, 'never up: connecting, not reconnecting');
  assert.deepEqual(types(p.handleTimer(FIRST_CONNECT_MS)), ['restart']);
  assert.equal(p.recovering, false);
});

test('no TURN at all: say so once, and keep trying', () => {
  const p = connected({ turnAvailable: false, compatAvailable: false });
  assert.deepEqual(types(p.iceState('failed', 1000)), ['no-relay', 'restart']);
  assert.deepEqual(types(p.handleTimer(/** @type {number} */ (p.timer()))), ['restart']);
  assert.deepEqual(p.iceState('failed', /** @type {number} */ (p.timer())).map((a) => a.type), ['restart']);
  // Up again and down again: it is said again.
  p.iceState('connected', 100000);
  assert.deepEqual(types(p.iceState('failed', 200000)), ['no-relay', 'restart']);
});

test('a network change restarts at once, but one change is one restart', () => {
  const p = connected();
  assert.deepEqual(types(p.networkChanged(1000)), ['restart']);
  assert.deepEqual(p.networkChanged(1000 + DEDUPE_MS - 1), [], 'connection change and online event together');
  assert.deepEqual(types(p.networkChanged(1000 + DEDUPE_MS)), ['restart']);
});

test('a restart while ICE stays connected is no outage and succeeds silently', () => {
  const p = connected();
  p.networkChanged(1000);
  assert.equal(p.recovering, false, 'media still flows on the old pair');
  assert.deepEqual(p.handleTimer(/** @type {number} */ (p.timer())), []);
  assert.equal(p.phase, 'connected');
  assert.equal(p.attempts, 0);
});

test('the other side asks: restart, deduplicated, never escalating', () => {
  const p = connected();
  p.iceState('failed', 1000);
  p.handleTimer(/** @type {number} */ (p.timer()));
  assert.equal(p.attempts, ESCALATE_AFTER);
  const justNow = /** @type {number} */ (p.timer()) - patienceMs(ESCALATE_AFTER);
  assert.deepEqual(p.remoteRequest(justNow + 10), [], 'we restarted a moment ago');
  const later = justNow + DEDUPE_MS;
  assert.deepEqual(types(p.remoteRequest(later)), ['restart'], 'a request does not escalate');
  assert.equal(p.compat, false);
  assert.deepEqual(p.remoteRequest(later + 10), []);
});

test('switching compatibility mode by hand restarts under the new mode', () => {
  const p = connected();
  const actions = p.setCompat(true, 1000);
  assert.deepEqual(types(actions), ['restart']);
  assert.equal(p.compat, true);
});

test('closed is final', () => {
  const p = connected();
  p.iceState('closed', 1000);
  assert.equal(p.phase, 'closed');
  assert.deepEqual(p.iceState('failed', 2000), []);
  assert.deepEqual(p.networkChanged(3000), []);
  assert.deepEqual(p.handleTimer(1e9), []);
  assert.equal(p.timer(), null);
});
