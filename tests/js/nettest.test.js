// The network test's parts that need no browser: which servers each transport
// is tested with, and how the page gets and keeps its credentials.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serversFor } from '../../src/sprechzimmer/static/js/nettest.js';
import { askNetTestServers } from '../../src/sprechzimmer/static/js/nettestpanel.js';

const RELAY = {
  urls: ['stun:relay.example:3478', 'turn:relay.example:3478?transport=udp', 'turn:relay.example:3478?transport=tcp', 'turns:relay.example:5349?transport=tcp'],
  username: '1764986400:abc',
  credential: 'c2VjcmV0',
};

test('each transport is tested with its own TURN URLs only, credentials kept', () => {
  assert.deepEqual(serversFor([RELAY], 'udp'), [{ urls: ['turn:relay.example:3478?transport=udp'], username: RELAY.username, credential: RELAY.credential }]);
  assert.deepEqual(serversFor([RELAY], 'tls')[0].urls, ['turns:relay.example:5349?transport=tcp']);
  // A STUN-only server (no relay) tests nothing.
  assert.deepEqual(serversFor([{ urls: ['stun:relay.example:3478'] }], 'udp'), []);
});

/** A signaling client that answers `nettest` as the server does, and counts the asks. */
function fakeSignaling(answer = true) {
  /** @type {Set<(m: any) => void>} */
  const handlers = new Set();
  const s = {
    asked: 0,
    /** @param {string} type @param {(m: any) => void} fn */
    on(type, fn) {
      assert.equal(type, 'nettest-servers');
      handlers.add(fn);
      return () => handlers.delete(fn);
    },
    /** @param {{type: string}} m */
    send(m) {
      assert.deepEqual(m, { type: 'nettest' });
      s.asked += 1;
      if (answer) queueMicrotask(() => [...handlers].forEach((h) => h({ type: 'nettest-servers', ice_servers: [RELAY], ttl: 120 })));
      return true;
    },
  };
  return s;
}

test('the credentials are asked for once and kept while they have life left', async () => {
  const s = fakeSignaling();
  const now = 1_000_000;
  assert.deepEqual(await askNetTestServers(/** @type {any} */ (s), now), [RELAY]);
  assert.deepEqual(await askNetTestServers(/** @type {any} */ (s), now + 60_000), [RELAY]);
  assert.equal(s.asked, 1, 'kept: the server gives one set per 20 s');
  // 30 s before they expire, fresh ones are asked for.
  await askNetTestServers(/** @type {any} */ (s), now + 90_000);
  assert.equal(s.asked, 2);
});

test('a socket that is not open gets no credentials, at once', async () => {
  const s = { ...fakeSignaling(false), send: () => false };
  assert.equal(await askNetTestServers(/** @type {any} */ (s), 10_000_000_000), null);
});
