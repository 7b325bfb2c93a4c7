// The mid-call decision for one of our tracks (trackrecovery.js): what to
// try, in which order, and what the person is told. Pure: no browser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TrackRecovery } from '../../src/sprechzimmer/static/js/trackrecovery.js';

test('an ended camera is got again: the same device first, then the default, and swapped in', () => {
  const r = new TrackRecovery('video');
  assert.deepEqual(r.handle({ type: 'ended', deviceId: 'cam-usb' }), [{ type: 'acquire', deviceIds: ['cam-usb', undefined], stopOld: false }]);
  assert.equal(r.state, 'reacquiring');
  assert.deepEqual(r.handle({ type: 'acquired', deviceId: 'cam-built-in' }), [{ type: 'swap' }]);
  assert.equal(r.state, 'live');
});

test('a second end or a device choice during an attempt is ignored, not raced', () => {
  const r = new TrackRecovery('audio');
  r.handle({ type: 'ended', deviceId: 'mic' });
  assert.deepEqual(r.handle({ type: 'ended', deviceId: 'mic' }), []);
  assert.deepEqual(r.handle({ type: 'switch', deviceId: 'other' }), []);
  assert.equal(r.state, 'reacquiring');
});

test('a failed attempt drops the track, says so in the words for that kind, and waits for the person', () => {
  const video = new TrackRecovery('video');
  video.handle({ type: 'ended' });
  assert.deepEqual(video.handle({ type: 'failed' }), [{ type: 'drop' }, { type: 'notice', key: 'midcall.cameraLost' }]);
  assert.equal(video.state, 'lost');
  // Nothing more happens by itself: another end is no news.
  assert.deepEqual(video.handle({ type: 'ended' }), []);
  const audio = new TrackRecovery('audio');
  audio.handle({ type: 'ended' });
  assert.deepEqual(audio.handle({ type: 'failed' }), [{ type: 'drop' }, { type: 'notice', key: 'midcall.micLost' }]);
});

test('turning a lost device on again tries the last one, then the default', () => {
  const r = new TrackRecovery('video');
  r.handle({ type: 'ended', deviceId: 'cam-1' });
  r.handle({ type: 'failed' });
  assert.deepEqual(r.handle({ type: 'retry' }), [{ type: 'acquire', deviceIds: ['cam-1', undefined], stopOld: false }]);
  assert.deepEqual(r.handle({ type: 'acquired', deviceId: 'cam-1' }), [{ type: 'swap' }]);
});

test('a switch stops the old camera first and falls back to it', () => {
  const r = new TrackRecovery('video');
  assert.deepEqual(r.handle({ type: 'switch', deviceId: 'back', currentId: 'front' }), [
    { type: 'acquire', deviceIds: ['back', 'front', undefined], stopOld: true },
  ]);
  assert.deepEqual(r.handle({ type: 'acquired', deviceId: 'front' }), [{ type: 'swap' }]);
  assert.deepEqual(TrackRecovery.switchOutcome('back', 'front'), [{ type: 'notice', key: 'midcall.switchFailed' }]);
  assert.deepEqual(TrackRecovery.switchOutcome('back', 'back'), []);
  // The one now in use is the one to return to after the next switch.
  assert.deepEqual(r.handle({ type: 'switch', deviceId: 'back' }), [{ type: 'acquire', deviceIds: ['back', 'front', undefined], stopOld: true }]);
});

test('every transition is logged', () => {
  /** @type {string[]} */
  const lines = [];
  const r = new TrackRecovery('audio', (l) => lines.push(l));
  r.handle({ type: 'ended' });
  r.handle({ type: 'acquired' });
  assert.deepEqual(lines, ['audio track: live -> reacquiring', 'audio track: reacquiring -> live']);
});
