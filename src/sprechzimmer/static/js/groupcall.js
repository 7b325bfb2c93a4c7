// A group call's connections (issue 16): in a mesh, one PeerLink to each other
// member, all sharing one GroupEncryption (a sender key per member, handed
// to the others over each pair's data channel).
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

/** @typedef {import('./protocol.js').AdmittedMessage} AdmittedMessage */
/** @typedef {import('./protocol.js').ClientMessage} ClientMessage */
/** @typedef {import('./protocol.js').Peer} Peer */
/** @typedef {import('./protocol.js').RelayedOffer | import('./protocol.js').RelayedAnswer
 *   | import('./protocol.js').RelayedCandidate | import('./protocol.js').RelayedRestart} Relayed */

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
 *   does not start at all (a group has no unencrypted fallback)
 * @property {(text: string) => void} [log]
 */

export class GroupCall {
  #o;
  #log;
  /** @type {Map<number, {peer: GroupPeer, link: PeerLink}>} */
  #links = new Map();
  /** @type {GroupEncryption | null} */
  #e2ee = null;
  #self = 0;
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
  get open() {
    return this.#e2ee !== null;
  }

  /**
   * The state of the call as a whole: connected while any link is (the call
   * goes on while one member's line recovers), failed when every link failed.
   * @returns {RTCPeerConnectionState}
   */
  get state() {
    const states = this.peers.map((p) => p.state);
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
    const e2ee = new GroupEncryption({
      self,
      testHooks: this.#o.testHooks,
      onChange: () => this.#o.onChange(),
      onTransformFailed: this.#o.onTransformFailed,
      log: this.#log,
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
    for (const peer of peers) this.#connect(peer, configuration, e2ee);
    this.#o.onChange();
  }

  /**
   * @param {Peer} peer
   * @param {import('./ice.js').IceConfiguration} configuration
   * @param {GroupEncryption} e2ee
   */
  #connect(peer, configuration, e2ee) {
    const seat = peer.seat;
    /** @type {GroupPeer} */
    const shown = { seat, role: peer.role, name: peer.name ?? null, stream: null, state: 'new' };
    const link = new PeerLink({
      configuration,
      // The lower seat of each pair offers.
      polite: this.#self > seat,
      localStream: this.#o.localStream(),
      // A link sends only offers, answers, candidates and restarts: each takes `to`.
      send: (message) => this.#o.send(/** @type {ClientMessage} */ ({ ...message, to: seat })),
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

  /**
   * A relayed offer, answer, candidate or restart of a member's link to us.
   * @param {Relayed} m
   */
  handle(m) {
    const seat = m.from_seat;
    const entry = seat === undefined ? null : this.#links.get(seat);
    if (!entry) {
      this.#log(`group: ${m.type} from seat ${seat} without a link, dropped`);
      return;
    }
    if (m.type === 'offer' || m.type === 'answer') entry.link.handleDescription(m.type, m.sdp);
    else if (m.type === 'candidate') entry.link.handleCandidate(m);
    else if (m.type === 'restart') entry.link.restartIce();
  }

  /** @param {number} seat a member left the call */
  peerLeft(seat) {
    const entry = this.#links.get(seat);
    if (!entry) return;
    this.#links.delete(seat);
    entry.link.close();
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
    for (const { link } of this.#links.values()) link.close();
    this.#links.clear();
    this.#e2ee?.close();
    if (this.#e2ee && this.#o.testHooks?.captureFrames) this.retired = this.#e2ee;
    this.#e2ee = null;
  }
}
