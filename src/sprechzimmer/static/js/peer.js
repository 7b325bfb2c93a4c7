// One RTCPeerConnection and its negotiation, kept apart from the page.
//
// Negotiation follows the "perfect negotiation" pattern of the WebRTC spec:
// either side may (re)negotiate at any time; when both offer at once the
// impolite side (therapist, `polite: false` in welcome) ignores the other's
// offer and the polite side (client) rolls its own back. The therapist makes
// the first offer; the client answers with its tracks on the transceivers the
// offer created.
//
// ICE servers come only from the server (`admitted`, see ice.js): with an
// empty list there are host candidates only, and never a public STUN server.
// When to restart ICE is decided elsewhere (recovery.js); this module only
// knows how: the therapist restarts, the client asks the therapist to.
//
// Over 400 lines on purpose: perfect negotiation, ICE restarts and the
// encoding parameters of one RTCPeerConnection belong together; the call's
// decisions are elsewhere.

import { sdpFingerprint } from './protocol.js';
import { mediaPath, inboundSummary, qualitySample } from './stats.js';
import { withOpusResilience } from './opus.js';
import { withoutOrphanCodecLines } from './codeclines.js';
import { isRefusal, rejectsMedia } from './negotiation.js';
import { corruptCodecList } from './negotiation-debug.js';
import { SESSION_CHANNEL_ID, SESSION_CHANNEL_LABEL } from './chat.js';

/**
 * The quality data channel: the receiver tells the sender what it can take.
 * Negotiated with a fixed id next to the key agreement's (id 0), so that
 * neither side waits for the other to open it.
 */
export const QUALITY_CHANNEL_LABEL = 'sprechzimmer-quality';
export const QUALITY_CHANNEL_ID = 1;

/** @typedef {import('./protocol.js').ClientMessage} ClientMessage */
/** @typedef {import('./protocol.js').CandidateMessage} CandidateMessage */
/** @typedef {import('./ice.js').IceConfiguration} IceConfiguration */
/** @typedef {import('./groupencryption.js').LinkEncryption} LinkEncryption */

/**
 * @typedef {object} PeerOptions
 * @property {IceConfiguration} configuration ICE servers and transport policy
 * @property {boolean} polite
 * @property {MediaStream | null} localStream
 * @property {(message: ClientMessage) => boolean} send to the signaling socket
 * @property {(stream: MediaStream) => void} onRemoteStream
 * @property {(state: RTCPeerConnectionState) => void} onConnectionState
 * @property {(state: RTCIceConnectionState) => void} [onIceState]
 * @property {(text: string) => void} [log]
 * @property {LinkEncryption | null} [e2ee] frame encryption of this connection (a
 *   FrameEncryption, or a group's link): its transforms go on every sender and receiver,
 *   its data channel is made here
 * @property {(data: unknown) => void} [onQualityMessage] a message on the quality channel
 * @property {(channel: RTCDataChannel, usable: () => boolean) => void} [onSessionChannel] the
 *   session channel (chat, safety net; chat.js) of this connection, made: its owner wires it;
 *   `usable` says whether the connection's ICE is connected now (see ChatPanel.attach)
 * @property {(reason: import('./protocol.js').NegotiationFailure) => void} [onNegotiationFailed]
 *   our browser refused the other's description (or could not make its own), or an
 *   answer turned media down: no retry can mend it (docs/protocol.md)
 * @property {boolean} [corruptOutgoing] TEST HOOK (negotiation-debug.js): spoil what we send
 */

/**
 * What to apply to our video sender (from quality.js).
 * @typedef {object} SendProfile
 * @property {number} maxKbps 0: video paused
 * @property {number} scale scaleResolutionDownBy
 * @property {number | null} maxFramerate
 * @property {boolean} video
 */

export class PeerLink {
  /** @type {RTCPeerConnection} */
  pc;
  #polite;
  #send;
  #log;
  /** @type {MediaStream | null} */
  #localStream;
  #remoteStream = new MediaStream();
  #makingOffer = false;
  #ignoreOffer = false;
  #isSettingRemoteAnswerPending = false;
  /** candidates that came before the remote description they belong to */
  /** @type {RTCIceCandidateInit[]} */
  #pendingCandidates = [];
  #tracksAttached = false;
  #closed = false;
  /** @type {(() => void) | null} */
  #unwatchPair = null;
  /** Serializes remote descriptions: each must finish before the next starts. */
  /** @type {Promise<void>} */
  #queue = Promise.resolve();
  /** @type {LinkEncryption | null} */
  #e2ee;
  /** @type {RTCDataChannel | null} */
  #qualityChannel = null;
  /** @type {(data: unknown) => void} */
  #onQualityMessage;
  /** @type {RTCDataChannel | null} */
  #sessionChannel = null;
  /** @type {(channel: RTCDataChannel, usable: () => boolean) => void} */
  #onSessionChannel;
  #audioPrioritized = false;
  /** @type {import('./stats.js').Counters | null} */
  #counters = null;
  /** @type {(reason: import('./protocol.js').NegotiationFailure) => void} */
  #onNegotiationFailed;
  #corruptOutgoing;

  /** @param {PeerOptions} options */
  constructor(options) {
    this.#polite = options.polite;
    this.#send = options.send;
    this.#log = options.log ?? (() => {});
    this.#localStream = options.localStream;
    this.#e2ee = options.e2ee ?? null;
    this.#onQualityMessage = options.onQualityMessage ?? (() => {});
    this.#onSessionChannel = options.onSessionChannel ?? (() => {});
    this.#onNegotiationFailed = options.onNegotiationFailed ?? (() => {});
    this.#corruptOutgoing = options.corruptOutgoing === true;
    this.pc = new RTCPeerConnection({
      ...options.configuration,
      ...this.#e2ee?.pcConfiguration,
      bundlePolicy: 'max-bundle',
      rtcpMuxPolicy: 'require',
    });
    const pc = this.pc;
    this.#e2ee?.start(pc);

    pc.onnegotiationneeded = async () => {
      if (this.#closed) return;
      try {
        this.#makingOffer = true;
        await pc.setLocalDescription();
        this.#sendDescription();
      } catch (err) {
        this.#log(`peer: offer failed: ${err}`);
        if (isRefusal(err) && !this.#closed) this.#onNegotiationFailed('sdp-refused');
      } finally {
        this.#makingOffer = false;
      }
    };

    pc.onicecandidate = ({ candidate }) => {
      // A null candidate (gathering done) is not sent: end-of-candidates is
      // optional in the protocol, and leaving it out keeps later ICE
      // restarts simple.
      if (this.#closed || !candidate || !candidate.candidate) return;
      this.#send({
        type: 'candidate',
        candidate: candidate.candidate,
        sdpMid: candidate.sdpMid ?? null,
        sdpMLineIndex: candidate.sdpMLineIndex ?? null,
        usernameFragment: candidate.usernameFragment ?? null,
      });
    };

    pc.ontrack = ({ track }) => {
      this.#e2ee?.prepare(pc);
      if (!this.#remoteStream.getTracks().includes(track)) {
        // One stream of our own for the <video>: the remote side's stream ids
        // do not matter to us, and a track without a stream still plays.
        for (const old of this.#remoteStream.getTracks()) {
          if (old.kind === track.kind) this.#remoteStream.removeTrack(old);
        }
        this.#remoteStream.addTrack(track);
      }
      options.onRemoteStream(this.#remoteStream);
    };

    pc.onconnectionstatechange = () => {
      this.#log(`peer: connection ${pc.connectionState}`);
      if (pc.connectionState === 'connected') this.#e2ee?.connected();
      options.onConnectionState(pc.connectionState);
    };

    pc.oniceconnectionstatechange = () => {
      this.#log(`peer: ice ${pc.iceConnectionState}`);
      options.onIceState?.(pc.iceConnectionState);
    };
  }

  /** The therapist starts: add our tracks (or receive-only slots) and offer. */
  start() {
    if (this.#polite) return;
    // The key agreement's channel comes first, so the first offer has it.
    this.#e2ee?.openChannel(this.pc);
    this.#openQualityChannel();
    this.#openSessionChannel();
    for (const kind of /** @type {const} */ (['audio', 'video'])) {
      const track = this.#localStream?.getTracks().find((t) => t.kind === kind);
      if (track && this.#localStream) {
        this.pc.addTrack(track, this.#localStream);
      } else {
        // Without a camera or microphone we still want to receive the other
        // side's, so offer a receive-only slot for it.
        this.pc.addTransceiver(kind, { direction: 'recvonly' });
      }
    }
    this.#tracksAttached = true;
    // Before the offer is made: transforms on, codecs restricted.
    this.#e2ee?.prepare(this.pc);
    // negotiationneeded fires by itself now.
  }

  /**
   * Whether an offer comes from a new peer connection of the other side
   * (a reload or a reconnect), not from the one we are talking to: a new
   * connection has a new DTLS certificate.
   *
   * @param {string} sdp
   * @returns {boolean}
   */
  isFromOtherConnection(sdp) {
    const current = this.pc.remoteDescription?.sdp;
    if (!current) return false;
    const a = sdpFingerprint(current);
    const b = sdpFingerprint(sdp);
    return a !== null && b !== null && a !== b;
  }

  /**
   * An offer or answer from the other side.
   * @param {'offer' | 'answer'} type
   * @param {string} sdp
   * @returns {Promise<void>}
   */
  handleDescription(type, sdp) {
    this.#queue = this.#queue.then(() => this.#applyDescription(type, sdp));
    return this.#queue;
  }

  /**
   * @param {'offer' | 'answer'} type
   * @param {string} sdp
   */
  async #applyDescription(type, sdp) {
    if (this.#closed) return;
    const pc = this.pc;
    try {
      // An answer is expected while we wait in have-local-offer, even if we
      // are still busy setting it (isSettingRemoteAnswerPending).
      const readyForOffer =
        !this.#makingOffer && (pc.signalingState === 'stable' || this.#isSettingRemoteAnswerPending);
      const offerCollision = type === 'offer' && !readyForOffer;
      this.#ignoreOffer = !this.#polite && offerCollision;
      if (this.#ignoreOffer) {
        this.#log('peer: ignoring colliding offer (impolite side)');
        return;
      }
      if (type === 'answer' && pc.signalingState !== 'have-local-offer') {
        // A late answer to an offer we already rolled back: nothing to do.
        this.#log(`peer: dropping answer in state ${pc.signalingState}`);
        return;
      }
      this.#isSettingRemoteAnswerPending = type === 'answer';
      // On the polite side a colliding offer rolls back our own offer
      // implicitly here.
      // Another engine's description may name codecs it no longer offers
      // (codeclines.js): without them it parses everywhere.
      await pc.setRemoteDescription({ type, sdp: withoutOrphanCodecLines(sdp) });
      this.#isSettingRemoteAnswerPending = false;
      if (type === 'answer' && rejectsMedia(sdp)) {
        // The other browser turned our audio or video down: it has no codec
        // of ours (we offer only what frame encryption can carry).
        this.#log('peer: the answer turned media down');
        this.#onNegotiationFailed('no-common-codec');
        return;
      }
      await this.#flushCandidates();
      if (type === 'offer') {
        // The offer has the key agreement's data section: make our end of
        // the negotiated channel now, so that the answer keeps it and no
        // renegotiation follows.
        if (this.#e2ee && !this.#e2ee.hasChannel && /^m=application /m.test(sdp)) this.#e2ee.openChannel(pc);
        if (/^m=application /m.test(sdp)) {
          this.#openQualityChannel();
          this.#openSessionChannel();
        }
        this.#attachLocalTracks();
        this.#e2ee?.prepare(pc);
        await pc.setLocalDescription();
        this.#sendDescription();
      }
    } catch (err) {
      this.#isSettingRemoteAnswerPending = false;
      this.#log(`peer: ${type} failed: ${err}`);
      // Refused as such (not a race with our own offer or a closing
      // connection): the same description would be refused again.
      if (isRefusal(err) && !this.#closed) this.#onNegotiationFailed('sdp-refused');
    }
  }

  /** Put our tracks on the transceivers a remote offer created (answerer side). */
  #attachLocalTracks() {
    if (this.#tracksAttached || !this.#localStream) {
      this.#tracksAttached = true;
      return;
    }
    this.#tracksAttached = true;
    for (const track of this.#localStream.getTracks()) {
      // addTrack reuses a transceiver of the same kind that the offer created
      // and turns it into sendrecv; only when the offer had none of this kind
      // does it add one (and negotiationneeded follows after this answer).
      this.pc.addTrack(track, this.#localStream);
    }
  }

  #sendDescription() {
    const desc = this.pc.localDescription;
    if (!desc || (desc.type !== 'offer' && desc.type !== 'answer')) return;
    try {
      // Opus FEC and DTX: what we want from the other side's encoder; and
      // no lines of codecs our browser dropped (codeclines.js).
      const sdp = withOpusResilience(withoutOrphanCodecLines(desc.sdp));
      this.#send({ type: desc.type, sdp: this.#corruptOutgoing ? corruptCodecList(sdp) : sdp });
    } catch (err) {
      // encodeClientMessage refused it (e.g. SDP over the size bound).
      this.#log(`peer: cannot send ${desc.type}: ${err}`);
    }
  }

  /**
   * A trickled candidate from the other side. Kept until the remote
   * description it belongs to has been set.
   * @param {Pick<CandidateMessage, 'candidate' | 'sdpMid' | 'sdpMLineIndex' | 'usernameFragment'>} message
   */
  async handleCandidate(message) {
    if (this.#closed) return;
    // usernameFragment tells a candidate of an ICE session before a restart
    // from one of the current session.
    /** @type {RTCIceCandidateInit} */
    const init = {
      candidate: message.candidate,
      sdpMid: message.sdpMid ?? null,
      sdpMLineIndex: message.sdpMLineIndex ?? null,
      usernameFragment: message.usernameFragment ?? null,
    };
    if (!this.pc.remoteDescription) {
      this.#pendingCandidates.push(init);
      return;
    }
    await this.#addCandidate(init);
  }

  async #flushCandidates() {
    const pending = this.#pendingCandidates;
    this.#pendingCandidates = [];
    for (const init of pending) await this.#addCandidate(init);
  }

  /** @param {RTCIceCandidateInit} init */
  async #addCandidate(init) {
    try {
      // An empty candidate string is end-of-candidates, which addIceCandidate
      // understands as such.
      await this.pc.addIceCandidate(init);
    } catch (err) {
      // Candidates of an offer we ignored are expected to fail.
      if (!this.#ignoreOffer) this.#log(`peer: candidate failed: ${err}`);
    }
  }

  /**
   * Restart ICE: the therapist does it itself (a new offer with new ICE
   * credentials follows through negotiationneeded), the client asks the
   * therapist (protocol: `restart` goes to the impolite peer).
   * @returns {boolean} whether it was done or the request got to the socket
   */
  restartIce() {
    if (this.#closed) return false;
    if (this.#polite) {
      this.#log('peer: asking for an ICE restart');
      return this.#send({ type: 'restart' });
    }
    this.#log('peer: restarting ICE');
    this.pc.restartIce();
    return true;
  }

  /**
   * Use other ICE servers or another transport policy from the next ICE
   * restart on (compatibility mode). False when the browser refuses; then
   * only a new peer connection helps.
   * @param {IceConfiguration} configuration
   * @returns {boolean}
   */
  reconfigure(configuration) {
    if (this.#closed) return false;
    try {
      this.pc.setConfiguration({ ...this.pc.getConfiguration(), ...configuration });
      return true;
    } catch (err) {
      this.#log(`peer: setConfiguration refused: ${err}`);
      return false;
    }
  }

  /**
   * Call `fn` when the ICE transport picks another candidate pair, where the
   * browser has RTCIceTransport and its `selectedcandidatepairchange` event.
   * Call again after a renegotiation: the transport is made with the first
   * description. Returns whether a transport was found.
   * @param {() => void} fn
   * @returns {boolean}
   */
  watchSelectedPair(fn) {
    this.#unwatchPair?.();
    this.#unwatchPair = null;
    if (this.#closed) return false;
    const transports = [...this.pc.getSenders(), ...this.pc.getReceivers()].map((x) => x.transport);
    const ice = transports.find((t) => t?.iceTransport)?.iceTransport;
    if (!ice || typeof ice.addEventListener !== 'function') return false;
    ice.addEventListener('selectedcandidatepairchange', fn);
    this.#unwatchPair = () => ice.removeEventListener('selectedcandidatepairchange', fn);
    return true;
  }

  /**
   * @returns {Promise<import('./stats.js').PathInfo & import('./stats.js').InboundSummary>}
   */
  async stats() {
    const report = await this.pc.getStats();
    const list = [...report.values()];
    return { ...mediaPath(list), ...inboundSummary(list) };
  }

  /**
   * A quality sample: rates since the previous call of this method.
   * @returns {Promise<import('./stats.js').MeasuredSample>}
   */
  async qualitySample() {
    const report = await this.pc.getStats();
    const { sample, counters } = qualitySample(report.values(), this.#counters, performance.now());
    this.#counters = counters;
    return sample;
  }

  #openQualityChannel() {
    if (this.#qualityChannel || this.#closed) return;
    try {
      const channel = this.pc.createDataChannel(QUALITY_CHANNEL_LABEL, { negotiated: true, id: QUALITY_CHANNEL_ID, ordered: true });
      channel.onmessage = (event) => this.#onQualityMessage(event.data);
      this.#qualityChannel = channel;
    } catch (err) {
      this.#log(`peer: no quality channel: ${err}`);
    }
  }

  #openSessionChannel() {
    if (this.#sessionChannel || this.#closed) return;
    try {
      // Ordered: a chat reads in the order it was written.
      const channel = this.pc.createDataChannel(SESSION_CHANNEL_LABEL, { negotiated: true, id: SESSION_CHANNEL_ID, ordered: true });
      this.#sessionChannel = channel;
      this.#onSessionChannel(channel, () => this.#lineUp());
    } catch (err) {
      this.#log(`peer: no session channel: ${err}`);
    }
  }

  /**
   * Whether a data channel may write now: our ICE is connected. Firefox fails
   * the connection's DTLS transport (and with it the whole call) when a data
   * channel writes while its ICE is disconnected, so nothing is written into
   * a cut; every writer resends what matters when the line is back.
   */
  #lineUp() {
    const ice = this.pc.iceConnectionState;
    return !this.#closed && (ice === 'connected' || ice === 'completed');
  }

  /** Whether our video sender carries a shared screen (`contentHint = 'detail'`, screenshare.js). */
  get sendsContent() {
    const video = this.pc.getSenders().find((x) => x.track?.kind === 'video');
    return video?.track?.contentHint === 'detail';
  }

  /**
   * Send on the quality channel.
   * @param {object} message
   * @returns {boolean} false while the channel is not open or the line is down (nothing is
   *   queued: the quality loop says it all again every step)
   */
  sendQuality(message) {
    const channel = this.#qualityChannel;
    if (!channel || channel.readyState !== 'open' || !this.#lineUp()) return false;
    try {
      channel.send(JSON.stringify(message));
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Apply a profile to our video sender, and give audio priority over video
   * on the first call. Browsers that refuse a field keep the rest.
   * @param {SendProfile} profile
   * @returns {Promise<boolean>} whether the video sender took it
   */
  async applyProfile(profile) {
    if (this.#closed) return false;
    const senders = this.pc.getSenders();
    if (!this.#audioPrioritized) {
      const audio = senders.find((x) => x.track?.kind === 'audio');
      if (audio) {
        this.#audioPrioritized = true;
        await this.#setEncoding(audio, (e) => {
          e.priority = 'high';
          e.networkPriority = 'high';
        });
      }
    }
    const video = senders.find((x) => x.track?.kind === 'video');
    if (!video) return false;
    return await this.#setEncoding(video, (e) => {
      e.active = profile.video;
      if (profile.video) e.maxBitrate = profile.maxKbps * 1000;
      e.scaleResolutionDownBy = profile.scale;
      if (profile.maxFramerate !== null) e.maxFramerate = profile.maxFramerate;
      else delete e.maxFramerate;
    });
  }

  /**
   * @param {RTCRtpSender} sender
   * @param {(encoding: RTCRtpEncodingParameters) => void} change
   * @returns {Promise<boolean>}
   */
  async #setEncoding(sender, change) {
    try {
      const params = sender.getParameters();
      if (!params.encodings || params.encodings.length === 0) return false;
      for (const e of params.encodings) change(e);
      await sender.setParameters(params);
      return true;
    } catch (err) {
      this.#log(`peer: setParameters refused: ${err}`);
      return false;
    }
  }

  get closed() {
    return this.#closed;
  }

  close() {
    if (this.#closed) return;
    this.#closed = true;
    this.#unwatchPair?.();
    this.#unwatchPair = null;
    this.pc.onnegotiationneeded = null;
    this.pc.onicecandidate = null;
    this.pc.ontrack = null;
    this.pc.oniceconnectionstatechange = null;
    this.pc.onconnectionstatechange = null;
    if (this.#qualityChannel) this.#qualityChannel.onmessage = null;
    if (this.#sessionChannel) {
      this.#sessionChannel.onmessage = null;
      this.#sessionChannel.onopen = null;
    }
    // connectionstatechange does not fire for close(); the page sets 'closed'.
    this.pc.close();
    this.#e2ee?.close();
  }
}
