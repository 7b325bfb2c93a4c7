// The encoded transforms of a page's peer connections: every sender and every
// receiver gets its own transform in the frame-encryption worker, and the
// codecs are restricted to those whose packetizers our framing knows.
//
// Shared by the two drivers of that worker: frame-encryption.js (two people,
// keys from the pairwise agreement) and groupencryption.js (a group, one
// sender key per member). No keys here; only the plumbing from the browser's
// senders and receivers into the worker.

import { toWorker } from './worker-messages.js';

/** @typedef {import('./e2ee-debug.js').TransformPath} TransformPath */

/**
 * Where the transforms are, for the tests' handle: the path, and how many
 * senders and receivers of each kind got theirs.
 * @typedef {object} TransformInfo
 * @property {TransformPath | null} path
 * @property {TransformPath | null} forced a test switch chose the path
 * @property {{send: {audio: number, video: number}, receive: {audio: number, video: number}}} attached
 */

/**
 * @typedef {object} TransformOptions
 * @property {TransformPath | null} path what this browser has (transformSupport)
 * @property {TransformPath | null} forced the path a test switch forced, if any
 * @property {boolean} [skipReceive] TEST HOOK: no decrypting transform on receivers
 * @property {() => void} onFailed a transform could not be put on
 * @property {(text: string) => void} log
 */

export class Transforms {
  #o;
  /** @type {WeakSet<RTCRtpSender | RTCRtpReceiver>} */
  #attached = new WeakSet();
  /** @type {WeakSet<RTCRtpSender | RTCRtpReceiver>} those whose transform went on */
  #inPlace = new WeakSet();
  /** @type {WeakSet<RTCRtpTransceiver>} */
  #codecsSet = new WeakSet();
  #count = { send: { audio: 0, video: 0 }, receive: { audio: 0, video: 0 } };

  /** @param {TransformOptions} options */
  constructor(options) {
    this.#o = options;
  }

  /**
   * Attach the transforms to every sender and receiver of `pc` not yet done
   * and restrict codecs to VP8 and Opus. Call after adding tracks or
   * transceivers and after setting a remote offer, before the local
   * description is made.
   * @param {Worker | null} worker
   * @param {RTCPeerConnection} pc
   */
  prepare(worker, pc) {
    if (!worker || !this.#o.path) return;
    for (const transceiver of pc.getTransceivers()) {
      const kind = transceiver.receiver.track.kind === 'audio' ? 'audio' : 'video';
      this.#setCodecs(transceiver, kind);
      this.#attach(worker, transceiver.sender, 'send', kind);
      if (!this.#o.skipReceive) this.#attach(worker, transceiver.receiver, 'receive', kind);
    }
  }

  /** @returns {TransformInfo} */
  get info() {
    return { path: this.#o.path, forced: this.#o.forced, attached: structuredClone(this.#count) };
  }

  /**
   * Whether this sender or receiver has its transform from us (both paths;
   * the createEncodedStreams path leaves no trace on the object itself).
   * @param {RTCRtpSender | RTCRtpReceiver} target
   */
  has(target) {
    return this.#inPlace.has(target);
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
      this.#o.log(`e2ee: setCodecPreferences refused: ${err}`);
    }
  }

  /**
   * Put a transform on one sender or receiver, once.
   *
   * Always a new RTCRtpScriptTransform for each sender and each receiver, and
   * each connection has its own driver (connection.js `open()` makes a
   * FrameEncryption per RTCPeerConnection, also for the fresh connection of a
   * reconnect or compatibility mode; a group's call start makes a fresh
   * GroupEncryption), so no transform object is ever used twice. WebKit
   * cannot reuse one: assigning a transform that is in use throws
   * InvalidStateError ("transform is already in use", WebKit
   * Source/WebCore/Modules/mediastream/RTCRtpSender.cpp and RTCRtpReceiver.cpp
   * `setTransform`), and one whose sender or receiver went away has dropped
   * its transformer for good (RTCRtpScriptTransform.cpp `clear()`), so it
   * would never run again; Chromium throws the same error (blink
   * rtc_rtp_sender.cc `setTransform`). An ICE restart keeps the senders and
   * receivers, and with them their transforms.
   * @param {Worker} worker
   * @param {RTCRtpSender | RTCRtpReceiver} target
   * @param {'send' | 'receive'} side
   * @param {'audio' | 'video'} kind
   */
  #attach(worker, target, side, kind) {
    if (this.#attached.has(target)) return;
    // Marked before trying: createEncodedStreams works once per target, and a
    // transform that failed to go on would fail the same way again.
    this.#attached.add(target);
    try {
      if (this.#o.path === 'script-transform') {
        target.transform = new RTCRtpScriptTransform(worker, { side, kind });
      } else {
        const t = /** @type {{createEncodedStreams: () => {readable: ReadableStream, writable: WritableStream}}} */ (
          /** @type {unknown} */ (target)
        );
        const { readable, writable } = t.createEncodedStreams();
        toWorker(worker, { type: 'streams', side, kind, readable, writable }, [readable, writable]);
      }
      this.#inPlace.add(target);
      this.#count[side][kind] += 1;
    } catch (err) {
      this.#o.log(`e2ee: cannot attach ${side} transform: ${err}`);
      this.#o.onFailed();
    }
  }
}
