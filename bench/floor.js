// The browser's floor for call set-up (see bench/call_setup.py).
//
// Two RTCPeerConnections in one page, no ICE servers, offer/answer and
// trickled candidates handed over directly in JavaScript. Like the real call,
// both sides send the fake camera and microphone (pc2 adds its tracks before
// answering, as the client does), and the first decoded video frame is
// detected on both sides by the same probe (bench/probe.js) as in the
// full-stack runs.
//
// window.floor.prepare() gets the camera (outside the clock, as the device
// check does in the real call); window.floor.run() measures one set-up.

const CONFIG = /** @type {RTCConfiguration} */ ({
  iceServers: [],
  bundlePolicy: 'max-bundle',
  rtcpMuxPolicy: 'require',
});

/** @type {MediaStream | null} */
let stream = null;

/**
 * Get camera and microphone once per page.
 *
 * @param {'plain' | 'call'} media 'plain': getUserMedia({audio: true, video:
 *   true}), the browser's defaults; 'call': the call page's own
 *   acquireMedia() (devices.js, same origin), with its constraints.
 * @returns {Promise<string>} kinds and video size, e.g. "audio,video 640x480"
 */
async function prepare(media) {
  if (!stream) {
    if (media === 'call') {
      const { acquireMedia } = await import('/static/js/devices.js');
      stream = (await acquireMedia()).stream;
      if (!stream) throw new Error('acquireMedia() got no stream');
    } else {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
    }
  }
  const kinds = stream.getTracks().map((t) => t.kind).sort().join(',');
  const video = stream.getVideoTracks()[0]?.getSettings();
  return `${kinds} ${video?.width}x${video?.height}`;
}

/**
 * Candidates that arrive before the remote description are kept, as the
 * real client does (peer.js).
 * @param {RTCPeerConnection} pc
 */
function candidateSink(pc) {
  /** @type {RTCIceCandidateInit[]} */
  let pending = [];
  return {
    /** @param {RTCIceCandidateInit} c */
    add(c) {
      if (pc.remoteDescription) pc.addIceCandidate(c).catch(() => {});
      else pending.push(c);
    },
    flush() {
      for (const c of pending) pc.addIceCandidate(c).catch(() => {});
      pending = [];
    },
  };
}

/**
 * One set-up. Times are `performance.timeOrigin + performance.now()`.
 * @param {{method: 'rvfc' | 'stats', timeoutMs: number}} options
 */
async function run({ method, timeoutMs }) {
  if (!stream) throw new Error('prepare() first');
  const bench = /** @type {any} */ (window).__bench;
  const v1 = /** @type {HTMLVideoElement} */ (document.getElementById('v1'));
  const v2 = /** @type {HTMLVideoElement} */ (document.getElementById('v2'));
  v1.srcObject = null;
  v2.srcObject = null;
  const pc1 = new RTCPeerConnection(CONFIG);
  const pc2 = new RTCPeerConnection(CONFIG);
  const to1 = candidateSink(pc1);
  const to2 = candidateSink(pc2);
  pc1.onicecandidate = ({ candidate }) => candidate && candidate.candidate && to2.add(candidate.toJSON());
  pc2.onicecandidate = ({ candidate }) => candidate && candidate.candidate && to1.add(candidate.toJSON());
  const remote1 = new MediaStream();
  const remote2 = new MediaStream();
  pc1.ontrack = ({ track }) => {
    remote1.addTrack(track);
    if (v1.srcObject !== remote1) v1.srcObject = remote1;
  };
  pc2.ontrack = ({ track }) => {
    remote2.addTrack(track);
    if (v2.srcObject !== remote2) v2.srcObject = remote2;
  };
  /** @type {number | null} */
  let connected = null;
  pc2.onconnectionstatechange = () => {
    if (pc2.connectionState === 'connected' && connected === null) connected = bench.now();
  };
  bench.watch('pc1', v1, () => pc1, method);
  bench.watch('pc2', v2, () => pc2, method);

  const start = bench.now();
  try {
    for (const track of stream.getTracks()) pc1.addTrack(track, stream);
    const offer = await pc1.createOffer();
    await pc1.setLocalDescription(offer);
    await pc2.setRemoteDescription(offer);
    to2.flush();
    for (const track of stream.getTracks()) pc2.addTrack(track, stream);
    const answer = await pc2.createAnswer();
    await pc2.setLocalDescription(answer);
    await pc1.setRemoteDescription(answer);
    to1.flush();

    const deadline = start + timeoutMs;
    while (bench.first('pc1') === null || bench.first('pc2') === null) {
      if (bench.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return { start, first1: bench.first('pc1'), first2: bench.first('pc2'), connected };
  } finally {
    bench.stopAll();
    pc1.close();
    pc2.close();
    v1.srcObject = null;
    v2.srcObject = null;
  }
}

Object.defineProperty(window, 'floor', {
  value: Object.freeze({ prepare, run }),
  writable: false,
  configurable: false,
  enumerable: false,
});
