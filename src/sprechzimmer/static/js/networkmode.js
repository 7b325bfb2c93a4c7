// The call page's network modes: compatibility mode (relay-only over
// TCP/TLS, for networks that block calls; the person's choice or recovery's,
// kept per tab and session) and relay-only (the therapist's switch; the
// server decides, the call logic in callstate.js shows the wish until it
// answers).
//
// It keeps what the server offers and what was chosen, and draws the two
// controls through callview.js; connection.js carries a switch out on the
// running connection. Never holds a TURN credential: only the URLs the
// server offers, to know whether a mode can work before a call.

import { offersCompat, offersRelay } from './ice.js';
import { renderNetworkControls } from './connectionview.js';

/** @typedef {import('./callstate.js').CallInput} CallInput */
/** @typedef {import('./callstate.js').CallSnapshot} CallSnapshot */
/** @typedef {import('./signaling.js').SignalingClient} SignalingClient */

const COMPAT_KEY = 'sprechzimmer.compat';

/**
 * @typedef {object} NetworkModesOptions
 * @property {(input: CallInput) => void} dispatch to the call logic
 * @property {() => CallSnapshot} snapshot the call logic's state
 */

export class NetworkModes {
  /** @type {SignalingClient | null} */
  #signaling = null;
  /**
   * The TURN URLs the server offers (`welcome.relay_urls`), without credentials:
   * whether relay-only and compatibility mode can work, known before a call.
   * Never handed to a peer connection; credentials come only with `admitted`.
   * @type {string[]}
   */
  #relayUrls = [];
  /** Whether we know what the server offers yet (before the first welcome we do not). */
  #known = false;
  /** Compatibility mode as chosen (by the person, or by recovery); kept per tab and session. */
  #compatWanted = false;
  /** Whether recovery switched it on (the page says why). */
  #compatAuto = false;
  /** @type {string | null} sessionStorage key of this session's compatibility choice */
  #compatKey = null;
  #o;

  /** @param {NetworkModesOptions} options */
  constructor(options) {
    this.#o = options;
  }

  get compatWanted() {
    return this.#compatWanted;
  }

  /**
   * The server offers a relay over TCP/TLS and this is no group: compatibility mode
   * can work. A group's links are built without it (their ICE still falls back to
   * TURN over TCP/TLS by itself), so a group's page does not offer a switch that
   * would only say "on".
   */
  get compatOffered() {
    return !this.group && offersCompat(this.#relayUrls);
  }

  /** The session is a group's (`welcome.seats` > 1). */
  group = false;

  /** @param {SignalingClient} signaling @param {string} session */
  join(signaling, session) {
    this.#signaling = signaling;
    this.#compatKey = `${COMPAT_KEY}.${session}`;
    this.#compatWanted = this.#load();
  }

  /**
   * The server said what it offers (a welcome), or that it is known (null:
   * `admitted`, which brings credentials but no list).
   * @param {string[] | null} relayUrls
   */
  offered(relayUrls) {
    if (relayUrls !== null) this.#relayUrls = relayUrls;
    this.#known = true;
  }

  /** @param {boolean} on @param {boolean} auto switched by recovery */
  chooseCompat(on, auto) {
    this.#compatWanted = on;
    this.#compatAuto = on && auto;
    this.#save(on);
  }

  /** The therapist's relay-only switch: the server decides, the call logic waits for it. */
  onRelayOnlyClick() {
    const s = this.#o.snapshot();
    if (s.role !== 'therapist' || !offersRelay(this.#relayUrls)) return;
    const enabled = !s.relayOnlyShown;
    if (!this.#signaling?.send({ type: 'relay-only', enabled })) return;
    this.#o.dispatch({ type: 'relay-only-asked', enabled });
  }

  /** What the server offers, not what the current call got: the controls are there before a call. */
  render() {
    const s = this.#o.snapshot();
    const compatOk = this.compatOffered;
    renderNetworkControls({
      iceKnown: this.#known,
      compatOk,
      compatOn: compatOk && this.#compatWanted,
      compatAuto: this.#compatAuto,
      turn: offersRelay(this.#relayUrls),
      relayOnly: s.relayOnly,
      relayOnlyShown: s.relayOnlyShown,
      relaySwitching: s.relaySwitching,
    });
  }

  /** @returns {boolean} */
  #load() {
    try {
      return this.#compatKey !== null && sessionStorage.getItem(this.#compatKey) === '1';
    } catch {
      return false;
    }
  }

  /** @param {boolean} on */
  #save(on) {
    try {
      if (this.#compatKey === null) return;
      if (on) sessionStorage.setItem(this.#compatKey, '1');
      else sessionStorage.removeItem(this.#compatKey);
    } catch {
      // storage disabled: the choice lasts for this page only
    }
  }
}
