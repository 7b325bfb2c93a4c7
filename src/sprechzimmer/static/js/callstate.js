// The call page's logic, for both roles, as a pure state machine: which
// state the page is in (device check, waiting room, knocking, in call,
// reconnecting, ...), which sentence goes with it, and what must be done.
//
// A `CallMachine` takes what happened (an intent of the person, a message of
// the server, a fact about our peer connection) together with the time, and
// returns what must be done (`CallAction`s: open or close the peer
// connection, hand it a description, send a message, finish). What the page
// shows is its `snapshot`. Time comes in as `now` (milliseconds) and its one
// deadline goes out as `timer()` / `handleTimer(now)`, as in recovery.js and
// `KeyAgreement` (e2ee.js).
//
// `ALLOWED` is the one transition table and `#transition` the one place the
// state changes; it logs each change and refuses one the table does not have.
// Staying in a state with a new sentence (in call, then "in call, the server
// is reconnecting") is not a transition.
//
// It never touches the DOM, a socket, a peer connection, a timer or a clock:
// call.js carries its actions out and callview.js renders its snapshot.
//
// Longer than our ~400 lines on purpose: a third of it is the typed contract
// (states, inputs, actions, snapshot), and the handlers belong with the table
// they must keep to; tests/js/callstate.test.js drives every transition.

import { CLOSE_ABNORMAL, CLOSE_GOING_AWAY, CLOSE_NORMAL, FINAL_ERRORS, RECOVERABLE_ERRORS } from './protocol.js';

/** @typedef {import('./protocol.js').Role} Role */
/** @typedef {import('./protocol.js').LeaveReason} LeaveReason */
/** @typedef {import('./protocol.js').WelcomeMessage} WelcomeMessage */
/** @typedef {import('./protocol.js').ErrorMessage} ErrorMessage */
/** @typedef {import('./signaling.js').Closed} Closed */
/** @typedef {import('./i18n.js').MessageKey} MessageKey */

/**
 * The states of the page.
 *  - device-check: camera and microphone before joining
 *  - connecting: joined, the line to the server or the media is being set up
 *  - waiting: the client waits to be let in, or the therapist for the client
 *  - knocking: (therapist) the client knocks; admit or decline
 *  - in-call: media flows
 *  - reconnecting: the call was up and its connection is being recovered
 *  - no-connection: no direct path and the service has no relay (we keep trying)
 *  - e2ee-failed: frame encryption could not be set up and the operator does
 *    not allow calls without it; the media ended, the call view stays (a new
 *    admission starts over). Shown as 'error'.
 *  - incompatible: the two browsers cannot set up media between them (a
 *    description refused, no common codec, a transform that cannot go on):
 *    no retry can mend it, so the connection and its recovery end; the call
 *    view stays with what to try (a new admission starts over). Shown as 'error'.
 *  - ended, declined, error: final; the page's part in the session is over
 * @typedef {'device-check' | 'connecting' | 'waiting' | 'knocking' | 'in-call' | 'reconnecting'
 *   | 'no-connection' | 'e2ee-failed' | 'incompatible' | 'ended' | 'declined' | 'error'} CallState
 */

/**
 * What the page shows; mirrored in data-status of [data-testid=call-status]
 * and in the test handle's `state`.
 * @typedef {Exclude<CallState, 'e2ee-failed' | 'incompatible'>} CallStatus
 */

/** @typedef {'device' | 'waiting-room' | 'call' | 'end' | 'none'} View */

/**
 * The sentence of the status line, rendered in the language of the moment:
 * one of ours, or the server's own (in German or English) with a fallback.
 * @typedef {{key: MessageKey, params?: Record<string, string | number>}
 *   | {error: ErrorMessage | import('./api.js').ApiErrorBody | null, fallback: MessageKey}} StatusText
 */

/**
 * What the page must do, in this order.
 *  - close-peer: close the peer connection (and its frame encryption), if any
 *  - open-peer: a fresh peer connection under the current configuration;
 *    then send the first offer (`offer`), ask for an ICE restart
 *    (`restart-ice`: the client, whose answer will come from a new
 *    connection), or wait for the other side's offer (null)
 *  - describe: hand the peer connection the other side's offer or answer
 *  - clear-remote: the other side's video is gone
 *  - send: a message to the server
 *  - chime: a knock, ring
 *  - report-media: tell the (possibly new) server what our media is doing now
 *  - finish: end the page's part (say goodbye to the server if `bye`), close
 *    the connection, release camera and microphone
 * @typedef {{type: 'close-peer'}
 *   | {type: 'open-peer', then: 'offer' | 'restart-ice' | null}
 *   | {type: 'describe', description: 'offer' | 'answer', sdp: string}
 *   | {type: 'clear-remote'}
 *   | {type: 'send', message: {type: 'admit'} | {type: 'decline'} | {type: 'room-check-done'}}
 *   | {type: 'chime'}
 *   | {type: 'report-media'}
 *   | {type: 'finish', bye: boolean}} CallAction
 */

/**
 * What happened.
 *
 * Intents of the person: `join`, `admit`, `decline`, `hangup` (hang up or
 * leave the waiting room), `tick-room-check` (the therapist ticked the room
 * check off), `relay-only-asked` (the therapist's switch went
 * to the server), `fresh-connection` (compatibility mode needs a new peer
 * connection); `bad-link`: the page has no invite; `link-refused`: the link
 * check said the link is dead (before the device check).
 *
 * Server messages, as signaling.js hands them over; `offer` and `answer` say
 * whether their SDP comes from another connection than our current one;
 * `admitted` says whether the room check is to be shown (`roomCheck`, absent:
 * true); `room-check-done` is the therapist's tick relayed to the client;
 * `closed` is the socket's end (or break).
 *
 * Our peer connection: `connection` after its state or its recovery changed
 * (`noRelay`: recovery found no direct path and no relay); `e2ee-failed`:
 * frame encryption failed closed; `negotiation-failed`: the browsers cannot
 * agree on media (ours found it, or the other's said so through the server).
 * @typedef {{type: 'join'} | {type: 'bad-link'} | {type: 'link-refused', error: import('./api.js').ApiErrorBody} | {type: 'admit'} | {type: 'decline'} | {type: 'hangup'}
 *   | {type: 'relay-only-asked', enabled: boolean} | {type: 'fresh-connection'}
 *   | {type: 'welcome', welcome: WelcomeMessage} | {type: 'waiting'} | {type: 'knock'}
 *   | {type: 'knock-cancelled'} | {type: 'admitted', relayOnly: boolean, roomCheck?: boolean} | {type: 'declined'}
 *   | {type: 'tick-room-check'} | {type: 'room-check-done'}
 *   | {type: 'peer-joined', admitted: boolean} | {type: 'peer-left', reason: LeaveReason}
 *   | {type: 'offer', sdp: string, fromOtherConnection: boolean}
 *   | {type: 'answer', sdp: string, fromOtherConnection: boolean}
 *   | {type: 'error', error: ErrorMessage} | {type: 'closed', closed: Closed}
 *   | {type: 'connection', state: RTCPeerConnectionState, recovering: boolean, noRelay: boolean}
 *   | {type: 'e2ee-failed', state: 'failed' | 'unsupported'}
 *   | {type: 'negotiation-failed', reason: import('./protocol.js').NegotiationFailure}} CallInput
 */

/**
 * @typedef {object} CallSnapshot what the view renders
 * @property {CallState} state
 * @property {CallStatus} status the state as the page shows it
 * @property {StatusText} text
 * @property {View} view
 * @property {number} seq moves with every status set (a transition or a new
 *   sentence): what goes with a status (focus, the knock buttons) is applied then
 * @property {Role | null} role null until the first welcome
 * @property {boolean} admitted the client is admitted (a call, not a waiting room)
 * @property {boolean} peer a peer connection is open
 * @property {boolean} serverAway the line to the server is being restored while the call goes on
 * @property {boolean} finished the page's part is over
 * @property {Ending | null} ending why the page's part is over (null: it is not)
 * @property {boolean} relayOnly relay-only as the server last said
 * @property {boolean} relayOnlyShown relay-only as shown: the therapist's wish until the server answers
 * @property {boolean} relaySwitching a relay-only switch waits for the server's answer
 * @property {boolean} roomCheck the room check ("Are you undisturbed? ...") is to be shown: from
 *   the call's start until the therapist ticks it off (both pages)
 */

/**
 * Why the page's part in the session is over; the end screen says what
 * happened and offers the one next step that can work.
 *  - hung-up: we hung up or left the waiting room (joining again works)
 *  - peer-hung-up: (client) the therapist ended the call (joining again works)
 *  - declined: (client) not let in now; knocking again works
 *  - link: the server refused the link (unknown, expired, revoked, in use):
 *    retrying cannot work, a new link or the dashboard can
 *  - bad-link: the page has no link at all
 *  - elsewhere: the seat is held by another window or device (the server
 *    replaced us there, or refused us as occupied): go on there
 *  - left: (client) we left the waiting room before any conversation
 *  - closed: the therapist closed the session while we were in it
 *  - failed: the line broke or something unexpected; retrying may work
 * @typedef {'hung-up' | 'left' | 'closed' | 'peer-hung-up' | 'declined' | 'link' | 'bad-link' | 'elsewhere' | 'failed'} Ending
 */

/** How long a relay-only switch may go unanswered before we show the real state again. */
export const RELAY_SWITCH_MS = 5000;

/** @type {ReadonlyArray<CallState>} */
export const FINAL = Object.freeze(['ended', 'declined', 'error']);

/** @param {CallState[]} states @returns {ReadonlySet<CallState>} */
const to = (...states) => new Set(states);

/**
 * The one transition table: from each state, the states it may become. Any
 * server message can come at any time, so the table is wide; what it leaves
 * out is as telling: a knock and a failed encryption never become a call
 * without a fresh connection first, and only a call being set up or up
 * finds that no connection is possible.
 * @type {Readonly<Record<CallState, ReadonlySet<CallState>>>}
 */
export const ALLOWED = Object.freeze({
  'device-check': to('connecting', 'error'),
  connecting: to('waiting', 'knocking', 'in-call', 'reconnecting', 'no-connection', 'e2ee-failed', 'incompatible', ...FINAL),
  waiting: to('connecting', 'knocking', 'in-call', 'reconnecting', 'e2ee-failed', 'incompatible', ...FINAL),
  knocking: to('connecting', 'waiting', 'reconnecting', 'e2ee-failed', 'incompatible', ...FINAL),
  'in-call': to('connecting', 'waiting', 'knocking', 'reconnecting', 'no-connection', 'e2ee-failed', 'incompatible', ...FINAL),
  reconnecting: to('connecting', 'waiting', 'knocking', 'in-call', 'no-connection', 'e2ee-failed', 'incompatible', ...FINAL),
  'no-connection': to('connecting', 'waiting', 'knocking', 'in-call', 'reconnecting', 'e2ee-failed', 'incompatible', ...FINAL),
  'e2ee-failed': to('connecting', 'waiting', 'knocking', 'reconnecting', 'incompatible', ...FINAL),
  incompatible: to('connecting', 'waiting', 'knocking', 'reconnecting', 'e2ee-failed', ...FINAL),
  ended: to(),
  declined: to(),
  error: to(),
});

/** What can happen before the person joins: nothing comes from a server yet. */
const BEFORE_JOINING = new Set(['join', 'bad-link', 'link-refused']);

/** States in which our connection's state decides the status line. */
const CALL_STATES = new Set(['connecting', 'in-call', 'reconnecting', 'no-connection']);

/** @param {MessageKey} key @param {Record<string, string | number>} [params] @returns {StatusText} */
const say = (key, params) => (params ? { key, params } : { key });

/**
 * @typedef {object} CallMachineOptions
 * @property {(text: string) => void} [log]
 */

export class CallMachine {
  /** @type {CallState} */
  #state = 'device-check';
  /** @type {StatusText} */
  #text = say('call.deviceCheck');
  /** @type {View} */
  #view = 'device';
  #seq = 0;
  /** @type {Role | null} */
  #role = null;
  #admitted = false;
  /**
   * Our peer connection as last reported (null: none open). The page reports
   * after every change of its state or of its recovery.
   * @type {{state: RTCPeerConnectionState, recovering: boolean} | null}
   */
  #peer = null;
  /** Recovery found no direct path and the service has no relay. */
  #noRelay = false;
  /** The call had media flowing: a new connection is "reconnecting", not "connecting". */
  #callWasUp = false;
  #serverAway = false;
  /** @type {Ending | null} */
  #ending = null;
  #relayOnly = false;
  /** @type {boolean | null} */
  #relayPending = null;
  /** @type {number | null} */
  #relayDeadline = null;
  /** The room check waits for the therapist's tick (set by `admitted`). */
  #roomCheck = false;
  #log;

  /** @param {CallMachineOptions} [options] */
  constructor(options = {}) {
    this.#log = options.log ?? (() => {});
  }

  get state() {
    return this.#state;
  }

  /** @returns {CallSnapshot} */
  get snapshot() {
    return Object.freeze({
      state: this.#state,
      status: this.#state === 'e2ee-failed' || this.#state === 'incompatible' ? 'error' : this.#state,
      text: this.#text,
      view: this.#view,
      seq: this.#seq,
      role: this.#role,
      admitted: this.#admitted,
      peer: this.#peer !== null,
      serverAway: this.#serverAway,
      finished: FINAL.includes(this.#state),
      ending: this.#ending,
      relayOnly: this.#relayOnly,
      relayOnlyShown: this.#relayPending ?? this.#relayOnly,
      relaySwitching: this.#relayDeadline !== null,
      roomCheck: this.#roomCheck && !FINAL.includes(this.#state),
    });
  }

  /**
   * When `handleTimer` wants to be called next (same clock as `now`), or null.
   * @returns {number | null}
   */
  timer() {
    return this.#relayDeadline;
  }

  /**
   * The deadline of `timer()` has come (calling it early does nothing): a
   * relay-only switch the server did not answer shows the real state again.
   * @param {number} now
   * @returns {CallAction[]}
   */
  handleTimer(now) {
    if (this.#relayDeadline === null || now < this.#relayDeadline) return [];
    this.#log('relay-only: no answer from the server');
    this.#relayDeadline = null;
    this.#relayPending = null;
    return [];
  }

  /**
   * @param {CallInput} input
   * @param {number} now
   * @returns {CallAction[]}
   */
  handle(input, now) {
    // Over: the socket and the connection are closed, nothing more comes
    // that matters. Before joining there is no socket and no connection.
    if (FINAL.includes(this.#state)) return [];
    if (this.#state === 'device-check' && !BEFORE_JOINING.has(input.type)) return [];
    switch (input.type) {
      case 'join':
        this.#set('connecting', say('call.connecting'));
        return [];
      case 'bad-link':
        this.#ending = 'bad-link';
        this.#set('error', say('call.badLink'));
        return [];
      case 'link-refused':
        // Said before any device prompt: nothing to release, nobody to greet.
        this.#ending = 'link';
        this.#set('error', { error: input.error, fallback: 'error.unexpected' });
        return [];
      case 'admit':
        return [{ type: 'send', message: { type: 'admit' } }];
      case 'tick-room-check':
        if (this.#role !== 'therapist' || !this.#roomCheck) return [];
        this.#roomCheck = false;
        return [{ type: 'send', message: { type: 'room-check-done' } }];
      case 'room-check-done':
        this.#roomCheck = false;
        return [];
      case 'decline':
        this.#set('waiting', say('call.waitingForClient'));
        return [{ type: 'send', message: { type: 'decline' } }];
      case 'hangup': {
        const waitingRoom = this.#role === 'client' && !this.#admitted;
        return this.#finish('ended', say(waitingRoom ? 'call.leftWaitingRoom' : 'call.ended'), true, waitingRoom ? 'left' : 'hung-up');
      }
      case 'relay-only-asked':
        this.#relayPending = input.enabled;
        // The server answers with `admitted` only while a call runs; otherwise
        // the wish holds for the next call and the button shows it.
        this.#relayDeadline = this.#peer ? now + RELAY_SWITCH_MS : null;
        return [];
      case 'fresh-connection':
        if (this.#role === 'therapist') return this.#startCall();
        // The client makes its own and asks for a restart; its answer comes
        // from another connection, so the therapist starts over, and we
        // follow that offer.
        return [...this.#closePeer(), ...this.#openPeer('restart-ice')];
      case 'welcome':
        return this.#welcome(input.welcome);
      case 'waiting':
        this.#admitted = false;
        this.#set('waiting', say('call.waitingRoom'));
        return [];
      case 'knock':
        return this.#knock(true);
      case 'knock-cancelled':
        if (this.#state === 'knocking') this.#set('waiting', say('call.waitingForClient'));
        return [];
      case 'admitted': {
        // The one trigger for a fresh peer connection, under the
        // configuration it carries (fresh TURN credentials, relay-only or not).
        this.#admitted = true;
        this.#relayOnly = input.relayOnly;
        // Every call starts with it, unless the therapist ticked it off in
        // this admission already (a restarted call does not ask again).
        this.#roomCheck = input.roomCheck ?? true;
        this.#relayPending = null;
        this.#relayDeadline = null;
        const out = [...this.#closePeer(), ...this.#openPeer(this.#role === 'therapist' ? 'offer' : null)];
        if (this.#callWasUp) this.#set('reconnecting', say('call.recovering'));
        else this.#set('connecting', say('call.startingMedia'));
        return out;
      }
      case 'declined':
        return this.#finish('declined', say('call.declined'), false, 'declined');
      case 'peer-joined':
        if (!input.admitted) return []; // a knock follows for the therapist
        // The other side came back (reload, new network): `admitted` follows
        // and starts a fresh connection on both sides.
        this.#admitted = true;
        if (this.#state !== 'in-call' && this.#state !== 'reconnecting') this.#set('connecting', say('call.startingMedia'));
        return [];
      case 'peer-left':
        return this.#peerLeft(input.reason);
      case 'offer': {
        /** @type {CallAction[]} */
        const out = [];
        if (this.#peer && input.fromOtherConnection) {
          this.#log('offer from a new connection of the other side: starting over');
          out.push(...this.#closePeer());
        }
        if (!this.#peer) out.push(...this.#openPeer(null));
        out.push({ type: 'describe', description: 'offer', sdp: input.sdp });
        return out;
      }
      case 'answer':
        if (this.#role === 'therapist' && this.#peer && input.fromOtherConnection) {
          // The client had to start a fresh connection (its browser refused a
          // new configuration): we do the same, and offer to it.
          this.#log('answer from a new connection of the other side: starting over');
          return this.#startCall();
        }
        return [{ type: 'describe', description: 'answer', sdp: input.sdp }];
      case 'error':
        if (!input.error.fatal) return []; // no-peer: the other side is away; it re-offers when back
        if (RECOVERABLE_ERRORS.has(input.error.code)) return []; // the socket comes back by itself
        return this.#finish('error', { error: input.error, fallback: 'error.unexpected' }, false, endingOf(input.error.code));
      case 'closed':
        return this.#closed(input.closed);
      case 'connection':
        if (!this.#peer) return [];
        this.#peer = { state: input.state, recovering: input.recovering };
        if (input.noRelay) this.#noRelay = true;
        this.#updateCallStatus();
        return [];
      case 'e2ee-failed': {
        if (!this.#peer) return []; // of a connection already closed
        // Fail closed: the media ends, the page says why and keeps the call
        // view (hang up stays at hand; a new admission starts over).
        const out = [...this.#closePeer(), /** @type {CallAction} */ ({ type: 'clear-remote' })];
        this.#callWasUp = false;
        this.#set('e2ee-failed', say(input.state === 'unsupported' ? 'e2ee.unsupportedCall' : 'e2ee.failedCall'));
        return out;
      }
      case 'negotiation-failed': {
        if (!this.#peer) return []; // of a connection already closed, or said twice
        // What one browser refused it would refuse again: no restarts, no
        // new offers; the page says what to try and keeps the call view
        // (hang up stays at hand; a new admission starts over).
        const out = [...this.#closePeer(), /** @type {CallAction} */ ({ type: 'clear-remote' })];
        this.#callWasUp = false;
        this.#set('incompatible', say('call.incompatible'));
        return out;
      }
    }
  }

  /** @param {WelcomeMessage} w @returns {CallAction[]} */
  #welcome(w) {
    this.#role = w.role;
    this.#admitted = w.admitted;
    if (w.resumed && w.peer_present && this.#peer) {
      // Our seat was taken back with the ticket (a broken line, a server
      // restart, another process): the call never needed the server, it goes
      // on as it is.
      this.#serverAway = false;
      if (this.#state === 'in-call') this.#set('in-call', say('call.inCall'));
      else this.#updateCallStatus();
      return [{ type: 'report-media' }];
    }
    if (w.role === 'client') {
      if (!w.admitted) {
        const out = this.#closePeer();
        this.#set('waiting', say('call.waitingRoom'));
        return out;
      }
      if (!w.peer_present) {
        const out = this.#closePeer();
        this.#set('waiting', say('call.peerInterrupted'), 'call');
        return out;
      }
      // Admitted again after a reconnect: `admitted` follows at once and
      // brings a fresh connection; until then keep what we have.
      if (this.#state !== 'in-call') this.#set('connecting', say('call.startingMedia'));
      return [];
    }
    if (w.admitted && w.peer_present) {
      // `admitted` follows: it starts the call.
      if (this.#state !== 'in-call') this.#set('connecting', say('call.startingMedia'));
      return [];
    }
    // The client is already knocking; a knock message may follow too.
    if (w.peer_present) return this.#knock(false);
    const out = w.admitted ? [] : this.#closePeer();
    this.#set('waiting', say('call.waitingForClient'));
    return out;
  }

  /** @param {boolean} ring @returns {CallAction[]} */
  #knock(ring) {
    if (this.#role !== 'therapist') return [];
    this.#admitted = false;
    this.#roomCheck = false;
    const out = this.#closePeer();
    this.#set('knocking', say('call.knocking'));
    if (ring) out.push({ type: 'chime' });
    return out;
  }

  /** @param {LeaveReason} reason @returns {CallAction[]} */
  #peerLeft(reason) {
    const wasInCall = this.#admitted;
    // The conversation is interrupted or over: the next `admitted` says anew.
    this.#roomCheck = false;
    const out = [...this.#closePeer(), /** @type {CallAction} */ ({ type: 'clear-remote' })];
    this.#callWasUp = false;
    if (this.#role === 'therapist') {
      // The therapist stays in the room whatever the client did: a client
      // who hung up by mistake knocks again with the same link.
      if (reason === 'hangup' || reason === 'quick-exit') this.#admitted = false;
      // A quick exit is said as such: the person may not be safe where they are.
      const text =
        reason === 'quick-exit'
          ? 'exit.peerLeft'
          : reason === 'hangup' && wasInCall
            ? 'call.clientLeft'
            : wasInCall
              ? 'call.peerInterrupted'
              : 'call.waitingForClient';
      this.#set('waiting', say(text));
    } else if (reason === 'hangup' && wasInCall) {
      // The therapist ended the call: over for us; our own socket goes too.
      return [...out, ...this.#finish('ended', say('call.peerHungUp'), true, 'peer-hung-up')];
    } else if (wasInCall) {
      this.#set('waiting', say('call.peerInterrupted'), 'call');
    }
    return out;
  }

  /** @param {Closed} c @returns {CallAction[]} */
  #closed(c) {
    if (c.reconnecting && this.#peer && (this.#state === 'in-call' || this.#state === 'reconnecting')) {
      // Only the line to the server broke: the call goes on, say so calmly.
      this.#serverAway = true;
      if (this.#state === 'in-call') this.#set('in-call', say('call.serverReconnecting'));
      return [];
    }
    if (c.reconnecting) {
      this.#set('connecting', say('call.reconnecting'));
      return [];
    }
    if (c.error) return this.#finish('error', { error: c.error, fallback: 'error.unexpected' }, false, endingOf(c.error.code));
    if (c.code === CLOSE_NORMAL) return this.#finish('ended', say('call.ended'), false, 'hung-up');
    if (c.code === CLOSE_ABNORMAL || c.code === CLOSE_GOING_AWAY) return this.#finish('error', say('call.gaveUp'), false, 'failed');
    // The close code goes to the log, not to the person: it helps nobody on screen.
    this.#log(`closed with ${c.code}`);
    return this.#finish('error', say('call.closed'), false, 'failed');
  }

  /**
   * The status line during a call, from the connection and its recovery:
   * in call, connecting, reconnecting, or no connection possible.
   */
  #updateCallStatus() {
    const p = this.#peer;
    if (!p) return;
    if (p.state === 'connected' && !p.recovering) {
      this.#noRelay = false;
      this.#callWasUp = true;
      if (this.#state !== 'in-call' && (CALL_STATES.has(this.#state) || this.#state === 'waiting')) {
        this.#set('in-call', say('call.inCall'));
      }
      return;
    }
    if (!CALL_STATES.has(this.#state)) return;
    if (this.#noRelay) {
      this.#set('no-connection', say('call.noRelay'));
    } else if (this.#callWasUp && (p.recovering || p.state === 'disconnected' || p.state === 'failed')) {
      this.#set('reconnecting', say('call.recovering'));
    }
  }

  /** Therapist: a fresh connection and a first offer. @returns {CallAction[]} */
  #startCall() {
    const out = [...this.#closePeer(), ...this.#openPeer('offer')];
    if (this.#state !== 'in-call') this.#set('connecting', say('call.startingMedia'));
    return out;
  }

  /** @returns {CallAction[]} */
  #closePeer() {
    this.#peer = null;
    this.#noRelay = false;
    return [{ type: 'close-peer' }];
  }

  /** @param {'offer' | 'restart-ice' | null} then @returns {CallAction[]} */
  #openPeer(then) {
    // Before the welcome there is nothing to connect to (nor a role).
    if (this.#role === null) return [];
    this.#peer = { state: 'new', recovering: false };
    this.#noRelay = false;
    return [{ type: 'open-peer', then }];
  }

  /**
   * The page's part in the session ends: say why.
   * @param {'ended' | 'declined' | 'error'} next
   * @param {StatusText} text
   * @param {boolean} bye say goodbye to the server (a hang-up)
   * @param {Ending} ending
   * @returns {CallAction[]}
   */
  #finish(next, text, bye, ending) {
    this.#callWasUp = false;
    this.#peer = null;
    this.#noRelay = false;
    this.#relayPending = null;
    this.#relayDeadline = null;
    this.#ending = ending;
    this.#set(next, text);
    return [{ type: 'finish', bye }];
  }

  /**
   * Set the status: the state (a transition only if it changes), its
   * sentence and the view that goes with it.
   * @param {CallState} next
   * @param {StatusText} text
   * @param {View} [view] default: what the state usually shows
   */
  #set(next, text, view) {
    if (next !== this.#state) this.#transition(next);
    this.#text = text;
    this.#view = view ?? this.#defaultView(next);
    this.#seq += 1;
  }

  /** The one place the state changes. @param {CallState} next */
  #transition(next) {
    if (!ALLOWED[this.#state].has(next)) throw new Error(`call is ${this.#state}, cannot become ${next}`);
    this.#log(`status: ${this.#state} -> ${next}`);
    this.#state = next;
  }

  /** @param {CallState} state @returns {View} */
  #defaultView(state) {
    const waitingRoom = this.#role === 'client' && !this.#admitted;
    switch (state) {
      case 'device-check':
        return 'device';
      case 'connecting':
        return this.#role === null ? 'none' : waitingRoom ? 'waiting-room' : 'call';
      case 'waiting':
        return waitingRoom ? 'waiting-room' : 'call';
      case 'knocking':
      case 'in-call':
      case 'reconnecting':
      case 'no-connection':
      case 'e2ee-failed':
      case 'incompatible':
        return 'call';
      default:
        return 'end';
    }
  }
}

/** @param {string} code a fatal server error's code @returns {Ending} */
function endingOf(code) {
  // The seat is held by another window: the person goes on there.
  if (code === 'replaced' || code === 'occupied') return 'elsewhere';
  if (code === 'session-ended') return 'closed';
  // The link is dead: a retry cannot help.
  return FINAL_ERRORS.has(code) ? 'link' : 'failed';
}
