// Escape twice within a second, and only then (quickexit.js, without a page).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DoublePress } from '../../src/sprechzimmer/static/js/quickexit.js';

test('two presses within the window make a pair; slower ones do not', () => {
  const d = new DoublePress(1000);
  assert.equal(d.press(0), false);
  assert.equal(d.press(1001), false, 'too slow: this one is a new first press');
  assert.equal(d.press(2000), true);
});

test('a third press after a pair starts a new pair', () => {
  const d = new DoublePress(1000);
  d.press(0);
  assert.equal(d.press(100), true);
  assert.equal(d.press(200), false);
  assert.equal(d.press(300), true);
});
