// The key agreement of one peer connection as a state machine: data-channel
// messages, timers and the driver's completions in, actions out; no I/O, no
// crypto, no clock (the protocol and the crypto are e2ee.js; the driver that
// carries the actions out is frame-encryption.js).
//
// A little over 400 lines on purpose: one class whose states and transitions
// read best together, as room.py's do on the server.

/** @typedef {import('./e2ee.js').PeerMessage} PeerMessage */
/** @typedef {'therapist' | 'client'} Role */

/** How long the peer may take to complete the first key agreement once the connection is up. */
export const NEGOTIATION_TIMEOUT_MS = 8000;
/** How long a previous receive key stays after a new one is installed. */
export const GRACE_MS = 10000;

/**
 * - `negotiating`: no key yet; outgoing frames are dropped, incoming ones too
 * - `active`: frames are encrypted both ways
 * - `dtls-only`: the peer (or we) cannot do frame encryption and the
 *   operator allows calls without it: frames pass in clear (DTLS-SRTP only)
 * - `failed`: the key agreement did not complete (timeout, bad message)
 * - `unsupported`: this browser or the peer cannot do frame encryption
 * `failed` and `unsupported` are fail-closed: the media ends.
 * @typedef {'negotiating' | 'active' | 'dtls-only' | 'failed' | 'unsupported'} E2eeState
 */

/**
 * @typedef {'local-unsupported' | 'peer-unsupported' | 'timeout' | 'protocol'} FallbackReason
 */

/**
 * What the driver must do, in order.
 * - `send`: this message over the data channel
 * - `commit`: (therapist) make a key pair for `epoch`, send its key-commit
 * - `share`: send our key-share for `epoch` (the client makes its key pair first)
 * - `derive`: compute the transcript and keys of `epoch` with the peer's
 *   public key (the client first checks it against `commit`), install both
 *   keys in the worker (the send key unused), then call `derived()`
 * - `use-send-key`: encrypt from now on under KID `epoch`; ask for a key frame
 * - `remove-receive-key`: the grace window of KID `epoch` is over
 * - `passthrough`: dtls-only, frames pass in clear both ways
 * - `end-media`: fail closed
 * @typedef {{type: 'send', message: PeerMessage}
 *   | {type: 'commit', epoch: number}
 *   | {type: 'share', epoch: number}
 *   | {type: 'derive', epoch: number, peerPub: string, commit: string | null}
 *   | {type: 'use-send-key', epoch: number}
 *   | {type: 'remove-receive-key', epoch: number}
 *   | {type: 'passthrough'}
 *   | {type: 'end-media', reason: FallbackReason}} AgreementAction
 */

/**
 * @typedef {object} EpochState
 * @property {string | null} commit the therapist's commitment (client side)
 * @property {boolean} shared we sent our key-share
 * @property {boolean} deriving
 * @property {boolean} derived our receive key is installed
 * @property {boolean} acked the peer installed its receive key
 */

/**
 * @typedef {object} AgreementOptions
 * @property {Role} role
 * @property {boolean} required the operator's fail-closed policy (`admitted.e2ee_required`)
 * @property {boolean} supported this browser can transform encoded frames
 * @property {number} epoch from `admitted`
 * @property {number} [timeoutMs] default NEGOTIATION_TIMEOUT_MS
 * @property {number} [graceMs] default GRACE_MS
 * @property {(text: string) => void} [log]
 */

export class AgreementError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = 'AgreementError';
  }
}

/**
 * The key agreement of one peer connection: data-channel messages, timers
 * and the driver's completions in; actions out. No I/O, no crypto, no clock.
 */
export class KeyAgreement {
  /** @type {E2eeState} */
  #state = 'negotiating';
  /** @type {FallbackReason | null} */
  #reason = null;
  #role;
  #required;
  #supported;
  #timeoutMs;
  #graceMs;
  #log;
  /** The epoch the therapist agrees next (the latest from the server). */
  #targetEpoch;
  /** @type {Map<number, EpochState>} */
  #epochs = new Map();
  /** @type {number | null} */
  #sendEpoch = null;
  /** @type {number | null} newest installed receive key */
  #receiveEpoch = null;
  /** @type {Map<number, number>} receive epoch -> when to remove it */
  #removals = new Map();
  #open = false;
  /** @type {number | null} */
  #deadline = null;
  /** @type {number | null} when the current send key came into use */
  #keySince = null;
  /** @type {string | null} */
  #sas = null;
  #verified = false;
  #started = false;

  /** @param {AgreementOptions} options */
  constructor(options) {
    this.#role = options.role;
    this.#required = options.required;
    this.#supported = options.supported;
    this.#targetEpoch = options.epoch;
    this.#timeoutMs = options.timeoutMs ?? NEGOTIATION_TIMEOUT_MS;
    this.#graceMs = options.graceMs ?? GRACE_MS;
    this.#log = options.log ?? (() => {});
  }

  get state() {
    return this.#state;
  }
  get reason() {
    return this.#reason;
  }
  get sendEpoch() {
    return this.#sendEpoch;
  }
  get receiveEpoch() {
    return this.#receiveEpoch;
  }
  /** The epoch shown: the one we send under, else the newest agreed. */
  get epoch() {
    return this.#sendEpoch ?? this.#receiveEpoch;
  }
  get sas() {
    return this.#sas;
  }
  get verified() {
    return this.#verified;
  }
  /** @param {number} now @returns {number | null} */
  keyAgeSeconds(now) {
    return this.#keySince === null ? null : Math.max(0, Math.floor((now - this.#keySince) / 1000));
  }

  /** @param {E2eeState} next @param {string} why */
  #setState(next, why) {
    if (next === this.#state) return;
    this.#log(`e2ee: ${this.#state} -> ${next} (${why})`);
    this.#state = next;
  }

  get #terminal() {
    return this.#state === 'dtls-only' || this.#state === 'failed' || this.#state === 'unsupported';
  }

  /** @param {number} epoch */
  #epoch(epoch) {
    let e = this.#epochs.get(epoch);
    if (!e) {
      e = { commit: null, shared: false, deriving: false, derived: false, acked: false };
      this.#epochs.set(epoch, e);
    }
    return e;
  }

  /**
   * The connection starts (before any media). A browser without encoded
   * transforms decides at once.
   * @param {number} now
   * @returns {AgreementAction[]}
   */
  start(now) {
    if (this.#started) return [];
    this.#started = true;
    if (!this.#supported) return this.#fallback('local-unsupported', now);
    return [];
  }

  /**
   * The media connection is up: from now on the peer has NEGOTIATION_TIMEOUT_MS
   * to complete the first agreement.
   * @param {number} now
   * @returns {AgreementAction[]}
   */
  connected(now) {
    this.#arm(now);
    return [];
  }

  /** @param {number} now */
  #arm(now) {
    if (this.#state === 'negotiating' && this.#deadline === null) this.#deadline = now + this.#timeoutMs;
  }

  /**
   * The data channel opened.
   * @param {number} now
   * @returns {AgreementAction[]}
   */
  channelOpen(now) {
    this.#open = true;
    this.#arm(now);
    if (this.#reason === 'local-unsupported' || this.#reason === 'timeout') {
      return [{ type: 'send', message: { type: 'e2ee-unsupported' } }];
    }
    if (this.#terminal || this.#role !== 'therapist') return [];
    return this.#commit(this.#targetEpoch);
  }

  /** @param {number} epoch @returns {AgreementAction[]} */
  #commit(epoch) {
    const e = this.#epoch(epoch);
    if (e.shared) return [];
    e.shared = true; // the commitment binds the share we reveal later
    return [{ type: 'commit', epoch }];
  }

  /**
   * The server's `rekey`: time for a fresh agreement (the therapist starts it).
   * @param {number} epoch
   * @param {number} _now
   * @returns {AgreementAction[]}
   */
  rekey(epoch, _now) {
    if (epoch < this.#targetEpoch || this.#epochs.has(epoch)) return [];
    this.#targetEpoch = epoch;
    if (this.#terminal || !this.#open || this.#role !== 'therapist') return [];
    if (this.#receiveEpoch !== null && epoch <= this.#receiveEpoch) return [];
    return this.#commit(epoch);
  }

  /**
   * A message from the other browser. A message that breaks the protocol
   * during the first agreement is a failure; later it is dropped (the keys
   * we have stay).
   * @param {PeerMessage} message
   * @param {number} now
   * @returns {AgreementAction[]}
   */
  receive(message, now) {
    try {
      return this.#receive(message, now);
    } catch (err) {
      if (!(err instanceof AgreementError)) throw err;
      this.#log(`e2ee: ${err.message}`);
      return this.#state === 'negotiating' ? this.#fallback('protocol', now) : [];
    }
  }

  /** @param {PeerMessage} message @param {number} now @returns {AgreementAction[]} */
  #receive(message, now) {
    if (message.type === 'e2ee-unsupported') {
      // Once frames flow encrypted, the peer has shown it can; a later
      // claim to the contrary changes nothing.
      return this.#state === 'negotiating' ? this.#fallback('peer-unsupported', now) : [];
    }
    if (this.#terminal) return [];
    switch (message.type) {
      case 'key-commit': {
        if (this.#role !== 'client') throw new AgreementError('key-commit from the client');
        if (this.#receiveEpoch !== null && message.epoch <= this.#receiveEpoch) throw new AgreementError(`stale key-commit ${message.epoch}`);
        const e = this.#epoch(message.epoch);
        if (e.commit !== null) throw new AgreementError(`second key-commit for ${message.epoch}`);
        e.commit = message.commit;
        e.shared = true;
        return [{ type: 'share', epoch: message.epoch }];
      }
      case 'key-share': {
        const e = this.#epochs.get(message.epoch);
        if (!e || !e.shared) throw new AgreementError(`key-share for ${message.epoch} out of turn`);
        if (e.deriving) throw new AgreementError(`second key-share for ${message.epoch}`);
        e.deriving = true;
        /** @type {AgreementAction[]} */
        const out = [];
        if (this.#role === 'therapist') out.push({ type: 'share', epoch: message.epoch });
        else if (e.commit === null) throw new AgreementError(`key-share for ${message.epoch} without commit`);
        out.push({ type: 'derive', epoch: message.epoch, peerPub: message.pub, commit: e.commit });
        return out;
      }
      case 'key-ack': {
        const e = this.#epochs.get(message.epoch);
        if (!e || !e.shared) throw new AgreementError(`key-ack for ${message.epoch} out of turn`);
        e.acked = true;
        return this.#maybeSwitch(message.epoch, now);
      }
      case 'verified':
        if (this.#role !== 'client') throw new AgreementError('verified from the client');
        if (this.#sas !== null) this.#verified = true;
        return [];
    }
  }

  /**
   * The driver installed the receive key (and the unused send key) of
   * `epoch`; `sas` is the code of its transcript.
   * @param {number} epoch
   * @param {string} sas
   * @param {number} now
   * @returns {AgreementAction[]}
   */
  derived(epoch, sas, now) {
    const e = this.#epochs.get(epoch);
    if (!e || !e.deriving || e.derived || this.#terminal) return [];
    e.derived = true;
    // The first transcript of the connection names the call.
    if (this.#sas === null) this.#sas = sas;
    /** @type {AgreementAction[]} */
    const out = [{ type: 'send', message: { type: 'key-ack', epoch } }];
    if (this.#receiveEpoch === null || epoch > this.#receiveEpoch) {
      const previous = this.#receiveEpoch;
      this.#receiveEpoch = epoch;
      if (previous !== null) this.#removals.set(previous, now + this.#graceMs);
    } else {
      // A late older epoch: keep it no longer than the grace window either.
      this.#removals.set(epoch, now + this.#graceMs);
    }
    return [...out, ...this.#maybeSwitch(epoch, now)];
  }

  /** @param {number} epoch @param {number} now @returns {AgreementAction[]} */
  #maybeSwitch(epoch, now) {
    const e = this.#epochs.get(epoch);
    if (!e || !e.derived || !e.acked) return [];
    if (this.#sendEpoch !== null && epoch <= this.#sendEpoch) return [];
    this.#sendEpoch = epoch;
    this.#keySince = now;
    this.#deadline = null;
    this.#setState('active', `sending under epoch ${epoch}`);
    // Nothing of older epochs is needed for sending any more.
    for (const [n, old] of this.#epochs) if (n < epoch && old.derived) this.#epochs.delete(n);
    return [{ type: 'use-send-key', epoch }];
  }

  /**
   * The driver could not do its part (bad public key, wrong commitment).
   * @param {number} epoch
   * @param {string} why
   * @param {number} now
   * @returns {AgreementAction[]}
   */
  failed(epoch, why, now) {
    this.#log(`e2ee: epoch ${epoch} failed: ${why}`);
    return this.#state === 'negotiating' ? this.#fallback('protocol', now) : [];
  }

  /**
   * The therapist compared the codes aloud and confirmed.
   * @returns {AgreementAction[]}
   */
  verify() {
    if (this.#role !== 'therapist' || this.#sas === null || this.#state !== 'active') return [];
    this.#verified = true;
    return [{ type: 'send', message: { type: 'verified' } }];
  }

  /** @returns {number | null} when handleTimer wants to be called */
  timer() {
    let next = this.#deadline;
    for (const at of this.#removals.values()) if (next === null || at < next) next = at;
    return next;
  }

  /**
   * @param {number} now
   * @returns {AgreementAction[]}
   */
  handleTimer(now) {
    /** @type {AgreementAction[]} */
    const out = [];
    for (const [epoch, at] of [...this.#removals]) {
      if (at > now) continue;
      this.#removals.delete(epoch);
      out.push({ type: 'remove-receive-key', epoch });
    }
    if (this.#deadline !== null && now >= this.#deadline) {
      this.#deadline = null;
      if (this.#state === 'negotiating') out.push(...this.#fallback('timeout', now));
    }
    return out;
  }

  /**
   * No frame encryption on this connection: dtls-only if the operator
   * allows it, else fail closed. The peer hears of it unless it told us.
   * @param {FallbackReason} reason
   * @param {number} _now
   * @returns {AgreementAction[]}
   */
  #fallback(reason, _now) {
    this.#reason = reason;
    this.#deadline = null;
    /** @type {AgreementAction[]} */
    const out = [];
    if (this.#open && reason !== 'peer-unsupported') out.push({ type: 'send', message: { type: 'e2ee-unsupported' } });
    if (!this.#required) {
      this.#setState('dtls-only', reason);
      out.push({ type: 'passthrough' });
    } else {
      this.#setState(reason === 'local-unsupported' || reason === 'peer-unsupported' ? 'unsupported' : 'failed', reason);
      out.push({ type: 'end-media', reason });
    }
    return out;
  }
}
