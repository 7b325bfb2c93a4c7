// The encoded-transform path: which one a browser takes, and the test switch
// that forces one (e2ee-debug.js), which must never fall back quietly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDebugSwitches, testHooks } from '../../src/sprechzimmer/static/js/e2ee-debug.js';
import { TransformUnavailableError, chooseTransform } from '../../src/sprechzimmer/static/js/frame-encryption.js';

const CHROMIUM_156 = { worker: true, scriptTransform: true, encodedStreams: true };
const CHROMIUM_140 = { worker: true, scriptTransform: false, encodedStreams: true };
const FIREFOX_OR_SAFARI = { worker: true, scriptTransform: true, encodedStreams: false };
const NEITHER = { worker: true, scriptTransform: false, encodedStreams: false };

test('force switches: each word forces its path, nothing else does', () => {
  assert.equal(parseDebugSwitches('force-script-transform').forceTransform, 'script-transform');
  assert.equal(parseDebugSwitches('force-encoded-streams').forceTransform, 'encoded-streams');
  assert.equal(parseDebugSwitches(' force-encoded-streams , wrong-receive-key').forceTransform, 'encoded-streams');
  assert.equal(parseDebugSwitches('wrong-receive-key, force-encoded-streams').wrongReceiveKey, true);
  for (const value of [null, '', 'force', 'encoded-streams', 'force-encoded-stream', 'FORCE-ENCODED-STREAMS', 'force-script-transform-x']) {
    assert.equal(parseDebugSwitches(value).forceTransform, null, String(value));
  }
});

test('force switches: both paths at once is an error, not a choice', () => {
  assert.throws(() => parseDebugSwitches('force-script-transform,force-encoded-streams'), /exclude each other/);
});

test('force switches reach FrameEncryption as a hook, absent without them', () => {
  assert.deepEqual(testHooks(parseDebugSwitches('force-script-transform')), { forceTransform: 'script-transform' });
  assert.equal(testHooks(parseDebugSwitches(null)).forceTransform, undefined);
  assert.equal('forceTransform' in testHooks(parseDebugSwitches('no-receive-transform')), false);
});

test('without a switch: the standard path first, the old one where it is all there is', () => {
  assert.equal(chooseTransform(CHROMIUM_156), 'script-transform');
  assert.equal(chooseTransform(CHROMIUM_140), 'encoded-streams');
  assert.equal(chooseTransform(FIREFOX_OR_SAFARI), 'script-transform');
  assert.equal(chooseTransform(NEITHER), null);
  assert.equal(chooseTransform({ ...CHROMIUM_156, worker: false }), null);
});

test('a forced path is taken where the browser has it, also against the preference', () => {
  assert.equal(chooseTransform(CHROMIUM_156, 'encoded-streams'), 'encoded-streams');
  assert.equal(chooseTransform(CHROMIUM_156, 'script-transform'), 'script-transform');
  assert.equal(chooseTransform(CHROMIUM_140, 'encoded-streams'), 'encoded-streams');
});

test('a forced path the browser lacks throws instead of taking the other one or none', () => {
  assert.throws(() => chooseTransform(FIREFOX_OR_SAFARI, 'encoded-streams'), TransformUnavailableError);
  assert.throws(() => chooseTransform(CHROMIUM_140, 'script-transform'), /force-script-transform/);
  assert.throws(() => chooseTransform(NEITHER, 'script-transform'), TransformUnavailableError);
  assert.throws(() => chooseTransform({ ...CHROMIUM_156, worker: false }, 'encoded-streams'), TransformUnavailableError);
});
