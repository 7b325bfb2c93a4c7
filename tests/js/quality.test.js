import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  QualityPolicy,
  DOWN_AFTER,
  UP_AFTER,
  PROBE_AFTER,
  PROBE_MAX,
  PROBE_GRACE,
  gradeReceive,
} from '../../src/sprechzimmer/static/js/sendladder.js';
import { receiverReportFor, decodeQualityPeerMessage } from '../../src/sprechzimmer/static/js/peerreports.js';

const CAPS = { maxKbps: 2500, relayMaxKbps: 1000 };

/** @param {string} name */
function trace(name) {
  return JSON.parse(readFileSync(new URL(`./fixtures/quality/${name}.json`, import.meta.url), 'utf8'));
}

/**
 * Run a trace; return the profile after each sample and the list of
 * distinct profiles in order (consecutive repeats collapsed).
 * @param {any[]} samples
 * @param {QualityPolicy} [policy]
 */
function run(samples, policy = new QualityPolicy(CAPS)) {
  const each = samples.map((s) => policy.sample(s));
  const names = each.map((d) => d.profile.name);
  const steps = names.filter((n, i) => i === 0 || n !== names[i - 1]);
  return { each, names, steps, policy };
}

test('good network: stays hd at the operator cap the whole time', () => {
  const { each, steps } = run(trace('good'));
  assert.deepEqual(steps, ['hd']);
  for (const d of each) {
    assert.equal(d.maxKbps, 2500);
    assert.equal(d.send, 'good');
  }
});

test('slow decline: steps down one rung at a time, ends audio-only', () => {
  const { names, steps } = run(trace('slow-decline'));
  assert.deepEqual(steps, ['hd', 'sd', 'low', 'minimal', 'audio-only']);
  // Never a step back up on the way down.
  assert.equal(names.at(-1), 'audio-only');
});

test('sudden drop: down within DOWN_AFTER samples, straight to audio-only below the video floor', () => {
  const samples = trace('sudden-drop');
  const { names, steps, each } = run(samples);
  assert.deepEqual(steps, ['hd', 'audio-only']);
  const firstBad = samples.findIndex((s) => s.availableKbps < 120);
  assert.equal(names.indexOf('audio-only'), firstBad + DOWN_AFTER - 1);
  assert.equal(each.at(-1)?.maxKbps, 0);
  assert.equal(each.at(-1)?.profile.video, false);
  assert.equal(each.at(-1)?.send, 'poor');
});

test('recovery: back up one rung per UP_AFTER good samples', () => {
  const samples = trace('recovery');
  const { names, steps } = run(samples);
  assert.deepEqual(steps, ['hd', 'audio-only', 'minimal', 'low', 'sd', 'hd']);
  const firstGood = samples.findIndex((s) => s.availableKbps > 2000);
  const ups = ['minimal', 'low', 'sd'].map((n) => names.indexOf(n));
  assert.deepEqual(ups, [1, 2, 3].map((k) => firstGood + k * UP_AFTER - 1));
  assert.equal(names.lastIndexOf('sd') + 1, firstGood + 4 * UP_AFTER - 1);
});

test('flapping: alternating good and bad samples never change the profile', () => {
  const { steps } = run(trace('flapping'));
  assert.deepEqual(steps, ['hd']);
});

test('flapping at a lower rung does not step up either', () => {
  const policy = new QualityPolicy(CAPS);
  run(trace('sudden-drop'), policy); // audio-only now
  const { steps } = run(trace('flapping').map((s) => ({ ...s, now: s.now + 100000 })), policy);
  assert.deepEqual(steps, ['audio-only']);
});

test('relayed pair: the relay cap holds, whatever the estimate', () => {
  const { each } = run(trace('relayed'));
  for (const d of each) assert.equal(d.maxKbps, 1000);
  assert.equal(each[0].profile.name, 'hd');
});

test('a lower rung never exceeds the cap either', () => {
  const policy = new QualityPolicy({ maxKbps: 400, relayMaxKbps: 200 });
  const { each } = run(trace('slow-decline'), policy);
  for (const d of each) assert.ok(d.maxKbps <= 400);
});

test('the receiver report limits the sender even with a high estimate', () => {
  const policy = new QualityPolicy(CAPS);
  const names = [];
  for (let i = 0; i < 4; i++) {
    const now = i * 2000;
    policy.receiverReport({ now, maxKbps: 200, lossPct: 1, freezeCount: 0 });
    names.push(policy.sample({ now, availableKbps: 3000, lossPct: 0, rttMs: 30 }).profile.name);
  }
  assert.deepEqual(names, ['hd', 'minimal', 'minimal', 'minimal']);
});

test('a stale receiver report is ignored', () => {
  const policy = new QualityPolicy(CAPS);
  policy.receiverReport({ now: 0, maxKbps: 100, lossPct: 50, freezeCount: 9 });
  for (let i = 0; i < 3; i++) {
    assert.equal(policy.sample({ now: 20000 + i * 2000, availableKbps: 3000, lossPct: 0, rttMs: 30 }).profile.name, 'hd');
  }
});

test('lossy link without a bitrate reason steps down one rung at a time', () => {
  const policy = new QualityPolicy(CAPS);
  const names = [];
  for (let i = 0; i < 6; i++) {
    names.push(policy.sample({ now: i * 2000, availableKbps: 3000, lossPct: 0, remoteLossPct: 15, rttMs: 30 }).profile.name);
  }
  assert.deepEqual(names, ['hd', 'sd', 'sd', 'low', 'low', 'minimal']);
});

test('audio-only with a low estimate tries one rung up after a clean while, backs off when it fails', () => {
  const policy = new QualityPolicy(CAPS);
  let now = 0;
  const step = (/** @type {number} */ kbps, /** @type {number} */ loss = 0) => {
    now += 2000;
    return policy.sample({ now, availableKbps: kbps, lossPct: 0, remoteLossPct: loss, rttMs: 40 }).profile.name;
  };
  step(60);
  assert.equal(step(60), 'audio-only');
  const names = [];
  for (let i = 0; i < PROBE_AFTER; i++) names.push(step(60));
  assert.equal(names.indexOf('minimal'), PROBE_AFTER - 1, `a try after ${PROBE_AFTER} clean samples`);
  // Loss during the try: back at once, and the next try waits twice as long.
  assert.equal(step(60, 20), 'audio-only');
  const again = [];
  for (let i = 0; i < 2 * PROBE_AFTER; i++) again.push(step(60));
  assert.equal(again.indexOf('minimal'), 2 * PROBE_AFTER - 1);
  // No loss, but the estimate does not grow: the try lasts PROBE_GRACE
  // samples, then back at once, and the wait doubles again.
  const tried = [];
  for (let i = 0; i < PROBE_GRACE - 1; i++) tried.push(step(60));
  assert.deepEqual(tried, Array(PROBE_GRACE - 1).fill('minimal'));
  assert.equal(step(60), 'audio-only');
  const third = [];
  for (let i = 0; i < 4 * PROBE_AFTER; i++) third.push(step(60));
  assert.equal(third.indexOf('minimal'), 4 * PROBE_AFTER - 1);
});

test('the wait between tries never exceeds PROBE_MAX samples', () => {
  const policy = new QualityPolicy(CAPS);
  let now = 0;
  /** @type {string[]} */
  const names = [];
  for (let i = 0; i < 400; i++) {
    now += 2000;
    names.push(policy.sample({ now, availableKbps: 60, lossPct: 0, remoteLossPct: 0, rttMs: 40 }).profile.name);
  }
  const tries = names.flatMap((n, i) => (n === 'minimal' && names[i - 1] === 'audio-only' ? [i] : []));
  const gaps = tries.slice(1).map((t, i) => t - tries[i] - PROBE_GRACE);
  assert.ok(gaps.length >= 4, String(tries));
  assert.equal(Math.max(...gaps), PROBE_MAX);
  assert.ok(names.slice(2).every((n) => n === 'audio-only' || n === 'minimal'));
});

/**
 * A browser-like estimate: what the link carries, but while we send less than
 * it the estimate only reaches a bit above what we send (app-limited), the way
 * the browser's estimator stalls below a small picture or audio alone.
 * @param {number} linkKbps
 * @param {import('../../src/sprechzimmer/static/js/sendladder.js').Profile} profile
 */
function appLimited(linkKbps, profile) {
  const sending = 40 + (profile.video ? (profile.maxKbps ?? 2500) * 0.7 : 0);
  return Math.min(linkKbps, Math.round(sending * 1.5 + 10));
}

/**
 * Run the policy against a link whose rate changes; the estimate follows
 * what the policy lets it send.
 * @param {QualityPolicy} policy
 * @param {number} linkKbps
 * @param {number} count
 * @param {{now: number}} clock
 */
function onLink(policy, linkKbps, count, clock) {
  /** @type {string[]} */
  const names = [];
  for (let i = 0; i < count; i++) {
    clock.now += 2000;
    const availableKbps = appLimited(linkKbps, policy.profile);
    names.push(policy.sample({ now: clock.now, availableKbps, lossPct: 0, remoteLossPct: 0, rttMs: 40 }).profile.name);
  }
  return names;
}

/** Samples from lifting the limit until sd, for a policy that tried and failed as often as it will. */
const RECOVER_TO_SD = PROBE_MAX + 2 * (PROBE_AFTER + PROBE_GRACE);

test('recovery from minimal: an app-limited estimate does not hold the sender down', () => {
  const policy = new QualityPolicy(CAPS);
  const clock = { now: 0 };
  const limited = onLink(policy, 200, 60, clock);
  assert.equal(limited.at(-1), 'minimal');
  assert.ok(!limited.slice(10).includes('sd'), String(limited));
  const lifted = onLink(policy, 5000, RECOVER_TO_SD, clock);
  const sd = lifted.indexOf('sd');
  // The tries under the limit failed and backed off: the first one after
  // the lift may wait up to PROBE_MAX samples, then one try per rung.
  assert.ok(sd >= 0 && sd < RECOVER_TO_SD, String(lifted));
  assert.equal(lifted.at(-1), 'sd', 'and it stays there');
});

test('recovery from low: a timed try reaches sd; without it the estimate would never allow it', () => {
  const policy = new QualityPolicy(CAPS);
  const clock = { now: 0 };
  assert.equal(onLink(policy, 330, 40, clock).at(-1), 'low');
  const lifted = onLink(policy, 5000, PROBE_AFTER + PROBE_GRACE + 1, clock);
  assert.equal(lifted.at(-1), 'sd', String(lifted));
});

test('recovery from audio-only after long failed tries: sd within RECOVER_TO_SD samples', () => {
  const policy = new QualityPolicy(CAPS);
  const clock = { now: 0 };
  const limited = onLink(policy, 90, 300, clock);
  assert.equal(limited[limited.length - PROBE_GRACE - 1], 'audio-only');
  const lifted = onLink(policy, 5000, RECOVER_TO_SD, clock);
  assert.ok(lifted.indexOf('sd') >= 0, String(lifted));
  assert.ok(lifted.indexOf('minimal') <= PROBE_MAX, String(lifted));
});

test('a try that fails by loss at low goes back to low, not further', () => {
  const policy = new QualityPolicy(CAPS);
  const clock = { now: 0 };
  onLink(policy, 330, 40, clock);
  assert.equal(policy.profile.name, 'low');
  const names = onLink(policy, 330, PROBE_AFTER + PROBE_GRACE, clock);
  assert.ok(names.includes('sd'), String(names));
  clock.now += 2000;
  const d = policy.sample({ now: clock.now, availableKbps: 200, lossPct: 0, remoteLossPct: 15, rttMs: 40 });
  assert.equal(d.profile.name, 'low');
});

test('manual audio-only overrides the ladder and is lifted again', () => {
  const policy = new QualityPolicy(CAPS);
  policy.manualAudioOnly = true;
  const d = policy.sample({ now: 0, availableKbps: 3000, lossPct: 0, rttMs: 20 });
  assert.equal(d.profile.name, 'audio-only');
  assert.equal(d.maxKbps, 0);
  policy.manualAudioOnly = false;
  assert.equal(policy.sample({ now: 2000, availableKbps: 3000, lossPct: 0, rttMs: 20 }).profile.name, 'hd');
});

test('receiver report: no limit on a clean link, 70 % of the arriving rate on a bad one', () => {
  assert.deepEqual(receiverReportFor({ now: 0, availableKbps: null, lossPct: 0.5, rttMs: 20, inKbps: 900, freezeCount: 0 }), {
    type: 'receiver-report',
    maxKbps: null,
    lossPct: 0.5,
    freezeCount: 0,
  });
  assert.deepEqual(receiverReportFor({ now: 0, availableKbps: null, lossPct: 12.34, rttMs: 20, inKbps: 300, freezeCount: 1 }), {
    type: 'receiver-report',
    maxKbps: 210,
    lossPct: 12.3,
    freezeCount: 1,
  });
});

test('peer messages are checked', () => {
  assert.deepEqual(decodeQualityPeerMessage('{"type":"receiver-report","maxKbps":null,"lossPct":1,"freezeCount":0}'), {
    type: 'receiver-report',
    maxKbps: null,
    lossPct: 1,
    freezeCount: 0,
  });
  assert.deepEqual(decodeQualityPeerMessage('{"type":"video-paused","paused":true}'), { type: 'video-paused', paused: true, manual: false });
  for (const bad of [
    '{"type":"receiver-report","maxKbps":-1,"lossPct":1,"freezeCount":0}',
    '{"type":"receiver-report","maxKbps":1,"lossPct":101,"freezeCount":0}',
    '{"type":"video-paused","paused":"yes"}',
    '{"type":"other"}',
    'not json',
    '[]',
    'x'.repeat(600),
  ]) {
    assert.equal(decodeQualityPeerMessage(bad), null, bad);
  }
  assert.equal(decodeQualityPeerMessage(new ArrayBuffer(4)), null);
});

test('receive grade', () => {
  assert.equal(gradeReceive({ now: 0, availableKbps: null, lossPct: 0, rttMs: 10, fps: 20 }), 'good');
  assert.equal(gradeReceive({ now: 0, availableKbps: null, lossPct: 4, rttMs: 10, fps: 20 }), 'fair');
  assert.equal(gradeReceive({ now: 0, availableKbps: null, lossPct: 0, rttMs: 10, fps: 2 }), 'poor');
});

test('the 30 s summary stays within the protocol bounds and codes', async () => {
  const { QualitySummary, SUMMARY_INTERVAL_MS } = await import('../../src/sprechzimmer/static/js/qualitysummary.js');
  const { encodeClientMessage } = await import('../../src/sprechzimmer/static/js/protocol.js');
  const summary = new QualitySummary(0);
  assert.equal(summary.due(SUMMARY_INTERVAL_MS), false, 'nothing measured yet');
  const base = { availableKbps: 900, remoteLossPct: 0, framesDecoded: 40 };
  summary.add({ ...base, now: 2000, outKbps: 800, inKbps: 700, lossPct: 1, rttMs: 40, jitterMs: 3, fps: 20, height: 480.4, localType: 'host', remoteType: 'relay' });
  summary.add({ ...base, now: 4000, outKbps: 1e9, inKbps: null, lossPct: 3, rttMs: 60, jitterMs: 5, fps: 500, height: 99999, localType: 'weird', remoteType: null });
  summary.error('ice-restart');
  summary.error('ice-restart');
  summary.error('no-such-code');
  summary.error('decrypt-failed');
  assert.equal(summary.due(SUMMARY_INTERVAL_MS - 1), false);
  assert.equal(summary.due(SUMMARY_INTERVAL_MS), true);
  const m = summary.take(SUMMARY_INTERVAL_MS);
  assert.deepEqual(m, {
    type: 'quality',
    bitrate_out_kbps: 100000,
    bitrate_in_kbps: 700,
    loss_pct: 2,
    rtt_ms: 50,
    jitter_ms: 4,
    fps: 120,
    height: 4320,
    local_candidate: 'unknown',
    remote_candidate: 'unknown',
    errors: 'ice-restart,decrypt-failed',
  });
  assert.doesNotThrow(() => encodeClientMessage(m));
  assert.equal(summary.due(SUMMARY_INTERVAL_MS * 2), false, 'a fresh interval with no samples');
});

test('Opus fmtp gets in-band FEC and DTX, other codecs stay as they are', async () => {
  const { withOpusResilience } = await import('../../src/sprechzimmer/static/js/opus.js');
  const sdp = [
    'v=0',
    'm=audio 9 UDP/TLS/RTP/SAVPF 111 63',
    'a=rtpmap:111 opus/48000/2',
    'a=fmtp:111 minptime=10;useinbandfec=0',
    'a=rtpmap:63 red/48000/2',
    'a=fmtp:63 111/111',
    'm=video 9 UDP/TLS/RTP/SAVPF 96',
    'a=rtpmap:96 VP8/90000',
    '',
  ].join('\r\n');
  const out = withOpusResilience(sdp).split('\r\n');
  assert.equal(out[3], 'a=fmtp:111 minptime=10;useinbandfec=1;usedtx=1');
  assert.equal(out[5], 'a=fmtp:63 111/111');
  assert.equal(out.length, sdp.split('\r\n').length);
  assert.equal(withOpusResilience(withOpusResilience(sdp)), withOpusResilience(sdp));
});

test('a shared screen keeps its resolution on every rung and pays with the frame rate', async () => {
  const { LADDER: ladder, forContent, CONTENT_FRAMERATE } = await import('../../src/sprechzimmer/static/js/sendladder.js');
  let previous = Infinity;
  for (const rung of ladder) {
    const content = forContent(rung);
    assert.equal(content.scale, 1, rung.name);
    assert.equal(content.maxKbps, rung.maxKbps, 'the link decides the bitrate');
    assert.equal(content.video, rung.video, 'audio-only stays audio-only');
    assert.equal(content.maxFramerate, CONTENT_FRAMERATE[rung.name]);
    assert.ok(/** @type {number} */ (content.maxFramerate) <= previous, 'lower rungs, fewer frames');
    previous = /** @type {number} */ (content.maxFramerate);
  }
  // Below hd a camera's rung shrinks the picture; the screen's does not.
  assert.ok(ladder[2].scale > 1 && forContent(ladder[2]).scale === 1);
});
