// The call page's read-only handle for tests and diagnostics:
// `window.sprechzimmer`. The Chromium end-to-end tests read the call's state
// through it (tests/real/test_e2e_*.py); it changes nothing, and each read is a
// fresh look at the page.

import { NO_COUNTERS } from './frame-encryption.js';
import { NO_PATH } from './stats.js';

/** @typedef {import('./protocol.js').Role} Role */
/** @typedef {import('./callstate.js').CallStatus} CallStatus */
/** @typedef {import('./stats.js').PathInfo & import('./stats.js').InboundSummary} CallStats */
/** @typedef {import('./keyagreement.js').E2eeState} E2eeState */
/** @typedef {import('./frame-encryption.js').Counters} E2eeCounters */
/** @typedef {import('./frame-encryption.js').FrameEncryption} FrameEncryption */
/** @typedef {import('./qualityloop.js').QualityHandle} QualityHandle */
/** @typedef {import('./peer.js').PeerLink} PeerLink */

/**
 * @typedef {object} CallHandle
 * @property {Role | null} role
 * @property {CallStatus} state
 * @property {RTCPeerConnection | null} pc
 * @property {boolean} compatMode compatibility mode is on (relay-only over TCP/TLS)
 * @property {boolean} relayOnly relay-only as shown (the server's policy, or the therapist's pending wish)
 * @property {number} restarts ICE restarts performed (therapist) or requested (client) in this tab
 * @property {number} peerConnections peer connections made in this tab
 * @property {boolean} serverAway the line to the server is being restored while the call goes on
 * @property {import('./signaling.js').SignalingState} signaling the signaling connection's state
 * @property {() => Promise<CallStats>} stats inbound totals and the selected candidate pair
 * @property {E2eeHandle} e2ee frame encryption of the current connection (a fresh snapshot on each read)
 * @property {QualityHandle} quality what our video sender uses now and how both directions look
 * @property {GroupHandle | null} group a group session's call (null: a one-to-one session)
 */

/**
 * A group's call, a fresh snapshot on each read.
 * @typedef {object} GroupHandle
 * @property {{seat: number, role: Role, name: string | null, state: RTCPeerConnectionState}[]} peers
 * @property {number} made peer connections made in this tab
 * @property {string} e2eeState
 * @property {number[]} members the members of the current key epoch, by seat
 * @property {number | null} epoch
 * @property {number | null} sendKid
 * @property {number[]} receiveKids the other members' sender keys installed now
 * @property {string | null} sas the group's code
 * @property {() => Promise<E2eeCounters>} counters the worker's counters, all links together
 * @property {(seat: number) => Promise<CallStats>} stats the link to `seat`: inbound totals and its path
 * @property {(seat: number) => RTCPeerConnection | null} pc the link to `seat`
 * @property {'mesh' | 'sfu'} path how the call's media goes
 * @property {boolean} allTransformed every sender and receiver of the call carries our transform
 * @property {RTCPeerConnection | null} publisher our publication to the SFU (SFU path), or null
 * @property {() => Promise<{kind: 'audio' | 'video', kid: number, data: number[]}[]>} captured TEST
 *   ONLY ("capture-frames"): the ciphertext frames the worker kept, with their KIDs
 * @property {(frame: {kind: 'audio' | 'video', data: number[]}) => Promise<{ok: boolean, error: string | null}>} tryOpen
 *   TEST ONLY: whether this page's keys (the running call's, else the last one's) open a frame
 */

/**
 * @typedef {object} E2eeHandle
 * @property {E2eeState} state
 * @property {number | null} epoch the epoch of the newest agreed key
 * @property {number | null} sendKid the KID outgoing frames are encrypted under (null: none yet)
 * @property {string | null} sas the verification code, "123 456"
 * @property {boolean} verified the therapist confirmed the code
 * @property {number | null} keyAgeSeconds since the current send key came into use
 * @property {() => Promise<E2eeCounters>} counters cumulative counters of the worker
 * @property {import('./frame-encryption.js').TransformInfo | null} transform the
 *   encoded-transform path and how many senders and receivers got their transform
 * @property {(target: RTCRtpSender | RTCRtpReceiver) => boolean} hasTransform whether this
 *   sender or receiver of `pc` carries our transform (either path)
 */

/**
 * Where the handle reads from.
 * @typedef {object} HandleSource
 * @property {() => import('./callstate.js').CallSnapshot} snapshot the call logic
 * @property {() => PeerLink | null} peer the live peer connection
 * @property {() => FrameEncryption | null} e2ee its frame encryption
 * @property {() => E2eeState} e2eeState as shown
 * @property {() => boolean} compatMode
 * @property {() => number} restarts
 * @property {() => number} peerConnections
 * @property {() => import('./signaling.js').SignalingState} signaling
 * @property {() => QualityHandle} quality
 * @property {() => import('./groupcall.js').GroupCall | null} group
 */

/** @type {CallStats} */
const NO_STATS = Object.freeze({ framesDecoded: 0, framesReceived: 0, audioPacketsReceived: 0, ...NO_PATH });

/**
 * Put the handle on `window.sprechzimmer` (once; it cannot be replaced).
 * @param {HandleSource} source
 * @returns {CallHandle}
 */
export function installCallHandle(source) {
  /** @type {CallHandle} */
  const handle = Object.freeze({
    get role() {
      return source.snapshot().role;
    },
    get state() {
      return source.snapshot().status;
    },
    get pc() {
      return source.peer()?.pc ?? null;
    },
    get compatMode() {
      return source.compatMode();
    },
    get relayOnly() {
      return source.snapshot().relayOnlyShown;
    },
    get restarts() {
      return source.restarts();
    },
    get peerConnections() {
      return source.peerConnections();
    },
    get serverAway() {
      return source.snapshot().serverAway;
    },
    get signaling() {
      return source.signaling();
    },
    get quality() {
      return source.quality();
    },
    get group() {
      const call = source.group();
      if (!call) return null;
      const e = call.e2ee;
      return Object.freeze({
        peers: call.peers.map((p) => ({ seat: p.seat, role: p.role, name: p.name, state: p.state })),
        made: call.made,
        e2eeState: e?.state ?? 'negotiating',
        members: e?.members ?? [],
        epoch: e?.epoch ?? null,
        sendKid: e?.sendKid ?? null,
        receiveKids: e?.receiveKids ?? [],
        sas: e?.sas ?? null,
        counters: () => (e ? e.counters() : Promise.resolve(structuredClone(NO_COUNTERS))),
        stats: async (/** @type {number} */ seat) => {
          const link = call.link(seat);
          return link ? await link.stats() : { ...NO_STATS };
        },
        pc: (/** @type {number} */ seat) => call.link(seat)?.pc ?? null,
        path: call.path,
        allTransformed: call.allTransformed,
        publisher: call.publisher,
        captured: async () => (e ? await e.captured() : []).map((f) => ({ kind: f.kind, kid: f.kid, data: [...f.data] })),
        tryOpen: (/** @type {{kind: 'audio' | 'video', data: number[]}} */ frame) =>
          (e ?? call.retired)?.tryOpen(frame.kind, Uint8Array.from(frame.data)) ?? Promise.resolve({ ok: false, error: 'no-keys' }),
      });
    },
    get e2ee() {
      const session = source.e2ee();
      return Object.freeze({
        state: source.e2eeState(),
        epoch: session?.epoch ?? null,
        sendKid: session?.sendKid ?? null,
        sas: session?.sas ?? null,
        verified: session?.verified ?? false,
        keyAgeSeconds: session?.keyAgeSeconds ?? null,
        counters: () => (session ? session.counters() : Promise.resolve(structuredClone(NO_COUNTERS))),
        transform: session?.transformInfo ?? null,
        hasTransform: (/** @type {RTCRtpSender | RTCRtpReceiver} */ target) => !!session?.hasTransform(target),
      });
    },
    async stats() {
      const p = source.peer();
      if (!p) return { ...NO_STATS };
      return await p.stats();
    },
  });
  Object.defineProperty(window, 'sprechzimmer', { value: handle, writable: false, configurable: false, enumerable: false });
  return handle;
}
