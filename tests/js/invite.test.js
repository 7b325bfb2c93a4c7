import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseInviteFragment, loadInvite, saveInvite } from '../../src/sprechzimmer/static/js/invite.js';

const S = 'aabbccddeeff00112233445566778899';
const T = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJ-_01234';

class MemoryStorage {
  /** @type {Map<string, string>} */
  map = new Map();
  /** @param {string} k */
  getItem(k) {
    return this.map.get(k) ?? null;
  }
  /** @param {string} k @param {string} v */
  setItem(k, v) {
    this.map.set(k, v);
  }
}

test('a well-formed fragment is read', () => {
  assert.equal(T.length, 43);
  assert.deepEqual(parseInviteFragment(`#s=${S}&t=${T}`), { session: S, token: T });
  assert.deepEqual(parseInviteFragment(`t=${T}&s=${S}`), { session: S, token: T });
  assert.deepEqual(parseInviteFragment(`#s=${S.toUpperCase()}&t=${T}`), { session: S, token: T });
});

test('malformed fragments are refused', () => {
  for (const hash of ['', '#', `#s=${S}`, `#t=${T}`, `#s=${S.slice(1)}&t=${T}`, `#s=${S}&t=${T.slice(1)}`, `#s=${S}&t=${T}!`, `#s=${S}x&t=${T}`, '#s=&t=']) {
    assert.equal(parseInviteFragment(hash), null, hash);
  }
});

test('a reload of the tab finds the invite and the resume secret', () => {
  const storage = new MemoryStorage();
  assert.deepEqual(loadInvite(`#s=${S}&t=${T}`, storage), { session: S, token: T });
  saveInvite(storage, { session: S, token: T, resume: 'secret' });
  assert.deepEqual(loadInvite('', storage), { session: S, token: T, resume: 'secret' });
  // Same link opened again in this tab: the secret still belongs to it.
  assert.deepEqual(loadInvite(`#s=${S}&t=${T}`, storage), { session: S, token: T, resume: 'secret' });
});

test('a different link forgets the old resume secret', () => {
  const storage = new MemoryStorage();
  saveInvite(storage, { session: S, token: T, resume: 'secret' });
  const other = 'f'.repeat(32);
  assert.deepEqual(loadInvite(`#s=${other}&t=${T}`, storage), { session: other, token: T });
  assert.deepEqual(loadInvite('', storage), { session: other, token: T });
});

test('no link and nothing stored gives null; garbage in storage too', () => {
  const storage = new MemoryStorage();
  assert.equal(loadInvite('', storage), null);
  storage.setItem('sprechzimmer.invite', '{not json');
  assert.equal(loadInvite('', storage), null);
  storage.setItem('sprechzimmer.invite', JSON.stringify({ session: 'x', token: T }));
  assert.equal(loadInvite('', storage), null);
});

test('a reload keeps a real resume ticket (longer than the old secret)', () => {
  const storage = new MemoryStorage();
  const ticket = `r1.c.${'n'.repeat(22)}.1796165206.1796251606.${'m'.repeat(43)}`;
  assert.ok(ticket.length > 64);
  saveInvite(storage, { session: S, token: T, resume: ticket });
  assert.deepEqual(loadInvite('', storage), { session: S, token: T, resume: ticket });
});
