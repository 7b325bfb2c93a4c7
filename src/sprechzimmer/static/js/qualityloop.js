// The quality loop of the call page: every STATS_INTERVAL_MS while the
// connection is up, read what it carries, let the ladder decide (quality.js),
// apply that to our video sender (peer.js), tell the other side what we
// receive, and keep the anonymous summary for the server. It also follows the
// selected candidate pair, which the connection indicator shows.
//
// The decisions are quality.js's; this is the glue around one connection at a
// time, and callview.js draws. The summary never names the session or a person.

import { QualityPolicy, forContent } from './sendladder.js';
import { decodeQualityPeerMessage, receiverReportFor } from './peerreports.js';
import { QualitySummary } from './qualitysummary.js';
import { renderConnection, renderQuality } from './connectionview.js';

/** @typedef {import('./peer.js').PeerLink} PeerLink */
/** @typedef {import('./sendladder.js').Grade} Grade */
/** @typedef {import('./sendladder.js').ProfileName} ProfileName */

export const STATS_INTERVAL_MS = 2000;

/**
 * @typedef {object} QualityHandle what the test handle shows
 * @property {ProfileName | null} profile the profile applied to our video sender
 * @property {number | null} maxKbps its bitrate (0: video paused)
 * @property {Grade | null} send
 * @property {Grade | null} receive
 * @property {'weak' | 'manual' | null} remotePaused the other side paused its video to us
 */

/**
 * @typedef {object} QualityLoopOptions
 * @property {() => PeerLink | null} peer the current connection (null: none)
 * @property {(message: import('./protocol.js').ClientMessage) => void} send to the server; may throw (refused by the codec)
 * @property {(text: string) => void} log
 */

export class QualityLoop {
  /** The anonymous 30-s summary for the server; one per tab. */
  summary = new QualitySummary(performance.now());
  /** The ladder for the current connection's outgoing video. */
  /** @type {QualityPolicy | null} */
  #policy = null;
  /** The profile last applied to the sender (null: none yet on this connection). */
  /** @type {ProfileName | null} */
  #appliedProfile = null;
  #appliedKbps = -1;
  /** The profile was applied for a shared screen (forContent). */
  #appliedContent = false;
  /** The person chose audio only (kept across connections of this tab). */
  #audioOnlyWanted = false;
  /** The other side says its video to us is paused ('weak' or 'manual'), or not (null). */
  /** @type {'weak' | 'manual' | null} */
  #remotePaused = null;
  /** @type {{send: Grade | null, receive: Grade | null}} */
  #grades = { send: null, receive: null };
  /** @type {ReturnType<typeof setInterval> | null} */
  #timer = null;
  /** @type {{path: import('./stats.js').MediaPath | null, relayProtocol: string | null}} */
  #path = { path: null, relayProtocol: null };
  #peer;
  #send;
  #log;

  /** @param {QualityLoopOptions} options */
  constructor(options) {
    this.#peer = options.peer;
    this.#send = options.send;
    this.#log = options.log;
  }

  /** @returns {QualityHandle} */
  get handle() {
    return Object.freeze({
      profile: this.#appliedProfile,
      maxKbps: this.#appliedProfile === null ? null : this.#appliedKbps,
      send: this.#grades.send,
      receive: this.#grades.receive,
      remotePaused: this.#remotePaused,
    });
  }

  /**
   * A fresh connection: a fresh ladder under the operator's caps.
   * @param {{maxKbps: number, relayMaxKbps: number}} caps
   */
  reset(caps) {
    this.#policy = new QualityPolicy(caps, this.#log);
    this.#policy.manualAudioOnly = this.#audioOnlyWanted;
    this.#appliedProfile = null;
    this.#appliedKbps = -1;
    this.#appliedContent = false;
    this.#remotePaused = null;
    this.#grades = { send: null, receive: null };
    this.#path = { path: null, relayProtocol: null };
    this.render();
  }

  /** The connection is closed. */
  clear() {
    this.#policy = null;
    this.#remotePaused = null;
    this.#grades = { send: null, receive: null };
    this.render();
  }

  /** @param {RTCPeerConnectionState | string} state of the current connection */
  connectionState(state) {
    this.renderConnection(state);
    if (state === 'connected') this.#start();
    else this.#stop();
  }

  /** @param {RTCPeerConnectionState | string} state */
  renderConnection(state) {
    renderConnection(state, this.#path);
  }

  render() {
    const policy = this.#policy;
    renderQuality({
      send: this.#grades.send,
      receive: this.#grades.receive,
      ownPaused: policy && !policy.profile.video ? (policy.manualAudioOnly ? 'manual' : 'weak') : null,
      remotePaused: this.#remotePaused,
      audioOnly: this.#audioOnlyWanted,
    });
  }

  /** The person chose audio only (the other person's page is told). */
  get audioOnly() {
    return this.#audioOnlyWanted;
  }

  /** The person switched audio only on or off. */
  toggleAudioOnly() {
    this.#audioOnlyWanted = !this.#audioOnlyWanted;
    if (this.#policy) this.#policy.manualAudioOnly = this.#audioOnlyWanted;
    this.render();
    // Apply at once rather than on the next tick.
    this.#tick();
  }

  /** @param {unknown} data from the quality data channel of the current connection */
  message(data) {
    const m = decodeQualityPeerMessage(data);
    if (!m) return;
    if (m.type === 'receiver-report') {
      this.#policy?.receiverReport({ now: performance.now(), maxKbps: m.maxKbps, lossPct: m.lossPct, freezeCount: m.freezeCount });
    } else {
      const next = m.paused ? (m.manual ? 'manual' : 'weak') : null;
      if (next !== this.#remotePaused) {
        this.#remotePaused = next;
        this.render();
      }
    }
  }

  /**
   * The anonymous summary to the server, when due (or now, at the end of a
   * call). Checked by the codec first: a refused one is dropped, never sent.
   * @param {boolean} final
   */
  sendSummary(final) {
    const now = performance.now();
    if (!final && !this.summary.due(now)) return;
    const message = this.summary.take(now);
    try {
      this.#send(message);
    } catch (err) {
      this.#log(`quality summary refused: ${err}`);
    }
  }

  #start() {
    // The transport exists once connected; an ICE restart keeps it, a new
    // pair shows at once where the browser tells us, else within 2 s.
    this.#peer()?.watchSelectedPair(() => {
      this.#statsTick();
    });
    this.#statsTick();
    if (this.#timer !== null) return;
    this.#timer = setInterval(() => {
      this.#statsTick();
      this.#tick();
    }, STATS_INTERVAL_MS);
  }

  #stop() {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** Read the selected candidate pair now; the indicator follows it. */
  async #statsTick() {
    const p = this.#peer();
    if (!p || p.closed) return;
    try {
      const s = await p.stats();
      if (p !== this.#peer()) return;
      if (s.path !== this.#path.path || s.relayProtocol !== this.#path.relayProtocol) {
        this.#log(`media path: ${s.path ?? 'none'}${s.relayProtocol ? ` (${s.relayProtocol})` : ''}`);
      }
      this.#path = { path: s.path, relayProtocol: s.relayProtocol };
      this.renderConnection(p.pc.connectionState);
    } catch (err) {
      this.#log(`stats failed: ${err}`);
    }
  }

  /** One quality step: sample, decide, apply, tell the other side, summarise. */
  async #tick() {
    const p = this.#peer();
    const policy = this.#policy;
    if (!p || p.closed || !policy) return;
    try {
      const sample = await p.qualitySample();
      if (p !== this.#peer()) return;
      const decision = policy.sample(sample);
      // A shared screen spends the rung on resolution, not motion (sendladder.js).
      const content = p.sendsContent;
      const profile = content ? forContent(decision.profile) : decision.profile;
      if (profile.name !== this.#appliedProfile || decision.maxKbps !== this.#appliedKbps || content !== this.#appliedContent) {
        this.#appliedProfile = profile.name;
        this.#appliedKbps = decision.maxKbps;
        this.#appliedContent = content;
        this.#log(`quality: sending ${profile.name}${content ? ' (screen)' : ''} at ${decision.maxKbps} kbit/s`);
        await p.applyProfile({ maxKbps: decision.maxKbps, scale: profile.scale, maxFramerate: profile.maxFramerate, video: profile.video });
      }
      // Sent every time, not only on change: the channel may open late, and
      // a lost state must not stick.
      p.sendQuality(receiverReportFor(sample));
      p.sendQuality({ type: 'video-paused', paused: !profile.video, manual: policy.manualAudioOnly });
      this.#grades = { send: decision.send, receive: this.#remotePaused === 'weak' ? 'poor' : decision.receive };
      this.render();
      if (sample.framesDecoded !== null || sample.outKbps !== null) this.summary.add(sample);
      this.sendSummary(false);
    } catch (err) {
      this.#log(`quality step failed: ${err}`);
    }
  }
}
