// The browser's table of errors and close codes (protocol.js) is the table of
// docs/protocol.md, row by row; tests/pure/test_errors.py checks errors.py the same way.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CLOSE_FORBIDDEN, CLOSE_TAKEN, CLOSE_TIMEOUT, CLOSE_TRY_AGAIN_LATER, ERRORS } from '../../src/sprechzimmer/static/js/protocol.js';

const doc = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8');
const section = doc.slice(doc.indexOf('## Errors and close codes'));
const table = section.slice(0, section.indexOf('\n## ', 1));

/** @returns {Map<string, {fatal: string, close: string}>} */
function documented() {
  const rows = new Map();
  for (const m of table.matchAll(/^\| `([a-z-]+)` \| (yes|no|—) \| ([^|]+) \|/gm)) {
    rows.set(m[1], { fatal: m[2], close: m[3].trim() });
  }
  return rows;
}

test('every documented error is in the browser table with its close code', () => {
  const rows = documented();
  assert.ok(rows.size >= 10);
  assert.deepEqual([...rows.keys()].sort(), Object.keys(ERRORS).sort());
  for (const [code, row] of rows) {
    const ours = ERRORS[code];
    if (row.fatal === 'no') assert.equal(ours.fatal, false, code);
    if (row.fatal === 'yes') assert.equal(ours.close, Number(row.close), code);
  }
});

test('the close codes the page acts on come from that table', () => {
  assert.equal(CLOSE_FORBIDDEN, ERRORS.forbidden.close);
  assert.equal(CLOSE_TAKEN, ERRORS.occupied.close);
  assert.equal(CLOSE_TIMEOUT, ERRORS.timeout.close);
  assert.equal(CLOSE_TRY_AGAIN_LATER, ERRORS['server-busy'].close);
});
