// What the network test found, in plain words (issue 15): which ways to the
// service's own relay are open (TURN over UDP, TCP, TLS), what a loopback
// through the relay carried (round trip, throughput), and what that means for
// the call: video, audio only, compatibility mode, or nothing at all.
//
// Pure: no DOM, no RTCPeerConnection, no clock; node tests it. The thresholds
// are here and nowhere else.

/** @typedef {'ok' | 'failed' | 'not-offered'} Reach */
/** @typedef {'udp' | 'tcp' | 'tls'} Transport */

/**
 * @typedef {object} NetTestResult
 * @property {boolean} relay the deployment offers a TURN relay (the server gave credentials for one)
 * @property {Record<Transport, Reach>} reach whether a relay candidate could be gathered over each
 * @property {Transport | null} measuredOver the transport the loopback went over (null: none measured)
 * @property {number | null} rttMs median round trip of the loopback's pings
 * @property {number | null} kbps throughput of the loopback's burst, kbit/s
 */

/** @typedef {'video' | 'audio-only' | 'compat' | 'compat-audio' | 'too-slow' | 'blocked' | 'no-relay' | 'unmeasured'} Verdict */

/**
 * The video we send needs about this (docs: sendladder's middle rungs, plus
 * audio and overhead), twice over because the relay loopback carries one
 * direction while a call carries both.
 */
export const VIDEO_MIN_KBPS = 800;
/** Opus speech with headroom. */
export const AUDIO_MIN_KBPS = 80;
/** Above this round trip a conversation with video feels laggy; audio copes longer. */
export const VIDEO_MAX_RTT_MS = 400;
/** Above this even speech turns into talking over each other. */
export const AUDIO_MAX_RTT_MS = 1000;

/**
 * What the result means for a call.
 * @param {NetTestResult} r
 * @returns {Verdict}
 */
export function verdict(r) {
  if (!r.relay) return 'no-relay';
  const udp = r.reach.udp === 'ok';
  const stream = r.reach.tcp === 'ok' || r.reach.tls === 'ok';
  if (!udp && !stream) return 'blocked';
  const compat = !udp;
  if (r.kbps === null || r.rttMs === null) return compat ? 'compat' : 'unmeasured';
  if (r.kbps >= VIDEO_MIN_KBPS && r.rttMs <= VIDEO_MAX_RTT_MS) return compat ? 'compat' : 'video';
  if (r.kbps >= AUDIO_MIN_KBPS && r.rttMs <= AUDIO_MAX_RTT_MS) return compat ? 'compat-audio' : 'audio-only';
  return 'too-slow';
}

/** The sentence (i18n key) for each verdict. */
export const VERDICT_KEYS = /** @type {const} */ ({
  video: 'nettest.video',
  'audio-only': 'nettest.audioOnly',
  compat: 'nettest.compat',
  'compat-audio': 'nettest.compatAudio',
  'too-slow': 'nettest.tooSlow',
  blocked: 'nettest.blocked',
  'no-relay': 'nettest.noRelay',
  unmeasured: 'nettest.unmeasured',
});

/**
 * The median of a few samples (a ping stuck behind the burst must not decide).
 * @param {readonly number[]} samples
 * @returns {number | null}
 */
export function median(samples) {
  if (samples.length === 0) return null;
  const s = [...samples].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/**
 * kbit/s of `bytes` carried in `ms`.
 * @param {number} bytes
 * @param {number} ms
 * @returns {number | null}
 */
export function throughputKbps(bytes, ms) {
  if (!(ms > 0) || !(bytes > 0)) return null;
  return Math.round((bytes * 8) / ms);
}

/**
 * Which of the offered TURN URLs test which transport. `turns:` is TLS (over
 * TCP); `turn:` without a transport is UDP first, as browsers try it.
 * @param {string} url
 * @returns {Transport | null}
 */
export function transportOfUrl(url) {
  const lower = url.toLowerCase();
  const t = /[?&]transport=(\w+)/.exec(lower)?.[1] ?? null;
  if (lower.startsWith('turns:')) return t === null || t === 'tcp' ? 'tls' : null;
  if (lower.startsWith('turn:')) return t === 'tcp' ? 'tcp' : t === null || t === 'udp' ? 'udp' : null;
  return null;
}
