// The quality channel between the two browsers (`sprechzimmer-quality`,
// docs/protocol.md, *Quality channel*): the receiver report we send about the
// other side's video, and the decoder of what the other browser sends. The
// server never sees these messages.
//
// Pure: no DOM, no clock.

import { MAX_BITRATE_KBPS } from './protocol.js';
import { BAD_FREEZES, BAD_LOSS_PCT, known } from './sendladder.js';

/**
 * What we tell the other side about its video, from our own sample: the
 * bitrate we see arriving plus headroom while it is clean, less when it is not.
 *
 * @param {import('./sendladder.js').QualitySample & {inKbps?: number | null}} s
 * @returns {{type: 'receiver-report', maxKbps: number | null, lossPct: number | null, freezeCount: number}}
 */
export function receiverReportFor(s) {
  const loss = known(s.lossPct) ? /** @type {number} */ (s.lossPct) : null;
  const freezes = known(s.freezeCount) ? Math.max(0, Math.round(/** @type {number} */ (s.freezeCount))) : 0;
  // We only limit when we see trouble; a clean link says "no limit" (null),
  // so that the sender's estimator can probe upwards.
  let maxKbps = null;
  if (known(s.inKbps) && ((loss ?? 0) >= BAD_LOSS_PCT || freezes >= BAD_FREEZES)) {
    maxKbps = Math.max(0, Math.round(/** @type {number} */ (s.inKbps) * 0.7));
  }
  return { type: 'receiver-report', maxKbps, lossPct: loss === null ? null : round1(loss), freezeCount: freezes };
}

/** @param {number} v */
function round1(v) {
  return Math.round(v * 10) / 10;
}

/** Longest message on the quality channel, in characters. */
export const MAX_QUALITY_PEER_MESSAGE = 512;
/** Most freezes one receiver report may name. */
export const MAX_REPORTED_FREEZES = 10000;

/**
 * Messages on the `sprechzimmer-quality` data channel (docs/protocol.md,
 * *Quality channel*), checked before use: the other browser is trusted as
 * little as any input. Unknown fields are dropped (a newer peer may add some).
 * @typedef {{type: 'receiver-report', maxKbps: number | null, lossPct: number | null, freezeCount: number}
 *   | {type: 'video-paused', paused: boolean, manual: boolean}} QualityPeerMessage
 */

/**
 * @param {unknown} data
 * @returns {QualityPeerMessage | null} null: not one of ours, or not as documented (ignored)
 */
export function decodeQualityPeerMessage(data) {
  if (typeof data !== 'string' || data.length > MAX_QUALITY_PEER_MESSAGE) return null;
  /** @type {unknown} */
  let obj;
  try {
    obj = JSON.parse(data);
  } catch {
    return null;
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return null;
  const o = /** @type {Record<string, unknown>} */ (obj);
  /** @param {unknown} v @param {number} max */
  const num = (v, max) => (v === null || v === undefined ? null : known(/** @type {number} */ (v)) && /** @type {number} */ (v) >= 0 && /** @type {number} */ (v) <= max ? /** @type {number} */ (v) : undefined);
  if (o.type === 'receiver-report') {
    const maxKbps = num(o.maxKbps, MAX_BITRATE_KBPS);
    const lossPct = num(o.lossPct, 100);
    // A count: an integer, and absent (not null) when there is none.
    const freezes = o.freezeCount === undefined ? 0 : o.freezeCount;
    if (maxKbps === undefined || lossPct === undefined) return null;
    if (typeof freezes !== 'number' || !Number.isInteger(freezes) || freezes < 0 || freezes > MAX_REPORTED_FREEZES) return null;
    return { type: 'receiver-report', maxKbps, lossPct, freezeCount: freezes };
  }
  if (o.type === 'video-paused' && typeof o.paused === 'boolean') {
    if (o.manual !== undefined && typeof o.manual !== 'boolean') return null;
    return { type: 'video-paused', paused: o.paused, manual: o.manual === true };
  }
  return null;
}
