// The privacy pause: who holds what, and what the page says (pause.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PrivacyPause, clockTime } from '../../src/sprechzimmer/static/js/pause.js';

const T0 = Date.UTC(2026, 11, 6, 13, 32, 10);

test('our own pause holds our media and says since when; one tap resumes', () => {
  const p = new PrivacyPause();
  assert.equal(p.held, false);
  assert.equal(p.banner(), null);
  assert.equal(p.toggle(T0), true);
  assert.equal(p.held, true);
  assert.deepEqual(p.banner(), { key: 'pause.ownSince', since: T0 });
  assert.equal(p.toggle(T0 + 60_000), false);
  assert.equal(p.held, false);
  assert.equal(p.banner(), null);
});

test("the other side's pause holds ours too, from when we learned it, until it resumes", () => {
  const p = new PrivacyPause();
  p.peerSaid(true, T0);
  assert.equal(p.held, true);
  assert.equal(p.own, false);
  // The same state again (after a welcome or admitted) keeps the first time.
  p.peerSaid(true, T0 + 5000);
  assert.deepEqual(p.banner(), { key: 'pause.peerSince', since: T0 });
  p.peerSaid(false, T0 + 9000);
  assert.equal(p.held, false);
  assert.equal(p.banner(), null);
});

test('both paused: our own pause is shown, and ending it leaves the other one holding', () => {
  const p = new PrivacyPause();
  p.peerSaid(true, T0);
  p.toggle(T0 + 1000);
  assert.deepEqual(p.banner(), { key: 'pause.ownSince', since: T0 + 1000 });
  p.toggle(T0 + 2000);
  assert.equal(p.held, true, 'the other side still pauses');
  assert.deepEqual(p.banner(), { key: 'pause.peerSince', since: T0 });
});

test("a peer that leaves takes its pause along; the end of the call resets everything", () => {
  const p = new PrivacyPause();
  p.peerSaid(true, T0);
  p.peerGone();
  assert.equal(p.held, false);
  p.toggle(T0);
  p.peerSaid(true, T0);
  p.reset();
  assert.equal(p.held, false);
  assert.equal(p.banner(), null);
});

test('the time is the viewer’s wall clock, hours and minutes', () => {
  assert.equal(clockTime(T0, 'de', 'Europe/Berlin'), '14:32');
  assert.equal(clockTime(T0, 'en', 'UTC'), '13:32');
});
