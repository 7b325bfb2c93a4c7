// The anonymous quality summary for the server (the `quality` signaling
// message, docs/protocol.md, *Quality metadata*): averages of our stats
// samples and the error codes seen, within the protocol's bounds, about every
// 30 s. It names no session, role or person.
//
// Pure: time comes in with each call.

import { CANDIDATE_TYPES, MAX_BITRATE_KBPS, MAX_MS, QUALITY_ERROR_CODES } from './protocol.js';
import { known } from './sendladder.js';

/** About every 30 s; the server drops one that follows the previous within 10 s. */
export const SUMMARY_INTERVAL_MS = 30000;

/** @typedef {import('./protocol.js').QualityMessage} QualityMessage */
/** @typedef {import('./stats.js').MeasuredSample} MeasuredSample */

/** @type {readonly string[]} */
const CANDIDATE_TYPE_NAMES = CANDIDATE_TYPES;
/** @type {readonly string[]} */
const ERROR_CODES = QUALITY_ERROR_CODES;

/**
 * Averages of the samples since the last summary, and the error codes seen.
 * Everything it makes is within the protocol's bounds: the server closes the
 * socket on anything else.
 */
export class QualitySummary {
  /** @type {MeasuredSample[]} */
  #samples = [];
  /** @type {Set<string>} */
  #errors = new Set();
  #since;

  /** @param {number} now */
  constructor(now) {
    this.#since = now;
  }

  /** @param {MeasuredSample} sample */
  add(sample) {
    this.#samples.push(sample);
    if (this.#samples.length > 64) this.#samples.shift();
  }

  /** @param {string} code one of the protocol's error codes; others are left out */
  error(code) {
    if (ERROR_CODES.includes(code)) this.#errors.add(code);
  }

  get hasSamples() {
    return this.#samples.length > 0;
  }

  /** @param {number} now */
  due(now) {
    return now - this.#since >= SUMMARY_INTERVAL_MS && this.#samples.length > 0;
  }

  /**
   * The message for the samples so far; starts the next interval.
   * @param {number} now
   * @returns {QualityMessage}
   */
  take(now) {
    const samples = this.#samples;
    /** @param {(s: MeasuredSample) => number | null | undefined} pick @param {number} max */
    const mean = (pick, max) => {
      const values = samples.map(pick).filter((v) => known(v));
      if (!values.length) return null;
      const m = /** @type {number[]} */ (values).reduce((a, b) => a + b, 0) / values.length;
      return Math.min(max, Math.max(0, Math.round(m * 10) / 10));
    };
    const last = samples.at(-1);
    const height = last && known(last.height) ? Math.min(4320, Math.max(0, Math.round(/** @type {number} */ (last.height)))) : null;
    /** @param {string | null | undefined} t */
    const candidate = (t) => /** @type {import('./protocol.js').CandidateType} */ (t && CANDIDATE_TYPE_NAMES.includes(t) ? t : 'unknown');
    /** @type {QualityMessage} */
    const message = {
      type: 'quality',
      bitrate_out_kbps: mean((s) => s.outKbps, MAX_BITRATE_KBPS),
      bitrate_in_kbps: mean((s) => s.inKbps, MAX_BITRATE_KBPS),
      loss_pct: mean((s) => s.lossPct, 100),
      rtt_ms: mean((s) => s.rttMs, MAX_MS),
      jitter_ms: mean((s) => s.jitterMs, MAX_MS),
      fps: mean((s) => s.fps, 120),
      height,
      local_candidate: candidate(last?.localType),
      remote_candidate: candidate(last?.remoteType),
      errors: [...this.#errors].join(','),
    };
    this.#samples = [];
    this.#errors = new Set();
    this.#since = now;
    return message;
  }
}
