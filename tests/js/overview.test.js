// What the dashboard works out from the session list (overview.js): waiting
// time by the server's clock, the title badge, who is newly waiting, which
// actions a session offers, the billing month picker's choices.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { actionsFor, newlyWaiting, pageTitle, recentMonths, waitedMinutes } from '../../src/sprechzimmer/static/js/overview.js';

test('waiting time is measured on the server clock, whole minutes, never negative', () => {
  const since = '2026-11-03T10:00:00Z';
  assert.equal(waitedMinutes(since, '2026-11-03T10:00:59Z', 0), 0);
  assert.equal(waitedMinutes(since, '2026-11-03T10:03:10Z', 0), 3);
  // The list came 2 minutes ago by the browser's steady clock: it counts on.
  assert.equal(waitedMinutes(since, '2026-11-03T10:03:10Z', 120_000), 5);
  // A knock a moment after the server's "now" (two processes): 0, not -1.
  assert.equal(waitedMinutes('2026-11-03T10:00:02Z', '2026-11-03T10:00:00Z', 0), 0);
  assert.equal(waitedMinutes(null, '2026-11-03T10:00:00Z', 0), null);
  assert.equal(waitedMinutes('nonsense', '2026-11-03T10:00:00Z', 0), null);
});

test('the tab title carries the number of waiting clients', () => {
  assert.equal(pageTitle(0, 'Übersicht', 'Sprechzimmer'), 'Übersicht – Sprechzimmer');
  assert.equal(pageTitle(1, 'Übersicht', 'Sprechzimmer'), '(1) Übersicht – Sprechzimmer');
  assert.equal(pageTitle(2, 'Overview', 'Sprechzimmer'), '(2) Overview – Sprechzimmer');
});

test('only a newly waiting client counts as new, and nobody at the first look', () => {
  const list = [
    { session_id: 'a', waiting: true },
    { session_id: 'b', waiting: true },
    { session_id: 'c', waiting: false },
  ];
  assert.deepEqual(newlyWaiting(null, list), []);
  assert.deepEqual(newlyWaiting(new Set(['a']), list), ['b']);
  assert.deepEqual(newlyWaiting(new Set(['a', 'b']), list), []);
});

test('a session offers only what works in its state', () => {
  assert.deepEqual(actionsFor('open'), ['join', 'links', 'close', 'erase']);
  assert.deepEqual(actionsFor('expired'), ['links', 'close', 'erase']);
  assert.deepEqual(actionsFor('closed'), ['erase']);
  assert.deepEqual(actionsFor('revoked'), ['erase']);
});

test('the month picker offers recent months, newest first, across a new year', () => {
  assert.deepEqual(recentMonths(new Date(2027, 1, 15), 4), ['2027-02', '2027-01', '2026-12', '2026-11']);
  assert.equal(recentMonths(new Date(2026, 10, 30), 25).length, 25);
  assert.equal(recentMonths(new Date(2026, 10, 30), 25).at(-1), '2024-11');
});
