// Frame encryption for a group call: the driver of the pure GroupKeyring
// (groupkeys.js) in the browser. One worker for the whole call (one sending
// SFrame context, so nonces never repeat across the peer connections; one
// receiving context holding every member's sender key by KID), one ECDH key
// pair for the call, and a channel to each other member over which the
// members exchange their call keys and their sealed sender keys.
//
// In a mesh the channel is the pair's negotiated data channel (id 0, the one
// the pairwise key agreement uses in a one-to-one call); on the SFU path it is
// our signaling server (`group-key`, `viaServer`), which relays the messages
// as they are: the sender keys in them are sealed under the pairs' keys, and a
// call key it swapped would show as another group code. No key, secret or
// anything derived from one is logged; only the verification code is shown.
//
// A fresh GroupEncryption per call start (each admission starts the call
// anew): a new worker, a new key pair, new sender keys.

import { DATA_CHANNEL_ID, DATA_CHANNEL_LABEL, fromBase64, generateEphemeral, toBase64 } from './e2ee.js';
import {
  BASE_KEY_BYTES,
  GroupKeyError,
  GroupKeyring,
  decodeGroupMessage,
  encodeGroupMessage,
  groupSas,
  importPairKey,
  kidOf,
  memberOfKid,
  pairKeyBytes,
  unwrapSenderKey,
  wrapSenderKey,
} from './groupkeys.js';
import { transformSupport } from './frame-encryption.js';
import { FrameWorker, NO_COUNTERS } from './frameworker.js';
import { Transforms } from './transforms.js';

/** @typedef {import('./groupkeys.js').KeyringAction} KeyringAction */
/** @typedef {import('./groupkeys.js').GroupMessage} GroupMessage */
/** @typedef {import('./groupkeys.js').SenderKeyMessage} SenderKeyMessage */
/** @typedef {import('./frameworker.js').Counters} Counters */

/**
 * - `negotiating`: not every current member's key is in place yet (frames we
 *   cannot open are dropped; ours wait for our first sender key)
 * - `active`: we send under our key of the current epoch and hold a key of
 *   every other current member
 * - `unsupported`: this browser cannot transform encoded frames (fail closed)
 * @typedef {'negotiating' | 'active' | 'unsupported'} GroupE2eeState
 */

/**
 * @typedef {object} GroupEncryptionOptions
 * @property {number} self our seat, the member index
 * @property {import('./e2ee-debug.js').TestHooks} [testHooks]
 * @property {() => void} onChange state, epoch or code changed
 * @property {() => void} [onTransformFailed]
 * @property {(text: string) => void} [log]
 * @property {((seat: number, data: string) => boolean) | null} [viaServer] the SFU path: send a
 *   group-key message to `seat` through our server (there are no data channels); null: a mesh
 */

/**
 * What a PeerLink needs of the frame encryption of its connection (peer.js);
 * FrameEncryption has it for the pairwise key agreement, a group link's is
 * `GroupEncryption.link(seat)`.
 * @typedef {object} LinkEncryption
 * @property {{encodedInsertableStreams?: boolean}} pcConfiguration extra RTCPeerConnection
 *   configuration (the createEncodedStreams path needs a flag)
 * @property {(pc: RTCPeerConnection) => void} start
 * @property {(pc: RTCPeerConnection) => void} prepare
 * @property {(pc: RTCPeerConnection) => void} openChannel
 * @property {boolean} hasChannel
 * @property {() => void} connected
 * @property {() => void} close
 */

export class GroupEncryption {
  #self;
  #o;
  #log;
  /** @type {import('./e2ee-debug.js').TransformPath | null} */
  #support;
  #transforms;
  /** @type {FrameWorker | null} */
  #worker = null;
  #keyring;
  /** Our key pair for the call. @type {Promise<import('./e2ee.js').Ephemeral>} */
  #own;
  /** Each member's call key, the first one it sent (ours included). @type {Map<number, Uint8Array>} */
  #pubs = new Map();
  /** @type {Map<number, CryptoKey>} */
  #pairKeys = new Map();
  /** @type {Map<number, {channel: RTCDataChannel, pc: RTCPeerConnection}>} */
  #channels = new Map();
  /** The members our call key reached (its member-key was written). @type {Set<number>} */
  #told = new Set();
  /** Our sender key of the current epoch, until the next (for members whose pair key comes late). */
  /** @type {{epoch: number, key: Uint8Array} | null} */
  #baseKey = null;
  /** Sender keys to send once the pair key and the channel are there: member -> epochs. */
  /** @type {Map<number, Set<number>>} */
  #toSend = new Map();
  /** Sealed keys that came before their pair key. @type {Map<number, SenderKeyMessage[]>} */
  #early = new Map();
  /** Opened sender keys waiting for the keyring's `install`. @type {Map<number, Uint8Array>} */
  #opened = new Map();
  /** The members of the current epoch, ourselves included. @type {number[]} */
  #members = [];
  /** @type {string | null} */
  #sas = null;
  /** @type {number | null} when our current send key came into use */
  #sendSince = null;
  /** @type {ReturnType<typeof setTimeout> | null} */
  #timer = null;
  /** Serializes the work: crypto is async, the keyring's order is not. @type {Promise<void>} */
  #queue = Promise.resolve();
  #closed = false;

  /** @param {GroupEncryptionOptions} options */
  constructor(options) {
    this.#self = options.self;
    this.#o = options;
    this.#log = options.log ?? (() => {});
    const hooks = options.testHooks ?? {};
    const forced = hooks.forceTransform ?? null;
    this.#support = transformSupport(forced);
    this.#transforms = new Transforms({
      path: this.#support,
      forced,
      skipReceive: hooks.skipReceiveTransform === true,
      onFailed: () => (options.onTransformFailed ?? (() => {}))(),
      log: this.#log,
    });
    this.#keyring = new GroupKeyring(options.self);
    this.#own = generateEphemeral();
    this.#own.then((own) => this.#pubs.set(this.#self, own.pub)).catch((err) => this.#log(`group e2ee: no key pair: ${err}`));
    if (this.#support) {
      this.#worker = new FrameWorker(this.#log);
      if (hooks.captureFrames) this.#worker.capture();
    }
  }

  /** @returns {GroupE2eeState} */
  get state() {
    if (!this.#support) return 'unsupported';
    const sending = this.#keyring.sendingEpoch;
    if (sending === null || this.#members.length < 2) return 'negotiating';
    const holders = new Set(this.#keyring.receiveKids.map((kid) => memberOfKid(kid).index));
    return this.#members.every((m) => m === this.#self || holders.has(m)) ? 'active' : 'negotiating';
  }
  get epoch() {
    return this.#keyring.epoch;
  }
  /** The KID our frames go out under, or null before the first. */
  get sendKid() {
    const e = this.#keyring.sendingEpoch;
    return e === null ? null : kidOf(e, this.#self);
  }
  get receiveKids() {
    return this.#keyring.receiveKids;
  }
  /** The group's code over every current member's call key, or null until all are known. */
  get sas() {
    return this.#sas;
  }
  get members() {
    return [...this.#members];
  }
  get keyAgeSeconds() {
    return this.#sendSince === null ? null : (performance.now() - this.#sendSince) / 1000;
  }
  get pcConfiguration() {
    return this.#support === 'encoded-streams' ? { encodedInsertableStreams: true } : {};
  }
  get transformInfo() {
    return this.#transforms.info;
  }
  /** @param {RTCRtpSender | RTCRtpReceiver} target */
  hasTransform(target) {
    return this.#transforms.has(target);
  }

  /**
   * Who is in the call and the group epoch: the call's start (`admitted`), a
   * leave or the schedule (`rekey`). A newer epoch means new sender keys.
   * @param {number[]} members seats, ourselves included
   * @param {number} epoch
   */
  membership(members, epoch) {
    this.#enqueue(async () => {
      const next = [...new Set([this.#self, ...members])].sort((a, b) => a - b);
      // A member who left takes its channel and pair key along; a later one
      // on that seat is another person with another key.
      for (const seat of [...this.#pubs.keys()]) {
        if (seat !== this.#self && !next.includes(seat)) this.#forget(seat);
      }
      const actions = this.#keyring.membership(next, epoch, performance.now());
      if (actions.length) this.#members = next;
      await this.#run(actions);
      // Through the server there is no channel to open: say what is due now.
      if (this.#o.viaServer) for (const seat of next) if (seat !== this.#self) await this.#flushTo(seat);
    });
  }

  /**
   * SFU path: a group-key message from `seat`, relayed by our server.
   * @param {number} seat
   * @param {string} data
   */
  fromServer(seat, data) {
    const message = decodeGroupMessage(data);
    if (!this.#o.viaServer || !message || message.from !== seat || message.to !== this.#self) {
      this.#log(`group e2ee: a message from seat ${seat} dropped`);
      return;
    }
    this.#enqueue(() => this.#received(message));
  }

  /** @param {number} epoch the server's `rekey` */
  rekey(epoch) {
    this.membership(this.#members.length ? this.#members : [this.#self], epoch);
  }

  /**
   * The frame encryption of the link to `seat`, as its PeerLink uses it.
   * @param {number} seat
   * @returns {LinkEncryption}
   */
  link(seat) {
    const group = this;
    return {
      get pcConfiguration() {
        return group.pcConfiguration;
      },
      start: () => {},
      prepare: (pc) => {
        if (!group.#closed) group.#transforms.prepare(group.#worker?.worker ?? null, pc);
      },
      openChannel: (pc) => group.#openChannel(seat, pc),
      get hasChannel() {
        return group.#channels.has(seat);
      },
      connected: () => {},
      close: () => group.#dropChannel(seat),
    };
  }

  /** TEST ONLY: the ciphertext frames the worker kept ("capture-frames"). */
  captured() {
    return this.#worker?.captured() ?? Promise.resolve([]);
  }

  /**
   * TEST ONLY: whether the keys this worker holds (still, after the call: "capture-frames")
   * open a frame captured elsewhere.
   * @param {'audio' | 'video'} kind @param {Uint8Array} data
   */
  tryOpen(kind, data) {
    return this.#worker?.tryOpen(kind, data) ?? Promise.resolve({ ok: false, error: 'no-worker' });
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
    for (const seat of [...this.#channels.keys()]) this.#dropChannel(seat);
    this.#baseKey?.key.fill(0);
    this.#baseKey = null;
    for (const key of this.#opened.values()) key.fill(0);
    this.#opened.clear();
    this.#pairKeys.clear();
    // TEST ONLY ("capture-frames"): the worker stays with the keys it held, so that a
    // test can show they open nothing of what the others send after we left.
    if (this.#o.testHooks?.captureFrames) return;
    // Terminating drops the keys with the worker's memory.
    this.#worker?.terminate();
    this.#worker = null;
  }

  // -------------------------------------------------------------------------
  // The channels

  /** @param {number} seat @param {RTCPeerConnection} pc */
  #openChannel(seat, pc) {
    if (this.#closed || this.#channels.has(seat)) return;
    const channel = pc.createDataChannel(DATA_CHANNEL_LABEL, { negotiated: true, id: DATA_CHANNEL_ID, ordered: true });
    this.#channels.set(seat, { channel, pc });
    const flush = () => this.#enqueue(() => this.#flushTo(seat));
    // Our call key first (#flushTo), the pair key follows from it on both sides.
    channel.onopen = flush;
    // What waited for a cut line goes when it is back (see #write).
    pc.addEventListener('iceconnectionstatechange', flush);
    channel.onmessage = (event) => {
      const message = decodeGroupMessage(event.data);
      // Only what this member may say, to us: anything else is dropped.
      if (!message || message.from !== seat || message.to !== this.#self) {
        this.#log(`group e2ee: a message from seat ${seat} dropped`);
        return;
      }
      this.#enqueue(() => this.#received(message));
    };
  }

  /** @param {number} seat */
  #dropChannel(seat) {
    const entry = this.#channels.get(seat);
    if (!entry) return;
    this.#channels.delete(seat);
    entry.channel.onopen = entry.channel.onmessage = null;
    try {
      entry.channel.close();
    } catch {
      // already closed with its connection
    }
  }

  /** @param {number} seat a member who left: its channel, pair key and pending work go */
  #forget(seat) {
    this.#dropChannel(seat);
    this.#told.delete(seat);
    this.#pubs.delete(seat);
    this.#pairKeys.delete(seat);
    this.#toSend.delete(seat);
    this.#early.delete(seat);
  }

  /**
   * Written only while the pair's ICE is connected: Firefox fails the whole
   * connection when a data channel writes into a cut. Anything not written is
   * said again: member keys on the next open, sender keys from #toSend.
   * @param {number} seat
   * @param {GroupMessage} message
   * @returns {boolean} written
   */
  #write(seat, message) {
    if (this.#o.viaServer) return !this.#closed && this.#o.viaServer(seat, encodeGroupMessage(message));
    const entry = this.#channels.get(seat);
    const ice = entry?.pc.iceConnectionState;
    if (this.#closed || !entry || entry.channel.readyState !== 'open' || (ice !== 'connected' && ice !== 'completed')) return false;
    try {
      entry.channel.send(encodeGroupMessage(message));
      return true;
    } catch (err) {
      this.#log(`group e2ee: cannot send to seat ${seat}: ${err}`);
      return false;
    }
  }

  // -------------------------------------------------------------------------
  // Messages and the keyring's actions

  /** @param {GroupMessage} m */
  async #received(m) {
    const now = performance.now();
    switch (m.type) {
      case 'member-key': {
        const pub = fromBase64(m.pub);
        if (!pub || this.#pubs.has(m.from)) return; // the first key of a member holds for the call
        let pairKey;
        try {
          const own = await this.#own;
          pairKey = await importPairKey(await pairKeyBytes(own.privateKey, { index: this.#self, pub: own.pub }, { index: m.from, pub }));
        } catch (err) {
          this.#log(`group e2ee: no pair key with seat ${m.from}: ${err instanceof GroupKeyError ? err.message : 'bad key'}`);
          return;
        }
        this.#pubs.set(m.from, pub);
        this.#pairKeys.set(m.from, pairKey);
        await this.#updateCode();
        await this.#flushTo(m.from);
        for (const early of this.#early.get(m.from)?.splice(0) ?? []) await this.#received(early);
        return;
      }
      case 'sender-key': {
        const pairKey = this.#pairKeys.get(m.from);
        if (!pairKey) {
          const list = this.#early.get(m.from) ?? [];
          if (list.length < 4) list.push(m);
          this.#early.set(m.from, list);
          return;
        }
        let key;
        try {
          key = await unwrapSenderKey(pairKey, m, this.#self);
        } catch (err) {
          this.#log(`group e2ee: ${err instanceof GroupKeyError ? err.message : 'a sender key refused'}`);
          return;
        }
        const kid = kidOf(m.epoch, m.from);
        this.#opened.get(kid)?.fill(0);
        this.#opened.set(kid, key);
        await this.#run(this.#keyring.received(m.from, m.epoch, now));
        // Not installed (not a current member, an epoch too far ahead): gone.
        this.#opened.get(kid)?.fill(0);
        this.#opened.delete(kid);
        return;
      }
      case 'sender-key-ack':
        await this.#run(this.#keyring.acknowledged(m.from, m.epoch, now));
        return;
    }
  }

  /** @param {KeyringAction[]} actions */
  async #run(actions) {
    for (const action of actions) {
      if (this.#closed) return;
      await this.#do(action);
    }
    this.#arm();
  }

  /** @param {KeyringAction} action */
  async #do(action) {
    const worker = this.#worker;
    switch (action.type) {
      case 'make-key': {
        this.#baseKey?.key.fill(0);
        const key = crypto.getRandomValues(new Uint8Array(BASE_KEY_BYTES));
        this.#baseKey = { epoch: action.epoch, key };
        // The worker gets its own copy (transferred): ours is kept to wrap for late pairs.
        worker?.sendKey(kidOf(action.epoch, this.#self), key.slice());
        break;
      }
      case 'send-key': {
        const pending = this.#toSend.get(action.to) ?? new Set();
        pending.add(action.epoch);
        this.#toSend.set(action.to, pending);
        await this.#flushTo(action.to);
        break;
      }
      case 'install': {
        const key = this.#opened.get(action.kid);
        this.#opened.delete(action.kid);
        if (key && worker) await worker.receiveKey(action.kid, key);
        break;
      }
      case 'ack':
        this.#write(action.to, { type: 'sender-key-ack', epoch: action.epoch, from: this.#self, to: action.to });
        break;
      case 'use':
        worker?.useSendKey(action.kid);
        this.#sendSince = performance.now();
        break;
      case 'remove':
        worker?.removeReceiveKey(action.kid);
        break;
      case 'code':
        await this.#updateCode();
        break;
    }
    if (!this.#closed) this.#o.onChange();
  }

  /**
   * What `seat` is still to get from us, as far as the line allows: our call key
   * first, then our sender key for each epoch it still needs (once the pair key is there).
   * @param {number} seat
   */
  async #flushTo(seat) {
    if (!this.#told.has(seat)) {
      const own = await this.#own;
      if (!this.#write(seat, { type: 'member-key', from: this.#self, to: seat, pub: toBase64(own.pub) })) return;
      this.#told.add(seat);
    }
    const pending = this.#toSend.get(seat);
    const pairKey = this.#pairKeys.get(seat);
    const base = this.#baseKey;
    if (!pending || !pairKey || !base) return;
    for (const epoch of [...pending]) {
      // Only the current epoch's key is ever sent: an older one is gone for good.
      if (epoch !== base.epoch) {
        pending.delete(epoch);
        continue;
      }
      const message = await wrapSenderKey(pairKey, { epoch, from: this.#self, to: seat, baseKey: base.key });
      if (this.#write(seat, message)) pending.delete(epoch);
    }
  }

  async #updateCode() {
    const members = this.#members;
    const known = members.every((m) => this.#pubs.has(m));
    const sas = known && members.length >= 2 ? await groupSas(members.map((m) => ({ index: m, pub: /** @type {Uint8Array} */ (this.#pubs.get(m)) }))) : null;
    if (sas !== this.#sas) {
      this.#sas = sas;
      if (!this.#closed) this.#o.onChange();
    }
  }

  #arm() {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    const at = this.#keyring.nextDeadline();
    if (at === null || this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#enqueue(() => this.#run(this.#keyring.tick(performance.now())));
    }, Math.max(0, at - performance.now()));
  }

  /** @param {() => Promise<void>} work */
  #enqueue(work) {
    this.#queue = this.#queue
      .then(async () => {
        if (!this.#closed) await work();
      })
      .catch((err) => this.#log(`group e2ee: ${err}`))
      .finally(() => {
        if (!this.#closed) this.#o.onChange();
      });
  }
}
