// The golden vectors of tests/vectors/protocol/ against the browser's codecs.
//
// tests/pure/test_protocol_vectors.py loads the same files for the server's codec
// (see the folder's README for the format). Here: what the browser sends,
// encodeClientMessage writes exactly as the vector says (or refuses); what
// the server sends, decodeServerMessage takes or refuses; the three data
// channels between the browsers go through peerreports.js, e2ee.js and chat.js.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  decodeServerMessage,
  encodeClientMessage,
  utf8Length,
  ProtocolError,
  MAX_FRAME_BYTES,
  MAX_MESSAGE_BYTES_LIMIT,
  MAX_SERVER_FRAME_BYTES,
} from '../../src/sprechzimmer/static/js/protocol.js';
import { decodeQualityPeerMessage } from '../../src/sprechzimmer/static/js/peerreports.js';
import { decodePeerMessage, encodePeerMessage, PeerMessageError } from '../../src/sprechzimmer/static/js/e2ee.js';
import { decodeSessionMessage, encodeSessionMessage, SessionMessageError } from '../../src/sprechzimmer/static/js/chat.js';
import { decodeGroupMessage, encodeGroupMessage, GroupKeyError } from '../../src/sprechzimmer/static/js/groupkeys.js';

/**
 * @typedef {object} Case
 * @property {string} name
 * @property {boolean} valid
 * @property {any} message
 * @property {any} [decoded]
 * @property {boolean} [tolerated]
 * @property {number} [bytes]
 * @property {string} [why]
 */

/**
 * The vector with every {"$repeat": unit, "times": n, "then": tail} written out.
 * @param {any} value
 * @returns {any}
 */
function expand(value) {
  if (Array.isArray(value)) return value.map(expand);
  if (value !== null && typeof value === 'object') {
    if ('$repeat' in value) return value.$repeat.repeat(value.times) + (value.then ?? '');
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expand(v)]));
  }
  return value;
}

/** @param {string} name @returns {Case[]} */
function load(name) {
  const cases = JSON.parse(readFileSync(new URL(`../vectors/protocol/${name}.json`, import.meta.url), 'utf8'));
  return cases.map((/** @type {Case} */ c) => ({ ...c, message: expand(c.message) }));
}

/** The frame of a case: a string case is the text itself. @param {Case} c */
function frame(c) {
  return typeof c.message === 'string' ? c.message : JSON.stringify(c.message);
}

/** @param {Case} c */
function expected(c) {
  return 'decoded' in c ? c.decoded : c.message;
}

// Browser to server: the browser encodes. Text cases (duplicate keys, no JSON)
// are for the server's decoder only: the encoder takes objects.
for (const c of load('client-to-server')) {
  if (typeof c.message === 'string') continue;
  test(`client to server: ${c.name}`, () => {
    if (!c.valid) {
      assert.throws(() => encodeClientMessage(c.message), ProtocolError);
      return;
    }
    const text = encodeClientMessage(c.message);
    if (c.bytes !== undefined) assert.equal(utf8Length(text), c.bytes);
    assert.deepEqual(JSON.parse(text), c.message);
  });
}

// Server to browser: the browser decodes.
for (const c of load('server-to-client')) {
  test(`server to client: ${c.name}`, () => {
    const text = frame(c);
    if (c.bytes !== undefined) assert.equal(utf8Length(text), c.bytes);
    if (c.valid) assert.deepEqual(decodeServerMessage(text), expected(c));
    else assert.throws(() => decodeServerMessage(text), ProtocolError);
  });
}

// The quality channel: a message that does not fit is ignored (null).
for (const c of load('quality-channel')) {
  test(`quality channel: ${c.name}`, () => {
    const decoded = decodeQualityPeerMessage(frame(c));
    assert.deepEqual(decoded, c.valid ? expected(c) : null);
  });
}

// The key agreement's channel: a message that does not fit fails the agreement.
for (const c of load('e2ee-channel')) {
  test(`e2ee channel: ${c.name}`, () => {
    if (!c.valid) {
      assert.throws(() => decodePeerMessage(frame(c)), PeerMessageError);
      return;
    }
    const decoded = decodePeerMessage(frame(c));
    assert.deepEqual(decoded, expected(c));
    if (!c.tolerated) assert.deepEqual(JSON.parse(encodePeerMessage(decoded)), c.message);
  });
}

// The session channel (chat, safety net): a message that does not fit is
// ignored (null), and the sender's encoder refuses to write it.
for (const c of load('session-channel')) {
  test(`session channel: ${c.name}`, () => {
    if (c.bytes !== undefined) assert.equal(utf8Length(frame(c)), c.bytes);
    const decoded = decodeSessionMessage(frame(c));
    assert.deepEqual(decoded, c.valid ? expected(c) : null);
    if (typeof c.message === 'string') return;
    if (!c.valid) assert.throws(() => encodeSessionMessage(c.message), SessionMessageError);
    else if (!c.tolerated) assert.deepEqual(JSON.parse(encodeSessionMessage(c.message)), c.message);
  });
}

for (const c of load('group-keys')) {
  test(`group keys: ${c.name}`, () => {
    assert.deepEqual(decodeGroupMessage(frame(c)), c.valid ? expected(c) : null);
    if (typeof c.message === 'string') return;
    if (!c.valid) assert.throws(() => encodeGroupMessage(c.message), GroupKeyError);
    else assert.deepEqual(JSON.parse(encodeGroupMessage(c.message)), c.message);
  });
}

test('the frame limits are the documented ones', () => {
  const doc = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8');
  /** @param {number} n */
  const written = (n) => n.toLocaleString('en-US').replaceAll(',', ' ');
  assert.match(doc, /`SPRECHZIMMER_MAX_MESSAGE_BYTES`/);
  for (const n of [MAX_FRAME_BYTES, MAX_MESSAGE_BYTES_LIMIT, MAX_SERVER_FRAME_BYTES]) assert.ok(doc.includes(written(n)), written(n));
});
