// Group frame keys (groupkeys.js): the golden vectors (computed by an independent
// implementation, tests/pure/test_group_vectors.py), the keyring's renewals, and
// the promise of a renewal, shown with real SFrame frames: a member who left cannot
// decrypt what follows, one who joined cannot decrypt what came before.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  ACK_TIMEOUT_MS,
  GRACE_MS,
  GroupKeyError,
  GroupKeyring,
  groupSas,
  importPairKey,
  kidOf,
  memberOfKid,
  pairKeyBytes,
  unwrapSenderKey,
  wrapSenderKey,
} from '../../src/sprechzimmer/static/js/groupkeys.js';
import { fromBase64, generateEphemeral } from '../../src/sprechzimmer/static/js/e2ee.js';
import { SFrameContext } from '../../src/sprechzimmer/static/js/sframe.js';

const V = JSON.parse(readFileSync(new URL('../vectors/group/group-keys.json', import.meta.url), 'utf8'));

/** @param {Uint8Array} b */
const hex = (b) => Buffer.from(b).toString('hex');

async function vectorMembers() {
  /** @type {Map<number, {privateKey: CryptoKey, pub: Uint8Array}>} */
  const out = new Map();
  for (const m of V.members) {
    const privateKey = await crypto.subtle.importKey('jwk', m.jwk, { name: 'ECDH', namedCurve: 'P-256' }, false, ['deriveBits']);
    out.set(m.index, { privateKey, pub: fromBase64(m.pub) });
  }
  return out;
}

test('the golden vectors: pair keys from either side, sender keys, group codes, KIDs', async () => {
  const members = await vectorMembers();
  const own = (/** @type {number} */ i) => ({ index: i, pub: /** @type {Uint8Array} */ (members.get(i)?.pub) });
  for (const v of V.pair_keys) {
    const [i, j] = v.pair;
    assert.equal(hex(await pairKeyBytes(/** @type {any} */ (members.get(i)).privateKey, own(i), own(j))), v.key);
    assert.equal(hex(await pairKeyBytes(/** @type {any} */ (members.get(j)).privateKey, own(j), own(i))), v.key);
  }
  for (const v of V.sender_keys) {
    const m = v.message;
    const key = await importPairKey(await pairKeyBytes(/** @type {any} */ (members.get(m.from)).privateKey, own(m.from), own(m.to)));
    const made = await wrapSenderKey(key, { epoch: m.epoch, from: m.from, to: m.to, baseKey: Buffer.from(v.base_key, 'hex') }, Buffer.from(v.iv, 'hex'));
    assert.deepEqual(made, m);
    const theirs = await importPairKey(await pairKeyBytes(/** @type {any} */ (members.get(m.to)).privateKey, own(m.to), own(m.from)));
    assert.equal(hex(await unwrapSenderKey(theirs, m, m.to)), v.base_key);
  }
  for (const v of V.group_codes) {
    assert.equal(await groupSas(v.members.map(own)), v.code);
    assert.equal(await groupSas([...v.members].reverse().map(own)), v.code, 'order does not matter');
  }
  for (const v of V.kids) {
    assert.equal(kidOf(v.epoch, v.index), v.kid);
    assert.deepEqual(memberOfKid(v.kid), { epoch: v.epoch, index: v.index });
  }
});

test('a sender key opens only for its own pair, epoch, direction and receiver', async () => {
  const members = await vectorMembers();
  const own = (/** @type {number} */ i) => ({ index: i, pub: /** @type {Uint8Array} */ (members.get(i)?.pub) });
  const m = V.sender_keys[0].message; // from 1 to 0
  const k10 = await importPairKey(await pairKeyBytes(/** @type {any} */ (members.get(0)).privateKey, own(0), own(1)));
  const k20 = await importPairKey(await pairKeyBytes(/** @type {any} */ (members.get(0)).privateKey, own(0), own(2)));
  await assert.rejects(unwrapSenderKey(k20, { ...m, from: 2 }, 0), GroupKeyError, 'another pair');
  await assert.rejects(unwrapSenderKey(k10, { ...m, epoch: m.epoch + 1 }, 0), GroupKeyError, 'replayed for another epoch');
  await assert.rejects(unwrapSenderKey(k10, { ...m, to: 2 }, 2), GroupKeyError, 'redirected');
  await assert.rejects(unwrapSenderKey(k10, m, 2), /another member/);
  const sealed = fromBase64(m.sealed);
  sealed[0] ^= 1;
  await assert.rejects(unwrapSenderKey(k10, { ...m, sealed: Buffer.from(sealed).toString('base64') }, 0), GroupKeyError);
});

test('the group code changes with any member key and needs two distinct members', async () => {
  const a = await generateEphemeral();
  const b = await generateEphemeral();
  const c = await generateEphemeral();
  const code = await groupSas([{ index: 0, pub: a.pub }, { index: 1, pub: b.pub }, { index: 2, pub: c.pub }]);
  assert.match(code, /^\d{3} \d{3}$/);
  const swapped = await groupSas([{ index: 0, pub: a.pub }, { index: 1, pub: c.pub }, { index: 2, pub: b.pub }]);
  assert.notEqual(code, swapped, 'a substituted key shows');
  await assert.rejects(groupSas([{ index: 0, pub: a.pub }]), GroupKeyError);
  await assert.rejects(groupSas([{ index: 1, pub: a.pub }, { index: 1, pub: b.pub }]), GroupKeyError);
  assert.throws(() => kidOf(0, 9), GroupKeyError, 'nine members: indices 0..8');
});

test('the keyring: a join renews, every member acknowledges, then the new key is used', () => {
  const ring = new GroupKeyring(0);
  assert.deepEqual(ring.membership([0, 1, 2], 1, 0), [
    { type: 'code', members: [0, 1, 2] },
    { type: 'make-key', epoch: 1 },
    { type: 'send-key', epoch: 1, to: 1 },
    { type: 'send-key', epoch: 1, to: 2 },
  ]);
  assert.deepEqual(ring.received(1, 1, 10), [{ type: 'install', kid: kidOf(1, 1) }, { type: 'ack', epoch: 1, to: 1 }]);
  assert.deepEqual(ring.received(1, 1, 11), [{ type: 'ack', epoch: 1, to: 1 }], 'a repeat is acknowledged, installed once');
  assert.deepEqual(ring.acknowledged(1, 1, 20), []);
  assert.deepEqual(ring.acknowledged(2, 1, 30), [{ type: 'use', kid: kidOf(1, 0) }]);
  // A fourth member joins: a new epoch, keys for all four, the code changes.
  const joined = ring.membership([0, 1, 2, 3], 2, 1000);
  assert.deepEqual(joined[0], { type: 'code', members: [0, 1, 2, 3] });
  assert.deepEqual(joined.filter((a) => a.type === 'send-key').map((a) => /** @type {any} */ (a).to), [1, 2, 3]);
  assert.equal(ring.sendingEpoch, 1, 'still the old key until all acknowledged');
  // Member 1's new key: its old one stays for the grace window, then goes.
  ring.received(1, 2, 1100);
  assert.deepEqual(ring.receiveKids, [kidOf(1, 1), kidOf(2, 1)]);
  // Member 3 never acknowledges: after the timeout the new key is used anyway.
  ring.acknowledged(1, 2, 1200);
  ring.acknowledged(2, 2, 1200);
  assert.deepEqual(ring.tick(1000 + ACK_TIMEOUT_MS - 1), []);
  assert.deepEqual(ring.tick(1000 + ACK_TIMEOUT_MS), [{ type: 'use', kid: kidOf(2, 0) }]);
  assert.deepEqual(ring.tick(1100 + GRACE_MS), [{ type: 'remove', kid: kidOf(1, 1) }]);
  assert.deepEqual(ring.receiveKids, [kidOf(2, 1)]);
  // An old announcement changes nothing; a stranger's key is not installed.
  assert.deepEqual(ring.membership([0, 1], 1, 20000), []);
  assert.deepEqual(ring.received(5, 2, 20000), []);
});

test('the keyring: a member who leaves loses its keys at once and gets no new one', () => {
  const ring = new GroupKeyring(1);
  ring.membership([0, 1, 2], 4, 0);
  ring.received(0, 4, 1);
  ring.received(2, 4, 1);
  const left = ring.membership([0, 1], 5, 100);
  assert.deepEqual(left.slice(0, 3), [{ type: 'remove', kid: kidOf(4, 2) }, { type: 'code', members: [0, 1] }, { type: 'make-key', epoch: 5 }]);
  assert.deepEqual(left.filter((a) => a.type === 'send-key'), [{ type: 'send-key', epoch: 5, to: 0 }]);
  assert.throws(() => ring.membership([0, 2], 6, 200), /without ourselves/);
  // Alone with nobody to wait for: the new key is used at once.
  const solo = new GroupKeyring(0);
  assert.deepEqual(solo.membership([0], 1, 0).at(-1), { type: 'use', kid: kidOf(1, 0) });
});

/**
 * Keys as a driver would hold them: every member's SFrame context with the
 * receive keys the keyring told it to install.
 */
test('with real frames: the leaver cannot read the next epoch, the joiner not the last one', async () => {
  const key = () => crypto.getRandomValues(new Uint8Array(16));
  const frame = new TextEncoder().encode('ein Bild');
  // Epoch 1: members 0, 1, 2. Member 0 sends under its epoch-1 key.
  const send1 = key();
  const sender = new SFrameContext();
  await sender.addKey(kidOf(1, 0), send1);
  const leaver = new SFrameContext(); // member 2: got epoch 1's key, leaves before epoch 2
  await leaver.addKey(kidOf(1, 0), send1);
  const before = await sender.encrypt(kidOf(1, 0), frame);
  assert.deepEqual((await leaver.decrypt(before)).plaintext, frame);
  // Epoch 2: member 2 left, member 3 joined. The keyring sends the new key to 1 and 3 only.
  const ring = new GroupKeyring(0);
  ring.membership([0, 1, 2], 1, 0);
  const renewal = ring.membership([0, 1, 3], 2, 1000);
  const recipients = renewal.filter((a) => a.type === 'send-key').map((a) => /** @type {any} */ (a).to);
  assert.deepEqual(recipients, [1, 3]);
  const send2 = key();
  await sender.addKey(kidOf(2, 0), send2);
  const joiner = new SFrameContext(); // member 3: only what it was sent
  await joiner.addKey(kidOf(2, 0), send2);
  const after = await sender.encrypt(kidOf(2, 0), frame);
  assert.deepEqual((await joiner.decrypt(after)).plaintext, frame, 'the joiner reads the new epoch');
  await assert.rejects(leaver.decrypt(after), 'the leaver has no key for what follows');
  await assert.rejects(joiner.decrypt(before), 'the joiner has no key for what came before');
  // Even a leaver that guesses the KID and reuses its old key fails the tag.
  const forged = new SFrameContext();
  await forged.addKey(kidOf(2, 0), send1);
  await assert.rejects(forged.decrypt(after));
});
