// The call page's peer connection and what goes with it: its frame
// encryption (frame-encryption.js), its recovery (recovery.js decides, this
// carries out: ICE restarts, compatibility mode), and the media state the
// server bills by. The network modes it runs under are networkmode.js's.
//
// It carries out what the call logic (callstate.js) decides: `open` and
// `close` come from its actions, and everything the logic must know about the
// connection goes back to it through `dispatch` (its state, the recovery,
// a failed encryption, a fresh connection that compatibility mode needs).
// callview.js draws. Never touches a key; never records anything.

import { PeerLink } from './peer.js';
import { DEFAULT_MAX_BITRATE_KBPS, DEFAULT_RELAY_MAX_BITRATE_KBPS } from './protocol.js';
import { compatAvailable, hasTurn, iceConfiguration } from './ice.js';
import { RecoveryPolicy } from './recovery.js';
import { FrameEncryption } from './frame-encryption.js';
import { testHooks } from './e2ee-debug.js';
import { showRemoteStream } from './callview.js';
import { renderE2ee } from './connectionview.js';
import { NetworkModes } from './networkmode.js';

/** @typedef {import('./protocol.js').WelcomeMessage} WelcomeMessage */
/** @typedef {import('./protocol.js').AdmittedMessage} AdmittedMessage */
/** @typedef {import('./signaling.js').SignalingClient} SignalingClient */
/** @typedef {import('./ice.js').IceSettings} IceSettings */
/** @typedef {import('./recovery.js').RecoveryAction} RecoveryAction */
/** @typedef {import('./keyagreement.js').E2eeState} E2eeState */
/** @typedef {import('./callstate.js').CallInput} CallInput */
/** @typedef {import('./callstate.js').CallSnapshot} CallSnapshot */
/** @typedef {import('./qualityloop.js').QualityLoop} QualityLoop */

/**
 * @typedef {object} ConnectionOptions
 * @property {(input: CallInput) => void} dispatch to the call logic
 * @property {() => CallSnapshot} snapshot the call logic's state
 * @property {() => MediaStream | null} localStream what we send
 * @property {QualityLoop} quality
 * @property {import('./e2ee-debug.js').DebugSwitches} e2eeDebug test switches of frame encryption
 * @property {{corruptCodecs: boolean}} [negotiationDebug] test switch of negotiation-debug.js
 * @property {(text: string) => void} log
 * @property {(channel: RTCDataChannel, usable: () => boolean) => void} [sessionChannel] each
 *   fresh connection's session channel (chat, safety net), for its owner to wire; `usable`
 *   says whether the connection's ICE is connected now
 */

export class CallConnection {
  /** @type {SignalingClient | null} */
  #signaling = null;
  /** @type {WelcomeMessage | null} */
  #welcome = null;
  /** @type {PeerLink | null} */
  #peer = null;
  /** Frame encryption of the current peer connection. */
  /** @type {FrameEncryption | null} */
  #e2ee = null;
  /**
   * The frame-encryption state of the last closed connection, shown until the
   * next one starts (why the media was ended, or what the call had).
   * @type {E2eeState | null}
   */
  #e2eeEnded = null;
  /** @type {RecoveryPolicy | null} */
  #recovery = null;
  /** @type {ReturnType<typeof setTimeout> | null} */
  #recoveryTimer = null;
  /** What the server gave for the current (or next) call: ICE servers and policy. */
  /** @type {IceSettings} */
  #ice = { servers: [], policy: 'all' };
  /** What the server offers, what the person chose: compatibility mode, relay-only. */
  modes;
  /** The connection a fresh one was asked for (#freshIfDtlsDead), once. @type {PeerLink | null} */
  #freshFor = null;
  /** Key epoch for the next connection's first agreement (`admitted`, then `rekey`). */
  #keyEpoch = 0;
  /** The operator's fail-closed policy, from `admitted`; closed until told otherwise. */
  #e2eeRequired = true;
  /** The operator's caps on our outgoing video, from `admitted`. */
  #bitrateCaps = { maxKbps: DEFAULT_MAX_BITRATE_KBPS, relayMaxKbps: DEFAULT_RELAY_MAX_BITRATE_KBPS };
  /** What we last told the server with `media` (billing: only on change). */
  #mediaReported = /** @type {'connected' | 'disconnected' | 'unknown'} */ ('disconnected');
  /** ICE restarts performed (therapist) or requested (client) in this tab. */
  restarts = 0;
  /** Peer connections made in this tab: a signaling outage must not add one. */
  peerConnections = 0;
  #o;

  /** @param {ConnectionOptions} options */
  constructor(options) {
    this.#o = options;
    this.modes = new NetworkModes({ dispatch: options.dispatch, snapshot: options.snapshot });
  }

  /** The live peer connection, or null. */
  get peer() {
    return this.#peer && !this.#peer.closed ? this.#peer : null;
  }

  get e2ee() {
    return this.#e2ee;
  }

  /** @returns {E2eeState} */
  get e2eeState() {
    return this.#e2ee?.state ?? this.#e2eeEnded ?? 'negotiating';
  }

  /** Compatibility mode as it applies to the current configuration. */
  get compatMode() {
    return this.modes.compatWanted && compatAvailable(this.#ice.servers);
  }

  /** The key epoch the call is in, for a resumed seat (0: no call left, a reload). */
  get resumeEpoch() {
    return this.peer ? Math.max(this.#keyEpoch, this.#e2ee?.epoch ?? 0, 1) : 0;
  }

  /** @param {SignalingClient} signaling @param {string} session */
  join(signaling, session) {
    this.#signaling = signaling;
    this.modes.join(signaling, session);
  }

  /** @param {WelcomeMessage} w */
  welcome(w) {
    this.#welcome = w;
    this.modes.offered(w.relay_urls ?? []);
    // TURN credentials only inside a call: `admitted` brings them (a welcome
    // outside one has STUN alone, of no use before a call). Inside a call a
    // welcome brings fresh credentials for a later restart.
    if (w.admitted) this.#ice = { servers: w.ice_servers, policy: this.#ice.policy };
  }

  /** The configuration of the fresh connection that `admitted` starts. @param {AdmittedMessage} m */
  admitted(m) {
    this.#keyEpoch = m.epoch;
    this.#e2eeRequired = m.e2ee_required;
    this.#bitrateCaps = {
      maxKbps: m.max_bitrate_kbps ?? this.#bitrateCaps.maxKbps,
      relayMaxKbps: m.relay_max_bitrate_kbps ?? this.#bitrateCaps.relayMaxKbps,
    };
    this.#ice = { servers: m.ice_servers, policy: m.ice_transport_policy };
    this.modes.offered(null);
  }

  /** A fresh key agreement between the browsers; the server only says when. @param {number} epoch */
  rekey(epoch) {
    this.#keyEpoch = Math.max(this.#keyEpoch, epoch);
    this.#e2ee?.rekey(epoch);
  }

  /** @param {string} sdp */
  isFromOtherConnection(sdp) {
    return !!this.#peer && this.#peer.isFromOtherConnection(sdp);
  }

  /** A fresh peer connection under the current configuration. @returns {PeerLink | null} */
  open() {
    const welcome = this.#welcome;
    const sig = this.#signaling;
    if (!welcome || !sig) return null;
    const compat = this.compatMode;
    const encryption = new FrameEncryption({
      role: welcome.role,
      epoch: this.#keyEpoch,
      required: this.#e2eeRequired,
      testHooks: testHooks(this.#o.e2eeDebug),
      log: this.#o.log,
      onChange: () => {
        if (this.#e2ee === encryption) this.renderE2ee();
      },
      onTransformFailed: () => {
        if (this.#e2ee === encryption && this.#peer && sig) this.#negotiationFailed('transform-failed', sig);
      },
      onEndMedia: (reason) => {
        if (this.#e2ee !== encryption) return;
        // Fail closed: the call logic ends the media.
        this.#o.log(`e2ee: ending the media (${reason})`);
        this.#o.dispatch({ type: 'e2ee-failed', state: encryption.state === 'unsupported' ? 'unsupported' : 'failed' });
      },
    });
    this.#e2ee = encryption;
    this.#e2eeEnded = null;
    const p = new PeerLink({
      configuration: iceConfiguration(this.#ice, compat),
      polite: welcome.polite,
      localStream: this.#o.localStream(),
      e2ee: encryption,
      send: (message) => sig.send(message),
      log: this.#o.log,
      onRemoteStream: showRemoteStream,
      onConnectionState: (state) => {
        if (this.#peer !== p) return;
        this.#connectionChanged(state);
        this.#report(false);
        this.#freshIfDtlsDead(p);
      },
      onIceState: (state) => {
        if (state === 'failed') this.#o.quality.summary.error('ice-failed');
        if (this.#peer === p && this.#recovery) this.#runRecovery(this.#recovery.iceState(state, performance.now()));
        if (this.#peer === p) this.#freshIfDtlsDead(p);
      },
      onQualityMessage: (data) => {
        if (this.#peer === p) this.#o.quality.message(data);
      },
      onSessionChannel: (channel, usable) => this.#o.sessionChannel?.(channel, usable),
      onNegotiationFailed: (reason) => {
        if (this.#peer === p) this.#negotiationFailed(reason, sig);
      },
      corruptOutgoing: this.#o.negotiationDebug?.corruptCodecs === true,
    });
    this.#peer = p;
    this.peerConnections += 1;
    this.#o.quality.reset(this.#bitrateCaps);
    this.#recovery = new RecoveryPolicy({
      now: performance.now(),
      turnAvailable: hasTurn(this.#ice.servers),
      compatAvailable: compatAvailable(this.#ice.servers),
      compat,
      log: this.#o.log,
    });
    this.#scheduleRecovery();
    this.#o.quality.renderConnection('new');
    this.renderE2ee();
    return p;
  }

  close() {
    if (this.#recoveryTimer !== null) clearTimeout(this.#recoveryTimer);
    this.#recoveryTimer = null;
    this.#recovery = null;
    if (!this.#peer) return;
    this.#peer.close();
    this.#peer = null;
    this.#o.quality.clear();
    if (this.#e2ee) this.#e2eeEnded = this.#e2ee.state;
    this.#e2ee?.close();
    this.#e2ee = null;
    this.#connectionChanged('closed');
    this.renderE2ee();
  }

  /**
   * The other person left before the browsers agreed on a key (e.g. their
   * browser refused frame encryption): it did not come about, and the
   * therapist, who stays in the room, is told so.
   */
  peerLeft() {
    if (!this.#peer || this.e2eeState !== 'negotiating') return;
    this.#e2ee?.close();
    this.#e2ee = null;
    this.#e2eeEnded = 'failed';
  }

  /**
   * The page's part ends: frame encryption that never came about failed,
   * the server gets the last summary and media state (and a goodbye if
   * `bye`), the connection closes.
   * @param {boolean} bye
   */
  finish(bye) {
    // The call ends before the browsers agreed on a key (e.g. the other side
    // refused it): frame encryption did not come about.
    if (this.e2eeState === 'negotiating') {
      this.#e2ee?.close();
      this.#e2ee = null;
      this.#e2eeEnded = 'failed';
    }
    const signaling = this.#signaling;
    if (signaling) {
      // What the call had since the last summary, unless it was nothing.
      if (this.#o.quality.summary.hasSamples) this.#o.quality.sendSummary(true);
      this.reportMedia('disconnected');
      if (bye) signaling.hangup();
      else signaling.close();
    }
    this.close();
    this.renderE2ee();
  }

  /**
   * Our browser cannot set up media with the other's: the anonymous code
   * goes to the server at once (the summary may never come otherwise), the
   * other browser is told, and the call logic ends this connection and its
   * recovery: what was refused would be refused again.
   * @param {import('./protocol.js').NegotiationFailure} reason
   * @param {SignalingClient} sig
   */
  #negotiationFailed(reason, sig) {
    this.#o.log(`peer: negotiation failed (${reason}); no more retries`);
    this.#o.quality.summary.error(reason);
    this.#o.quality.sendSummary(true);
    sig.send({ type: 'negotiation-failed', reason });
    this.#o.dispatch({ type: 'negotiation-failed', reason });
  }

  /**
   * The connection failed while its ICE is up: its DTLS transport is gone for
   * good (Firefox fails it after an ICE restart that overlapped the line's
   * return), and no ICE restart brings it back. A fresh connection does.
   * @param {PeerLink} p
   */
  #freshIfDtlsDead(p) {
    const ice = p.pc.iceConnectionState;
    if (p.pc.connectionState !== 'failed' || (ice !== 'connected' && ice !== 'completed')) return;
    if (this.#freshFor === p) return; // asked once per connection
    this.#freshFor = p;
    this.#o.log('peer: DTLS failed while ICE is up; a fresh connection');
    // After the event that said so is done: the call logic replaces this connection.
    queueMicrotask(() => this.#o.dispatch({ type: 'fresh-connection' }));
  }

  /** @param {RTCPeerConnectionState} state */
  #connectionChanged(state) {
    this.#o.quality.connectionState(state);
    this.reportMedia(state === 'connected' ? 'connected' : 'disconnected');
  }

  /**
   * Tell the call logic where the connection and its recovery are: the
   * status line follows.
   * @param {boolean} noRelay recovery found no direct path and no relay
   */
  #report(noRelay) {
    const p = this.peer;
    if (!p) return;
    this.#o.dispatch({ type: 'connection', state: p.pc.connectionState, recovering: this.#recovery?.recovering ?? false, noRelay });
  }

  /** @param {'connected' | 'disconnected'} state */
  reportMedia(state) {
    if (state === this.#mediaReported) return;
    // Only remember what the server really got, so that a change made while
    // the socket was down is reported after the reconnect.
    if (this.#signaling?.send({ type: 'media', state })) this.#mediaReported = state;
  }

  /** Tell a (possibly new) server what our media is doing now; it records only a change. */
  reportMediaAgain() {
    this.#mediaReported = 'unknown';
    if (this.#peer) this.reportMedia(this.#peer.pc.connectionState === 'connected' ? 'connected' : 'disconnected');
  }

  // -------------------------------------------------------------------------
  // Recovery and compatibility mode

  /** Arm the one timer of the recovery policy. */
  #scheduleRecovery() {
    if (this.#recoveryTimer !== null) clearTimeout(this.#recoveryTimer);
    this.#recoveryTimer = null;
    const at = this.#recovery?.timer();
    if (at === null || at === undefined) return;
    this.#recoveryTimer = setTimeout(() => {
      this.#recoveryTimer = null;
      if (this.#recovery) this.#runRecovery(this.#recovery.handleTimer(performance.now()));
    }, Math.max(0, at - performance.now()));
  }

  /**
   * Carry out what the recovery policy decided, then show where we are.
   * @param {RecoveryAction[]} actions
   */
  #runRecovery(actions) {
    let noRelay = false;
    for (const action of actions) {
      if (action.type === 'restart') this.#restartIce();
      else if (action.type === 'compat') this.#switchCompat(true, true);
      else noRelay = true;
    }
    this.#scheduleRecovery();
    this.#report(noRelay);
  }

  /** Restart ICE (therapist) or ask for it (client). */
  #restartIce() {
    const p = this.peer;
    if (!p) return;
    this.restarts += 1;
    this.#o.quality.summary.error('ice-restart');
    p.restartIce();
  }

  /** The therapist got `restart`: the other side asks for an ICE restart. */
  remoteRestart() {
    if (this.#o.snapshot().role === 'therapist' && this.#recovery) this.#runRecovery(this.#recovery.remoteRequest(performance.now()));
  }

  /** The network under us changed (Wi-Fi to mobile, back online): restart ICE now. */
  networkChanged() {
    this.#o.log('network changed');
    if (this.#recovery && this.peer) this.#runRecovery(this.#recovery.networkChanged(performance.now()));
  }

  /**
   * Switch compatibility mode, and re-establish the running connection under
   * it.
   *
   * Switching it on makes a fresh peer connection: Chromium takes a tighter
   * `iceTransportPolicy` from setConfiguration, but after the ICE restart it
   * keeps the working host pair, so media would not move to the relay at all.
   * Switching it off only loosens the configuration: setConfiguration and an
   * ICE restart do (and a fresh connection where the browser refuses).
   *
   * @param {boolean} on
   * @param {boolean} auto switched by recovery
   */
  #switchCompat(on, auto) {
    this.modes.chooseCompat(on, auto);
    if (on) this.#o.quality.summary.error('compat-mode');
    this.#o.log(`compatibility mode ${on ? 'on' : 'off'}${auto ? ' (automatic)' : ''}`);
    this.modes.render();
    const p = this.peer;
    if (!p) return; // the next connection starts in this mode
    if (on || !p.reconfigure(iceConfiguration(this.#ice, this.compatMode))) {
      // A new peer connection in the middle of the call (the call logic
      // says who offers).
      this.restarts += 1;
      this.#o.dispatch({ type: 'fresh-connection' });
      return;
    }
    if (this.#recovery) this.#runRecovery(this.#recovery.setCompat(on, performance.now()));
  }

  onCompatClick() {
    if (!this.modes.compatOffered) return;
    this.#switchCompat(!this.modes.compatWanted, false);
  }

  // -------------------------------------------------------------------------
  // What the view shows

  renderE2ee() {
    const e = this.#e2ee;
    renderE2ee({
      state: this.e2eeState,
      keyAgeSeconds: e?.keyAgeSeconds ?? null,
      verified: !!e?.verified,
      sas: e?.sas ?? null,
      role: this.#o.snapshot().role,
      peer: this.#o.snapshot().peer,
    });
  }
}
