// Reading RTCPeerConnection statistics. Pure functions over the entries of an
// RTCStatsReport (any iterable of stat objects), so node can test them with
// recorded reports.

/** @typedef {'p2p' | 'relay'} MediaPath */

/**
 * @typedef {object} PathInfo
 * @property {MediaPath | null} path null while no candidate pair is selected
 * @property {string | null} relayProtocol 'udp' | 'tcp' | 'tls' of our TURN allocation, when relayed
 * @property {string | null} localType host | srflx | prflx | relay
 * @property {string | null} remoteType
 * @property {string | null} localAddress our end of the selected pair (our TURN allocation when relayed)
 * @property {string | null} remoteAddress the other end of the selected pair
 */

/** @typedef {'conn.p2p' | 'conn.relay' | 'conn.relayUdp' | 'conn.relayTcp' | 'conn.relayTls'} PathLabelKey */

/**
 * @typedef {object} InboundSummary
 * @property {number} framesDecoded
 * @property {number} framesReceived
 * @property {number} audioPacketsReceived
 */

/**
 * @param {Iterable<any>} stats RTCStatsReport.values() or a list of stats
 * @returns {Map<string, any>}
 */
function byId(stats) {
  const map = new Map();
  for (const s of stats) if (s && typeof s.id === 'string') map.set(s.id, s);
  return map;
}

/**
 * The candidate pair the connection uses, found the way each browser
 * reports it: the transport's selectedCandidatePairId (Chrome, Safari), a
 * pair marked `selected` (Firefox), else a succeeded and nominated pair.
 *
 * @param {Iterable<any>} stats
 * @returns {any | null}
 */
export function selectedCandidatePair(stats) {
  const all = byId(stats);
  for (const s of all.values()) {
    if (s.type === 'transport' && s.selectedCandidatePairId && all.has(s.selectedCandidatePairId)) {
      return all.get(s.selectedCandidatePairId);
    }
  }
  let fallback = null;
  for (const s of all.values()) {
    if (s.type !== 'candidate-pair') continue;
    if (s.selected === true) return s;
    if (s.state === 'succeeded' && s.nominated && !fallback) fallback = s;
  }
  return fallback;
}

/**
 * Whether media goes straight between the browsers or through TURN.
 * @param {Iterable<any>} stats
 * @returns {PathInfo}
 */
export function mediaPath(stats) {
  const list = [...stats];
  const pair = selectedCandidatePair(list);
  if (!pair) return { ...NO_PATH };
  const all = byId(list);
  const local = all.get(pair.localCandidateId);
  const remote = all.get(pair.remoteCandidateId);
  const localType = local?.candidateType ?? null;
  const remoteType = remote?.candidateType ?? null;
  const relayed = localType === 'relay' || remoteType === 'relay';
  let relayProtocol = null;
  if (relayed) {
    // relayProtocol is how we reach our TURN server; when only the other side
    // relays we know just the transport of the pair itself.
    relayProtocol = (localType === 'relay' && local?.relayProtocol) || local?.protocol || null;
  }
  return {
    path: relayed ? 'relay' : 'p2p',
    relayProtocol,
    localType,
    remoteType,
    localAddress: addressOf(local),
    remoteAddress: addressOf(remote),
  };
}

/** No selected pair (yet): what every path field says then. */
/** @type {Readonly<PathInfo>} */
export const NO_PATH = Object.freeze({
  path: null,
  relayProtocol: null,
  localType: null,
  remoteType: null,
  localAddress: null,
  remoteAddress: null,
});

/**
 * A candidate's address: `address` in current browsers, `ip` in older ones.
 * @param {any} candidate
 * @returns {string | null}
 */
function addressOf(candidate) {
  const address = candidate?.address ?? candidate?.ip;
  return typeof address === 'string' && address ? address : null;
}

/**
 * The i18n key that names a path for people: direct, or relayed and how we
 * reach the relay.
 *
 * @param {MediaPath} path
 * @param {string | null} relayProtocol
 * @returns {PathLabelKey}
 */
export function pathLabelKey(path, relayProtocol) {
  if (path === 'p2p') return 'conn.p2p';
  switch (relayProtocol) {
    case 'udp':
      return 'conn.relayUdp';
    case 'tcp':
      return 'conn.relayTcp';
    case 'tls':
      return 'conn.relayTls';
    default:
      return 'conn.relay';
  }
}

/**
 * Totals of what arrived: decoded and received video frames, audio packets.
 * @param {Iterable<any>} stats
 * @returns {InboundSummary}
 */
export function inboundSummary(stats) {
  const out = { framesDecoded: 0, framesReceived: 0, audioPacketsReceived: 0 };
  for (const s of stats) {
    if (!s || s.type !== 'inbound-rtp') continue;
    const kind = s.kind ?? s.mediaType;
    if (kind === 'video') {
      out.framesDecoded += Number(s.framesDecoded) || 0;
      out.framesReceived += Number(s.framesReceived) || 0;
    } else if (kind === 'audio') {
      out.audioPacketsReceived += Number(s.packetsReceived) || 0;
    }
  }
  return out;
}

/**
 * Running totals of one getStats report, kept between two samples.
 * @typedef {object} Counters
 * @property {number} now ms
 * @property {number} bytesOut all outbound RTP payload bytes
 * @property {number} videoBytesOut
 * @property {number} bytesIn
 * @property {number} packetsIn
 * @property {number} packetsLost
 * @property {number} framesDecoded video
 * @property {number} framesDropped
 * @property {number} freezeCount
 */

/**
 * One quality sample (see quality.js) plus what the page shows and sends:
 * bitrates both ways and the candidate types of the selected pair.
 * @typedef {import('./sendladder.js').QualitySample & {
 *   outKbps: number | null, videoOutKbps: number | null, inKbps: number | null,
 *   localType: string | null, remoteType: string | null}} MeasuredSample
 */

/**
 * @param {Iterable<any>} stats
 * @param {number} now ms, monotonic
 * @returns {Counters}
 */
export function counters(stats, now) {
  const c = { now, bytesOut: 0, videoBytesOut: 0, bytesIn: 0, packetsIn: 0, packetsLost: 0, framesDecoded: 0, framesDropped: 0, freezeCount: 0 };
  for (const s of stats) {
    if (!s) continue;
    const kind = s.kind ?? s.mediaType;
    if (s.type === 'outbound-rtp') {
      const bytes = Number(s.bytesSent) || 0;
      c.bytesOut += bytes;
      if (kind === 'video') c.videoBytesOut += bytes;
    } else if (s.type === 'inbound-rtp') {
      c.bytesIn += Number(s.bytesReceived) || 0;
      c.packetsIn += Number(s.packetsReceived) || 0;
      c.packetsLost += Math.max(0, Number(s.packetsLost) || 0);
      if (kind === 'video') {
        c.framesDecoded += Number(s.framesDecoded) || 0;
        c.framesDropped += Number(s.framesDropped) || 0;
        c.freezeCount += Number(s.freezeCount) || 0;
      }
    }
  }
  return c;
}

/**
 * A quality sample from a report and the counters of the previous one
 * (null on the first: then there are no rates yet).
 *
 * @param {Iterable<any>} stats
 * @param {Counters | null} prev
 * @param {number} now ms, monotonic
 * @returns {{sample: MeasuredSample, counters: Counters}}
 */
export function qualitySample(stats, prev, now) {
  const list = [...stats];
  const c = counters(list, now);
  const pair = selectedCandidatePair(list);
  const path = mediaPath(list);
  const seconds = prev ? (now - prev.now) / 1000 : 0;
  /** @param {number} bytes @returns {number | null} */
  const kbps = (bytes) => (seconds > 0 && bytes >= 0 ? Math.round((bytes * 8) / seconds / 1000) : null);
  /** @param {number} v @returns {number | null} */
  const delta = (v) => (prev && v >= 0 ? v : null);
  let lossPct = null;
  if (prev) {
    const received = c.packetsIn - prev.packetsIn;
    const lost = c.packetsLost - prev.packetsLost;
    if (received + lost > 0 && lost >= 0) lossPct = (100 * lost) / (received + lost);
  }
  let remoteLoss = null;
  let jitter = null;
  let height = null;
  let fps = null;
  for (const s of list) {
    const kind = s?.kind ?? s?.mediaType;
    if (s?.type === 'remote-inbound-rtp' && typeof s.fractionLost === 'number') {
      remoteLoss = Math.max(remoteLoss ?? 0, 100 * s.fractionLost);
    } else if (s?.type === 'inbound-rtp') {
      if (typeof s.jitter === 'number') jitter = Math.max(jitter ?? 0, s.jitter * 1000);
      if (kind === 'video') {
        if (typeof s.frameHeight === 'number') height = s.frameHeight;
        if (typeof s.framesPerSecond === 'number') fps = s.framesPerSecond;
      }
    }
  }
  const available = typeof pair?.availableOutgoingBitrate === 'number' ? Math.round(pair.availableOutgoingBitrate / 1000) : null;
  const rtt = typeof pair?.currentRoundTripTime === 'number' ? pair.currentRoundTripTime * 1000 : null;
  return {
    counters: c,
    sample: {
      now,
      availableKbps: available,
      lossPct,
      remoteLossPct: remoteLoss,
      rttMs: rtt,
      jitterMs: jitter,
      framesDecoded: prev ? delta(c.framesDecoded - prev.framesDecoded) : null,
      framesDropped: prev ? delta(c.framesDropped - prev.framesDropped) : null,
      freezeCount: prev ? delta(c.freezeCount - prev.freezeCount) : null,
      height,
      fps,
      relayed: path.path === 'relay',
      outKbps: prev ? kbps(c.bytesOut - prev.bytesOut) : null,
      videoOutKbps: prev ? kbps(c.videoBytesOut - prev.videoBytesOut) : null,
      inKbps: prev ? kbps(c.bytesIn - prev.bytesIn) : null,
      localType: path.localType,
      remoteType: path.remoteType,
    },
  };
}
