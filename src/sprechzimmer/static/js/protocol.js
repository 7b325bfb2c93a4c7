// The signaling protocol of docs/protocol.md, for the browser: one JSDoc
// typedef per message and the codec (the only place where text from the
// socket becomes a message, and where a message becomes text for the socket).
//
// Over 400 lines on purpose: it mirrors docs/protocol.md message by message,
// and one file is what keeps the mirror checkable (the golden vectors).
//
// docs/protocol.md is authoritative; when this file disagrees, this file is
// the bug. The golden vectors in tests/vectors/protocol/ are examples of it
// that this codec and the server's (protocol.py) are both tested against.
// Pure module: no DOM, no socket, no timers, so node can test it.

export const PROTOCOL_VERSION = 1;

/**
 * Largest text frame the browser sends, in UTF-8 bytes: the default of the
 * server's `SPRECHZIMMER_MAX_MESSAGE_BYTES`. An operator may set the server's
 * limit otherwise; the browser does not know it and keeps to the default.
 */
export const MAX_FRAME_BYTES = 65536;
/** The highest `SPRECHZIMMER_MAX_MESSAGE_BYTES` may be. */
export const MAX_MESSAGE_BYTES_LIMIT = 1048576;
/**
 * Largest frame we read from the server: what any browser may send at the
 * highest limit, plus what the relay adds (`from`, nulls for left-out fields).
 */
export const MAX_SERVER_FRAME_BYTES = MAX_MESSAGE_BYTES_LIMIT + 1024;
// String bounds count characters (code points), as the server does.
export const MAX_SDP = 60000;
export const MAX_CANDIDATE = 1024;
export const MAX_SDP_MID = 64;
export const MAX_USERNAME_FRAGMENT = 256;
export const MAX_RESUME = 128;
/** Longest STUN/TURN URL we take from the server. */
export const MAX_ICE_URL = 512;
/** Characters of the name a client asks to be addressed by, at most. */
export const MAX_CLIENT_NAME = 80;
/** The highest seat number: eight client seats; 0 is the therapist's. */
export const MAX_SEAT = 8;
/** Characters of a relayed group-key message (groupkeys.js, docs/protocol.md "Group keys"). */
export const MAX_GROUP_KEY = 512;
/**
 * What a client's name may not hold: control characters (C0, DEL, C1), line
 * and paragraph separators, bidi embeddings, overrides and isolates (each
 * could break a line on the therapist's screen or make a name read as
 * another). Code points, not Unicode categories: the server's list is the same
 * whatever Unicode version either side knows.
 */
const NAME_FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

/** @typedef {'therapist' | 'client'} Role */
/** @typedef {'hangup' | 'quick-exit' | 'disconnected' | 'timeout'} LeaveReason */
/** @typedef {'connected' | 'disconnected'} MediaState */
/** @typedef {'all' | 'relay'} IceTransportPolicy what RTCConfiguration.iceTransportPolicy takes */
/**
 * @typedef {'on' | 'off' | 'none'} DeviceState one of our own devices: 'off' switched off by
 *   the person (muted, camera off); 'none' not available (none there, not allowed, or in use)
 */
/** @typedef {'link-in-use'} NoticeKind */

// ---------------------------------------------------------------------------
// Messages from the browser

/**
 * @typedef {object} HelloMessage
 * @property {'hello'} type
 * @property {number} protocol must be 1
 * @property {string} session 32 hex digits
 * @property {string} token 43 characters base64url
 * @property {Role} [role] only a check: the token decides the role
 * @property {string} [resume] the ticket from the last `welcome` of this tab: takes our seat back
 * @property {number} [epoch] the key epoch we are in, when resuming (a restarted server forgot it)
 * @property {boolean} [relay_only] therapist, resuming: our running call is relay-only
 * @property {string} [name] client: the name it wants to be addressed by (see clientNameProblem);
 *   for the therapist's screen only, never stored; said again when resuming
 * @property {boolean} [consent] client: the person confirmed the terms of use and the privacy notice
 */
/** @typedef {{type: 'admit', seat?: number}} AdmitMessage therapist only; `seat`: one client seat (absent: every one knocking) */
/** @typedef {{type: 'decline', seat?: number}} DeclineMessage therapist only; `seat` as in admit */
/**
 * @typedef {{type: 'offer', sdp: string, to?: number, call?: number}} OfferMessage `to`: the seat it
 *   is for (absent: the one other member); `call`: in a group, the call start it belongs to
 *   (`admitted.epoch`): what an earlier start's connection still says is dropped
 */
/** @typedef {{type: 'answer', sdp: string, to?: number, call?: number}} AnswerMessage */
/**
 * @typedef {object} CandidateMessage what RTCIceCandidate.toJSON() gives
 * @property {'candidate'} type
 * @property {string} candidate empty string = end of candidates
 * @property {string | null} [sdpMid]
 * @property {number | null} [sdpMLineIndex] 0..255
 * @property {string | null} [usernameFragment] tells candidates of an old ICE session apart
 * @property {number} [to] the seat it is for
 * @property {number} [call] in a group, the call start it belongs to
 */
/** @typedef {{type: 'restart', to?: number, call?: number}} RestartMessage asks the therapist for an ICE-restart offer */
/**
 * Why the browsers cannot set up media between them (docs/protocol.md, *When the
 * browsers cannot agree*): a retry would not help.
 * @typedef {'sdp-refused' | 'no-common-codec' | 'transform-failed'} NegotiationFailure
 */
/**
 * @typedef {{type: 'negotiation-failed', reason: NegotiationFailure, to?: number}} NegotiationFailedMessage my
 *   browser cannot set up the call's media with yours; relayed
 */
/** @typedef {{type: 'media', state: MediaState}} MediaMessage our own view of the peer connection */
/**
 * @typedef {{type: 'relay-only', enabled: boolean}} RelayOnlyMessage therapist only: all media
 *   through the TURN relay for this session (or back to normal); a running call restarts
 */
/** @typedef {'host' | 'srflx' | 'prflx' | 'relay' | 'unknown'} CandidateType */
/**
 * @typedef {object} QualityMessage anonymous summary of our side of the call, about every 30 s
 * @property {'quality'} type
 * @property {number | null} [bitrate_out_kbps] 0..100 000
 * @property {number | null} [bitrate_in_kbps] 0..100 000
 * @property {number | null} [loss_pct] 0..100, inbound
 * @property {number | null} [rtt_ms] 0..60 000
 * @property {number | null} [jitter_ms] 0..60 000
 * @property {number | null} [fps] 0..120, received video
 * @property {number | null} [height] integer 0..4 320, received video
 * @property {CandidateType} [local_candidate]
 * @property {CandidateType} [remote_candidate]
 * @property {string} [errors] comma-separated codes of QUALITY_ERROR_CODES, no spaces (a repeat counts once)
 */
/**
 * @typedef {object} MediaStateMessage our own camera and microphone, for the other side's page;
 *   relayed with `from`, kept in the server's memory only (the latest), never stored
 * @property {'media-state'} type
 * @property {DeviceState} camera
 * @property {DeviceState} microphone
 * @property {boolean} audio_only the person chose audio only (video paused by choice)
 * @property {boolean} [paused] the privacy pause: camera and microphone stopped at once, and the
 *   other page asked to do the same until it ends (absent: false); no time travels with it
 * @property {boolean} [screen] screen sharing: the video sender carries a screen or window in the
 *   camera's place (absent: false); the other page shows it whole and says so
 */
/**
 * @typedef {{type: 'room-check-done'}} RoomCheckDoneMessage therapist only: the room check
 *   ("Are you undisturbed? ...") is ticked off; relayed to the client, remembered for this admission
 */
/**
 * @typedef {{type: 'nettest'}} NetTestMessage the page asks for short-lived relay credentials for
 *   its own network test (before or during a call); answered by `nettest-servers`
 */
/**
 * @typedef {{type: 'mute-request', to?: number}} MuteRequestMessage therapist only: asks a member of
 *   the call to switch its microphone off; its page asks the person, who decides
 */
/**
 * @typedef {{type: 'group-key', data: string, to?: number}} GroupKeyMessage on the SFU path: a
 *   group-key message (groupkeys.js, at most 512 characters) for member `to`, relayed unchanged
 */
/**
 * @typedef {{type: 'sfu-publish', sdp: string, call?: number}} SfuPublishMessage on the SFU path: our
 *   offer to send our (frame-encrypted) media to the SFU, with all candidates; answered
 *   `sfu-published`; `call`: the call start it belongs to (the server drops one of an earlier start)
 */
/**
 * @typedef {{type: 'sfu-subscribed', seat: number, sdp: string, call?: number}} SfuSubscribedMessage
 *   our answer to `sfu-subscribe` for the media of `seat`, with all candidates, and its `call`
 */
/** @typedef {{type: 'ping'}} PingMessage */
/** @typedef {{type: 'bye', reason?: 'quick-exit'}} ByeMessage a hang-up; `quick-exit`: the client's quick way out */

/**
 * @typedef {HelloMessage | AdmitMessage | DeclineMessage | OfferMessage | AnswerMessage
 *   | CandidateMessage | RestartMessage | NegotiationFailedMessage | MediaMessage | RelayOnlyMessage
 *   | QualityMessage | MediaStateMessage | RoomCheckDoneMessage | MuteRequestMessage | NetTestMessage | PingMessage
 *   | ByeMessage | GroupKeyMessage | SfuPublishMessage | SfuSubscribedMessage} ClientMessage
 */

// ---------------------------------------------------------------------------
// Messages from the server

/**
 * @typedef {object} IceServer what the server hands out; fits RTCIceServer
 * @property {string[]} urls
 * @property {string} [username]
 * @property {string} [credential]
 */
/**
 * @typedef {object} WelcomeMessage
 * @property {'welcome'} type
 * @property {Role} role
 * @property {string} session
 * @property {string | null} client_id therapist only, else null
 * @property {IceServer[]} ice_servers the ICE servers for a call we take back (empty: host
 *   candidates only); TURN credentials only while the client is admitted, else STUN alone
 * @property {number} heartbeat_interval seconds between our pings
 * @property {boolean} polite client true, therapist false
 * @property {string} resume ticket to send in the next `hello` of this tab
 * @property {boolean} peer_present
 * @property {boolean} admitted
 * @property {boolean} [resumed] our seat was taken back with the ticket: keep the call as it is
 * @property {string[]} [relay_urls] the TURN URLs the server offers, without credentials: only
 *   to know whether relay-only and compatibility mode can work; never an ICE server
 * @property {string | null} [peer_name] therapist: the name of the client whose seat is held
 * @property {number} [seat] our own seat: 0 the therapist's, 1 to 8 a client's
 * @property {number} [seats] the session's client seats (absent: 1); more than one is a group,
 *   whose call uses the group keys and tiles
 */
/** @typedef {{type: 'waiting'}} WaitingMessage to the client */
/**
 * @typedef {object} KnockMessage to the therapist: the client waits
 * @property {'knock'} type
 * @property {string | null} [name] the name it wants to be addressed by (null: it gave none)
 * @property {boolean} [consent] it confirmed the terms of use and the privacy notice
 * @property {number} [seat] the client seat that knocks
 */
/** @typedef {{type: 'knock-cancelled', seat?: number}} KnockCancelledMessage to the therapist */
/**
 * @typedef {object} Peer another member of the call, in `admitted`
 * @property {number} seat
 * @property {Role} role
 * @property {string | null} [name] a client's name
 */
/**
 * @typedef {object} AdmittedMessage to both: the call (re)starts with a fresh peer connection
 * @property {'admitted'} type
 * @property {IceServer[]} ice_servers this member's own fresh, short-lived TURN credentials
 * @property {IceTransportPolicy} ice_transport_policy 'relay' when relay-only is on
 * @property {number} epoch key epoch of the fresh connection; its first key agreement uses it
 * @property {number} rekey_interval seconds between the server's `rekey` messages
 * @property {boolean} e2ee_required the operator's fail-closed policy: no call without frame encryption
 * @property {number} [max_bitrate_kbps] cap on each outgoing video stream, kbit/s
 * @property {number} [relay_max_bitrate_kbps] the lower cap while the selected pair is relayed
 * @property {boolean} [room_check] show the room check at this start (absent: true)
 * @property {Peer[]} [peers] the others in the call at this start, each to connect to
 * @property {'mesh' | 'sfu'} [media_path] a connection to each peer, or through the SFU (absent: mesh)
 */
/** @typedef {{type: 'declined'}} DeclinedMessage to the client, then close 1000 */
/**
 * @typedef {{type: 'peer-joined', role: Role, admitted: boolean, name?: string | null, seat?: number}} PeerJoinedMessage
 *   `name`: to the therapist, the returning client's name
 */
/** @typedef {{type: 'peer-left', role: Role, reason: LeaveReason, seat?: number}} PeerLeftMessage */
/** @typedef {{type: 'pong'}} PongMessage */
/**
 * @typedef {{type: 'rekey', epoch: number}} RekeyMessage to both during a call: time for a fresh
 *   key agreement between the browsers (over their data channel; the server never sees a key)
 */
/**
 * @typedef {object} ErrorMessage
 * @property {'error'} type
 * @property {string} code see ERRORS
 * @property {string} message English sentence
 * @property {string} message_de German sentence
 * @property {boolean} fatal the server closes the socket right after
 */
/** @typedef {OfferMessage & {from: Role, from_seat?: number}} RelayedOffer */
/** @typedef {AnswerMessage & {from: Role, from_seat?: number}} RelayedAnswer */
/** @typedef {CandidateMessage & {from: Role, from_seat?: number}} RelayedCandidate optional fields the sender left out arrive as null */
/** @typedef {RestartMessage & {from: Role, from_seat?: number}} RelayedRestart */
/** @typedef {NegotiationFailedMessage & {from: Role, from_seat?: number}} RelayedNegotiationFailed */
/** @typedef {RoomCheckDoneMessage & {from: Role, from_seat?: number}} RelayedRoomCheckDone to the client: the check goes */
/** @typedef {MuteRequestMessage & {from: Role, from_seat?: number}} RelayedMuteRequest to a member: the therapist asks it to mute */
/** @typedef {GroupKeyMessage & {from: Role, from_seat?: number}} RelayedGroupKey a member's group-key message for us */
/**
 * @typedef {{type: 'sfu-published', sdp: string, call?: number}} SfuPublishedMessage the SFU's answer
 *   to our `sfu-publish`; `call`: the call start it belongs to (we drop one of an earlier start)
 */
/**
 * @typedef {{type: 'sfu-subscribe', seat: number, sdp: string, call?: number}} SfuSubscribeMessage the
 *   SFU's offer of the media of `seat`: answer with `sfu-subscribed`; `call` as on `sfu-published`
 */
/**
 * @typedef {MediaStateMessage & {from: Role, from_seat?: number}} RelayedMediaState the other member's camera and
 *   microphone: when it changes, and its latest after our `welcome`, `knock` (therapist) or
 *   `admitted`; a waiting client gets the therapist's only once admitted
 */
/**
 * @typedef {{type: 'notice', notice: NoticeKind}} NoticeMessage to the therapist, naming nobody:
 *   'link-in-use' someone tried the client link while the client's seat was held
 */

/**
 * @typedef {object} NetTestServersMessage relay credentials of our own for the network test only,
 *   good for `ttl` seconds; an empty list: the deployment has no relay
 * @property {'nettest-servers'} type
 * @property {IceServer[]} ice_servers
 * @property {number} ttl
 */
/**
 * @typedef {WelcomeMessage | WaitingMessage | KnockMessage | KnockCancelledMessage
 *   | AdmittedMessage | DeclinedMessage | PeerJoinedMessage | PeerLeftMessage | PongMessage | RekeyMessage
 *   | ErrorMessage | NoticeMessage | NetTestServersMessage | RelayedOffer | RelayedAnswer | RelayedCandidate | RelayedRestart
 *   | RelayedNegotiationFailed | RelayedMediaState | RelayedRoomCheckDone | RelayedMuteRequest
 *   | RelayedGroupKey | SfuPublishedMessage | SfuSubscribeMessage} ServerMessage
 */

/** @typedef {ServerMessage['type']} ServerMessageType */

/**
 * The server message of one type.
 * @template {ServerMessageType} K
 * @typedef {Extract<ServerMessage, {type: K}>} ServerMessageOf
 */

// ---------------------------------------------------------------------------
// Errors and close codes (the table of docs/protocol.md)

/** @typedef {'user' | 'protocol' | 'internal'} Audience */

/**
 * @type {Readonly<Record<string, {fatal: boolean, close: number | null}>>}
 */
export const ERRORS = Object.freeze({
  'bad-message': { fatal: true, close: 4000 },
  'too-large': { fatal: true, close: 1009 },
  'auth-timeout': { fatal: true, close: 4001 },
  'not-authenticated': { fatal: true, close: 4001 },
  forbidden: { fatal: true, close: 4003 },
  'session-ended': { fatal: true, close: 4003 },
  'not-allowed': { fatal: true, close: 4003 },
  occupied: { fatal: true, close: 4009 },
  replaced: { fatal: true, close: 4009 },
  'no-peer': { fatal: false, close: null },
  // To the therapist: an admission that would make more than three without an SFU.
  'group-needs-sfu': { fatal: false, close: null },
  // The SFU refused or did not answer a publication or subscription (a member's picture may be missing).
  'sfu-unavailable': { fatal: false, close: null },
  timeout: { fatal: true, close: 4408 },
  'slow-down': { fatal: true, close: 4429 },
  'server-busy': { fatal: true, close: 1013 },
  internal: { fatal: true, close: 1011 },
  // A client's hello without what its page asks first (a bad message, with its own sentence).
  'name-required': { fatal: true, close: 4000 },
  'name-invalid': { fatal: true, close: 4000 },
  'consent-required': { fatal: true, close: 4000 },
});

/**
 * Fatal errors that are no decision of the server: the browser comes back by
 * itself with its resume ticket, whatever the close code. `timeout`: the server
 * stopped hearing us (our network was away); `server-busy`: the service cannot
 * reach its shared state (Redis) for a moment; `auth-timeout`: our `hello` came
 * too late (a page too busy for a moment, seen reconnecting a group of five after
 * a restart), and a running call must not end for that.
 */
export const RECOVERABLE_ERRORS = new Set(['timeout', 'server-busy', 'auth-timeout']);

/**
 * Fatal errors after which joining again from this window cannot help: the
 * link is dead (`forbidden`), its seat is held by another browser (`occupied`)
 * or this person went on in another window (`replaced`). The page names the
 * next step (the server's sentence says it) instead of offering to join again.
 */
export const FINAL_ERRORS = new Set(['forbidden', 'session-ended', 'occupied', 'replaced']);

/** @param {string} code an error code of the table above @returns {number} */
function closeOf(code) {
  const close = ERRORS[code]?.close;
  if (typeof close !== 'number') throw new Error(`no close code for ${code}`);
  return close;
}

// The close codes the page acts on. Those of errors come from the table above
// (one place, as errors.py on the server); the others are RFC 6455's.
export const CLOSE_NORMAL = 1000;
export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_ABNORMAL = 1006;
/** The page's own close of a socket whose server went silent (the server no longer reads it). */
export const CLOSE_SERVER_SILENT = 4000;
export const CLOSE_FORBIDDEN = closeOf('forbidden');
export const CLOSE_TAKEN = closeOf('occupied');
export const CLOSE_TIMEOUT = closeOf('timeout');

/** 1012: the server restarts (uvicorn's close on a graceful stop); 1013: try again later. */
export const CLOSE_SERVICE_RESTART = 1012;
export const CLOSE_TRY_AGAIN_LATER = closeOf('server-busy');

/**
 * Whether a socket closed with this code should be opened again by itself.
 *
 * Only closes that say "the line broke" qualify: 1006 (no close frame: network
 * gone, server crashed), 1001 and 1012 (server going away: restart, deploy),
 * 1013 (server busy) and 4408 (the server stopped hearing from us, which means
 * our network was away; our resume ticket takes our seat back). Everything else
 * is a decision (1000 bye/declined, 4003 forbidden, 4009 taken by another tab)
 * or a bug (4000, 4001, 1009, 1011) that reconnecting would only repeat.
 *
 * @param {number} code
 * @returns {boolean}
 */
export function isReconnectableClose(code) {
  return (
    code === CLOSE_ABNORMAL ||
    code === CLOSE_GOING_AWAY ||
    code === CLOSE_SERVICE_RESTART ||
    code === CLOSE_TRY_AGAIN_LATER ||
    code === CLOSE_TIMEOUT
  );
}

/** Attempts that come quickly (after 0.25, then every 0.5 s, about 8 s) before backing off. */
export const QUICK_RECONNECTS = 16;

/**
 * Delay before reconnect attempt number `attempt` (1-based), or null when we
 * give up. A server restart or deploy takes seconds, and the call goes on
 * meanwhile, so the first attempts come quickly (a call's signaling is back
 * within 2 s of the server listening again, with room to spare on a busy
 * machine); after QUICK_RECONNECTS they back off exponentially. Refused
 * connections to a server that is down cost next to nothing. Jitter (±25 %) keeps many clients cut off by one restart
 * from all coming back in the same instant.
 *
 * @param {number} attempt
 * @param {number} [random] a number in [0, 1), injectable for tests
 * @param {number} [maxAttempts]
 * @returns {number | null} milliseconds
 */
export function reconnectDelay(attempt, random = Math.random(), maxAttempts = 20) {
  if (!Number.isInteger(attempt) || attempt < 1 || attempt > maxAttempts) return null;
  const base =
    attempt <= QUICK_RECONNECTS ? Math.min(250 * 2 ** (attempt - 1), 500) : Math.min(500 * 2 ** (attempt - QUICK_RECONNECTS), 15000);
  return Math.round(base * (0.75 + 0.5 * random));
}

// ---------------------------------------------------------------------------
// Codec

export class ProtocolError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = 'ProtocolError';
  }
}

const HEX32 = /^[0-9a-f]{32}$/;
const TOKEN = /^[A-Za-z0-9_-]{43}$/;

/** @typedef {(value: unknown, where: string) => unknown} Check returns the (normalized) value or throws */

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Characters of a string as docs/protocol.md (and Python's len) counts them:
 * code points, not UTF-16 units.
 * @param {string} text
 * @returns {number}
 */
export function charLength(text) {
  let n = 0;
  for (const _ of text) n += 1;
  return n;
}

/** @param {number} max @returns {Check} */
function str(max) {
  return (v, where) => {
    if (typeof v !== 'string') throw new ProtocolError(`${where}: expected a string`);
    // A code point is one or two units: only a long string needs counting.
    if (v.length > max && charLength(v) > max) throw new ProtocolError(`${where}: longer than ${max}`);
    // JSON.stringify writes a lone surrogate as an escape no UTF-8 can carry.
    if (LONE_SURROGATE.test(v)) throw new ProtocolError(`${where}: not Unicode text`);
    return v;
  };
}

/** @param {RegExp} re @param {string} what @returns {Check} */
function matching(re, what) {
  return (v, where) => {
    if (typeof v !== 'string' || !re.test(v)) throw new ProtocolError(`${where}: expected ${what}`);
    return v;
  };
}

/** @type {Check} */
function bool(v, where) {
  if (typeof v !== 'boolean') throw new ProtocolError(`${where}: expected a boolean`);
  return v;
}

/** @param {number} min @param {number} max @returns {Check} */
function int(min, max) {
  return (v, where) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw new ProtocolError(`${where}: expected an integer in ${min}..${max}`);
    }
    return v;
  };
}

/** @type {Check} */
function positiveNumber(v, where) {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
    throw new ProtocolError(`${where}: expected a positive number`);
  }
  return v;
}

/** @param {...string} values @returns {Check} */
function oneOf(...values) {
  return (v, where) => {
    if (typeof v !== 'string' || !values.includes(v)) {
      throw new ProtocolError(`${where}: expected one of ${values.join(', ')}`);
    }
    return v;
  };
}

/**
 * Why `name` cannot go out as a client's name, or null: the page's form says
 * it before joining, and the server refuses the same (`name-invalid`).
 * @param {string} name as it goes out (the page trims it first)
 * @returns {'too-long' | 'control' | 'blank' | null}
 */
export function clientNameProblem(name) {
  if (charLength(name) > MAX_CLIENT_NAME) return 'too-long';
  if (NAME_FORBIDDEN.test(name)) return 'control';
  if (name.trim() === '') return 'blank';
  return null;
}

/** @type {Check} */
function clientName(v, where) {
  const name = /** @type {string} */ (str(Infinity)(v, where));
  const problem = clientNameProblem(name);
  if (problem) throw new ProtocolError(`${where}: ${problem}`);
  return name;
}

/** @param {Check} check @returns {Check} */
function nullable(check) {
  return (v, where) => (v === null ? null : check(v, where));
}

const role = oneOf('therapist', 'client');

export const MAX_BITRATE_KBPS = 100000;
/** The caps a browser keeps when `admitted` leaves them out: the server's defaults (protocol.py). */
export const DEFAULT_MAX_BITRATE_KBPS = 2500;
export const DEFAULT_RELAY_MAX_BITRATE_KBPS = 1000;
export const MAX_MS = 60000;
export const MAX_ERRORS = 256;
/** @type {readonly CandidateType[]} */
export const CANDIDATE_TYPES = Object.freeze(['host', 'srflx', 'prflx', 'relay', 'unknown']);
/** What `quality.errors` may name (docs/protocol.md, *Quality metadata*); anything else is a bad message. */
export const QUALITY_ERROR_CODES = Object.freeze([
  'ice-failed',
  'ice-restart',
  'decrypt-failed',
  'no-key',
  'gum-failed',
  'e2ee-unsupported',
  'compat-mode',
  // The reasons of negotiation-failed, sent by the browser that found it.
  'sdp-refused',
  'no-common-codec',
  'transform-failed',
]);
/** @type {readonly NegotiationFailure[]} */
export const NEGOTIATION_FAILURES = Object.freeze(['sdp-refused', 'no-common-codec', 'transform-failed']);

/** @type {readonly DeviceState[]} */
export const DEVICE_STATES = Object.freeze(['on', 'off', 'none']);
/** @type {readonly NoticeKind[]} */
export const NOTICES = Object.freeze(['link-in-use']);

/** @param {number} min @param {number} max @returns {Check} */
function range(min, max) {
  return (v, where) => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
      throw new ProtocolError(`${where}: expected a number in ${min}..${max}`);
    }
    return v;
  };
}

/** @type {Check} */
function errorCodes(v, where) {
  const s = str(MAX_ERRORS)(v, where);
  if (s === '') return s;
  // A repeated code counts once (docs/protocol.md): no error.
  const codes = /** @type {string} */ (s).split(',');
  for (const code of codes) {
    if (!QUALITY_ERROR_CODES.includes(code)) throw new ProtocolError(`${where}: unknown code`);
  }
  return s;
}

/** @param {unknown} v @param {string} where @returns {Peer[]} */
function peers(v, where) {
  if (!Array.isArray(v)) throw new ProtocolError(`${where}: expected a list`);
  return v.map((peer, i) => {
    const at = `${where}[${i}]`;
    if (!isPlainObject(peer)) throw new ProtocolError(`${at}: expected an object`);
    const { type: _where, ...checked } = applySchema({ ...peer, type: at }, PEER, true);
    return /** @type {Peer} */ (/** @type {unknown} */ (checked));
  });
}

/** @type {Check} */
function iceServers(v, where) {
  if (!Array.isArray(v)) throw new ProtocolError(`${where}: expected a list`);
  return v.map((server, i) => {
    const at = `${where}[${i}]`;
    if (!isPlainObject(server)) throw new ProtocolError(`${at}: expected an object`);
    const s = /** @type {Record<string, unknown>} */ (server);
    // RTCIceServer also allows one string; the server sends a list, but we
    // accept both and always hand a list to RTCPeerConnection.
    const urls = typeof s.urls === 'string' ? [s.urls] : s.urls;
    if (!Array.isArray(urls) || urls.length === 0) throw new ProtocolError(`${at}.urls: expected a list`);
    for (const [j, url] of urls.entries()) {
      // Only TURN/STUN URLs: anything else (http:, javascript:) is not an ICE server.
      if (typeof url !== 'string' || !/^(stun|stuns|turn|turns):/.test(url) || url.length > MAX_ICE_URL) {
        throw new ProtocolError(`${at}.urls[${j}]: expected a stun:/turn: URL`);
      }
    }
    /** @type {IceServer} */
    const out = { urls: /** @type {string[]} */ (urls) };
    if (s.username !== undefined && s.username !== null) out.username = /** @type {string} */ (str(512)(s.username, `${at}.username`));
    if (s.credential !== undefined && s.credential !== null) out.credential = /** @type {string} */ (str(512)(s.credential, `${at}.credential`));
    return out;
  });
}

/** @type {Check} */
function turnUrls(v, where) {
  if (!Array.isArray(v)) throw new ProtocolError(`${where}: expected a list`);
  for (const [i, url] of v.entries()) {
    if (typeof url !== 'string' || !/^turns?:/i.test(url) || url.length > MAX_ICE_URL) {
      throw new ProtocolError(`${where}[${i}]: expected a turn: URL`);
    }
  }
  return /** @type {string[]} */ ([...v]);
}

/** @param {unknown} v @returns {boolean} */
function isPlainObject(v) {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const seat = int(0, MAX_SEAT);
/** A group's call start (`admitted.epoch`) on its links' messages. */
const callStart = int(0, Number.MAX_SAFE_INTEGER);

/** @type {Record<string, Check>} */
const PEER = { seat, role, 'name?': nullable(str(MAX_CLIENT_NAME)) };

/**
 * A message from another member as the server passes it on: the sender's fields
 * without `to` (it was for us), with who sent it.
 * @param {Record<string, Check>} fields
 * @returns {Record<string, Check>}
 */
function relayed(fields) {
  const kept = Object.entries(fields).filter(([name]) => name !== 'to?');
  return { ...Object.fromEntries(kept), from: role, 'from_seat?': seat };
}

// Required fields of each message; a field name ending in '?' is optional.
/** @type {Record<string, Record<string, Check>>} */
const CLIENT_SCHEMA = {
  hello: {
    protocol: int(PROTOCOL_VERSION, PROTOCOL_VERSION),
    session: matching(HEX32, '32 hex digits'),
    token: matching(TOKEN, '43 characters base64url'),
    'role?': role,
    'resume?': str(MAX_RESUME),
    'epoch?': int(0, 2 ** 31 - 1),
    'relay_only?': bool,
    'name?': clientName,
    'consent?': bool,
  },
  admit: { 'seat?': int(1, MAX_SEAT) },
  decline: { 'seat?': int(1, MAX_SEAT) },
  offer: { sdp: str(MAX_SDP), 'to?': seat, 'call?': callStart },
  answer: { sdp: str(MAX_SDP), 'to?': seat, 'call?': callStart },
  candidate: {
    candidate: str(MAX_CANDIDATE),
    'sdpMid?': nullable(str(MAX_SDP_MID)),
    'sdpMLineIndex?': nullable(int(0, 255)),
    'usernameFragment?': nullable(str(MAX_USERNAME_FRAGMENT)),
    'to?': seat,
    'call?': callStart,
  },
  restart: { 'to?': seat, 'call?': callStart },
  'negotiation-failed': { reason: oneOf(...NEGOTIATION_FAILURES), 'to?': seat },
  media: { state: oneOf('connected', 'disconnected') },
  'relay-only': { enabled: bool },
  quality: {
    'bitrate_out_kbps?': nullable(range(0, MAX_BITRATE_KBPS)),
    'bitrate_in_kbps?': nullable(range(0, MAX_BITRATE_KBPS)),
    'loss_pct?': nullable(range(0, 100)),
    'rtt_ms?': nullable(range(0, MAX_MS)),
    'jitter_ms?': nullable(range(0, MAX_MS)),
    'fps?': nullable(range(0, 120)),
    'height?': nullable(int(0, 4320)),
    'local_candidate?': oneOf(...CANDIDATE_TYPES),
    'remote_candidate?': oneOf(...CANDIDATE_TYPES),
    'errors?': errorCodes,
  },
  'media-state': { camera: oneOf(...DEVICE_STATES), microphone: oneOf(...DEVICE_STATES), audio_only: bool, 'paused?': bool, 'screen?': bool },
  'room-check-done': {},
  'mute-request': { 'to?': int(1, MAX_SEAT) },
  'group-key': { data: str(MAX_GROUP_KEY), 'to?': seat },
  'sfu-publish': { sdp: str(MAX_SDP), 'call?': callStart },
  'sfu-subscribed': { seat, sdp: str(MAX_SDP), 'call?': callStart },
  nettest: {},
  ping: {},
  bye: { 'reason?': oneOf('quick-exit') },
};

/** @type {Record<string, Record<string, Check>>} */
const SERVER_SCHEMA = {
  welcome: {
    role,
    session: str(64),
    client_id: nullable(str(64)),
    ice_servers: iceServers,
    heartbeat_interval: positiveNumber,
    polite: bool,
    resume: str(MAX_RESUME),
    peer_present: bool,
    admitted: bool,
    'resumed?': bool,
    'relay_urls?': turnUrls,
    'peer_name?': nullable(str(MAX_CLIENT_NAME)),
    'seat?': seat,
    'seats?': int(1, MAX_SEAT),
  },
  waiting: {},
  knock: { 'name?': nullable(str(MAX_CLIENT_NAME)), 'consent?': bool, 'seat?': int(1, MAX_SEAT) },
  'knock-cancelled': { 'seat?': int(1, MAX_SEAT) },
  admitted: {
    ice_servers: iceServers,
    ice_transport_policy: oneOf('all', 'relay'),
    epoch: int(0, Number.MAX_SAFE_INTEGER),
    rekey_interval: positiveNumber,
    e2ee_required: bool,
    'max_bitrate_kbps?': int(1, MAX_BITRATE_KBPS),
    'relay_max_bitrate_kbps?': int(1, MAX_BITRATE_KBPS),
    'room_check?': bool,
    'peers?': peers,
    'media_path?': oneOf('mesh', 'sfu'),
  },
  rekey: { epoch: int(0, Number.MAX_SAFE_INTEGER) },
  declined: {},
  'peer-joined': { role, admitted: bool, 'name?': nullable(str(MAX_CLIENT_NAME)), 'seat?': seat },
  'peer-left': { role, reason: oneOf('hangup', 'quick-exit', 'disconnected', 'timeout'), 'seat?': seat },
  pong: {},
  'nettest-servers': { ice_servers: iceServers, ttl: int(0, 3600) },
  notice: { notice: oneOf(...NOTICES) },
  error: { code: str(64), message: str(1024), message_de: str(1024), fatal: bool },
  offer: relayed(CLIENT_SCHEMA.offer),
  answer: relayed(CLIENT_SCHEMA.answer),
  candidate: relayed(CLIENT_SCHEMA.candidate),
  restart: relayed(CLIENT_SCHEMA.restart),
  'negotiation-failed': relayed(CLIENT_SCHEMA['negotiation-failed']),
  'media-state': relayed(CLIENT_SCHEMA['media-state']),
  'room-check-done': relayed(CLIENT_SCHEMA['room-check-done']),
  'mute-request': relayed(CLIENT_SCHEMA['mute-request']),
  'group-key': relayed(CLIENT_SCHEMA['group-key']),
  'sfu-published': { sdp: str(MAX_SDP), 'call?': callStart },
  'sfu-subscribe': { seat, sdp: str(MAX_SDP), 'call?': callStart },
};

/**
 * Check `obj` against a schema and build a fresh object with exactly the
 * schema's fields.
 * @param {Record<string, unknown>} obj
 * @param {Record<string, Check>} fields
 * @param {boolean} allowExtra
 * @returns {Record<string, unknown>}
 */
function applySchema(obj, fields, allowExtra) {
  const type = String(obj.type);
  /** @type {Record<string, unknown>} */
  const out = { type };
  const known = new Set(['type']);
  for (const [key, check] of Object.entries(fields)) {
    const optional = key.endsWith('?');
    const name = optional ? key.slice(0, -1) : key;
    known.add(name);
    if (!Object.hasOwn(obj, name) || (optional && obj[name] === undefined)) {
      if (optional) continue;
      throw new ProtocolError(`${type}.${name}: missing`);
    }
    out[name] = check(obj[name], `${type}.${name}`);
  }
  if (!allowExtra) {
    for (const name of Object.keys(obj)) {
      if (!known.has(name)) throw new ProtocolError(`${type}.${name}: unknown field`);
    }
  }
  return out;
}

/** @param {string} text @returns {number} */
export function utf8Length(text) {
  return new TextEncoder().encode(text).length;
}

/**
 * Turn one text frame from the server into a message, or throw ProtocolError.
 *
 * Strict about what we use (types, required fields, bounds); unknown fields
 * are dropped rather than refused, so that a newer server that adds a field
 * does not break a browser tab that was opened before the update.
 *
 * @param {unknown} data what WebSocket's message event carried
 * @returns {ServerMessage}
 */
export function decodeServerMessage(data) {
  if (typeof data !== 'string') throw new ProtocolError('expected a text frame');
  // Every unit is at least one byte: the length alone refuses most oversize frames.
  if (data.length > MAX_SERVER_FRAME_BYTES || utf8Length(data) > MAX_SERVER_FRAME_BYTES) {
    throw new ProtocolError('frame too large');
  }
  /** @type {unknown} */
  let obj;
  try {
    obj = JSON.parse(data);
  } catch {
    throw new ProtocolError('not JSON');
  }
  if (!isPlainObject(obj)) throw new ProtocolError('not a JSON object');
  const o = /** @type {Record<string, unknown>} */ (obj);
  if (typeof o.type !== 'string') throw new ProtocolError('type: expected a string');
  const fields = Object.hasOwn(SERVER_SCHEMA, o.type) ? SERVER_SCHEMA[o.type] : undefined;
  if (!fields) throw new ProtocolError(`unknown type ${JSON.stringify(o.type.slice(0, 40))}`);
  return /** @type {ServerMessage} */ (applySchema(o, fields, true));
}

/**
 * Check a message we are about to send and turn it into a text frame.
 * Throws ProtocolError rather than sending something the server would
 * answer with `bad-message` and a closed socket.
 *
 * @param {ClientMessage} message
 * @returns {string}
 */
export function encodeClientMessage(message) {
  const o = /** @type {Record<string, unknown>} */ (/** @type {unknown} */ (message));
  if (!isPlainObject(o) || typeof o.type !== 'string') throw new ProtocolError('type: expected a string');
  const fields = Object.hasOwn(CLIENT_SCHEMA, o.type) ? CLIENT_SCHEMA[o.type] : undefined;
  if (!fields) throw new ProtocolError(`unknown type ${o.type}`);
  const text = JSON.stringify(applySchema(o, fields, false));
  if (utf8Length(text) > MAX_FRAME_BYTES) throw new ProtocolError('frame too large');
  return text;
}

/**
 * The DTLS fingerprint line of an SDP, or null. A new RTCPeerConnection on
 * the other side has a new certificate, so a changed fingerprint tells us an
 * offer is for a fresh connection, not a renegotiation of the current one.
 *
 * @param {string} sdp
 * @returns {string | null}
 */
export function sdpFingerprint(sdp) {
  const m = /^a=fingerprint:(.+?)\s*$/im.exec(sdp);
  return m ? m[1].toLowerCase() : null;
}
