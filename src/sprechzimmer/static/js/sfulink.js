// One connection to the SFU on a group call's SFU path (issue 16): either our
// publication (our camera and microphone go up once, the SFU forwards them to
// everyone) or a subscription (one other member's media comes down).
//
// The SFU never sees a clear frame: the same frame encryption as in a mesh
// (groupencryption.js, one sender key per member) puts its transforms on
// every sender and receiver before any description that could start media.
// The descriptions go through our server (`sfu-publish`, `sfu-subscribe`,
// docs/protocol.md), complete with candidates: the SFU's API takes no
// trickled ones from us, so we wait for gathering to end (bounded).
//
// No perfect negotiation here: the SFU never offers to a publisher, and each
// subscription is offered once; a new start of the call makes new links.

import { inboundSummary, mediaPath } from './stats.js';

/** @typedef {import('./groupencryption.js').LinkEncryption} LinkEncryption */
/** @typedef {import('./ice.js').IceConfiguration} IceConfiguration */

/** How long we wait for our candidates before sending what we have. */
export const GATHER_MS = 3000;

/**
 * @typedef {object} SfuLinkOptions
 * @property {IceConfiguration} configuration
 * @property {LinkEncryption} e2ee
 * @property {(state: RTCPeerConnectionState) => void} onState
 * @property {(stream: MediaStream) => void} [onStream] a subscription's media, once it comes
 * @property {(text: string) => void} [log]
 */

export class SfuLink {
  /** @type {RTCPeerConnection} */
  pc;
  #o;
  #stream = new MediaStream();
  #closed = false;

  /** @param {SfuLinkOptions} options */
  constructor(options) {
    this.#o = options;
    this.pc = new RTCPeerConnection({
      ...options.configuration,
      ...options.e2ee.pcConfiguration,
      bundlePolicy: 'max-bundle',
      rtcpMuxPolicy: 'require',
    });
    const pc = this.pc;
    pc.onconnectionstatechange = () => {
      options.log?.(`sfu: connection ${pc.connectionState}`);
      options.onState(pc.connectionState);
    };
    pc.ontrack = ({ track }) => {
      options.e2ee.prepare(pc);
      for (const old of this.#stream.getTracks()) if (old.kind === track.kind) this.#stream.removeTrack(old);
      this.#stream.addTrack(track);
      options.onStream?.(this.#stream);
    };
  }

  /**
   * Our publication: our tracks go up (send only), encrypted; the offer to send.
   * @param {MediaStream | null} stream
   * @returns {Promise<string | null>} the offer with its candidates; null once closed
   */
  async publish(stream) {
    for (const kind of /** @type {const} */ (['audio', 'video'])) {
      const track = stream?.getTracks().find((t) => t.kind === kind);
      // Without a camera or microphone nothing of that kind goes up.
      if (track && stream) this.pc.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
    }
    this.#o.e2ee.prepare(this.pc);
    await this.pc.setLocalDescription(await this.pc.createOffer());
    return await this.#complete();
  }

  /** The SFU's answer to our publication. @param {string} sdp */
  async published(sdp) {
    if (this.#closed) return;
    await this.pc.setRemoteDescription({ type: 'answer', sdp });
  }

  /**
   * A subscription: the SFU's offer of one member's media; our answer.
   * @param {string} sdp
   * @returns {Promise<string | null>} the answer with its candidates; null once closed
   */
  async subscribe(sdp) {
    await this.pc.setRemoteDescription({ type: 'offer', sdp });
    // Before the answer: the decrypting transforms are on when the first frame comes.
    this.#o.e2ee.prepare(this.pc);
    await this.pc.setLocalDescription(await this.pc.createAnswer());
    return await this.#complete();
  }

  /** @returns {Promise<string | null>} our description once gathering ended (or after GATHER_MS) */
  async #complete() {
    const pc = this.pc;
    if (pc.iceGatheringState !== 'complete') {
      await new Promise((resolve) => {
        const done = () => {
          if (pc.iceGatheringState !== 'complete' && !this.#closed) return;
          pc.removeEventListener('icegatheringstatechange', done);
          resolve(undefined);
        };
        pc.addEventListener('icegatheringstatechange', done);
        setTimeout(() => {
          pc.removeEventListener('icegatheringstatechange', done);
          resolve(undefined);
        }, GATHER_MS);
      });
    }
    return this.#closed ? null : (pc.localDescription?.sdp ?? null);
  }

  /** @returns {Promise<import('./stats.js').PathInfo & import('./stats.js').InboundSummary>} */
  async stats() {
    const list = [...(await this.pc.getStats()).values()];
    return { ...mediaPath(list), ...inboundSummary(list) };
  }

  close() {
    if (this.#closed) return;
    this.#closed = true;
    this.pc.onconnectionstatechange = null;
    this.pc.ontrack = null;
    this.pc.close();
  }
}
