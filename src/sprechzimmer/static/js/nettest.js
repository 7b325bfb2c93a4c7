// The network test's measuring part (issue 15): throwaway peer connections,
// relay-only, against the service's own TURN relay and nothing else.
//
//  - Reach: one RTCPeerConnection per transport (UDP, TCP, TLS), given only
//    that transport's TURN URLs and `iceTransportPolicy: 'relay'`; a relay
//    candidate means the relay answered over it.
//  - Round trip and throughput: two local peer connections joined by a data
//    channel through the relay (both relay-only), over the first transport that
//    worked: pings and pongs, then a bounded burst of synthetic bytes. Never
//    the camera or the microphone.
//
// Every step is bounded in time and bytes; every connection is closed at the
// end. Nothing is stored or sent anywhere (the relay sees the usual TURN
// traffic, the server only the `nettest` request). The meaning is
// nettestverdict.js.

import { median, throughputKbps, transportOfUrl } from './nettestverdict.js';

/** @typedef {import('./protocol.js').IceServer} IceServer */
/** @typedef {import('./nettestverdict.js').Transport} Transport */
/** @typedef {import('./nettestverdict.js').Reach} Reach */
/** @typedef {import('./nettestverdict.js').NetTestResult} NetTestResult */

/** How long gathering one transport's relay candidate may take (TLS to a far relay is slow). */
const GATHER_MS = 6000;
/** How long the loopback may take to open its data channel. */
const OPEN_MS = 8000;
const PINGS = 5;
const PING_MS = 2000;
/** The burst: at most this many bytes, for at most BURST_MS; chunks the size every browser takes. */
const BURST_BYTES = 1024 * 1024;
const BURST_MS = 3000;
const CHUNK = 16 * 1024;
/** Keep the send buffer this full, no fuller: enough to fill the link, bounded in memory. */
const BUFFER_HIGH = 256 * 1024;

const TRANSPORTS = /** @type {const} */ (['udp', 'tcp', 'tls']);

/**
 * The servers with only the TURN URLs of one transport (credentials kept).
 * @param {readonly IceServer[]} servers
 * @param {Transport} transport
 * @returns {RTCIceServer[]}
 */
export function serversFor(servers, transport) {
  /** @type {RTCIceServer[]} */
  const out = [];
  for (const s of servers) {
    const urls = s.urls.filter((u) => transportOfUrl(u) === transport);
    if (urls.length > 0) out.push({ urls, username: s.username, credential: s.credential });
  }
  return out;
}

/**
 * @template T
 * @param {Promise<T>} promise
 * @param {number} ms
 * @param {T} fallback
 * @returns {Promise<T>}
 */
function within(promise, ms, fallback) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(fallback), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      () => {
        clearTimeout(timer);
        resolve(fallback);
      },
    );
  });
}

/** @param {RTCIceServer[]} iceServers */
function relayOnly(iceServers) {
  return new RTCPeerConnection({ iceServers, iceTransportPolicy: 'relay' });
}

/**
 * Whether the relay hands out a candidate over these servers.
 * @param {RTCIceServer[]} iceServers
 * @returns {Promise<Reach>}
 */
async function reach(iceServers) {
  if (iceServers.length === 0) return 'not-offered';
  const pc = relayOnly(iceServers);
  try {
    /** @type {Promise<Reach>} */
    const found = new Promise((resolve) => {
      pc.addEventListener('icecandidate', (e) => {
        if (e.candidate === null) resolve('failed');
        else if (e.candidate.type === 'relay' || / typ relay/.test(e.candidate.candidate)) resolve('ok');
      });
    });
    pc.createDataChannel('nettest');
    await pc.setLocalDescription(await pc.createOffer());
    return await within(found, GATHER_MS, 'failed');
  } catch {
    return 'failed';
  } finally {
    pc.close();
  }
}

/**
 * Two local peer connections through the relay; round trip and throughput.
 * @param {RTCIceServer[]} iceServers
 * @returns {Promise<{rttMs: number | null, kbps: number | null}>}
 */
async function loopback(iceServers) {
  const a = relayOnly(iceServers);
  const b = relayOnly(iceServers);
  try {
    // Negotiated: both ends exist at once, no announcement over the wire.
    const send = a.createDataChannel('nettest', { negotiated: true, id: 0, ordered: true });
    const recv = b.createDataChannel('nettest', { negotiated: true, id: 0, ordered: true });
    send.binaryType = 'arraybuffer';
    recv.binaryType = 'arraybuffer';
    a.addEventListener('icecandidate', (e) => {
      if (e.candidate) b.addIceCandidate(e.candidate).catch(() => {});
    });
    b.addEventListener('icecandidate', (e) => {
      if (e.candidate) a.addIceCandidate(e.candidate).catch(() => {});
    });
    const opened = new Promise((resolve) => send.addEventListener('open', () => resolve(true), { once: true }));
    await a.setLocalDescription(await a.createOffer());
    await b.setRemoteDescription(/** @type {RTCSessionDescriptionInit} */ (a.localDescription));
    await b.setLocalDescription(await b.createAnswer());
    await a.setRemoteDescription(/** @type {RTCSessionDescriptionInit} */ (b.localDescription));
    if (!(await within(opened, OPEN_MS, false))) return { rttMs: null, kbps: null };

    // The far end echoes pings and counts the burst's bytes.
    let received = 0;
    let lastAt = 0;
    recv.addEventListener('message', (e) => {
      if (typeof e.data === 'string') recv.send(e.data);
      else {
        received += /** @type {ArrayBuffer} */ (e.data).byteLength;
        lastAt = performance.now();
      }
    });

    /** @type {number[]} */
    const rtts = [];
    for (let i = 0; i < PINGS; i++) {
      const sentAt = performance.now();
      const back = new Promise((resolve) => send.addEventListener('message', () => resolve(true), { once: true }));
      send.send(`ping ${i}`);
      if (!(await within(back, PING_MS, false))) break;
      rtts.push(performance.now() - sentAt);
    }

    const chunk = new ArrayBuffer(CHUNK); // zeros: synthetic, nothing of the person's
    const start = performance.now();
    let sent = 0;
    while (sent < BURST_BYTES && performance.now() - start < BURST_MS && send.readyState === 'open') {
      if (send.bufferedAmount > BUFFER_HIGH) {
        await new Promise((resolve) => setTimeout(resolve, 10));
        continue;
      }
      send.send(chunk);
      sent += CHUNK;
    }
    // What is still on its way counts, for as long as the burst may take.
    const deadline = start + BURST_MS + 1000;
    while (received < sent && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    const rttMs = median(rtts);
    return { rttMs: rttMs === null ? null : Math.round(rttMs), kbps: throughputKbps(received, (lastAt || performance.now()) - start) };
  } catch {
    return { rttMs: null, kbps: null };
  } finally {
    a.close();
    b.close();
  }
}

/**
 * The whole test against these servers (`nettest-servers`).
 * @param {readonly IceServer[]} servers
 * @returns {Promise<NetTestResult>}
 */
export async function runNetTest(servers) {
  const relay = servers.some((s) => s.urls.some((u) => transportOfUrl(u) !== null) && s.username && s.credential);
  /** @type {Record<Transport, Reach>} */
  const reached = { udp: 'not-offered', tcp: 'not-offered', tls: 'not-offered' };
  if (!relay) return { relay, reach: reached, measuredOver: null, rttMs: null, kbps: null };
  const results = await Promise.all(TRANSPORTS.map((t) => reach(serversFor(servers, t))));
  TRANSPORTS.forEach((t, i) => (reached[t] = results[i]));
  const over = TRANSPORTS.find((t) => reached[t] === 'ok') ?? null;
  if (over === null) return { relay, reach: reached, measuredOver: null, rttMs: null, kbps: null };
  const { rttMs, kbps } = await loopback(serversFor(servers, over));
  return { relay, reach: reached, measuredOver: over, rttMs, kbps };
}
