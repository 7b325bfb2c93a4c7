// The group grid's shape (groupview.js gridFor): as large a tile as the stage allows.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { gridFor } from '../../src/sprechzimmer/static/js/groupview.js';

test('one tile fills the stage', () => {
  assert.deepEqual(gridFor(1, 1280, 600), { cols: 1, rows: 1 });
  assert.deepEqual(gridFor(0, 1280, 600), { cols: 1, rows: 1 });
});

test('a phone held upright stacks, a wide screen puts side by side', () => {
  assert.deepEqual(gridFor(2, 390, 560), { cols: 1, rows: 2 });
  assert.deepEqual(gridFor(2, 1280, 600), { cols: 2, rows: 1 });
  // Four: two by two on both, the larger tile (four in a row would be thin strips).
  assert.deepEqual(gridFor(4, 390, 560), { cols: 2, rows: 2 });
  assert.deepEqual(gridFor(4, 1280, 600), { cols: 2, rows: 2 });
});

test('eight others: every tile placed, none smaller than another layout would give', () => {
  for (const [w, h] of [
    [390, 560],
    [1280, 600],
    [1920, 900],
    [800, 800],
  ]) {
    const { cols, rows } = gridFor(8, w, h);
    assert.ok(cols * rows >= 8, `${w}x${h}`);
    const size = Math.min(w / cols, ((h / rows) * 4) / 3);
    for (let c = 1; c <= 8; c++) {
      const r = Math.ceil(8 / c);
      assert.ok(Math.min(w / c, ((h / r) * 4) / 3) <= size + 1e-9, `${w}x${h}: ${c} columns would be larger`);
    }
  }
});

test('a stage not laid out yet gives one column', () => {
  assert.deepEqual(gridFor(3, 0, 0), { cols: 1, rows: 1 });
});
