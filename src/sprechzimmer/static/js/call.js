// The call page, for both roles: device check, waiting room, call.
//
// This module is the page: it wires the signaling library (signaling.js),
// the peer connection (peer.js) and the devices (devices.js) to the DOM. The
// protocol rules live in those modules; what is here is which screen to show
// and which sentence to say.
//
// Never records anything; never talks to any host but this page's origin.

import { initI18n, onLangChange, t, serverMessage } from './i18n.js';
import { loadInvite, saveInvite } from './invite.js';
import { SignalingClient, signalingUrl } from './signaling.js';
import { PeerSession } from './peer.js';
import { acquireMedia, listDevices, stopStream, watchLevel } from './devices.js';
import { audioContext, playChime, unlockAudioOnGesture } from './sound.js';

/** @typedef {import('./protocol.js').Role} Role */
/** @typedef {import('./protocol.js').WelcomeMessage} WelcomeMessage */
/** @typedef {import('./i18n.js').MessageKey} MessageKey */

/**
 * What the page shows; mirrored in data-status of [data-testid=call-status].
 * @typedef {'device-check' | 'connecting' | 'waiting' | 'knocking' | 'in-call' | 'ended' | 'declined' | 'error'} CallStatus
 */

/** @typedef {'device' | 'waiting-room' | 'call' | 'end' | 'none'} View */

const STATS_INTERVAL_MS = 2000;
const debug = (/** @type {string} */ text) => console.debug(`[sprechzimmer] ${text}`);

// ---------------------------------------------------------------------------
// DOM

/**
 * @template {HTMLElement} T
 * @param {string} selector
 * @param {new () => T} type
 * @returns {T}
 */
function $(selector, type) {
  const el = document.querySelector(selector);
  if (!(el instanceof type)) throw new Error(`missing element ${selector}`);
  return el;
}

const ui = {
  status: $('[data-testid="call-status"]', HTMLElement),
  localVideo: $('[data-testid="local-video"]', HTMLVideoElement),
  remoteVideo: $('[data-testid="remote-video"]', HTMLVideoElement),
  deviceCheck: $('#device-check', HTMLElement),
  deviceMessage: $('#device-message', HTMLElement),
  cameraSelect: $('#camera-select', HTMLSelectElement),
  micSelect: $('#mic-select', HTMLSelectElement),
  micLevel: $('#mic-level', HTMLMeterElement),
  join: $('[data-testid="join"]', HTMLButtonElement),
  waitingRoom: $('[data-testid="waiting-room"]', HTMLElement),
  leave: $('#leave', HTMLButtonElement),
  callView: $('#call-view', HTMLElement),
  knockPanel: $('#knock-panel', HTMLElement),
  admit: $('[data-testid="admit"]', HTMLButtonElement),
  decline: $('#decline', HTMLButtonElement),
  connection: $('[data-testid="connection-state"]', HTMLElement),
  mute: $('[data-testid="mute"]', HTMLButtonElement),
  camera: $('[data-testid="camera"]', HTMLButtonElement),
  hangup: $('[data-testid="hangup"]', HTMLButtonElement),
  endView: $('#end-view', HTMLElement),
  rejoin: $('#rejoin', HTMLButtonElement),
  clientLabel: $('#client-label', HTMLElement),
  slots: {
    device: $('#slot-device', HTMLElement),
    'waiting-room': $('#slot-waiting', HTMLElement),
    call: $('#slot-call', HTMLElement),
  },
};

// ---------------------------------------------------------------------------
// State of the page

/** @type {CallStatus} */
let status = 'device-check';
/** Re-evaluated on a language switch, so server sentences switch too. */
/** @type {() => string} */
let statusText = () => t('call.deviceCheck');
/** @type {Role | null} */
let role = null;
/** @type {WelcomeMessage | null} */
let welcome = null;
/** @type {MediaStream | null} */
let localStream = null;
/** @type {SignalingClient | null} */
let signaling = null;
/** @type {PeerSession | null} */
let peer = null;
/** Whether the client is admitted (we are in a call, not a waiting room). */
let admitted = false;
/** What we last told the server with `media` (billing: only on change). */
let mediaReported = /** @type {'connected' | 'disconnected'} */ ('disconnected');
/** Set once we end on purpose; later socket closes say nothing. */
let finished = false;
/** @type {(() => void) | null} */
let stopLevel = null;
/** @type {ReturnType<typeof setInterval> | null} */
let statsTimer = null;
/** @type {{path: string | null, relayProtocol: string | null}} */
let lastPath = { path: null, relayProtocol: null };

/**
 * The one transition function of the page: sets the status, its sentence
 * and the view that goes with it.
 *
 * @param {CallStatus} next
 * @param {() => string} text
 * @param {View} [view] default: what the status usually shows
 */
function setStatus(next, text, view) {
  if (next !== status) debug(`status: ${status} -> ${next}`);
  status = next;
  statusText = text;
  ui.status.dataset.status = next;
  ui.status.textContent = text();
  show(view ?? defaultView(next));
}

/** @param {CallStatus} s @returns {View} */
function defaultView(s) {
  switch (s) {
    case 'device-check':
      return 'device';
    case 'connecting':
      return role === null ? 'none' : role === 'client' && !admitted ? 'waiting-room' : 'call';
    case 'waiting':
      return role === 'client' && !admitted ? 'waiting-room' : 'call';
    case 'knocking':
    case 'in-call':
      return 'call';
    default:
      return 'end';
  }
}

/** @param {View} view */
function show(view) {
  ui.deviceCheck.hidden = view !== 'device';
  ui.waitingRoom.hidden = view !== 'waiting-room';
  ui.callView.hidden = view !== 'call';
  ui.endView.hidden = view !== 'end';
  ui.knockPanel.hidden = !(view === 'call' && status === 'knocking');
  ui.admit.disabled = ui.decline.disabled = status !== 'knocking';
  const slot = view === 'device' || view === 'waiting-room' || view === 'call' ? ui.slots[view] : null;
  if (slot) {
    // Moving the element keeps its stream; it is one element in one place.
    if (ui.localVideo.parentElement !== slot) slot.append(ui.localVideo);
    ui.localVideo.hidden = false;
    ui.localVideo.play().catch(() => {});
  } else {
    ui.localVideo.hidden = true;
  }
}

/** @param {MessageKey} key @param {Record<string, string | number>} [params] */
const say = (key, params) => () => t(key, params);

// ---------------------------------------------------------------------------
// Device check

async function startDeviceCheck() {
  setStatus('device-check', say('call.deviceCheck'));
  ui.join.disabled = true;
  await useDevices({});
  ui.join.disabled = false;
  ui.join.focus();
  navigator.mediaDevices?.addEventListener?.('devicechange', () => {
    if (status === 'device-check') fillDeviceSelects().catch(() => {});
  });
}

/** @param {{videoId?: string, audioId?: string}} choice */
async function useDevices(choice) {
  stopLevel?.();
  stopLevel = null;
  stopStream(localStream);
  const { stream, problem } = await acquireMedia(choice);
  localStream = stream;
  ui.localVideo.srcObject = stream;
  /** @type {Record<string, MessageKey>} */
  const messages = {
    denied: 'call.devicesDenied',
    missing: 'call.devicesMissing',
    busy: 'call.devicesBusy',
    insecure: 'call.insecure',
    'audio-only': 'call.audioOnly',
    'video-only': 'call.videoOnly',
  };
  if (problem) {
    ui.deviceMessage.dataset.i18n = messages[problem];
    ui.deviceMessage.textContent = t(messages[problem]);
    ui.deviceMessage.hidden = false;
  } else {
    delete ui.deviceMessage.dataset.i18n;
    ui.deviceMessage.hidden = true;
  }
  const ctx = audioContext();
  if (ctx && stream) {
    ctx.resume().catch(() => {});
    stopLevel = watchLevel(ctx, stream, (level) => {
      ui.micLevel.value = level;
    });
  }
  updateToggles();
  await fillDeviceSelects();
}

async function fillDeviceSelects() {
  const { cameras, microphones } = await listDevices();
  const videoId = localStream?.getVideoTracks()[0]?.getSettings().deviceId;
  const audioId = localStream?.getAudioTracks()[0]?.getSettings().deviceId;
  fillSelect(ui.cameraSelect, cameras, videoId, 'call.camera');
  fillSelect(ui.micSelect, microphones, audioId, 'call.microphone');
}

/**
 * @param {HTMLSelectElement} select
 * @param {MediaDeviceInfo[]} devices
 * @param {string | undefined} currentId
 * @param {MessageKey} kindKey
 */
function fillSelect(select, devices, currentId, kindKey) {
  select.replaceChildren();
  if (devices.length === 0) {
    const option = new Option(t('call.noDevice'), '');
    select.append(option);
    select.disabled = true;
    return;
  }
  select.disabled = false;
  devices.forEach((d, i) => {
    // Labels are empty until permission is given; number them instead.
    select.append(new Option(d.label || `${t(kindKey)} ${i + 1}`, d.deviceId));
  });
  if (currentId) select.value = currentId;
}

function onDeviceSelect() {
  ui.join.disabled = true;
  useDevices({ videoId: ui.cameraSelect.value || undefined, audioId: ui.micSelect.value || undefined })
    .finally(() => {
      ui.join.disabled = false;
    });
}

// ---------------------------------------------------------------------------
// Joining and the signaling messages

/** @param {import('./invite.js').Invite} invite */
function join(invite) {
  stopLevel?.();
  stopLevel = null;
  ui.join.disabled = true;
  setStatus('connecting', say('call.connecting'));
  const client = new SignalingClient({
    url: signalingUrl(location),
    session: invite.session,
    token: invite.token,
    resume: invite.resume,
    log: debug,
    onResume: (resume) => saveInvite(sessionStorage, { session: invite.session, token: invite.token, resume }),
  });
  signaling = client;

  client.on('welcome', (w) => {
    const reconnect = welcome !== null;
    welcome = w;
    role = w.role;
    admitted = w.admitted;
    if (w.role === 'therapist' && w.client_id) {
      ui.clientLabel.textContent = t('call.clientLabel', { clientId: w.client_id });
      ui.clientLabel.hidden = false;
    }
    if (w.role === 'client') {
      if (!w.admitted) {
        closePeer();
        setStatus('waiting', say('call.waitingRoom'));
      } else {
        // Admitted again after a reconnect: the therapist offers (a new
        // connection if it saw us come back); meanwhile keep ours, and ask
        // for an ICE restart if it is not healthy.
        if (!peer) newPeer();
        else if (reconnect && peer.pc.connectionState !== 'connected') peer.requestIceRestart();
        if (status !== 'in-call') setStatus('connecting', say('call.startingMedia'));
      }
      return;
    }
    // Therapist.
    if (w.admitted && w.peer_present) {
      ensureCall();
    } else if (w.peer_present && !w.admitted) {
      // The client is already knocking; a knock message may follow too.
      onKnock(false);
    } else {
      if (!w.admitted) closePeer();
      setStatus('waiting', say('call.waitingForClient'));
    }
  });

  client.on('waiting', () => {
    admitted = false;
    setStatus('waiting', say('call.waitingRoom'));
  });

  client.on('knock', () => onKnock(true));

  client.on('knock-cancelled', () => {
    if (status === 'knocking') setStatus('waiting', say('call.waitingForClient'));
  });

  client.on('admitted', () => {
    admitted = true;
    if (role === 'therapist') {
      ensureCall();
    } else {
      if (!peer) newPeer();
      setStatus('connecting', say('call.startingMedia'));
    }
  });

  client.on('declined', () => {
    finish('declined', say('call.declined'), false);
  });

  client.on('peer-joined', (m) => {
    if (!m.admitted) return; // a knock follows for the therapist
    admitted = true;
    if (role === 'therapist') {
      // The client came back (reload, new network): its old connection may
      // be gone, so start a fresh one, as the protocol says.
      startCall();
    } else if (!peer) {
      newPeer();
      setStatus('connecting', say('call.startingMedia'));
    }
    // The client keeps its connection; an offer from a new therapist
    // connection replaces it (see 'offer').
  });

  client.on('peer-left', (m) => {
    const wasInCall = admitted;
    closePeer();
    ui.remoteVideo.srcObject = null;
    if (m.reason === 'hangup' && wasInCall) {
      // The call is over for both; our own socket goes too.
      finish('ended', say('call.peerHungUp'), true);
      return;
    }
    if (role === 'therapist') {
      if (!wasInCall) {
        setStatus('waiting', say('call.waitingForClient'));
        return;
      }
      setStatus('waiting', say('call.peerInterrupted'));
    } else if (wasInCall) {
      setStatus('waiting', say('call.peerInterrupted'), 'call');
    }
  });

  client.on('offer', (m) => {
    if (peer && peer.isFromOtherConnection(m.sdp)) {
      debug('offer from a new connection of the other side: starting over');
      closePeer();
    }
    if (!peer) newPeer();
    peer?.handleDescription('offer', m.sdp);
  });

  client.on('answer', (m) => {
    peer?.handleDescription('answer', m.sdp);
  });

  client.on('candidate', (m) => {
    peer?.handleCandidate(m);
  });

  client.on('restart', () => {
    if (role === 'therapist') peer?.requestIceRestart();
  });

  client.on('error', (m) => {
    debug(`server error ${m.code}${m.fatal ? ' (fatal)' : ''}`);
    if (!m.fatal) return; // no-peer: the other side is away; it re-offers when back
    finish('error', () => serverMessage(m, 'error.unexpected'), false);
  });

  client.on('closed', (c) => {
    if (finished) return;
    if (c.reconnecting) {
      setStatus('connecting', say('call.reconnecting'), status === 'device-check' ? 'none' : undefined);
      return;
    }
    if (c.error) {
      finish('error', () => serverMessage(c.error, 'error.unexpected'), false);
    } else if (c.code === 1000) {
      finish('ended', say('call.ended'), false);
    } else if (c.code === 1006 || c.code === 1001) {
      finish('error', say('call.gaveUp'), false);
    } else {
      finish('error', say('call.closed', { code: c.code }), false);
    }
  });

  client.connect();
}

/** @param {boolean} ring */
function onKnock(ring) {
  if (role !== 'therapist') return;
  admitted = false;
  closePeer();
  setStatus('knocking', say('call.knocking'));
  if (ring) playChime();
  ui.admit.focus();
}

// ---------------------------------------------------------------------------
// The peer connection

function newPeer() {
  if (!welcome || !signaling) return;
  const sig = signaling;
  peer = new PeerSession({
    iceServers: welcome.ice_servers,
    polite: welcome.polite,
    localStream,
    send: (message) => sig.send(message),
    log: debug,
    onRemoteStream: (stream) => {
      if (ui.remoteVideo.srcObject !== stream) ui.remoteVideo.srcObject = stream;
      ui.remoteVideo.play().catch(() => {});
    },
    onConnectionState: (state) => onConnectionState(state),
  });
  lastPath = { path: null, relayProtocol: null };
  renderConnection('new');
  return peer;
}

/** Therapist: a fresh connection and a first offer. */
function startCall() {
  closePeer();
  const p = newPeer();
  p?.start();
  if (status !== 'in-call') setStatus('connecting', say('call.startingMedia'));
}

/** Therapist: start a call unless one is already under way. */
function ensureCall() {
  const state = peer && !peer.closed ? peer.pc.connectionState : 'closed';
  if (state === 'new' || state === 'connecting' || state === 'connected') {
    if (status !== 'in-call') setStatus('connecting', say('call.startingMedia'));
    return;
  }
  startCall();
}

function closePeer() {
  if (!peer) return;
  peer.close();
  peer = null;
  onConnectionState('closed');
}

/** @param {RTCPeerConnectionState} state */
function onConnectionState(state) {
  renderConnection(state);
  reportMedia(state === 'connected' ? 'connected' : 'disconnected');
  if (state === 'connected') {
    if (status === 'connecting' || status === 'waiting') setStatus('in-call', say('call.inCall'));
    startStats();
  } else {
    stopStats();
  }
}

/** @param {'connected' | 'disconnected'} state */
function reportMedia(state) {
  if (state === mediaReported) return;
  // Only remember what the server really got, so that a change made while
  // the socket was down is reported after the reconnect.
  if (signaling?.send({ type: 'media', state })) mediaReported = state;
}

/** @param {RTCPeerConnectionState | string} state */
function renderConnection(state) {
  ui.connection.dataset.state = state;
  ui.connection.dataset.path = lastPath.path ?? '';
  if (lastPath.relayProtocol) ui.connection.dataset.relayProtocol = lastPath.relayProtocol;
  else delete ui.connection.dataset.relayProtocol;
  const key = /** @type {MessageKey} */ (`conn.${state}`);
  const pathText = state === 'connected' && lastPath.path ? ` · ${t(lastPath.path === 'relay' ? 'conn.relay' : 'conn.p2p')}` : '';
  ui.connection.textContent = t(key) + pathText;
}

function startStats() {
  if (statsTimer !== null) return;
  const tick = async () => {
    const p = peer;
    if (!p || p.closed) return;
    try {
      const s = await p.stats();
      if (p !== peer) return;
      lastPath = { path: s.path, relayProtocol: s.relayProtocol };
      renderConnection(p.pc.connectionState);
    } catch (err) {
      debug(`stats failed: ${err}`);
    }
  };
  tick();
  statsTimer = setInterval(tick, STATS_INTERVAL_MS);
}

function stopStats() {
  if (statsTimer !== null) clearInterval(statsTimer);
  statsTimer = null;
}

// ---------------------------------------------------------------------------
// Ending

/**
 * End the page's part in the session: close the connection, release camera
 * and microphone, say why.
 *
 * @param {CallStatus} next 'ended' | 'declined' | 'error'
 * @param {() => string} text
 * @param {boolean} sendBye say goodbye to the server (a hang-up)
 */
function finish(next, text, sendBye) {
  finished = true;
  if (signaling) {
    reportMedia('disconnected');
    if (sendBye) signaling.hangup();
    else signaling.close();
  }
  closePeer();
  stopLevel?.();
  stopLevel = null;
  stopStream(localStream);
  ui.localVideo.srcObject = null;
  ui.remoteVideo.srcObject = null;
  ui.rejoin.hidden = false;
  setStatus(next, text);
}

function updateToggles() {
  const audio = localStream?.getAudioTracks()[0];
  const video = localStream?.getVideoTracks()[0];
  ui.mute.disabled = !audio;
  ui.camera.disabled = !video;
  ui.mute.setAttribute('aria-pressed', String(!!audio && !audio.enabled));
  ui.camera.setAttribute('aria-pressed', String(!!video && !video.enabled));
}

// ---------------------------------------------------------------------------
// Read-only handle for tests and diagnostics

/**
 * @typedef {object} CallHandle
 * @property {Role | null} role
 * @property {CallStatus} state
 * @property {RTCPeerConnection | null} pc
 * @property {() => Promise<{framesDecoded: number, framesReceived: number, audioPacketsReceived: number, path: string | null}>} stats
 */

/** @type {CallHandle} */
const handle = Object.freeze({
  get role() {
    return role;
  },
  get state() {
    return status;
  },
  get pc() {
    return peer && !peer.closed ? peer.pc : null;
  },
  async stats() {
    if (!peer || peer.closed) return { framesDecoded: 0, framesReceived: 0, audioPacketsReceived: 0, path: null };
    const s = await peer.stats();
    return { framesDecoded: s.framesDecoded, framesReceived: s.framesReceived, audioPacketsReceived: s.audioPacketsReceived, path: s.path };
  },
});
Object.defineProperty(window, 'sprechzimmer', { value: handle, writable: false, configurable: false, enumerable: false });

// ---------------------------------------------------------------------------
// Start

function main() {
  initI18n();
  unlockAudioOnGesture();
  onLangChange(() => {
    ui.status.textContent = statusText();
    renderConnection(ui.connection.dataset.state ?? 'new');
    if (welcome?.client_id) ui.clientLabel.textContent = t('call.clientLabel', { clientId: welcome.client_id });
    fillDeviceSelects().catch(() => {});
  });

  const invite = loadInvite(location.hash, sessionStorage);
  if (location.hash) {
    // The token must not stay in the address bar (screen sharing, history,
    // a shoulder); sessionStorage keeps it for a reload of this tab.
    history.replaceState(null, '', location.pathname + location.search);
  }
  if (!invite) {
    finished = true;
    setStatus('error', say('call.badLink'));
    return;
  }

  ui.cameraSelect.addEventListener('change', onDeviceSelect);
  ui.micSelect.addEventListener('change', onDeviceSelect);
  ui.join.addEventListener('click', () => join(invite));
  ui.admit.addEventListener('click', () => {
    ui.admit.disabled = ui.decline.disabled = true;
    signaling?.send({ type: 'admit' });
  });
  ui.decline.addEventListener('click', () => {
    ui.admit.disabled = ui.decline.disabled = true;
    signaling?.send({ type: 'decline' });
    setStatus('waiting', say('call.waitingForClient'));
  });
  ui.mute.addEventListener('click', () => {
    const track = localStream?.getAudioTracks()[0];
    if (track) track.enabled = !track.enabled;
    updateToggles();
  });
  ui.camera.addEventListener('click', () => {
    const track = localStream?.getVideoTracks()[0];
    if (track) track.enabled = !track.enabled;
    updateToggles();
  });
  ui.hangup.addEventListener('click', () => finish('ended', say('call.ended'), true));
  ui.leave.addEventListener('click', () => finish('ended', say('call.ended'), true));
  ui.rejoin.addEventListener('click', () => location.reload());

  startDeviceCheck().catch((err) => {
    debug(`device check failed: ${err}`);
    ui.join.disabled = false;
  });
}

main();
