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
import { FrameWorker, NO_COUNTERS } from './frameworker.js';
import { Transforms } from './transforms.js';

/** @typedef {import('./keyagreement.js').E2eeState} E2eeState */
/** @typedef {import('./keyagreement.js').AgreementAction} AgreementAction */
/** @typedef {import('./e2ee-debug.js').TestHooks} TestHooks */
/** @typedef {import('./keyagreement.js').FallbackReason} FallbackReason */
/** @typedef {import('./e2ee.js').Ephemeral} Ephemeral */
/** @typedef {import('./frameworker.js').Counters} Counters */

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

/** @typedef {import('./transforms.js').TransformInfo} TransformInfo */

export { NO_COUNTERS };

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
  /** @type {FrameWorker | null} */
  #worker = null;
  /** @type {RTCPeerConnection | null} */
  #pc = null;
  /** The connection the key agreement's channel belongs to. @type {RTCPeerConnection | null} */
  #channelPc = null;
  /** Messages said while the line was down (#send). @type {import('./e2ee.js').PeerMessage[]} */
  #waiting = [];
  /** @type {RTCDataChannel | null} */
  #channel = null;
  /** @type {Transforms} */
  #transforms;
  /** @type {Map<number, Ephemeral>} our key pair per epoch, until the keys are derived */
  #ephemerals = new Map();
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
    this.#transforms = new Transforms({
      path: this.#support,
      forced: this.#forced,
      skipReceive: this.#hooks.skipReceiveTransform === true,
      onFailed: () => this.#onTransformFailed(),
      log: this.#log,
    });
    this.#agreement = new KeyAgreement({
      role: options.role,
      required: options.required,
      supported: this.#support !== null,
      epoch: options.epoch,
      log: this.#log,
    });
    if (this.#support) {
      this.#worker = new FrameWorker(this.#log);
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
   * restrict codecs to VP8 and Opus (transforms.js). Call after adding tracks
   * or transceivers and after setting a remote offer, before the local
   * description is made.
   * @param {RTCPeerConnection} pc
   */
  prepare(pc) {
    if (!this.#closed) this.#transforms.prepare(this.#worker?.worker ?? null, pc);
  }

  /** The encoded-transform path and how many senders and receivers got their transform. */
  get transformInfo() {
    return this.#transforms.info;
  }

  /**
   * Whether this sender or receiver has its transform from us.
   * @param {RTCRtpSender | RTCRtpReceiver} target
   */
  hasTransform(target) {
    return this.#transforms.has(target);
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
    if (!this.#worker || this.#closed) return Promise.resolve(structuredClone(NO_COUNTERS));
    return this.#worker.counters();
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
    // Terminating drops the keys with the worker's memory.
    this.#worker?.terminate();
    this.#worker = null;
  }

  // -------------------------------------------------------------------------

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
        this.#worker?.useSendKey(action.epoch);
        break;
      case 'remove-receive-key':
        this.#worker?.removeReceiveKey(action.epoch);
        break;
      case 'passthrough':
        this.#worker?.passthrough();
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
    worker.sendKey(epoch, keys.send);
    await worker.receiveKey(epoch, keys.receive);
    this.#run(this.#agreement.derived(epoch, sas, now()));
  }
}
