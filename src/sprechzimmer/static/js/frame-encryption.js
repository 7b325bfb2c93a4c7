// Frame end-to-end encryption for one RTCPeerConnection: the glue between
// the pure key agreement (e2ee.js), the data channel, WebCrypto, and the
// encoded-transform worker (e2ee-worker.js).
//
// Over 400 lines on purpose: the one place where the key agreement meets the
// browser's APIs (two encoded-transform paths, the data channel, the worker);
// the decisions are in keyagreement.js, this file only carries them out.
//
// No DOM. Never sends anything to the signaling server: key agreement runs
// over the data channel between the two browsers only. Never logs a key, a
// secret or anything derived from one (the verification code is shown, not
// logged).

import {
  DATA_CHANNEL_ID,
  DATA_CHANNEL_LABEL,
  FingerprintError,
  PeerMessageError,
  commitment,
  decodePeerMessage,
  directionKeys,
  dtlsFingerprint,
  ecdhSecret,
  encodePeerMessage,
  equalBytes,
  fromBase64,
  generateEphemeral,
  keysFor,
  sasCode,
  toBase64,
  transcriptHash,
} from './e2ee.js';
import { KeyAgreement } from './keyagreement.js';
import { toWorker } from './worker-messages.js';

/** @typedef {import('./keyagreement.js').E2eeState} E2eeState */
/** @typedef {import('./keyagreement.js').AgreementAction} AgreementAction */
/** @typedef {import('./e2ee-debug.js').TestHooks} TestHooks */
/** @typedef {import('./keyagreement.js').FallbackReason} FallbackReason */
/** @typedef {import('./e2ee.js').Ephemeral} Ephemeral */
/** @typedef {import('./worker-messages.js').Counters} WorkerCounters */
/** @typedef {import('./worker-messages.js').WorkerToPage} WorkerToPage */
/** @typedef {Omit<WorkerCounters, 'encryptFailures'>} Counters */

/** @typedef {import('./e2ee-debug.js').TransformPath} TransformPath */

/**
 * What this browser has for transforming encoded frames.
 * @typedef {object} TransformApis
 * @property {boolean} worker module workers and WebCrypto, which both paths need
 * @property {boolean} scriptTransform `RTCRtpScriptTransform` (the standard; Chromium >= 141,
 *   Firefox, Safari >= 15.4)
 * @property {boolean} encodedStreams `createEncodedStreams` (Chromium only)
 */

/** A test switch forced an encoded-transform path that this browser lacks. */
export class TransformUnavailableError extends Error {}

/**
 * Which encoded-transform path to take: the standard one where there is one,
 * Chromium's older API otherwise, none without a worker. `forced` comes only
 * from a test switch (e2ee-debug.js); a forced path that is missing throws,
 * so that a test meant for one path can never pass on the other.
 * @param {TransformApis} apis
 * @param {TransformPath | null} [forced]
 * @returns {TransformPath | null}
 */
export function chooseTransform(apis, forced = null) {
  if (forced) {
    const has = forced === 'script-transform' ? apis.scriptTransform : apis.encodedStreams;
    if (!has || !apis.worker) {
      throw new TransformUnavailableError(`TEST SWITCH force-${forced}: this browser cannot take the ${forced} path`);
    }
    return forced;
  }
  if (!apis.worker) return null;
  if (apis.scriptTransform) return 'script-transform';
  if (apis.encodedStreams) return 'encoded-streams';
  return null;
}

/** @returns {TransformApis} what this browser has, by feature detection */
export function transformApis() {
  return {
    worker: typeof Worker === 'function' && !!globalThis.crypto?.subtle,
    scriptTransform: typeof RTCRtpScriptTransform === 'function',
    encodedStreams: typeof RTCRtpSender !== 'undefined' && 'createEncodedStreams' in RTCRtpSender.prototype,
  };
}

/**
 * How this browser can transform encoded frames.
 * @param {TransformPath | null} [forced] a test switch's path (throws if missing)
 * @returns {TransformPath | null}
 */
export function transformSupport(forced = null) {
  return chooseTransform(transformApis(), forced);
}

/**
 * Where the transforms of one connection are, for the tests' handle: the
 * path, and how many senders and receivers of each kind got theirs.
 * @typedef {object} TransformInfo
 * @property {TransformPath | null} path
 * @property {TransformPath | null} forced a test switch chose the path
 * @property {{send: {audio: number, video: number}, receive: {audio: number, video: number}}} attached
 */

/** Counters of a connection without a worker (yet): all zero. */
/** @type {Counters} */
export const NO_COUNTERS = Object.freeze({
  encrypted: { audio: 0, video: 0 },
  decrypted: { audio: 0, video: 0 },
  received: { audio: 0, video: 0 },
  decryptFailures: 0,
  droppedNoKey: 0,
  sendDroppedNoKey: 0,
  passthrough: 0,
});

/**
 * @typedef {object} E2eeOptions
 * @property {'therapist' | 'client'} role
 * @property {number} epoch from `admitted`
 * @property {boolean} required `admitted.e2ee_required`
 * @property {TestHooks} [testHooks] for the negative end-to-end tests only (e2ee-debug.js)
 * @property {() => void} onChange state, epoch, code or verification changed
 * @property {(reason: FallbackReason) => void} onEndMedia fail closed: the page ends the media
 * @property {() => void} [onTransformFailed] a sender's or receiver's transform could not be
 *   put on: that sender would send in the clear, that receiver get ciphertext; the page ends
 *   the connection (negotiation-failed `transform-failed`), a retry would fail the same way
 * @property {(text: string) => void} [log]
 */

export class FrameEncryption {
  #role;
  /** @type {TestHooks} */
  #hooks;
  #onChange;
  #onEndMedia;
  /** @type {() => void} */
  #onTransformFailed;
  #log;
  /** @type {TransformPath | null} */
  #support;
  /** @type {TransformPath | null} */
  #forced;
  #agreement;
  /** @type {Worker | null} */
  #worker = null;
  /** @type {RTCPeerConnection | null} */
  #pc = null;
  /** The connection the key agreement's channel belongs to. @type {RTCPeerConnection | null} */
  #channelPc = null;
  /** Messages said while the line was down (#send). @type {import('./e2ee.js').PeerMessage[]} */
  #waiting = [];
  /** @type {RTCDataChannel | null} */
  #channel = null;
  /** @type {WeakSet<RTCRtpSender | RTCRtpReceiver>} */
  #attached = new WeakSet();
  /** Senders and receivers whose transform is in place, per side and kind (tests). */
  #attachedCount = { send: { audio: 0, video: 0 }, receive: { audio: 0, video: 0 } };
  /** @type {WeakSet<RTCRtpSender | RTCRtpReceiver>} those whose transform went on */
  #inPlace = new WeakSet();
  /** @type {WeakSet<RTCRtpTransceiver>} */
  #codecsSet = new WeakSet();
  /** @type {Map<number, Ephemeral>} our key pair per epoch, until the keys are derived */
  #ephemerals = new Map();
  /** @type {Map<number, () => void>} */
  #installed = new Map();
  /** @type {Map<number, (c: Counters) => void>} */
  #counterRequests = new Map();
  #nextRequest = 1;
  /** @type {ReturnType<typeof setTimeout> | null} */
  #timer = null;
  /** Serializes the actions: crypto is async, the protocol order is not. */
  /** @type {Promise<void>} */
  #queue = Promise.resolve();
  #closed = false;

  /** @param {E2eeOptions} options */
  constructor(options) {
    this.#role = options.role;
    this.#hooks = options.testHooks ?? {};
    this.#forced = this.#hooks.forceTransform ?? null;
    // A forced path the browser lacks throws here, before anything is made:
    // the test switch fails loudly instead of the call taking the other path.
    this.#support = transformSupport(this.#forced);
    this.#onChange = options.onChange;
    this.#onEndMedia = options.onEndMedia;
    this.#onTransformFailed = options.onTransformFailed ?? (() => {});
    this.#log = options.log ?? (() => {});
    this.#agreement = new KeyAgreement({
      role: options.role,
      required: options.required,
      supported: this.#support !== null,
      epoch: options.epoch,
      log: this.#log,
    });
    if (this.#support) {
      this.#worker = new Worker(new URL('./e2ee-worker.js', import.meta.url), { type: 'module', name: 'sprechzimmer-e2ee' });
      this.#worker.onmessage = (event) => this.#fromWorker(event.data);
      this.#worker.onerror = () => this.#log('e2ee: worker error');
    }
  }

  /** Extra RTCPeerConnection configuration (the createEncodedStreams path needs a flag). */
  get pcConfiguration() {
    return this.#support === 'encoded-streams' ? { encodedInsertableStreams: true } : {};
  }

  get state() {
    return this.#agreement.state;
  }
  get epoch() {
    return this.#agreement.epoch;
  }
  get sendKid() {
    return this.#agreement.sendEpoch;
  }
  get sas() {
    return this.#agreement.sas;
  }
  get verified() {
    return this.#agreement.verified;
  }
  get keyAgeSeconds() {
    return this.#agreement.keyAgeSeconds(performance.now());
  }

  /**
   * The connection exists (before any offer or answer).
   * @param {RTCPeerConnection} pc
   */
  start(pc) {
    this.#pc = pc;
    this.#run(this.#agreement.start(performance.now()));
  }

  /**
   * Attach the transforms to every sender and receiver not yet done and
   * restrict codecs to VP8 and Opus. Call after adding tracks or
   * transceivers and after setting a remote offer, before the local
   * description is made.
   * @param {RTCPeerConnection} pc
   */
  prepare(pc) {
    if (!this.#support || this.#closed) return;
    for (const transceiver of pc.getTransceivers()) {
      const kind = transceiver.receiver.track.kind === 'audio' ? 'audio' : 'video';
      this.#setCodecs(transceiver, kind);
      this.#attach(transceiver.sender, 'send', kind);
      if (!this.#hooks.skipReceiveTransform) this.#attach(transceiver.receiver, 'receive', kind);
    }
  }

  /**
   * @param {RTCRtpTransceiver} transceiver
   * @param {'audio' | 'video'} kind
   */
  #setCodecs(transceiver, kind) {
    if (this.#codecsSet.has(transceiver) || typeof transceiver.setCodecPreferences !== 'function') return;
    this.#codecsSet.add(transceiver);
    const all = RTCRtpReceiver.getCapabilities(kind)?.codecs ?? [];
    // Other codecs' packetizers read bytes we encrypt; RTX only resends packets.
    const wanted = kind === 'video' ? ['video/vp8', 'video/rtx'] : ['audio/opus'];
    const codecs = all.filter((c) => wanted.includes(c.mimeType.toLowerCase()));
    if (!codecs.some((c) => c.mimeType.toLowerCase() !== 'video/rtx')) return;
    try {
      transceiver.setCodecPreferences(codecs);
    } catch (err) {
      this.#log(`e2ee: setCodecPreferences refused: ${err}`);
    }
  }

  /**
   * Put a transform on one sender or receiver, once.
   *
   * Always a new RTCRtpScriptTransform for each sender and each receiver, and
   * each connection has its own FrameEncryption (connection.js `open()` makes
   * one per RTCPeerConnection, also for the fresh connection of a reconnect or
   * compatibility mode), so no transform object is ever used twice. WebKit
   * cannot reuse one: assigning a transform that is in use throws
   * InvalidStateError ("transform is already in use", WebKit
   * Source/WebCore/Modules/mediastream/RTCRtpSender.cpp and RTCRtpReceiver.cpp
   * `setTransform`), and one whose sender or receiver went away has dropped
   * its transformer for good (RTCRtpScriptTransform.cpp `clear()`), so it
   * would never run again; Chromium throws the same error (blink
   * rtc_rtp_sender.cc `setTransform`). An ICE restart keeps the senders and
   * receivers, and with them their transforms.
   * @param {RTCRtpSender | RTCRtpReceiver} target
   * @param {'send' | 'receive'} side
   * @param {'audio' | 'video'} kind
   */
  #attach(target, side, kind) {
    const worker = this.#worker;
    if (!worker || this.#attached.has(target)) return;
    // Marked before trying: createEncodedStreams works once per target, and a
    // transform that failed to go on would fail the same way again.
    this.#attached.add(target);
    try {
      if (this.#support === 'script-transform') {
        target.transform = new RTCRtpScriptTransform(worker, { side, kind });
      } else {
        const t = /** @type {{createEncodedStreams: () => {readable: ReadableStream, writable: WritableStream}}} */ (
          /** @type {unknown} */ (target)
        );
        const { readable, writable } = t.createEncodedStreams();
        toWorker(worker, { type: 'streams', side, kind, readable, writable }, [readable, writable]);
      }
      this.#inPlace.add(target);
      this.#attachedCount[side][kind] += 1;
    } catch (err) {
      this.#log(`e2ee: cannot attach ${side} transform: ${err}`);
      this.#onTransformFailed();
    }
  }

  /**
   * The encoded-transform path and how many senders and receivers got their
   * transform, for the tests' handle.
   * @returns {TransformInfo}
   */
  get transformInfo() {
    return { path: this.#support, forced: this.#forced, attached: structuredClone(this.#attachedCount) };
  }

  /**
   * Whether this sender or receiver has its transform from us (both paths;
   * the createEncodedStreams path leaves no trace on the object itself).
   * @param {RTCRtpSender | RTCRtpReceiver} target
   */
  hasTransform(target) {
    return this.#inPlace.has(target);
  }

  /**
   * The data channel of the key agreement: both sides make it themselves
   * (negotiated, id 0). The therapist before its first offer, the client
   * when the offer it answers has a data section.
   * @param {RTCPeerConnection} pc
   */
  openChannel(pc) {
    if (this.#channel || this.#closed) return;
    const channel = pc.createDataChannel(DATA_CHANNEL_LABEL, { negotiated: true, id: DATA_CHANNEL_ID, ordered: true });
    this.#channel = channel;
    this.#channelPc = pc;
    // What was said into a cut goes when the line is back (#send).
    pc.addEventListener('iceconnectionstatechange', () => this.#flush());
    channel.onopen = () => this.#run(this.#agreement.channelOpen(performance.now()));
    channel.onmessage = (event) => {
      let message;
      try {
        message = decodePeerMessage(event.data);
      } catch (err) {
        if (!(err instanceof PeerMessageError)) throw err;
        this.#log(`e2ee: bad message from the peer: ${err.message}`);
        this.#run(this.#agreement.failed(-1, 'bad message', performance.now()));
        return;
      }
      this.#run(this.#agreement.receive(message, performance.now()));
    };
  }

  /** Whether the client's channel is still to be made for this remote offer. */
  get hasChannel() {
    return this.#channel !== null;
  }

  /** The media connection is up. */
  connected() {
    this.#run(this.#agreement.connected(performance.now()));
  }

  /** @param {number} epoch the server's `rekey` */
  rekey(epoch) {
    this.#run(this.#agreement.rekey(epoch, performance.now()));
  }

  /** The therapist confirms the codes match. */
  verify() {
    this.#run(this.#agreement.verify());
  }

  /** @returns {Promise<Counters>} cumulative counters of the worker */
  counters() {
    const worker = this.#worker;
    if (!worker || this.#closed) return Promise.resolve(structuredClone(NO_COUNTERS));
    const id = this.#nextRequest++;
    return new Promise((resolve) => {
      this.#counterRequests.set(id, resolve);
      toWorker(worker, { type: 'counters', id });
      setTimeout(() => {
        if (this.#counterRequests.delete(id)) resolve(structuredClone(NO_COUNTERS));
      }, 2000);
    });
  }

  close() {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#channel) {
      this.#channel.onopen = this.#channel.onmessage = null;
      this.#channel.close();
    }
    this.#ephemerals.clear();
    for (const resolve of this.#counterRequests.values()) resolve(structuredClone(NO_COUNTERS));
    this.#counterRequests.clear();
    // Terminating drops the keys with the worker's memory.
    this.#worker?.terminate();
    this.#worker = null;
  }

  // -------------------------------------------------------------------------

  /** @param {unknown} data */
  #fromWorker(data) {
    // Only our own worker posts here.
    const m = /** @type {WorkerToPage} */ (data);
    if (m.type === 'counters') {
      const resolve = this.#counterRequests.get(m.id);
      this.#counterRequests.delete(m.id);
      if (resolve) {
        const { encryptFailures: _unused, ...counters } = m.counters;
        resolve(counters);
      }
    } else if (m.type === 'installed' || m.type === 'install-failed') {
      this.#installed.get(m.kid)?.();
      this.#installed.delete(m.kid);
    }
  }

  /** @param {AgreementAction[]} actions */
  #run(actions) {
    if (actions.length === 0) {
      this.#arm();
      if (!this.#closed) this.#onChange();
      return;
    }
    this.#queue = this.#queue
      .then(async () => {
        for (const action of actions) {
          if (this.#closed) return;
          await this.#do(action);
        }
      })
      .catch((err) => this.#log(`e2ee: ${err}`))
      .finally(() => {
        this.#arm();
        if (!this.#closed) this.#onChange();
      });
  }

  #arm() {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    const at = this.#agreement.timer();
    if (at === null || this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#run(this.#agreement.handleTimer(performance.now()));
    }, Math.max(0, at - performance.now()));
  }

  /** @param {AgreementAction} action */
  async #do(action) {
    switch (action.type) {
      case 'send':
        this.#send(action.message);
        break;
      case 'commit': {
        const own = await generateEphemeral();
        this.#ephemerals.set(action.epoch, own);
        this.#send({ type: 'key-commit', epoch: action.epoch, commit: toBase64(await commitment(own.pub)) });
        break;
      }
      case 'share': {
        let own = this.#ephemerals.get(action.epoch);
        if (!own) {
          own = await generateEphemeral();
          this.#ephemerals.set(action.epoch, own);
        }
        this.#send({ type: 'key-share', epoch: action.epoch, pub: toBase64(own.pub) });
        break;
      }
      case 'derive':
        await this.#derive(action.epoch, action.peerPub, action.commit);
        break;
      case 'use-send-key':
        if (this.#worker) toWorker(this.#worker, { type: 'use-send-key', kid: action.epoch });
        break;
      case 'remove-receive-key':
        if (this.#worker) toWorker(this.#worker, { type: 'remove-receive-key', kid: action.epoch });
        break;
      case 'passthrough':
        if (this.#worker) toWorker(this.#worker, { type: 'mode', mode: 'passthrough' });
        break;
      case 'end-media':
        this.#onEndMedia(action.reason);
        break;
    }
  }

  /**
   * Nothing is written while our ICE is down: Firefox fails the connection's
   * DTLS transport (and the call with it) when a data channel writes into a
   * cut, and a renewal the server schedules may come right then. The messages
   * wait, in order, and go when the line is back.
   * @param {import('./e2ee.js').PeerMessage} message
   */
  #send(message) {
    const channel = this.#channel;
    if (!channel || channel.readyState !== 'open') return;
    this.#waiting.push(message);
    this.#flush();
  }

  #flush() {
    const channel = this.#channel;
    const ice = this.#channelPc?.iceConnectionState;
    if (this.#closed || !channel || channel.readyState !== 'open' || (ice !== 'connected' && ice !== 'completed')) return;
    for (const message of this.#waiting.splice(0)) channel.send(encodePeerMessage(message));
  }

  /**
   * @param {number} epoch
   * @param {string} peerPubText
   * @param {string | null} peerCommit
   */
  async #derive(epoch, peerPubText, peerCommit) {
    const now = () => performance.now();
    const own = this.#ephemerals.get(epoch);
    const peerPub = fromBase64(peerPubText);
    const pc = this.#pc;
    if (!own || !peerPub || !pc) {
      this.#run(this.#agreement.failed(epoch, 'missing key pair', now()));
      return;
    }
    if (peerCommit !== null) {
      const expected = fromBase64(peerCommit);
      if (!expected || !equalBytes(expected, await commitment(peerPub))) {
        this.#run(this.#agreement.failed(epoch, 'commitment does not match', now()));
        return;
      }
    }
    let local;
    let remote;
    try {
      local = dtlsFingerprint(pc.localDescription?.sdp ?? '');
      remote = dtlsFingerprint(pc.remoteDescription?.sdp ?? '');
    } catch (error) {
      if (!(error instanceof FingerprintError)) throw error;
      // A fingerprint we cannot bind: the DTLS path may not be the browsers' own.
      this.#run(this.#agreement.failed(epoch, `DTLS fingerprint refused: ${error.message}`, now()));
      return;
    }
    if (!local || !remote) {
      this.#run(this.#agreement.failed(epoch, 'no DTLS fingerprint', now()));
      return;
    }
    const therapist = this.#role === 'therapist';
    let secret;
    try {
      secret = await ecdhSecret(own.privateKey, peerPub);
    } catch {
      this.#run(this.#agreement.failed(epoch, 'bad public key', now()));
      return;
    }
    this.#ephemerals.delete(epoch); // forward secrecy: the private key goes now
    const transcript = await transcriptHash({
      epoch,
      therapistFingerprint: therapist ? local : remote,
      clientFingerprint: therapist ? remote : local,
      therapistPub: therapist ? own.pub : peerPub,
      clientPub: therapist ? peerPub : own.pub,
    });
    const keys = keysFor(this.#role, await directionKeys(secret, transcript));
    secret.fill(0);
    const sas = await sasCode(transcript);
    this.#hooks.spoilReceiveKey?.(keys.receive);
    const worker = this.#worker;
    if (!worker || this.#closed) return;
    const installed = new Promise((resolve) => this.#installed.set(epoch, () => resolve(undefined)));
    toWorker(worker, { type: 'send-key', kid: epoch, key: keys.send }, [keys.send.buffer]);
    toWorker(worker, { type: 'receive-key', kid: epoch, key: keys.receive }, [keys.receive.buffer]);
    await installed;
    this.#run(this.#agreement.derived(epoch, sas, now()));
  }
}
