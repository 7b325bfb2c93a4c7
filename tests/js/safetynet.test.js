// When the therapist sees the client's safety net (safetynet.js, without a page).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SafetyNet, SAFETY_AFTER_MS } from '../../src/sprechzimmer/static/js/safetynet.js';

const DETAILS = { type: /** @type {const} */ ('safety'), phone: '0171 1234567', location: 'Zuhause' };

test('the message trims and sends blank as null', () => {
  assert.deepEqual(SafetyNet.message('  0171 1 ', ' '), { type: 'safety', phone: '0171 1', location: null });
});

test('hidden while the client is heard; shown once it has been silent long enough', () => {
  const s = new SafetyNet();
  s.received(DETAILS);
  assert.equal(s.timer(), null, 'never heard: no call to miss yet');
  assert.equal(s.shown(60_000), null);
  s.heard(1000);
  assert.equal(s.shown(1500), null);
  assert.equal(s.timer(), 1000 + SAFETY_AFTER_MS);
  assert.equal(s.shown(1000 + SAFETY_AFTER_MS - 1), null, 'a short silence shows nothing');
  assert.deepEqual(s.shown(1000 + SAFETY_AFTER_MS), { phone: '0171 1234567', location: 'Zuhause' });
  s.heard(9500);
  assert.equal(s.shown(9500), null, 'heard again: hidden again');
});

test('a quick exit shows at once and stays', () => {
  const s = new SafetyNet();
  s.received(DETAILS);
  s.quickExit();
  assert.deepEqual(s.shown(0), { phone: '0171 1234567', location: 'Zuhause' });
  s.heard(1);
  assert.notEqual(s.shown(1), null);
});

test('nothing given, or taken back, or wiped: nothing to show', () => {
  const s = new SafetyNet();
  s.heard(0);
  assert.equal(s.shown(SAFETY_AFTER_MS), null);
  s.received(DETAILS);
  s.received({ type: 'safety', phone: null, location: null });
  assert.equal(s.shown(SAFETY_AFTER_MS), null);
  s.received(DETAILS);
  s.quickExit();
  s.wipe();
  assert.equal(s.details, null);
  assert.equal(s.shown(SAFETY_AFTER_MS), null);
});
