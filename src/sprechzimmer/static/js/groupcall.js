// A group call's connections (issue 16), all sharing one GroupEncryption (a
// sender key per member, handed to the others wrapped for each):
//  - mesh (up to three people): one PeerLink to each other member; the keys
//    go over each pair's data channel;
//  - sfu (more): one SfuLink publishing our media to the SFU and one SfuLink
//    per other member receiving theirs; descriptions and keys go through our
//    server (`sfu-*`, `group-key`), which sees neither keys nor clear frames.
//
// Each admission starts the call anew for everyone (`admitted` with `peers`):
// `start` closes what was and opens a link per peer. Of each pair the lower
// seat offers (the impolite side of perfect negotiation, peer.js); every
// message a link sends names its seat (`to`), and what the server relays
// names whose it is (`from_seat`). A member that leaves takes its link along;
// the server's `rekey` that follows renews the sender keys of those who stay.
//
// No DOM (groupview.js shows the tiles) and no decisions about the page's
// state (callstate.js): this module says how the links are, and the page
// tells the call logic.

import { PeerLink } from './peer.js';
import { iceConfiguration } from './ice.js';
import { GroupEncryption } from './groupencryption.js';
import { SfuLink } from './sfulink.js';

/** @typedef {import('./protocol.js').AdmittedMessage} AdmittedMessage */
/** @typedef {import('./protocol.js').ClientMessage} ClientMessage */
/** @typedef {import('./protocol.js').Peer} Peer */
/** @typedef {import('./protocol.js').RelayedOffer | import('./protocol.js').RelayedAnswer
 *   | import('./protocol.js').RelayedCandidate | import('./protocol.js').RelayedRestart
 *   | import('./protocol.js').RelayedGroupKey | import('./protocol.js').SfuPublishedMessage
 *   | import('./protocol.js').SfuSubscribeMessage} Relayed */

/**
 * One other member as the page shows it.
 * @typedef {object} GroupPeer
 * @property {number} seat
 * @property {import('./protocol.js').Role} role
 * @property {string | null} name a client's name, as the server said it (memory only)
 * @property {MediaStream | null} stream its picture and sound, once they come
 * @property {RTCPeerConnectionState} state
 */

/**
 * @typedef {object} GroupCallOptions
 * @property {(message: ClientMessage) => boolean} send to the signaling socket
 * @property {() => MediaStream | null} localStream
 * @property {() => void} onChange a link's state, a stream, the keys or the code changed
 * @property {import('./e2ee-debug.js').TestHooks} [testHooks]
 * @property {() => void} [onTransformFailed]
 * @property {() => void} [onUnsupported] this browser cannot encrypt frames: the call's media
 *   does not start at all (a group has no unencrypted fallback; on the SFU path the SFU would
 *   see the pictures)
 * @property {(text: string) => void} [log]
 */

export class GroupCall {
  #o;
  #log;
  /** The link to each other member: a PeerLink (mesh) or its subscription (SFU). */
  /** @type {Map<number, {peer: GroupPeer, link: PeerLink | SfuLink | null}>} */
  #links = new Map();
  /** Our publication to the SFU (SFU path only). @type {SfuLink | null} */
  #publisher = null;
  /** @type {import('./ice.js').IceConfiguration | null} */
  #configuration = null;
  /** @type {'mesh' | 'sfu'} */
  path = 'mesh';
  /** @type {GroupEncryption | null} */
  #e2ee = null;
  #self = 0;
  /** The call start our links belong to (`admitted.epoch`). */
  #call = 0;
  /** Peer connections made in this tab (tests). */
  made = 0;
  /** TEST ONLY ("capture-frames"): the last call's encryption, closed but with its keys. */
  /** @type {GroupEncryption | null} */
  retired = null;

  /** @param {GroupCallOptions} options */
  constructor(options) {
    this.#o = options;
    this.#log = options.log ?? (() => {});
  }

  /** @returns {GroupPeer[]} the others, by seat */
  get peers() {
    return [...this.#links.values()].map((l) => l.peer).sort((a, b) => a.seat - b.seat);
  }
  get e2ee() {
    return this.#e2ee;
  }
  /** @param {number} seat */
  link(seat) {
    return this.#links.get(seat)?.link ?? null;
  }
  /**
   * Whether every sender and receiver of every connection of the call carries our
   * frame transform (tests: nothing can leave or enter past the encryption).
   * @returns {boolean}
   */
  get allTransformed() {
    const e2ee = this.#e2ee;
    if (!e2ee) return false;
    const pcs = [...this.#links.values()].map((l) => l.link?.pc).filter((pc) => pc !== undefined);
    if (this.#publisher) pcs.push(this.#publisher.pc);
    const targets = pcs.flatMap((pc) => pc.getTransceivers().flatMap((t) => [t.receiver, ...(t.sender.track ? [t.sender] : [])]));
    return targets.length > 0 && targets.every((target) => e2ee.hasTransform(target));
  }

  /** Our publication's connection on the SFU path (tests), or null. */
  get publisher() {
    return this.#publisher?.pc ?? null;
  }
  get open() {
    return this.#e2ee !== null;
  }

  /**
   * The key epoch the call is in, for a resumed seat's `hello` (0: no call left).
   * A page that says 0 gets a fresh call: a group page that said so on every
   * reconnect of its signaling would restart the whole group's call.
   */
  get resumeEpoch() {
    if (this.#e2ee === null) return 0;
    return Math.max(this.#call, this.#e2ee.epoch ?? 0, 1);
  }

  /**
   * The state of the call as a whole: connected while any link is (the call
   * goes on while one member's line recovers), failed when every link failed.
   * @returns {RTCPeerConnectionState}
   */
  get state() {
    const states = this.peers.map((p) => p.state);
    if (this.#publisher) states.push(this.#publisher.pc.connectionState);
    if (states.length === 0) return 'new';
    if (states.includes('connected')) return 'connected';
    if (states.every((s) => s === 'failed')) return 'failed';
    if (states.some((s) => s === 'disconnected')) return 'disconnected';
    return 'connecting';
  }

  /**
   * The call (re)starts: a link to each peer `admitted` names, and fresh keys.
   * @param {AdmittedMessage} m
   * @param {number} self our seat
   */
  start(m, self) {
    this.close();
    this.#self = self;
    this.#call = m.epoch;
    this.path = m.media_path ?? 'mesh';
    const sfu = this.path === 'sfu';
    const e2ee = new GroupEncryption({
      self,
      testHooks: this.#o.testHooks,
      onChange: () => this.#o.onChange(),
      onTransformFailed: this.#o.onTransformFailed,
      log: this.#log,
      // No data channels on the SFU path: the keys go through our server, sealed.
      viaServer: sfu ? (seat, data) => this.#o.send({ type: 'group-key', data, to: seat }) : null,
    });
    this.#e2ee = e2ee;
    if (e2ee.state === 'unsupported') {
      // Fail closed: no connection that could carry a clear frame.
      this.#log('group: this browser cannot encrypt frames; no media');
      this.#o.onUnsupported?.();
      this.#o.onChange();
      return;
    }
    const peers = m.peers ?? [];
    e2ee.membership(
      peers.map((p) => p.seat),
      m.epoch,
    );
    const configuration = iceConfiguration({ servers: m.ice_servers, policy: m.ice_transport_policy }, false);
    this.#configuration = configuration;
    if (sfu) {
      for (const peer of peers) this.#links.set(peer.seat, { peer: GroupCall.#shown(peer), link: null });
      this.#publish(configuration, e2ee).catch((err) => this.#log(`sfu: publishing failed: ${err}`));
    } else {
      for (const peer of peers) this.#connect(peer, configuration, e2ee);
    }
    this.#o.onChange();
  }

  /**
   * @param {Peer} peer
   * @param {import('./ice.js').IceConfiguration} configuration
   * @param {GroupEncryption} e2ee
   */
  #connect(peer, configuration, e2ee) {
    const seat = peer.seat;
    const shown = GroupCall.#shown(peer);
    const link = new PeerLink({
      configuration,
      // The lower seat of each pair offers.
      polite: this.#self > seat,
      localStream: this.#o.localStream(),
      // A link sends only offers, answers, candidates and restarts: each takes `to`, and
      // `call`, so that the other page drops what a link of an earlier start says.
      send: (message) => this.#o.send(/** @type {ClientMessage} */ ({ ...message, to: seat, call: this.#call })),
      onRemoteStream: (stream) => {
        shown.stream = stream;
        this.#o.onChange();
      },
      onConnectionState: (state) => {
        shown.state = state;
        // A pair that lost its path tries a new one (the lower seat restarts,
        // the higher asks it to), as in a one-to-one call.
        if (state === 'failed') link.restartIce();
        this.#o.onChange();
      },
      e2ee: e2ee.link(seat),
      log: (text) => this.#log(`seat ${seat}: ${text}`),
    });
    this.made += 1;
    this.#links.set(seat, { peer: shown, link });
    link.start();
  }

  /** @param {Peer} peer @returns {GroupPeer} */
  static #shown(peer) {
    return { seat: peer.seat, role: peer.role, name: peer.name ?? null, stream: null, state: 'new' };
  }

  /**
   * SFU path: our media goes up on a link of its own.
   * @param {import('./ice.js').IceConfiguration} configuration
   * @param {GroupEncryption} e2ee
   */
  async #publish(configuration, e2ee) {
    const link = new SfuLink({
      configuration,
      e2ee: e2ee.link(this.#self),
      onState: () => this.#o.onChange(),
      log: this.#log,
    });
    this.#publisher = link;
    this.made += 1;
    const sdp = await link.publish(this.#o.localStream());
    if (sdp !== null && this.#publisher === link) this.#o.send({ type: 'sfu-publish', sdp, call: this.#call });
  }

  /**
   * SFU path: the SFU offers us the media of `seat`, on a link of its own.
   * @param {number} seat
   * @param {string} offer
   */
  async #subscribe(seat, offer) {
    const entry = this.#links.get(seat);
    const e2ee = this.#e2ee;
    if (!entry || !e2ee || !this.#configuration) return;
    entry.link?.close();
    const shown = entry.peer;
    const link = new SfuLink({
      configuration: this.#configuration,
      e2ee: e2ee.link(seat),
      onState: (state) => {
        shown.state = state;
        this.#o.onChange();
      },
      onStream: (stream) => {
        shown.stream = stream;
        this.#o.onChange();
      },
      log: (text) => this.#log(`seat ${seat}: ${text}`),
    });
    entry.link = link;
    this.made += 1;
    const sdp = await link.subscribe(offer);
    if (sdp !== null && entry.link === link) this.#o.send({ type: 'sfu-subscribed', seat, sdp, call: this.#call });
  }

  /**
   * What the server passes on for our links: a member's offer, answer, candidate,
   * restart or group-key message, or (SFU path) the SFU's answer and offers.
   * @param {Relayed} m
   */
  handle(m) {
    const seat = 'from_seat' in m ? m.from_seat : undefined;
    if ('call' in m && m.call !== undefined && m.call !== this.#call) {
      // Said on a link of an earlier start of the call (a peer's page had not heard of
      // this one, or the message was on its way; on the SFU path, the SFU's answer or
      // offer of that start's room): not for the links we have now. Answering an
      // SFU offer of an earlier start would hand this start's subscription the
      // wrong connection's credentials.
      this.#log(`group: ${m.type} of call start ${m.call} from ${seat ?? 'the SFU'} dropped`);
      return;
    }
    if (m.type === 'sfu-published') {
      this.#publisher?.published(m.sdp).catch((err) => this.#log(`sfu: answer refused: ${err}`));
      return;
    }
    if (m.type === 'sfu-subscribe') {
      this.#subscribe(m.seat, m.sdp).catch((err) => this.#log(`sfu: subscription failed: ${err}`));
      return;
    }
    if (m.type === 'group-key') {
      if (seat !== undefined) this.#e2ee?.fromServer(seat, m.data);
      return;
    }
    const link = seat === undefined ? null : this.#links.get(seat)?.link;
    if (!(link instanceof PeerLink)) {
      this.#log(`group: ${m.type} from seat ${seat} without a link, dropped`);
      return;
    }
    if (m.type === 'offer' || m.type === 'answer') link.handleDescription(m.type, m.sdp);
    else if (m.type === 'candidate') link.handleCandidate(m);
    else if (m.type === 'restart') link.restartIce();
  }

  /** @param {number} seat a member left the call */
  peerLeft(seat) {
    const entry = this.#links.get(seat);
    if (!entry) return;
    this.#links.delete(seat);
    entry.link?.close();
    this.#o.onChange();
  }

  /** @param {number} epoch new sender keys for those in the call now (the server's `rekey`) */
  rekey(epoch) {
    this.#e2ee?.membership(
      this.peers.map((p) => p.seat),
      epoch,
    );
  }

  /** @param {number} seat @param {string | null} name */
  rename(seat, name) {
    const entry = this.#links.get(seat);
    if (entry) entry.peer.name = name;
  }

  close() {
    for (const { link } of this.#links.values()) link?.close();
    this.#links.clear();
    this.#publisher?.close();
    this.#publisher = null;
    this.#configuration = null;
    this.#e2ee?.close();
    if (this.#e2ee && this.#o.testHooks?.captureFrames) this.retired = this.#e2ee;
    this.#e2ee = null;
  }
}
