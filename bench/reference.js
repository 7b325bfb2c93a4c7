// The minimal-signaling reference of the call set-up benchmark (see
// bench/call_setup.py): the least code that connects two browsers, as a
// yardstick for the full stack.
//
// Two pages, one per person ('a' plays the therapist, 'b' the client), each in
// its own browser context, each with the call page's camera and microphone
// (acquireMedia() of devices.js, got before the clock starts, as the device
// check does). The relay (bench/minimal_relay.py) passes every message to the
// other page. On admit, page a makes the peer connection and its offer, and
// that offer is what tells b to start; b answers with its tracks; candidates
// trickle both ways. No data channel, no frame encryption, no server logic.
// The clock: from admit on page a to the first remote frame decoded on both
// pages (the same probe, bench/probe.js, as the call page).

const CONFIG = /** @type {RTCConfiguration} */ ({
  iceServers: [],
  bundlePolicy: 'max-bundle',
  rtcpMuxPolicy: 'require',
});

/** @type {MediaStream | null} */
let stream = null;
/** @type {WebSocket | null} */
let ws = null;
/** @type {RTCPeerConnection | null} */
let pc = null;
/** @type {RTCIceCandidateInit[]} */
let pending = [];

const video = /** @type {HTMLVideoElement} */ (document.getElementById('remote'));

/** @param {object} message */
const send = (message) => ws?.send(JSON.stringify(message));

function newPeer() {
  const p = new RTCPeerConnection(CONFIG);
  p.onicecandidate = ({ candidate }) => candidate?.candidate && send({ type: 'candidate', candidate: candidate.toJSON() });
  const remote = new MediaStream();
  p.ontrack = ({ track }) => {
    remote.addTrack(track);
    if (video.srcObject !== remote) video.srcObject = remote;
  };
  return p;
}

/** @param {{type: string, sdp?: string, candidate?: RTCIceCandidateInit}} m */
async function receive(m) {
  if (m.type === 'offer') {
    pc = newPeer();
    await pc.setRemoteDescription({ type: 'offer', sdp: m.sdp });
    for (const c of pending) pc.addIceCandidate(c).catch(() => {});
    pending = [];
    if (stream) for (const track of stream.getTracks()) pc.addTrack(track, stream);
    await pc.setLocalDescription();
    send({ type: 'answer', sdp: pc.localDescription?.sdp });
  } else if (m.type === 'answer') {
    await pc?.setRemoteDescription({ type: 'answer', sdp: m.sdp });
  } else if (m.type === 'candidate' && m.candidate) {
    if (pc?.remoteDescription) pc.addIceCandidate(m.candidate).catch(() => {});
    else pending.push(m.candidate);
  }
}

/**
 * Camera, microphone and the line to the relay, before the clock.
 * @param {string} url ws://.../ROOM/a or /b
 * @returns {Promise<string>} kinds and video size, e.g. "audio,video 1280x720"
 */
async function prepare(url) {
  const { acquireMedia } = await import('/static/js/devices.js');
  stream = (await acquireMedia()).stream;
  if (!stream) throw new Error('acquireMedia() got no stream');
  const socket = new WebSocket(url);
  await new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = () => reject(new Error('relay unreachable'));
  });
  socket.onmessage = (e) => receive(JSON.parse(e.data)).catch((err) => console.error(err));
  ws = socket;
  const kinds = stream.getTracks().map((t) => t.kind).sort().join(',');
  const v = stream.getVideoTracks()[0]?.getSettings();
  return `${kinds} ${v?.width}x${v?.height}`;
}

/** Page a: the clock starts, the connection is made and offered. @returns {number} */
function admit() {
  const t = /** @type {any} */ (window).__bench.now();
  pc = newPeer();
  if (stream) for (const track of stream.getTracks()) pc.addTrack(track, stream);
  pc.setLocalDescription().then(() => send({ type: 'offer', sdp: pc?.localDescription?.sdp }));
  return t;
}

function close() {
  pc?.close();
  ws?.close();
  for (const track of stream?.getTracks() ?? []) track.stop();
}

Object.defineProperty(window, 'reference', {
  value: Object.freeze({ prepare, admit, close, pc: () => pc, video }),
  writable: false,
  configurable: false,
  enumerable: false,
});
