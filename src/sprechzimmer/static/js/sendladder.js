// The send ladder: what our outgoing video may cost, decided from stats
// samples (ours and the other side's receiver reports): a profile on a fixed
// ladder, with hysteresis. Also the grades of both directions.
//
// Pure module: no DOM, no RTCPeerConnection, no clock (time comes in with
// each sample), so node tests it on recorded-style traces. The page reads
// getStats (stats.js), feeds samples in and applies the profile it gets back
// with RTCRtpSender.setParameters (peer.js).
//
// Must never raise the bitrate above the operator's caps: `max_bitrate_kbps`,
// and `relay_max_bitrate_kbps` while the selected pair is relayed.


/** @typedef {'hd' | 'sd' | 'low' | 'minimal' | 'audio-only'} ProfileName */
/** @typedef {'good' | 'fair' | 'poor'} Grade */

/**
 * @typedef {object} Profile
 * @property {ProfileName} name
 * @property {number | null} maxKbps video bitrate of this rung (null: the operator's cap)
 * @property {number} scale scaleResolutionDownBy
 * @property {number | null} maxFramerate null: what the camera gives
 * @property {boolean} video false: the video encoding is paused (active=false)
 * @property {number} needKbps what the link must carry for this rung to be good
 */

/** Below this available bitrate no video is worth sending (audio keeps ~40 kbit/s). */
export const VIDEO_FLOOR_KBPS = 120;

/** The ladder, best first. `needKbps` is the floor below which the rung is too much. */
/** @type {readonly Readonly<Profile>[]} */
export const LADDER = Object.freeze([
  Object.freeze({ name: 'hd', maxKbps: null, scale: 1, maxFramerate: null, video: true, needKbps: 900 }),
  Object.freeze({ name: 'sd', maxKbps: 600, scale: 2, maxFramerate: null, video: true, needKbps: 450 }),
  Object.freeze({ name: 'low', maxKbps: 300, scale: 4, maxFramerate: 15, video: true, needKbps: 230 }),
  Object.freeze({ name: 'minimal', maxKbps: 150, scale: 4, maxFramerate: 8, video: true, needKbps: VIDEO_FLOOR_KBPS }),
  Object.freeze({ name: 'audio-only', maxKbps: 0, scale: 4, maxFramerate: 8, video: false, needKbps: 0 }),
]);

/**
 * A shared screen or window is content, not motion: text must stay legible,
 * and a slide may change once a second. On each rung it keeps the full
 * resolution and pays with the frame rate instead (the browser's
 * `maintain-resolution`, which `contentHint = 'detail'` asks for). The
 * bitrate of the rung and audio-only stay as they are: the link decides
 * what can go, the content only how it is spent.
 */
export const CONTENT_FRAMERATE = Object.freeze({ hd: 15, sd: 8, low: 4, minimal: 2, 'audio-only': 2 });

/**
 * The rung as it applies to a shared screen (see CONTENT_FRAMERATE).
 * @param {Readonly<Profile>} profile
 * @returns {Readonly<Profile>}
 */
export function forContent(profile) {
  return Object.freeze({ ...profile, scale: 1, maxFramerate: CONTENT_FRAMERATE[profile.name] });
}

/** Bad samples in a row before stepping down one rung. */
export const DOWN_AFTER = 2;
/** Good samples in a row before stepping up one rung (and again for the next). */
export const UP_AFTER = 5;
/**
 * Clean samples in a row on a rung from PROBE_FROM down (low, minimal,
 * audio-only), while the estimate does not allow the rung above, before we
 * try one rung up anyway: a sender that sends audio only, or a small picture
 * the encoder fills with less than its cap, never sees its estimate grow
 * (the browser's estimator does not probe beyond what we let it send).
 * Doubles after each failed try, up to PROBE_MAX; back to PROBE_AFTER after a
 * try that held or any step up. With a sample every 2 s: a first try after
 * 10 s, at worst one every 80 s.
 */
export const PROBE_AFTER = 5;
export const PROBE_MAX = 40;
/** Index of the best rung from which timed tries start (`low`). */
export const PROBE_FROM = 2;
/**
 * Samples of a try. Before its last one only loss, delay or freezes count as
 * bad; at its last one the estimate must also fit the rung tried. Either way
 * a failed try goes back at once to the rung it started from.
 */
export const PROBE_GRACE = 3;
/** Packet loss (percent, either direction) that makes a sample bad. */
export const BAD_LOSS_PCT = 8;
/** Packet loss at or below which a sample may count as good. */
export const GOOD_LOSS_PCT = 2;
/** Round-trip time that makes a sample bad. */
export const BAD_RTT_MS = 600;
/** New freezes of the remote's video the receiver reported since its last report. */
export const BAD_FREEZES = 2;
/** Receiver reports older than this are ignored. */
export const FEEDBACK_TTL_MS = 10000;

/**
 * One sample of our side, every ~2 s. Any number may be null when the browser
 * does not measure it.
 * @typedef {object} QualitySample
 * @property {number} now ms, monotonic
 * @property {number | null} availableKbps availableOutgoingBitrate of the selected pair
 * @property {number | null} lossPct loss of what we receive, percent, over the interval
 * @property {number | null} [remoteLossPct] loss of what we send (remote-inbound-rtp), percent
 * @property {number | null} rttMs
 * @property {number | null} [jitterMs]
 * @property {number | null} [framesDecoded] delta over the interval
 * @property {number | null} [framesDropped] delta
 * @property {number | null} [freezeCount] delta
 * @property {number | null} [height] of the received video
 * @property {number | null} [fps] of the received video
 * @property {boolean} [relayed] the selected pair uses a relay candidate
 */

/**
 * What the other side says it can take of our video (data channel
 * `receiver-report`).
 * @typedef {object} ReceiverReport
 * @property {number} now when it arrived, ms, monotonic
 * @property {number | null} maxKbps
 * @property {number | null} lossPct
 * @property {number | null} freezeCount new freezes since its last report
 */

/**
 * @typedef {object} Caps
 * @property {number} maxKbps `admitted.max_bitrate_kbps`
 * @property {number} relayMaxKbps `admitted.relay_max_bitrate_kbps`
 */

/**
 * @typedef {object} Decision
 * @property {Readonly<Profile>} profile
 * @property {number} maxKbps the video bitrate to apply (0 for audio-only)
 * @property {boolean} changed the profile or the bitrate changed with this sample
 * @property {Grade} send how our sending direction looks
 * @property {Grade} receive how our receiving direction looks
 */

/** A number the browser measured (null, undefined and NaN are not). @param {number | null | undefined} v */
export function known(v) {
  return typeof v === 'number' && Number.isFinite(v);
}

/**
 * The ladder with hysteresis. Feed it one sample at a time; it answers with
 * the profile to use now.
 */
export class QualityPolicy {
  /** @type {Caps} */
  #caps;
  #index = 0;
  #bad = 0;
  #good = 0;
  #clean = 0;
  /** the estimate when the current run of clean samples began */
  /** @type {number | null} */
  #cleanFrom = null;
  #probeAfter = PROBE_AFTER;
  /** samples left in the grace of a try; 0: none running */
  #grace = 0;
  /** @type {ReceiverReport | null} */
  #feedback = null;
  #manualAudioOnly = false;
  #lastKbps = -1;
  /** @type {(text: string) => void} */
  #log;

  /**
   * @param {Caps} caps
   * @param {(text: string) => void} [log]
   */
  constructor(caps, log) {
    this.#caps = { ...caps };
    this.#log = log ?? (() => {});
  }

  /** @returns {Readonly<Profile>} */
  get profile() {
    return this.#manualAudioOnly ? LADDER[LADDER.length - 1] : LADDER[this.#index];
  }

  /** The automatic choice, whatever the manual switch says. */
  get automatic() {
    return LADDER[this.#index];
  }

  /** @param {boolean} on the person chose audio only */
  set manualAudioOnly(on) {
    this.#manualAudioOnly = on;
  }

  get manualAudioOnly() {
    return this.#manualAudioOnly;
  }

  /** @param {ReceiverReport} report */
  receiverReport(report) {
    this.#feedback = report;
  }

  /**
   * The operator cap that holds now.
   * @param {boolean} relayed
   */
  cap(relayed) {
    return relayed ? Math.min(this.#caps.relayMaxKbps, this.#caps.maxKbps) : this.#caps.maxKbps;
  }

  /**
   * The rung the link can carry by bitrate alone: the best rung whose need
   * fits in what the estimator and the receiver allow.
   * @param {number | null} kbps
   * @returns {number}
   */
  #fitIndex(kbps) {
    if (kbps === null) return 0;
    for (let i = 0; i < LADDER.length; i++) if (kbps >= LADDER[i].needKbps) return i;
    return LADDER.length - 1;
  }

  /**
   * @param {QualitySample} s
   * @returns {Decision}
   */
  sample(s) {
    const feedback = this.#feedback && s.now - this.#feedback.now <= FEEDBACK_TTL_MS ? this.#feedback : null;
    // One report counts once: its freezes are not repeated on later samples.
    const freezes = feedback?.freezeCount ?? 0;
    if (feedback) this.#feedback = { ...feedback, freezeCount: 0 };
    /** @type {number[]} */
    const limits = [];
    if (known(s.availableKbps)) limits.push(/** @type {number} */ (s.availableKbps));
    if (feedback && known(feedback.maxKbps)) limits.push(/** @type {number} */ (feedback.maxKbps));
    const kbps = limits.length ? Math.min(...limits) : null;
    const sendLoss = Math.max(
      known(s.remoteLossPct) ? /** @type {number} */ (s.remoteLossPct) : 0,
      feedback && known(feedback.lossPct) ? /** @type {number} */ (feedback.lossPct) : 0,
    );
    const rtt = known(s.rttMs) ? /** @type {number} */ (s.rttMs) : 0;

    const fit = this.#fitIndex(kbps);
    const lossy = sendLoss >= BAD_LOSS_PCT || rtt >= BAD_RTT_MS || freezes >= BAD_FREEZES;
    const probing = this.#grace > 0;
    if (probing) this.#grace -= 1;
    // The last sample of a try: now the estimate must fit the rung tried.
    const verdict = probing && this.#grace === 0;
    // Bad: this rung does not fit, or the link shows trouble. Good: the
    // rung above would fit and the link is clean.
    const bad = lossy || (fit > this.#index && (!probing || verdict));
    const good = !lossy && fit < this.#index && sendLoss <= GOOD_LOSS_PCT;
    const before = this.#index;

    if (bad) {
      this.#good = 0;
      this.#clean = 0;
      this.#bad += 1;
      if (probing) {
        // The try failed: back at once to the rung it started from (the
        // ordinary steps take it further down if need be), and wait longer
        // for the next.
        this.#probeAfter = Math.min(PROBE_MAX, this.#probeAfter * 2);
        this.#grace = 0;
        this.#index = Math.min(LADDER.length - 1, this.#index + 1);
        this.#bad = 0;
      } else if (this.#bad >= DOWN_AFTER) {
        // A sudden drop goes straight to the rung that fits; trouble without
        // a bitrate reason goes one rung down.
        const target = fit > this.#index ? fit : this.#index + 1;
        this.#index = Math.min(LADDER.length - 1, target);
        this.#bad = 0;
      }
    } else if (good) {
      this.#bad = 0;
      this.#clean = 0;
      this.#good += 1;
      if (this.#good >= UP_AFTER) {
        this.#index -= 1;
        this.#good = 0;
        this.#probeAfter = PROBE_AFTER;
      }
    } else {
      // Neither: the current rung is right. Both counters start again, so
      // that alternating samples never add up to a step.
      this.#bad = 0;
      this.#good = 0;
      // Only from low, minimal and audio-only: there we send too little for
      // the estimate to grow by itself; from sd the browser's own probing
      // has room enough.
      // A falling estimate tells us enough: the count starts again when it
      // drops by a tenth from where the clean run began.
      if (this.#clean > 0 && kbps !== null && this.#cleanFrom !== null && kbps < this.#cleanFrom * 0.9) this.#clean = 0;
      if (this.#index >= PROBE_FROM && this.#index > 0 && !probing && sendLoss <= GOOD_LOSS_PCT) {
        if (this.#clean === 0) this.#cleanFrom = kbps;
        this.#clean += 1;
        if (this.#clean >= this.#probeAfter) {
          this.#index -= 1;
          this.#clean = 0;
          this.#grace = PROBE_GRACE;
        }
      } else {
        this.#clean = 0;
      }
    }
    // A try that held: the next one comes at the usual pace again.
    if (verdict && !bad) this.#probeAfter = PROBE_AFTER;
    if (this.#index !== before) this.#log(`quality: ${LADDER[before].name} -> ${LADDER[this.#index].name}`);

    const profile = this.profile;
    const cap = this.cap(!!s.relayed);
    const maxKbps = profile.video ? Math.min(cap, profile.maxKbps ?? cap) : 0;
    const changed = maxKbps !== this.#lastKbps || this.#index !== before;
    this.#lastKbps = maxKbps;
    return {
      profile,
      maxKbps,
      changed,
      send: gradeSend(this.#index, sendLoss, rtt),
      receive: gradeReceive(s),
    };
  }
}

/**
 * @param {number} index rung of the ladder
 * @param {number} loss percent
 * @param {number} rtt ms
 * @returns {Grade}
 */
function gradeSend(index, loss, rtt) {
  if (index >= 3 || loss >= BAD_LOSS_PCT || rtt >= BAD_RTT_MS) return 'poor';
  if (index >= 1 || loss > GOOD_LOSS_PCT) return 'fair';
  return 'good';
}

/**
 * How what we receive looks, from our own sample.
 * @param {QualitySample} s
 * @returns {Grade}
 */
export function gradeReceive(s) {
  const loss = known(s.lossPct) ? /** @type {number} */ (s.lossPct) : 0;
  const freezes = known(s.freezeCount) ? /** @type {number} */ (s.freezeCount) : 0;
  const fps = known(s.fps) ? /** @type {number} */ (s.fps) : null;
  if (loss >= BAD_LOSS_PCT || freezes >= BAD_FREEZES || (fps !== null && fps < 5)) return 'poor';
  if (loss > GOOD_LOSS_PCT || freezes > 0 || (fps !== null && fps < 12)) return 'fair';
  return 'good';
}
