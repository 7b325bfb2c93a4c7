// When to restart ICE, and when to give up on UDP: the recovery policy of one
// peer connection, as a small state machine with time passed in (`now`, in
// milliseconds), so node can test every timeout without sleeping.
//
// It only decides; the page carries the decisions out (the therapist calls
// `pc.restartIce()`, the client sends `restart`, compatibility mode changes
// the configuration). It never touches a peer connection, a timer or the DOM.
//
// The rules:
//  - ICE `disconnected` often heals by itself (a Wi-Fi hiccup): wait
//    GRACE_MS, then restart.
//  - ICE `failed`: restart at once (but not sooner than the backoff after the
//    last restart).
//  - A restart that has not reached `connected` after its patience is
//    followed by another one; patience and the least gap between restarts
//    grow with each attempt, bounded.
//  - After ESCALATE_AFTER restarts without reaching `connected`, the next
//    one switches to compatibility mode (relay-only over TCP/TLS), if the
//    service has such a relay and we are not in that mode already.
//  - A network change (Wi-Fi to mobile, back online) restarts at once.
//  - ICE `failed` with no TURN server at all: say so (`no-relay`); nothing
//    but a different network can help, but we keep trying in case one comes.

/**
 * Phases of recovery; the page shows "reconnecting" in GRACE and RESTARTING
 * once the connection had been up.
 *  - connecting: a fresh connection, not yet up
 *  - connected: ICE connected or completed
 *  - grace: ICE disconnected, waiting for it to heal by itself
 *  - restarting: a restart was made, waiting for it to connect
 *  - closed: the connection is gone; nothing more to decide
 * @typedef {'connecting' | 'connected' | 'grace' | 'restarting' | 'closed'} Phase
 */

/**
 * What the page should do.
 *  - restart: restart ICE (therapist) or ask for it (client)
 *  - compat: switch to compatibility mode, then restart ICE
 *  - no-relay: tell the person that no direct connection is possible and the
 *    service has no relay
 * @typedef {{type: 'restart', attempt: number, reason: string}
 *   | {type: 'compat', attempt: number, reason: string}
 *   | {type: 'no-relay'}} RecoveryAction
 */

/** How long ICE may stay `disconnected` before we restart. */
export const GRACE_MS = 2000;
/** How long a fresh connection may take before we restart it. */
export const FIRST_CONNECT_MS = 15000;
/** Restarts without reaching `connected` before compatibility mode. */
export const ESCALATE_AFTER = 2;
/** Two restart triggers this close together are one restart. */
export const DEDUPE_MS = 1500;

/**
 * How long restart number `attempt` (1-based) gets to connect before the
 * next one: 6 s, 10 s, 15 s, then 20 s each.
 * @param {number} attempt
 */
export function patienceMs(attempt) {
  return [6000, 10000, 15000][attempt - 1] ?? 20000;
}

/**
 * The least time after restart number `attempt` before another one, even if
 * ICE reports `failed` at once: 1 s, 2 s, 4 s, 8 s, then 8 s each.
 * @param {number} attempt
 */
export function backoffMs(attempt) {
  return Math.min(1000 * 2 ** Math.max(attempt - 1, 0), 8000);
}

/** @typedef {RTCIceConnectionState} IceState */

/**
 * @typedef {object} RecoveryOptions
 * @property {number} now when the connection was made
 * @property {boolean} turnAvailable the configuration has a TURN server
 * @property {boolean} compatAvailable it has one reachable over TCP/TLS
 * @property {boolean} compat compatibility mode is on already
 * @property {(text: string) => void} [log]
 */

/** @param {IceState} state */
function isUp(state) {
  return state === 'connected' || state === 'completed';
}

export class RecoveryPolicy {
  /** @type {Phase} */
  #phase = 'connecting';
  /** Restarts since the connection was last up. */
  #attempts = 0;
  /** All restarts of this connection, for diagnostics. */
  #restarts = 0;
  #lastRestart = -Infinity;
  /** @type {number | null} */
  #deadline;
  #everConnected = false;
  /** The last ICE state we were told of. */
  /** @type {IceState} */
  #ice = 'new';
  #turnAvailable;
  #compatAvailable;
  #compat;
  #noRelayTold = false;
  #log;

  /** @param {RecoveryOptions} options */
  constructor(options) {
    this.#turnAvailable = options.turnAvailable;
    this.#compatAvailable = options.compatAvailable;
    this.#compat = options.compat;
    this.#log = options.log ?? (() => {});
    this.#deadline = options.now + FIRST_CONNECT_MS;
  }

  get phase() {
    return this.#phase;
  }

  /**
   * Whether the connection is down after having been up (the page says
   * "reconnecting"). A restart made while ICE still says connected (a
   * network change, compatibility mode switched on) is not "down": media
   * keeps flowing on the old pair until the new one takes over.
   */
  get recovering() {
    if (!this.#everConnected) return false;
    if (this.#phase === 'grace') return true;
    return this.#phase === 'restarting' && !isUp(this.#ice);
  }

  get everConnected() {
    return this.#everConnected;
  }

  /** Restarts since the connection was last up. */
  get attempts() {
    return this.#attempts;
  }

  get restarts() {
    return this.#restarts;
  }

  get compat() {
    return this.#compat;
  }

  /** @param {Phase} next */
  #setPhase(next) {
    if (next === this.#phase) return;
    this.#log(`recovery: ${this.#phase} -> ${next}`);
    this.#phase = next;
  }

  /**
   * When `handleTimer` wants to be called next (ms, same clock as `now`), or
   * null for never.
   * @returns {number | null}
   */
  timer() {
    return this.#deadline;
  }

  /**
   * The ICE connection state changed.
   * @param {IceState} state
   * @param {number} now
   * @returns {RecoveryAction[]}
   */
  iceState(state, now) {
    if (this.#phase === 'closed') return [];
    this.#ice = state;
    switch (state) {
      case 'connected':
      case 'completed':
        this.#everConnected = true;
        this.#attempts = 0;
        this.#noRelayTold = false;
        this.#deadline = null;
        this.#setPhase('connected');
        return [];
      case 'disconnected':
        if (this.#phase === 'connected') {
          this.#setPhase('grace');
          this.#deadline = now + GRACE_MS;
        }
        // While connecting or restarting, the patience deadline stands.
        return [];
      case 'failed': {
        /** @type {RecoveryAction[]} */
        const out = [];
        if (!this.#turnAvailable && !this.#noRelayTold) {
          this.#noRelayTold = true;
          out.push({ type: 'no-relay' });
        }
        const earliest = this.#lastRestart + backoffMs(this.#attempts);
        if (now >= earliest) return [...out, ...this.#restart(now, 'ICE failed', true)];
        // Too soon after the last restart: try again when the backoff is over.
        this.#deadline = this.#deadline === null ? earliest : Math.min(this.#deadline, earliest);
        return out;
      }
      case 'closed':
        this.#setPhase('closed');
        this.#deadline = null;
        return [];
      default:
        // new, checking: nothing to decide.
        return [];
    }
  }

  /**
   * The deadline of `timer()` has come (calling it early does nothing).
   * @param {number} now
   * @returns {RecoveryAction[]}
   */
  handleTimer(now) {
    if (this.#deadline === null || now < this.#deadline || this.#phase === 'closed') return [];
    if (this.#phase === 'restarting' && isUp(this.#ice)) {
      // ICE never left `connected` during this restart (it moves to the new
      // pair without a state change): the restart worked.
      return this.iceState(this.#ice, now);
    }
    switch (this.#phase) {
      case 'connecting':
        return this.#restart(now, 'no connection in time', true);
      case 'grace':
        return this.#restart(now, 'still disconnected', true);
      case 'restarting':
        return this.#restart(now, `restart ${this.#attempts} did not connect`, true);
      default:
        this.#deadline = null;
        return [];
    }
  }

  /**
   * Our network changed (another interface, back online): the old candidate
   * pair is likely dead, restart now rather than wait for ICE to notice.
   * @param {number} now
   * @returns {RecoveryAction[]}
   */
  networkChanged(now) {
    if (this.#phase === 'closed' || this.#justRestarted(now)) return [];
    return this.#restart(now, 'network changed', false);
  }

  /**
   * The other side asked for a restart (the therapist got `restart`). Not
   * counted towards compatibility mode: it is the other side's network.
   * @param {number} now
   * @returns {RecoveryAction[]}
   */
  remoteRequest(now) {
    if (this.#phase === 'closed' || this.#justRestarted(now)) return [];
    return this.#restart(now, 'asked by the other side', false);
  }

  /**
   * The person switched compatibility mode on or off: restart under the new
   * configuration, whatever the state.
   * @param {boolean} compat
   * @param {number} now
   * @returns {RecoveryAction[]}
   */
  setCompat(compat, now) {
    this.#compat = compat;
    if (this.#phase === 'closed') return [];
    return this.#restart(now, compat ? 'compatibility mode on' : 'compatibility mode off', false);
  }

  /** @param {number} now */
  #justRestarted(now) {
    return now - this.#lastRestart < DEDUPE_MS;
  }

  /**
   * @param {number} now
   * @param {string} reason
   * @param {boolean} mayEscalate whether this restart may switch to compatibility mode
   * @returns {RecoveryAction[]}
   */
  #restart(now, reason, mayEscalate) {
    const escalate =
      mayEscalate && this.#attempts >= ESCALATE_AFTER && this.#compatAvailable && !this.#compat;
    if (escalate) {
      // A fresh series under the new mode: it gets its own attempts.
      this.#compat = true;
      this.#attempts = 0;
    }
    this.#attempts += 1;
    this.#restarts += 1;
    this.#lastRestart = now;
    this.#deadline = now + patienceMs(this.#attempts);
    this.#setPhase('restarting');
    const attempt = this.#attempts;
    if (escalate) {
      this.#log(`recovery: ${reason}; switching to compatibility mode`);
      return [{ type: 'compat', attempt, reason }];
    }
    this.#log(`recovery: ${reason}; restart ${attempt}`);
    return [{ type: 'restart', attempt, reason }];
  }
}
