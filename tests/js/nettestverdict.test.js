// The network test's verdict: thresholds and plain words (nettestverdict.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AUDIO_MIN_KBPS,
  VIDEO_MAX_RTT_MS,
  VIDEO_MIN_KBPS,
  median,
  throughputKbps,
  transportOfUrl,
  verdict,
} from '../../src/sprechzimmer/static/js/nettestverdict.js';
import { DICTIONARIES } from '../../src/sprechzimmer/static/js/i18n.js';
import { VERDICT_KEYS } from '../../src/sprechzimmer/static/js/nettestverdict.js';

/** @param {Partial<import('../../src/sprechzimmer/static/js/nettestverdict.js').NetTestResult>} r */
const result = (r) => ({
  relay: true,
  reach: { udp: 'ok', tcp: 'ok', tls: 'ok' },
  measuredOver: 'udp',
  rttMs: 20,
  kbps: 5000,
  ...r,
});

test('all open and fast: video', () => {
  assert.equal(verdict(result({})), 'video');
  assert.equal(verdict(result({ kbps: VIDEO_MIN_KBPS, rttMs: VIDEO_MAX_RTT_MS })), 'video');
});

test('slow or far: audio only; slower still: too slow', () => {
  assert.equal(verdict(result({ kbps: VIDEO_MIN_KBPS - 1 })), 'audio-only');
  assert.equal(verdict(result({ rttMs: VIDEO_MAX_RTT_MS + 1 })), 'audio-only');
  assert.equal(verdict(result({ kbps: AUDIO_MIN_KBPS - 1 })), 'too-slow');
  assert.equal(verdict(result({ rttMs: 5000 })), 'too-slow');
});

test('UDP blocked but TCP or TLS open: compatibility mode, with or without video', () => {
  const reach = { udp: 'failed', tcp: 'failed', tls: 'ok' };
  assert.equal(verdict(result({ reach: /** @type {any} */ (reach), measuredOver: 'tls' })), 'compat');
  assert.equal(verdict(result({ reach: /** @type {any} */ (reach), kbps: 200 })), 'compat-audio');
  assert.equal(verdict(result({ reach: /** @type {any} */ (reach), kbps: null, rttMs: null })), 'compat');
});

test('nothing reaches the relay: blocked; no relay configured: said so', () => {
  const reach = { udp: 'failed', tcp: 'failed', tls: 'not-offered' };
  assert.equal(verdict(result({ reach: /** @type {any} */ (reach), kbps: null, rttMs: null })), 'blocked');
  assert.equal(verdict(result({ relay: false, kbps: null, rttMs: null })), 'no-relay');
  assert.equal(verdict(result({ kbps: null, rttMs: null })), 'unmeasured');
});

test('every verdict has its sentence in both languages', () => {
  for (const key of Object.values(VERDICT_KEYS)) {
    for (const lang of /** @type {const} */ (['de', 'en'])) assert.ok(Object.hasOwn(DICTIONARIES[lang], key), `${lang}:${key}`);
  }
});

test('median and throughput', () => {
  assert.equal(median([]), null);
  assert.equal(median([30, 10, 900]), 30);
  assert.equal(median([10, 20, 30, 40]), 25);
  assert.equal(throughputKbps(125_000, 1000), 1000);
  assert.equal(throughputKbps(0, 1000), null);
  assert.equal(throughputKbps(1000, 0), null);
});

test('which transport a TURN URL tests', () => {
  assert.equal(transportOfUrl('turn:relay.example:3478?transport=udp'), 'udp');
  assert.equal(transportOfUrl('turn:relay.example:3478'), 'udp');
  assert.equal(transportOfUrl('turn:relay.example:3478?transport=tcp'), 'tcp');
  assert.equal(transportOfUrl('turns:relay.example:5349?transport=tcp'), 'tls');
  assert.equal(transportOfUrl('TURNS:relay.example:443'), 'tls');
  assert.equal(transportOfUrl('stun:relay.example:3478'), null);
});
