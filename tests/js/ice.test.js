// Compatibility mode narrows the server's ICE servers to TURN over TCP/TLS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  compatAvailable,
  compatServers,
  hasTurn,
  iceConfiguration,
  isTcpTurnUrl,
  isTurnUrl,
  offersCompat,
  offersRelay,
} from '../../src/sprechzimmer/static/js/ice.js';

// What the server hands out with a full TURN setup (see turn.py / docs/protocol.md).
const FULL = [
  {
    urls: [
      'stun:turn.example.org:3478',
      'turn:turn.example.org:3478?transport=udp',
      'turn:turn.example.org:3478?transport=tcp',
      'turns:turn.example.org:443?transport=tcp',
    ],
    username: '1700000000:abc',
    credential: 'c2VjcmV0',
  },
];

test('which URLs go over TCP or TLS', () => {
  assert.equal(isTcpTurnUrl('turns:turn.example.org:443?transport=tcp'), true);
  assert.equal(isTcpTurnUrl('turns:turn.example.org:443'), true);
  assert.equal(isTcpTurnUrl('turn:turn.example.org:3478?transport=tcp'), true);
  assert.equal(isTcpTurnUrl('TURN:turn.example.org:3478?Transport=TCP'), true);
  assert.equal(isTcpTurnUrl('turn:turn.example.org:3478'), false, 'plain turn: is UDP');
  assert.equal(isTcpTurnUrl('turn:turn.example.org:3478?transport=udp'), false);
  assert.equal(isTcpTurnUrl('stun:turn.example.org:3478'), false);
  assert.equal(isTcpTurnUrl('stuns:turn.example.org:443'), false);
});

test('TURN is TURN, STUN is not', () => {
  assert.equal(isTurnUrl('turn:x'), true);
  assert.equal(isTurnUrl('turns:x'), true);
  assert.equal(isTurnUrl('stun:x'), false);
  assert.equal(hasTurn(FULL), true);
  assert.equal(hasTurn([{ urls: ['stun:192.0.2.1:3478'] }]), false);
  assert.equal(hasTurn([]), false);
});

test('compat keeps only the TCP/TLS URLs, with their credentials', () => {
  assert.deepEqual(compatServers(FULL), [
    {
      urls: ['turn:turn.example.org:3478?transport=tcp', 'turns:turn.example.org:443?transport=tcp'],
      username: '1700000000:abc',
      credential: 'c2VjcmV0',
    },
  ]);
  assert.equal(compatAvailable(FULL), true);
});

test('servers left without a URL are dropped; UDP-only TURN gives no compat mode', () => {
  const udpOnly = [{ urls: ['turn:turn.example.org:3478?transport=udp'], username: 'u', credential: 'c' }, { urls: ['stun:s:3478'] }];
  assert.deepEqual(compatServers(udpOnly), []);
  assert.equal(compatAvailable(udpOnly), false);
  assert.equal(compatAvailable([]), false);
});

test('configuration: normal, compat, and the server\'s relay policy', () => {
  const normal = iceConfiguration({ servers: FULL, policy: 'all' }, false);
  assert.equal(normal.iceTransportPolicy, 'all');
  assert.deepEqual(normal.iceServers, FULL);
  assert.notEqual(normal.iceServers[0], FULL[0], 'a copy, not our own object');
  assert.notEqual(normal.iceServers[0].urls, FULL[0].urls);

  const compat = iceConfiguration({ servers: FULL, policy: 'all' }, true);
  assert.equal(compat.iceTransportPolicy, 'relay');
  assert.deepEqual(compat.iceServers, compatServers(FULL));

  const relay = iceConfiguration({ servers: FULL, policy: 'relay' }, false);
  assert.equal(relay.iceTransportPolicy, 'relay');
  assert.deepEqual(relay.iceServers, FULL);
});

test('a compat wish without a TCP/TLS relay changes nothing', () => {
  assert.deepEqual(iceConfiguration({ servers: [], policy: 'all' }, true), { iceServers: [], iceTransportPolicy: 'all' });
  const udpOnly = [{ urls: ['turn:t:3478'], username: 'u', credential: 'c' }];
  assert.deepEqual(iceConfiguration({ servers: udpOnly, policy: 'relay' }, true), { iceServers: udpOnly, iceTransportPolicy: 'relay' });
});

test('never a server that was not given', () => {
  for (const compat of [false, true]) {
    for (const servers of [[], FULL]) {
      const urls = iceConfiguration({ servers, policy: 'all' }, compat).iceServers.flatMap((s) => /** @type {string[]} */ (s.urls));
      const given = servers.flatMap((s) => s.urls);
      for (const url of urls) assert.ok(given.includes(url), url);
    }
  }
});

test('what the welcome offers, before any credentials: relay-only and compat availability', () => {
  // `welcome.relay_urls`: TURN URLs only, no credentials (docs/protocol.md).
  const offered = FULL[0].urls.filter(isTurnUrl);
  assert.equal(offersRelay(offered), true);
  assert.equal(offersCompat(offered), true);
  assert.equal(offersRelay(['turn:turn.example.org:3478?transport=udp']), true);
  assert.equal(offersCompat(['turn:turn.example.org:3478?transport=udp']), false, 'UDP only: no compat mode');
  assert.equal(offersRelay([]), false);
  assert.equal(offersCompat([]), false);
  assert.equal(offersRelay(['stun:turn.example.org:3478']), false);
  // The same answers as for the servers of a call that carry these URLs.
  for (const urls of [offered, ['turn:t:3478'], ['turns:t:443'], []]) {
    const servers = urls.length ? [{ urls, username: 'u', credential: 'c' }] : [];
    assert.equal(offersRelay(urls), hasTurn(servers), urls.join());
    assert.equal(offersCompat(urls), compatAvailable(servers), urls.join());
  }
});
