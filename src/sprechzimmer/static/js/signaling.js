// The signaling connection: one WebSocket to /ws, the hello, the heartbeat,
// and reconnecting after a broken line. No DOM: the socket constructor, the
// timers and the clock are passed in, so node can drive it with fakes.
//
// What it never does: put a token or session in the URL, reconnect after a
// decision (bye, declined, forbidden, place taken), or send anything that
// encodeClientMessage refuses.

import {
  decodeServerMessage,
  encodeClientMessage,
  isReconnectableClose,
  reconnectDelay,
  ProtocolError,
  PROTOCOL_VERSION,
  CLOSE_NORMAL,
  CLOSE_ABNORMAL,
  CLOSE_SERVER_SILENT,
  RECOVERABLE_ERRORS,
} from './protocol.js';

/** @typedef {import('./protocol.js').ServerMessage} ServerMessage */
/** @typedef {import('./protocol.js').ServerMessageType} ServerMessageType */
/** @typedef {import('./protocol.js').ClientMessage} ClientMessage */
/** @typedef {import('./protocol.js').WelcomeMessage} WelcomeMessage */
/** @typedef {import('./protocol.js').MediaStateMessage} MediaStateMessage */

/**
 * @template {ServerMessageType} K
 * @typedef {import('./protocol.js').ServerMessageOf<K>} ServerMessageOf
 */

/**
 * States of the connection. One transition function (`#setState`) logs each
 * change.
 *  - idle: not started
 *  - connecting: socket opening, hello not yet answered
 *  - open: welcome received
 *  - reconnecting: the line broke, waiting for the next attempt
 *  - closed: for good (bye, declined, refused, gave up)
 * @typedef {'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed'} SignalingState
 */

/**
 * The part of WebSocket we use; a fake in tests.
 * @typedef {object} SocketLike
 * @property {number} readyState
 * @property {(data: string) => void} send
 * @property {(code?: number, reason?: string) => void} close
 * @property {((ev: any) => void) | null} onopen
 * @property {((ev: {data: unknown}) => void) | null} onmessage
 * @property {((ev: {code: number, reason: string, wasClean?: boolean}) => void) | null} onclose
 * @property {((ev: any) => void) | null} onerror
 */

/**
 * @typedef {object} Closed what the 'closed' event carries
 * @property {number} code the close code (1006 when the line broke)
 * @property {string} reason
 * @property {boolean} reconnecting true: another attempt is scheduled
 * @property {number} attempt the reconnect attempt that is scheduled (0 when none)
 * @property {import('./protocol.js').ErrorMessage | null} error the last fatal `error` before the close
 */

/**
 * @typedef {object} SignalingEvents
 * @property {SignalingState} state
 * @property {Closed} closed
 * @property {Error} protocol-error a frame from the server we could not read (dropped)
 */

/**
 * @typedef {object} SignalingOptions
 * @property {string} url ws(s)://host/ws
 * @property {string} session
 * @property {string} token
 * @property {string} [resume] ticket from an earlier welcome of this tab
 * @property {() => number} [epoch] the key epoch the call is in, sent when resuming
 * @property {() => boolean} [relayOnly] the running call is relay-only, sent when resuming
 * @property {string} [name] client: the name to be addressed by, said in every hello (kept in
 *   this object only: a server that forgot the room learns it again when we come back)
 * @property {boolean} [consent] client: the person confirmed the terms of use and the privacy notice
 * @property {(url: string) => SocketLike} [createSocket]
 * @property {(fn: () => void, ms: number) => unknown} [setTimeout]
 * @property {(id: any) => void} [clearTimeout]
 * @property {() => number} [now] milliseconds
 * @property {() => number} [random]
 * @property {number} [maxReconnectAttempts]
 * @property {(resume: string) => void} [onResume] to keep the secret where a reload finds it
 * @property {(text: string) => void} [log]
 */

const OPEN = 1;

export class SignalingClient {
  /** @type {SignalingState} */
  #state = 'idle';
  /** @type {SocketLike | null} */
  #socket = null;
  /** @type {Required<Pick<SignalingOptions, 'createSocket' | 'setTimeout' | 'clearTimeout' | 'now' | 'random' | 'maxReconnectAttempts' | 'log'>> & SignalingOptions} */
  #opt;
  /** @type {string | undefined} */
  #resume;
  /** @type {Map<string, Set<(payload: any) => void>>} */
  #handlers = new Map();
  /** reconnect attempts since the last welcome */
  #attempt = 0;
  /** @type {unknown} */
  #heartbeatTimer = null;
  /** @type {unknown} */
  #reconnectTimer = null;
  #heartbeatMs = 0;
  #lastReceived = 0;
  /** we are closing on purpose: no reconnect */
  #closing = false;
  /** @type {import('./protocol.js').ErrorMessage | null} */
  #fatal = null;
  /** @type {WelcomeMessage | null} */
  #welcome = null;
  /** @type {MediaStateMessage | null} our own camera and microphone, said again after each welcome */
  #mediaState = null;

  /** @param {SignalingOptions} options */
  constructor(options) {
    this.#opt = {
      createSocket: (url) => /** @type {SocketLike} */ (/** @type {unknown} */ (new WebSocket(url))),
      setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
      clearTimeout: (id) => globalThis.clearTimeout(id),
      now: () => Date.now(),
      random: Math.random,
      maxReconnectAttempts: 20,
      log: () => {},
      ...options,
    };
    this.#resume = options.resume;
  }

  /** @returns {SignalingState} */
  get state() {
    return this.#state;
  }

  /** The last welcome (null before the first). */
  get welcome() {
    return this.#welcome;
  }

  /**
   * Listen to one server message type, or to 'state', 'closed',
   * 'protocol-error'. Returns a function that removes the listener.
   *
   * @template {ServerMessageType | keyof SignalingEvents} K
   * @param {K} type
   * @param {(payload: K extends ServerMessageType ? ServerMessageOf<K> : K extends keyof SignalingEvents ? SignalingEvents[K] : never) => void} handler
   * @returns {() => void}
   */
  on(type, handler) {
    let set = this.#handlers.get(type);
    if (!set) this.#handlers.set(type, (set = new Set()));
    set.add(handler);
    return () => set.delete(handler);
  }

  /** @param {string} type @param {unknown} payload */
  #emit(type, payload) {
    for (const handler of this.#handlers.get(type) ?? []) {
      try {
        handler(payload);
      } catch (err) {
        // One broken listener must not stop the others or the socket.
        this.#opt.log(`listener for ${type} failed: ${err}`);
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }

  /** @param {SignalingState} next */
  #setState(next) {
    if (next === this.#state) return;
    this.#opt.log(`signaling: ${this.#state} -> ${next}`);
    this.#state = next;
    this.#emit('state', next);
  }

  /** Open the socket and say hello. */
  connect() {
    if (this.#state !== 'idle') throw new Error(`signaling is ${this.#state}`);
    this.#open();
  }

  #open() {
    this.#setState('connecting');
    this.#fatal = null;
    const socket = this.#opt.createSocket(this.#opt.url);
    this.#socket = socket;
    socket.onopen = () => {
      if (socket !== this.#socket) return;
      /** @type {import('./protocol.js').HelloMessage} */
      const hello = {
        type: 'hello',
        protocol: PROTOCOL_VERSION,
        session: this.#opt.session,
        token: this.#opt.token,
      };
      if (this.#opt.name) hello.name = this.#opt.name;
      if (this.#opt.consent) hello.consent = true;
      if (this.#resume) {
        hello.resume = this.#resume;
        const epoch = this.#opt.epoch?.();
        if (epoch !== undefined && Number.isInteger(epoch) && epoch >= 0) hello.epoch = epoch;
        if (this.#opt.relayOnly?.()) hello.relay_only = true;
      }
      this.#sendNow(hello);
    };
    socket.onmessage = (ev) => {
      if (socket !== this.#socket) return;
      this.#receive(ev.data);
    };
    socket.onerror = () => {
      // Always followed by close, which carries the information.
    };
    socket.onclose = (ev) => {
      if (socket !== this.#socket) return;
      this.#closed(ev.code, ev.reason ?? '');
    };
  }

  /** @param {unknown} data */
  #receive(data) {
    this.#lastReceived = this.#opt.now();
    /** @type {ServerMessage} */
    let message;
    try {
      message = decodeServerMessage(data);
    } catch (err) {
      // A frame we cannot read is dropped; the server never sends one unless
      // it is newer than this page, and dropping beats acting on garbage.
      this.#opt.log(`signaling: dropped frame: ${err}`);
      this.#emit('protocol-error', err instanceof Error ? err : new ProtocolError(String(err)));
      return;
    }
    if (message.type === 'welcome') {
      this.#welcome = message;
      this.#attempt = 0;
      this.#resume = message.resume;
      this.#opt.onResume?.(message.resume);
      this.#startHeartbeat(message.heartbeat_interval);
      this.#setState('open');
    } else if (message.type === 'error' && message.fatal) {
      this.#fatal = message;
    }
    this.#emit(message.type, message);
    // After every welcome (a reconnect, a reload, a server that restarted or
    // moved the room and so forgot it) the other side hears our state again;
    // the server drops it when it is no news.
    if (message.type === 'welcome' && this.#mediaState) this.#sendNow(this.#mediaState);
  }

  /**
   * Tell the other side our own camera and microphone (`media-state`); call it
   * on every change. The client keeps the latest and says it again after each
   * `welcome`, so a state set before the connection opens is not lost.
   * Throws ProtocolError for a value the protocol does not know.
   *
   * @param {{camera: import('./protocol.js').DeviceState, microphone: import('./protocol.js').DeviceState, audio_only: boolean, paused?: boolean, screen?: boolean}} state
   * @returns {boolean} sent now (false: it goes out with the next welcome)
   */
  setMediaState({ camera, microphone, audio_only, paused = false, screen = false }) {
    /** @type {MediaStateMessage} */
    const message = { type: 'media-state', camera, microphone, audio_only, paused, screen };
    encodeClientMessage(message); // refuses a bad value before we keep it
    this.#mediaState = message;
    return this.send(message);
  }

  /**
   * Send a message. Returns false when there is no open socket (the message
   * is dropped: offers and candidates of a broken line are worthless, the
   * peers renegotiate after the reconnect).
   *
   * @param {ClientMessage} message
   * @returns {boolean}
   */
  send(message) {
    if (message.type === 'hello') throw new Error('hello is sent by the client itself');
    if (this.#state !== 'open') return false;
    return this.#sendNow(message);
  }

  /** @param {ClientMessage} message */
  #sendNow(message) {
    const socket = this.#socket;
    if (!socket || socket.readyState !== OPEN) return false;
    socket.send(encodeClientMessage(message));
    return true;
  }

  /**
   * Hang up: send bye and close; never reconnects.
   * @param {'quick-exit'} [reason] the client's quick way out (the therapist's page says so)
   */
  hangup(reason) {
    if (this.#state === 'open') this.#sendNow(reason ? { type: 'bye', reason } : { type: 'bye' });
    this.close();
  }

  /** Close for good without bye (the other side sees `disconnected`). */
  close() {
    this.#closing = true;
    this.#stopTimers();
    const socket = this.#socket;
    if (socket) {
      // WebSocket.close() goes out after the frames already queued, so a
      // bye sent just before still reaches the server.
      try {
        socket.close(CLOSE_NORMAL);
      } catch {
        // already closing
      }
    }
    this.#closed(CLOSE_NORMAL, '');
  }

  /** @param {number} seconds */
  #startHeartbeat(seconds) {
    this.#stopHeartbeat();
    this.#heartbeatMs = Math.max(1000, seconds * 1000);
    this.#lastReceived = this.#opt.now();
    const tick = () => {
      // The server answers every ping, so silence for 3 intervals means
      // the line is dead even if the browser has not noticed yet (it can
      // take minutes for TCP to give up after a network change).
      if (this.#opt.now() - this.#lastReceived > 3 * this.#heartbeatMs) {
        this.#opt.log('signaling: server silent, reconnecting');
        this.#abandonSocket();
        return;
      }
      this.#sendNow({ type: 'ping' });
      this.#heartbeatTimer = this.#opt.setTimeout(tick, this.#heartbeatMs);
    };
    this.#heartbeatTimer = this.#opt.setTimeout(tick, this.#heartbeatMs);
  }

  /** Drop a socket that went silent and treat it like a broken line. */
  #abandonSocket() {
    const socket = this.#socket;
    if (socket) {
      socket.onclose = socket.onmessage = socket.onopen = null;
      try {
        socket.close(CLOSE_SERVER_SILENT, 'silent');
      } catch {
        // nothing to do
      }
    }
    this.#closed(CLOSE_ABNORMAL, 'server silent');
  }

  #stopHeartbeat() {
    if (this.#heartbeatTimer !== null) this.#opt.clearTimeout(this.#heartbeatTimer);
    this.#heartbeatTimer = null;
  }

  #stopTimers() {
    this.#stopHeartbeat();
    if (this.#reconnectTimer !== null) this.#opt.clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = null;
  }

  /** @param {number} code @param {string} reason */
  #closed(code, reason) {
    if (this.#state === 'closed') return;
    this.#stopHeartbeat();
    this.#socket = null;
    const error = this.#fatal;
    // A fatal error is a decision by the server, whatever the close code
    // (e.g. `replaced` could arrive with 1006 if the close frame got lost),
    // except those after which our ticket takes the seat back (RECOVERABLE_ERRORS).
    const recoverable = error !== null && RECOVERABLE_ERRORS.has(error.code);
    const decided = error !== null && !recoverable;
    const retry = !this.#closing && !decided && (recoverable || isReconnectableClose(code));
    const delay = retry ? reconnectDelay(this.#attempt + 1, this.#opt.random(), this.#opt.maxReconnectAttempts) : null;
    if (delay === null) {
      this.#setState('closed');
      this.#emit('closed', { code, reason, reconnecting: false, attempt: 0, error });
      return;
    }
    this.#attempt += 1;
    this.#setState('reconnecting');
    this.#emit('closed', { code, reason, reconnecting: true, attempt: this.#attempt, error });
    this.#reconnectTimer = this.#opt.setTimeout(() => {
      this.#reconnectTimer = null;
      if (this.#state === 'reconnecting') this.#open();
    }, delay);
  }
}

/**
 * The signaling URL of a page: same origin, ws: or wss: to match.
 * @param {{protocol: string, host: string}} location
 * @returns {string}
 */
export function signalingUrl(location) {
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/ws`;
}
