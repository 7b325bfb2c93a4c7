// Which page stays silent for a knock (undisturbed.js): a page hears the
// others' call beats and knows whether a call runs elsewhere right now.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FRESH_MS, callElsewhere, hear } from '../../src/sprechzimmer/static/js/undisturbed.js';

test('a page in a call keeps the others quiet while its beats come', () => {
  const heard = new Map();
  assert.equal(callElsewhere(heard, 1000), false);
  hear(heard, { type: 'call-beat', page: 'a', inCall: true }, 1000);
  assert.equal(callElsewhere(heard, 1000), true);
  assert.equal(callElsewhere(heard, 1000 + FRESH_MS - 1), true);
  // Another beat keeps it going.
  hear(heard, { type: 'call-beat', page: 'a', inCall: true }, 1000 + FRESH_MS - 1);
  assert.equal(callElsewhere(heard, 1000 + FRESH_MS + 10), true);
});

test('a call that ended, or a tab that went silent, no longer counts', () => {
  const heard = new Map();
  hear(heard, { type: 'call-beat', page: 'a', inCall: true }, 0);
  hear(heard, { type: 'call-beat', page: 'b', inCall: true }, 0);
  hear(heard, { type: 'call-beat', page: 'a', inCall: false }, 10);
  assert.equal(callElsewhere(heard, 10), true, 'b still in a call');
  // b's tab crashed: no "ended", its beats stop.
  assert.equal(callElsewhere(heard, FRESH_MS), false);
});

test('anything else on the channel is ignored', () => {
  const heard = new Map();
  for (const junk of [null, 'call-beat', 42, { type: 'other', page: 'x', inCall: true },
    { type: 'call-beat', page: 7, inCall: true }]) {
    hear(heard, junk, 0);
  }
  assert.equal(heard.size, 0);
});
