// The chat's memory, its rate limit and its links (chat.js), without a page.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChatLog, RateLimiter, linkSegments, MAX_CHAT_CHARS, RESEND_MS } from '../../src/sprechzimmer/static/js/chat.js';

test('the rate limiter allows 5 in 5 s and says how long to wait', () => {
  const r = new RateLimiter(5, 5000);
  for (let i = 0; i < 5; i++) assert.equal(r.take(1000 + i), true);
  assert.equal(r.take(1005), false);
  assert.equal(r.waitMs(1005), 4995);
  assert.equal(r.take(5999), false);
  assert.equal(r.take(6000), true, 'the first one left the window');
});

test('compose refuses blank, too long and too fast, with the reason', () => {
  const log = new ChatLog(new RateLimiter(2, 5000));
  assert.deepEqual(log.compose('  \n', 'x', 0), { refused: 'empty' });
  assert.deepEqual(log.compose('a'.repeat(MAX_CHAT_CHARS + 1), 'x', 0), { refused: 'too-long' });
  assert.ok('message' in log.compose('eins', 'a', 0));
  assert.ok('message' in log.compose('zwei', 'b', 1));
  assert.deepEqual(log.compose('drei', 'c', 2), { refused: 'rate' });
  assert.deepEqual(log.entries.map((e) => e.text), ['eins', 'zwei']);
});

test('a message stays in the outbox until acknowledged, then shows delivered', () => {
  const log = new ChatLog();
  const r = log.compose(' Hallo ', 'm1', 0);
  assert.deepEqual(r, { message: { type: 'chat', id: 'm1', text: 'Hallo' } });
  assert.deepEqual(log.outbox, [{ type: 'chat', id: 'm1', text: 'Hallo' }]);
  assert.equal(log.entries[0].delivered, false);
  log.receive({ type: 'chat-ack', id: 'm1' });
  assert.deepEqual(log.outbox, []);
  assert.equal(log.entries[0].delivered, true);
});

test('a message whose ack does not come goes again every RESEND_MS, until acknowledged', () => {
  // The ack can be dropped by a page whose line was down for a moment too short for
  // either page to notice: the sender, whose line never went down, says it again.
  const log = new ChatLog();
  log.compose('Hallo', 'm1', 0);
  assert.deepEqual(log.due(0).map((m) => m.id), ['m1']); // never sent: due at once
  log.sent('m1', 100);
  assert.deepEqual(log.due(100 + RESEND_MS - 1), []);
  assert.deepEqual(log.due(100 + RESEND_MS).map((m) => m.id), ['m1']);
  log.sent('m1', 100 + RESEND_MS);
  assert.deepEqual(log.due(100 + RESEND_MS + 1), []);
  log.receive({ type: 'chat-ack', id: 'm1' });
  assert.deepEqual(log.due(100 + 10 * RESEND_MS), []);
  log.sent('m1', 0); // an ack came: nothing of it is kept
  assert.deepEqual(log.due(10 * RESEND_MS), []);
});

test('the receiver shows an id once, and acknowledges it every time', () => {
  const log = new ChatLog();
  const first = log.receive({ type: 'chat', id: 'p1', text: 'Hi' });
  assert.deepEqual(first, { ack: { type: 'chat-ack', id: 'p1' }, shown: true });
  const again = log.receive({ type: 'chat', id: 'p1', text: 'Hi' });
  assert.deepEqual(again, { ack: { type: 'chat-ack', id: 'p1' }, shown: false });
  assert.equal(log.entries.length, 1);
});

test('unread counts while the panel is closed and clears when it opens', () => {
  const log = new ChatLog();
  log.receive({ type: 'chat', id: 'p1', text: 'a' });
  log.receive({ type: 'chat', id: 'p2', text: 'b' });
  assert.equal(log.unread, 2);
  log.setPanelOpen(true);
  assert.equal(log.unread, 0);
  log.receive({ type: 'chat', id: 'p3', text: 'c' });
  assert.equal(log.unread, 0, 'read as it comes');
});

test('wipe leaves nothing: log, outbox, seen ids, unread', () => {
  const log = new ChatLog();
  log.compose('geheim', 'm1', 0);
  log.receive({ type: 'chat', id: 'p1', text: 'auch geheim' });
  log.wipe();
  assert.deepEqual(log.entries, []);
  assert.deepEqual(log.outbox, []);
  assert.equal(log.unread, 0);
  // The seen ids went too: the same id shows again (a new call, a new log).
  assert.equal(log.receive({ type: 'chat', id: 'p1', text: 'x' }).shown, true);
});

test('linkSegments makes http(s) links and leaves everything else text', () => {
  assert.deepEqual(linkSegments('Siehe https://example.org/a?b=1. Danke'), [
    { text: 'Siehe ' },
    { href: 'https://example.org/a?b=1', text: 'https://example.org/a?b=1' },
    { text: '. Danke' },
  ]);
  assert.deepEqual(linkSegments('javascript:alert(1) data:text/html,x'), [{ text: 'javascript:alert(1) data:text/html,x' }]);
  assert.deepEqual(linkSegments('(http://a.example)'), [{ text: '(' }, { href: 'http://a.example/', text: 'http://a.example' }, { text: ')' }]);
  assert.deepEqual(linkSegments('nur Text'), [{ text: 'nur Text' }]);
});
