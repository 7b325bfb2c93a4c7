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
import { compatAvailable, hasTurn, iceConfiguration, offersCompat, offersRelay } from './ice.js';
import { RecoveryPolicy } from './recovery.js';
import { pathLabelKey } from './stats.js';
import { acquireMedia, listDevices, stopStream, watchLevel } from './devices.js';
import { audioContext, playChime, unlockAudioOnGesture } from './sound.js';
import { E2eeSession } from './e2ee-session.js';
import { parseDebugSwitches } from './e2ee.js';
import { QualityPolicy, QualitySummary, decodeQualityPeerMessage, receiverReportFor } from './quality.js';
import { CallMachine } from './callstate.js';

/** @typedef {import('./protocol.js').Role} Role */
/** @typedef {import('./protocol.js').WelcomeMessage} WelcomeMessage */
/** @typedef {import('./i18n.js').MessageKey} MessageKey */
/** @typedef {import('./ice.js').IceSettings} IceSettings */
/** @typedef {import('./recovery.js').RecoveryAction} RecoveryAction */
/** @typedef {import('./stats.js').PathInfo & import('./stats.js').InboundSummary} CallStats */
/** @typedef {import('./e2ee.js').E2eeState} E2eeState */
/** @typedef {import('./e2ee.js').FallbackReason} FallbackReason */
/** @typedef {import('./e2ee-session.js').Counters} E2eeCounters */
/** @typedef {import('./quality.js').Grade} Grade */
/** @typedef {import('./quality.js').ProfileName} ProfileName */

/** @typedef {import('./callstate.js').CallStatus} CallStatus */
/** @typedef {import('./callstate.js').CallInput} CallInput */
/** @typedef {import('./callstate.js').CallAction} CallAction */
/** @typedef {import('./callstate.js').CallSnapshot} CallSnapshot */
/** @typedef {import('./callstate.js').StatusText} StatusText */
/** @typedef {import('./callstate.js').View} View */

const STATS_INTERVAL_MS = 2000;
const COMPAT_KEY = 'sprechzimmer.compat';
const debug = (/** @type {string} */ text) => console.debug(`[sprechzimmer] ${text}`);
/** How often the key age on screen is brought up to date. */
const KEY_AGE_REFRESH_MS = 5000;

/**
 * TEST HOOKS for the negative end-to-end tests, read once at page load from
 * sessionStorage key `sz-debug-e2ee` ("no-receive-transform",
 * "wrong-receive-key"); see parseDebugSwitches. Unset, nothing changes.
 */
const e2eeDebug = parseDebugSwitches(readSession('sz-debug-e2ee'));

/** @param {string} key */
function readSession(key) {
  try {
    return sessionStorage.getItem(key);
  } catch {
    return null;
  }
}

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
  compat: $('[data-testid="compat-mode"]', HTMLButtonElement),
  compatHelp: $('#compat-help', HTMLElement),
  relayOnly: $('[data-testid="relay-only"]', HTMLButtonElement),
  relayOnlyBox: $('#relay-only-box', HTMLElement),
  relayOnlyState: $('#relay-only-state', HTMLElement),
  e2eeState: $('[data-testid="e2ee-state"]', HTMLElement),
  sasBox: $('#sas-box', HTMLElement),
  sas: $('[data-testid="sas"]', HTMLElement),
  sasHelp: $('#sas-help', HTMLElement),
  verify: $('[data-testid="verify"]', HTMLButtonElement),
  quality: $('[data-testid="quality-indicator"]', HTMLElement),
  qualitySendText: $('#quality-send-text', HTMLElement),
  qualityReceiveText: $('#quality-receive-text', HTMLElement),
  qualityNotice: $('[data-testid="quality-notice"]', HTMLElement),
  audioOnly: $('[data-testid="audio-only"]', HTMLButtonElement),
  slots: {
    device: $('#slot-device', HTMLElement),
    'waiting-room': $('#slot-waiting', HTMLElement),
    call: $('#slot-call', HTMLElement),
  },
};

// ---------------------------------------------------------------------------
// State of the page

/** The call logic: status, admission, the other side's presence (callstate.js). */
const machine = new CallMachine({ log: debug });
/** @type {ReturnType<typeof setTimeout> | null} */
let machineTimer = null;
/** The `seq` of the snapshot whose status is on screen. */
let shownSeq = -1;
/** @type {WelcomeMessage | null} */
let welcome = null;
/** @type {MediaStream | null} */
let localStream = null;
/** @type {SignalingClient | null} */
let signaling = null;
/** @type {PeerSession | null} */
let peer = null;
/** What we last told the server with `media` (billing: only on change). */
let mediaReported = /** @type {'connected' | 'disconnected' | 'unknown'} */ ('disconnected');
/** @type {(() => void) | null} */
let stopLevel = null;
/** @type {ReturnType<typeof setInterval> | null} */
let statsTimer = null;
/** @type {{path: import('./stats.js').MediaPath | null, relayProtocol: string | null}} */
let lastPath = { path: null, relayProtocol: null };
/** What the server gave for the current (or next) call: ICE servers and policy. */
/** @type {IceSettings} */
let iceSettings = { servers: [], policy: 'all' };
/**
 * The TURN URLs the server offers (`welcome.relay_urls`), without credentials:
 * whether relay-only and compatibility mode can work, known before a call.
 * Never handed to a peer connection; credentials come only with `admitted`.
 * @type {string[]}
 */
let relayUrls = [];
/** Whether we know what the server offers yet (before the first welcome we do not). */
let iceKnown = false;
/** Compatibility mode as chosen (by the person, or by recovery); kept per tab and session. */
let compatWanted = false;
/** Whether recovery switched it on (the page says why). */
let compatAuto = false;
/** @type {string | null} sessionStorage key of this session's compatibility choice */
let compatKey = null;
/** ICE restarts performed (therapist) or requested (client) in this tab. */
let restarts = 0;
/** Peer connections made in this tab: a signaling outage must not add one. */
let peerConnections = 0;
/** @type {RecoveryPolicy | null} */
let recovery = null;
/** @type {ReturnType<typeof setTimeout> | null} */
let recoveryTimer = null;
/** Frame encryption of the current peer connection. */
/** @type {E2eeSession | null} */
let e2ee = null;
/** Key epoch for the next connection's first agreement (`admitted`, then `rekey`). */
let keyEpoch = 0;
/** The operator's fail-closed policy, from `admitted`; closed until told otherwise. */
let e2eeRequired = true;
/**
 * The frame-encryption state of the last closed connection, shown until the
 * next one starts (why the media was ended, or what the call had).
 */
/** @type {E2eeState | null} */
let e2eeEnded = null;
/** The operator's caps on our outgoing video, from `admitted`. */
let bitrateCaps = { maxKbps: 2500, relayMaxKbps: 1000 };
/** The ladder for the current connection's outgoing video. */
/** @type {QualityPolicy | null} */
let quality = null;
/** The profile last applied to the sender (null: none yet on this connection). */
/** @type {ProfileName | null} */
let appliedProfile = null;
let appliedKbps = -1;
/** The person chose audio only (kept across connections of this tab). */
let audioOnlyWanted = false;
/** The other side says its video to us is paused ('weak' or 'manual'), or not (null). */
/** @type {'weak' | 'manual' | null} */
let remotePaused = null;
/** @type {{send: Grade | null, receive: Grade | null}} */
let grades = { send: null, receive: null };
/** The anonymous 30-s summary for the server; one per tab. */
const summary = new QualitySummary(performance.now());

/**
 * Hand the call logic what happened, carry out what it decided, render.
 * @param {CallInput} input
 */
function dispatch(input) {
  carryOut(machine.handle(input, performance.now()));
}

/** @param {CallAction[]} actions */
function carryOut(actions) {
  for (const action of actions) perform(action);
  render();
  scheduleMachine();
}

/** Arm the one timer of the call logic. */
function scheduleMachine() {
  if (machineTimer !== null) clearTimeout(machineTimer);
  machineTimer = null;
  const at = machine.timer();
  if (at === null) return;
  machineTimer = setTimeout(() => {
    machineTimer = null;
    carryOut(machine.handleTimer(performance.now()));
  }, Math.max(0, at - performance.now()));
}

/** @param {CallAction} action */
function perform(action) {
  switch (action.type) {
    case 'close-peer':
      closePeer();
      break;
    case 'open-peer': {
      const p = newPeer();
      if (action.then === 'offer') p?.start();
      else if (action.then === 'restart-ice') p?.restartIce();
      break;
    }
    case 'describe':
      peer?.handleDescription(action.description, action.sdp);
      break;
    case 'clear-remote':
      ui.remoteVideo.srcObject = null;
      break;
    case 'send':
      signaling?.send(action.message);
      break;
    case 'chime':
      playChime();
      break;
    case 'report-media':
      // Tell the (possibly new) server what our media is doing now; it
      // records only a change from what it has on file.
      mediaReported = 'unknown';
      if (peer) reportMedia(peer.pc.connectionState === 'connected' ? 'connected' : 'disconnected');
      break;
    case 'finish':
      finish(action.bye);
      break;
  }
}

/** What the call logic says, on screen. */
function render() {
  const s = machine.snapshot;
  if (s.seq !== shownSeq) {
    // What goes with a status is applied when it is set, not on every render:
    // a clicked admit button stays disabled until the next status.
    shownSeq = s.seq;
    ui.status.dataset.status = s.status;
    ui.status.textContent = statusText(s.text);
    show(s.view, s.status);
    if (s.rejoin) ui.rejoin.hidden = false;
    if (s.status === 'knocking') ui.admit.focus();
  }
  renderNetworkControls();
}

/** @param {StatusText} text */
function statusText(text) {
  return 'key' in text ? t(text.key, text.params) : serverMessage(text.error, text.fallback);
}

/** @param {View} view @param {CallStatus} status */
function show(view, status) {
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

// ---------------------------------------------------------------------------
// Device check

async function startDeviceCheck() {
  render();
  ui.join.disabled = true;
  await useDevices({});
  ui.join.disabled = false;
  ui.join.focus();
  navigator.mediaDevices?.addEventListener?.('devicechange', () => {
    if (machine.state === 'device-check') fillDeviceSelects().catch(() => {});
  });
}

/** @param {{videoId?: string, audioId?: string}} choice */
async function useDevices(choice) {
  stopLevel?.();
  stopLevel = null;
  stopStream(localStream);
  const { stream, problem } = await acquireMedia(choice);
  if (problem) summary.error('gum-failed');
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
  dispatch({ type: 'join' });
  const client = new SignalingClient({
    url: signalingUrl(location),
    session: invite.session,
    token: invite.token,
    resume: invite.resume,
    log: debug,
    onResume: (resume) => saveInvite(sessionStorage, { session: invite.session, token: invite.token, resume }),
    // A restarted server forgot the key epoch; the next renewal must go beyond ours.
    // 0 says we have no call left (a reload): the server starts a fresh one.
    epoch: () => (peer && !peer.closed ? Math.max(keyEpoch, e2ee?.epoch ?? 0, 1) : 0),
    // A running call must not end because the server stays away for long (a
    // slow deploy): keep trying, at the slow pace, for about an hour.
    maxReconnectAttempts: 240,
    // A restarted server forgot a therapist's relay-only choice; the call keeps it.
    relayOnly: () => machine.snapshot.role === 'therapist' && machine.snapshot.relayOnly,
  });
  signaling = client;
  compatKey = `${COMPAT_KEY}.${invite.session}`;
  compatWanted = loadCompat();

  client.on('welcome', (w) => {
    welcome = w;
    relayUrls = w.relay_urls ?? [];
    iceKnown = true;
    // TURN credentials only inside a call: `admitted` brings them (a welcome
    // outside one has STUN alone, of no use before a call). Inside a call a
    // welcome brings fresh credentials for a later restart.
    if (w.admitted) iceSettings = { servers: w.ice_servers, policy: iceSettings.policy };
    ui.relayOnlyBox.hidden = w.role !== 'therapist';
    if (w.role === 'therapist' && w.client_id) {
      ui.clientLabel.textContent = t('call.clientLabel', { clientId: w.client_id });
      ui.clientLabel.hidden = false;
    }
    dispatch({ type: 'welcome', welcome: w });
  });

  client.on('waiting', () => dispatch({ type: 'waiting' }));
  client.on('knock', () => dispatch({ type: 'knock' }));
  client.on('knock-cancelled', () => dispatch({ type: 'knock-cancelled' }));

  client.on('admitted', (m) => {
    // The configuration of the fresh peer connection that `admitted` starts.
    keyEpoch = m.epoch;
    e2eeRequired = m.e2ee_required;
    bitrateCaps = {
      maxKbps: m.max_bitrate_kbps ?? bitrateCaps.maxKbps,
      relayMaxKbps: m.relay_max_bitrate_kbps ?? bitrateCaps.relayMaxKbps,
    };
    iceSettings = { servers: m.ice_servers, policy: m.ice_transport_policy };
    iceKnown = true;
    dispatch({ type: 'admitted', relayOnly: m.ice_transport_policy === 'relay' });
  });

  client.on('rekey', (m) => {
    // A fresh key agreement between the browsers; the server only says when.
    keyEpoch = Math.max(keyEpoch, m.epoch);
    e2ee?.rekey(m.epoch);
  });

  client.on('declined', () => dispatch({ type: 'declined' }));
  client.on('peer-joined', (m) => dispatch({ type: 'peer-joined', admitted: m.admitted }));
  client.on('peer-left', (m) => dispatch({ type: 'peer-left', reason: m.reason }));

  client.on('offer', (m) => {
    dispatch({ type: 'offer', sdp: m.sdp, fromOtherConnection: !!peer && peer.isFromOtherConnection(m.sdp) });
  });

  client.on('answer', (m) => {
    dispatch({ type: 'answer', sdp: m.sdp, fromOtherConnection: !!peer && peer.isFromOtherConnection(m.sdp) });
  });

  client.on('candidate', (m) => {
    peer?.handleCandidate(m);
  });

  client.on('restart', () => {
    if (machine.snapshot.role === 'therapist' && recovery) runRecovery(recovery.remoteRequest(performance.now()));
  });

  client.on('error', (m) => {
    debug(`server error ${m.code}${m.fatal ? ' (fatal)' : ''}`);
    dispatch({ type: 'error', error: m });
  });

  client.on('closed', (c) => dispatch({ type: 'closed', closed: c }));

  client.connect();
}

// ---------------------------------------------------------------------------
// The peer connection

function newPeer() {
  if (!welcome || !signaling) return null;
  const sig = signaling;
  const compat = compatActive();
  const session = new E2eeSession({
    role: welcome.role,
    epoch: keyEpoch,
    required: e2eeRequired,
    debug: e2eeDebug,
    log: debug,
    onChange: () => {
      if (e2ee === session) renderE2ee();
    },
    onEndMedia: (reason) => {
      if (e2ee === session) failClosed(session.state, reason);
    },
  });
  e2ee = session;
  e2eeEnded = null;
  const p = new PeerSession({
    configuration: iceConfiguration(iceSettings, compat),
    polite: welcome.polite,
    localStream,
    e2ee: session,
    send: (message) => sig.send(message),
    log: debug,
    onRemoteStream: (stream) => {
      if (ui.remoteVideo.srcObject !== stream) ui.remoteVideo.srcObject = stream;
      ui.remoteVideo.play().catch(() => {});
    },
    onConnectionState: (state) => {
      if (peer === p) onConnectionState(state);
    },
    onIceState: (state) => {
      if (state === 'failed') summary.error('ice-failed');
      if (peer === p && recovery) runRecovery(recovery.iceState(state, performance.now()));
    },
    onQualityMessage: (data) => {
      if (peer === p) onQualityMessage(data);
    },
  });
  peer = p;
  peerConnections += 1;
  quality = new QualityPolicy(bitrateCaps, debug);
  quality.manualAudioOnly = audioOnlyWanted;
  appliedProfile = null;
  appliedKbps = -1;
  remotePaused = null;
  grades = { send: null, receive: null };
  renderQuality();
  recovery = new RecoveryPolicy({
    now: performance.now(),
    turnAvailable: hasTurn(iceSettings.servers),
    compatAvailable: compatAvailable(iceSettings.servers),
    compat,
    log: debug,
  });
  scheduleRecovery();
  lastPath = { path: null, relayProtocol: null };
  renderConnection('new');
  renderE2ee();
  return p;
}

function closePeer() {
  if (recoveryTimer !== null) clearTimeout(recoveryTimer);
  recoveryTimer = null;
  recovery = null;
  if (!peer) return;
  peer.close();
  peer = null;
  quality = null;
  remotePaused = null;
  grades = { send: null, receive: null };
  renderQuality();
  if (e2ee) e2eeEnded = e2ee.state;
  e2ee?.close();
  e2ee = null;
  connectionChanged('closed');
  renderE2ee();
}

/** @param {RTCPeerConnectionState} state of the current connection */
function onConnectionState(state) {
  connectionChanged(state);
  reportConnection(false);
}

/** @param {RTCPeerConnectionState} state */
function connectionChanged(state) {
  renderConnection(state);
  reportMedia(state === 'connected' ? 'connected' : 'disconnected');
  if (state === 'connected') {
    startStats();
  } else {
    stopStats();
  }
}

/**
 * Tell the call logic where the connection and its recovery are: the status
 * line (in call, connecting, reconnecting, no connection possible) follows.
 * @param {boolean} noRelay recovery found no direct path and no relay
 */
function reportConnection(noRelay) {
  const p = peer;
  if (!p || p.closed) return;
  dispatch({ type: 'connection', state: p.pc.connectionState, recovering: recovery?.recovering ?? false, noRelay });
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
  if (lastPath.path === 'relay' && lastPath.relayProtocol) ui.connection.dataset.relayProtocol = lastPath.relayProtocol;
  else delete ui.connection.dataset.relayProtocol;
  ui.connection.textContent =
    state === 'connected' && lastPath.path
      ? t(pathLabelKey(lastPath.path, lastPath.relayProtocol))
      : t(/** @type {MessageKey} */ (`conn.${state}`));
}

/** Read the selected candidate pair now; the indicator follows it. */
async function statsTick() {
  const p = peer;
  if (!p || p.closed) return;
  try {
    const s = await p.stats();
    if (p !== peer) return;
    if (s.path !== lastPath.path || s.relayProtocol !== lastPath.relayProtocol) {
      debug(`media path: ${s.path ?? 'none'}${s.relayProtocol ? ` (${s.relayProtocol})` : ''}`);
    }
    lastPath = { path: s.path, relayProtocol: s.relayProtocol };
    renderConnection(p.pc.connectionState);
  } catch (err) {
    debug(`stats failed: ${err}`);
  }
}

// ---------------------------------------------------------------------------
// Quality: what the connection can carry (quality.js decides, peer.js applies)

/**
 * One quality step, every STATS_INTERVAL_MS while connected: sample, decide,
 * apply, tell the other side what we receive, summarise for the server.
 */
async function qualityTick() {
  const p = peer;
  const policy = quality;
  if (!p || p.closed || !policy) return;
  try {
    const sample = await p.qualitySample();
    if (p !== peer) return;
    const decision = policy.sample(sample);
    const { profile } = decision;
    if (profile.name !== appliedProfile || decision.maxKbps !== appliedKbps) {
      appliedProfile = profile.name;
      appliedKbps = decision.maxKbps;
      debug(`quality: sending ${profile.name} at ${decision.maxKbps} kbit/s`);
      await p.applyProfile({ maxKbps: decision.maxKbps, scale: profile.scale, maxFramerate: profile.maxFramerate, video: profile.video });
    }
    // Sent every time, not only on change: the channel may open late, and
    // a lost state must not stick.
    p.sendQuality(receiverReportFor(sample));
    p.sendQuality({ type: 'video-paused', paused: !profile.video, manual: policy.manualAudioOnly });
    grades = { send: decision.send, receive: remotePaused === 'weak' ? 'poor' : decision.receive };
    renderQuality();
    if (sample.framesDecoded !== null || sample.outKbps !== null) summary.add(sample);
    sendSummary(false);
  } catch (err) {
    debug(`quality step failed: ${err}`);
  }
}

/** @param {unknown} data from the quality data channel */
function onQualityMessage(data) {
  const m = decodeQualityPeerMessage(data);
  if (!m) return;
  if (m.type === 'receiver-report') {
    quality?.receiverReport({ now: performance.now(), maxKbps: m.maxKbps, lossPct: m.lossPct, freezeCount: m.freezeCount });
  } else {
    const next = m.paused ? (m.manual ? 'manual' : 'weak') : null;
    if (next !== remotePaused) {
      remotePaused = next;
      renderQuality();
    }
  }
}

/**
 * The anonymous summary to the server, when due (or now, at the end of a
 * call). Checked by the codec first: a refused one is dropped, never sent.
 * @param {boolean} final
 */
function sendSummary(final) {
  const now = performance.now();
  if (!final && !summary.due(now)) return;
  const message = summary.take(now);
  try {
    signaling?.send(message);
  } catch (err) {
    debug(`quality summary refused: ${err}`);
  }
}

function renderQuality() {
  ui.quality.dataset.send = grades.send ?? '';
  ui.quality.dataset.receive = grades.receive ?? '';
  ui.qualitySendText.textContent = t(grades.send ? `quality.${grades.send}` : 'quality.unknown');
  ui.qualityReceiveText.textContent = t(grades.receive ? `quality.${grades.receive}` : 'quality.unknown');
  const own = quality && !quality.profile.video ? (quality.manualAudioOnly ? 'manual' : 'weak') : null;
  // Ours first: what we can change; then what the other side says.
  const paused = own ?? remotePaused;
  ui.qualityNotice.hidden = paused === null;
  ui.qualityNotice.dataset.side = own ? 'send' : paused ? 'receive' : '';
  ui.qualityNotice.dataset.reason = paused ?? '';
  ui.qualityNotice.textContent = paused === null ? '' : t(paused === 'manual' ? 'quality.pausedManual' : 'quality.pausedWeak');
  ui.audioOnly.setAttribute('aria-pressed', String(audioOnlyWanted));
}

function onAudioOnlyClick() {
  audioOnlyWanted = !audioOnlyWanted;
  if (quality) quality.manualAudioOnly = audioOnlyWanted;
  renderQuality();
  // Apply at once rather than on the next tick.
  qualityTick();
}

function startStats() {
  // The transport exists once connected; an ICE restart keeps it, a new
  // pair shows at once where the browser tells us, else within 2 s.
  peer?.watchSelectedPair(() => {
    statsTick();
  });
  statsTick();
  if (statsTimer !== null) return;
  statsTimer = setInterval(() => {
    statsTick();
    qualityTick();
  }, STATS_INTERVAL_MS);
}

function stopStats() {
  if (statsTimer !== null) clearInterval(statsTimer);
  statsTimer = null;
}

// ---------------------------------------------------------------------------
// Recovery, compatibility mode, relay-only

/** Arm the one timer of the recovery policy. */
function scheduleRecovery() {
  if (recoveryTimer !== null) clearTimeout(recoveryTimer);
  recoveryTimer = null;
  const at = recovery?.timer();
  if (at === null || at === undefined) return;
  recoveryTimer = setTimeout(() => {
    recoveryTimer = null;
    if (recovery) runRecovery(recovery.handleTimer(performance.now()));
  }, Math.max(0, at - performance.now()));
}

/**
 * Carry out what the recovery policy decided, then show where we are.
 * @param {RecoveryAction[]} actions
 */
function runRecovery(actions) {
  let noRelay = false;
  for (const action of actions) {
    switch (action.type) {
      case 'restart':
        restartIce();
        break;
      case 'compat':
        switchCompat(true, true);
        break;
      case 'no-relay':
        noRelay = true;
        break;
    }
  }
  scheduleRecovery();
  reportConnection(noRelay);
}

/** Restart ICE (therapist) or ask for it (client). */
function restartIce() {
  if (!peer || peer.closed) return;
  restarts += 1;
  summary.error('ice-restart');
  peer.restartIce();
}

/** Compatibility mode as it applies to the current configuration. */
function compatActive() {
  return compatWanted && compatAvailable(iceSettings.servers);
}

/**
 * Switch compatibility mode, and re-establish the running connection under
 * it.
 *
 * Switching it on makes a fresh peer connection: Chromium takes a tighter
 * `iceTransportPolicy` from setConfiguration, but after the ICE restart it
 * keeps the working host pair, so media would not move to the relay at all.
 * Switching it off only loosens the configuration: setConfiguration and an
 * ICE restart do (and a fresh connection where the browser refuses).
 *
 * @param {boolean} on
 * @param {boolean} auto switched by recovery
 */
function switchCompat(on, auto) {
  compatWanted = on;
  compatAuto = on && auto;
  saveCompat(on);
  if (on) summary.error('compat-mode');
  debug(`compatibility mode ${on ? 'on' : 'off'}${auto ? ' (automatic)' : ''}`);
  renderNetworkControls();
  const p = peer;
  if (!p || p.closed) return; // the next connection starts in this mode
  if (on || !p.reconfigure(iceConfiguration(iceSettings, compatActive()))) {
    freshConnection();
    return;
  }
  if (recovery) runRecovery(recovery.setCompat(on, performance.now()));
}

/**
 * A new peer connection under the current configuration, in the middle of
 * a call. The therapist simply starts over (the client sees an offer from
 * another connection and follows). The client makes its own and asks for a
 * restart; its answer then comes from another connection, so the therapist
 * starts over, and the client follows that offer.
 */
function freshConnection() {
  restarts += 1;
  dispatch({ type: 'fresh-connection' });
}

function onCompatClick() {
  if (!offersCompat(relayUrls)) return;
  switchCompat(!compatWanted, false);
}

/** @returns {boolean} */
function loadCompat() {
  try {
    return compatKey !== null && sessionStorage.getItem(compatKey) === '1';
  } catch {
    return false;
  }
}

/** @param {boolean} on */
function saveCompat(on) {
  try {
    if (compatKey === null) return;
    if (on) sessionStorage.setItem(compatKey, '1');
    else sessionStorage.removeItem(compatKey);
  } catch {
    // storage disabled: the choice lasts for this page only
  }
}

/** The network under us changed (Wi-Fi to mobile, back online): restart ICE now. */
function onNetworkChange() {
  debug('network changed');
  if (recovery && peer && !peer.closed) runRecovery(recovery.networkChanged(performance.now()));
}

/** Relay-only as the page shows it: the therapist's wish until the server answers. */
function relayOnlyShown() {
  return machine.snapshot.relayOnlyShown;
}

function onRelayOnlyClick() {
  if (machine.snapshot.role !== 'therapist' || !offersRelay(relayUrls)) return;
  const enabled = !relayOnlyShown();
  if (!signaling?.send({ type: 'relay-only', enabled })) return;
  dispatch({ type: 'relay-only-asked', enabled });
}

function renderNetworkControls() {
  // What the server offers, not what the current call got: the controls are
  // there before a call, when no credentials are.
  const compatOk = offersCompat(relayUrls);
  const compatOn = compatOk && compatWanted;
  ui.compat.disabled = !compatOk;
  ui.compat.setAttribute('aria-pressed', String(compatOn));
  /** @type {MessageKey} */
  let help = 'call.compatHelp';
  if (iceKnown && !compatOk) help = 'call.compatUnavailable';
  else if (compatOn) help = compatAuto ? 'call.compatAuto' : 'call.compatOn';
  ui.compatHelp.dataset.i18n = help;
  ui.compatHelp.textContent = t(help);
  ui.compat.title = t(iceKnown && !compatOk ? 'call.compatUnavailable' : 'call.compatHelp');

  const turn = offersRelay(relayUrls);
  const { relayOnly, relayOnlyShown: shown, relaySwitching } = machine.snapshot;
  ui.relayOnly.disabled = !turn;
  ui.relayOnly.setAttribute('aria-pressed', String(shown));
  ui.relayOnly.dataset.enabled = String(relayOnly);
  ui.relayOnly.title = t(turn ? 'call.relayOnlyHelp' : 'call.relayOnlyUnavailable');
  /** @type {MessageKey} */
  let state = shown ? 'call.relayOnlyOn' : 'call.relayOnlyOff';
  if (!turn && !relayOnly) state = 'call.relayOnlyUnavailable';
  else if (relaySwitching) state = 'call.relayOnlyPending';
  ui.relayOnlyState.dataset.i18n = state;
  ui.relayOnlyState.textContent = t(state);
}

// ---------------------------------------------------------------------------
// Frame encryption

/**
 * Fail closed: frame encryption could not be set up and the operator does
 * not allow calls without it (the call logic ends the media).
 * @param {E2eeState} state 'failed' | 'unsupported'
 * @param {FallbackReason} reason
 */
function failClosed(state, reason) {
  debug(`e2ee: ending the media (${reason})`);
  dispatch({ type: 'e2ee-failed', state: state === 'unsupported' ? 'unsupported' : 'failed' });
}

/** @returns {E2eeState} */
function e2eeState() {
  return e2ee?.state ?? e2eeEnded ?? 'negotiating';
}

function renderE2ee() {
  const state = e2eeState();
  ui.e2eeState.dataset.state = state;
  /** @type {string[]} */
  let parts;
  switch (state) {
    case 'active': {
      parts = [t('e2ee.active')];
      const age = e2ee?.keyAgeSeconds;
      if (age !== null && age !== undefined) {
        const minutes = Math.floor(age / 60);
        parts.push(minutes < 1 ? t('e2ee.keyAgeNew') : t('e2ee.keyAge', { minutes }));
      }
      if (e2ee?.verified) parts.push(t('e2ee.verified'));
      break;
    }
    case 'dtls-only':
      parts = [t('e2ee.dtlsOnly')];
      break;
    case 'failed':
      parts = [t('e2ee.failed')];
      break;
    case 'unsupported':
      parts = [t('e2ee.unsupported')];
      break;
    default:
      parts = [t('e2ee.negotiating')];
  }
  ui.e2eeState.textContent = parts.join(' · ');
  const sas = state === 'active' ? (e2ee?.sas ?? null) : null;
  ui.sasBox.hidden = sas === null;
  ui.sas.textContent = sas ?? '';
  const { role } = machine.snapshot;
  ui.sasHelp.textContent = t(role === 'therapist' ? 'e2ee.sasHelpTherapist' : 'e2ee.sasHelpClient');
  ui.verify.hidden = role !== 'therapist';
  ui.verify.disabled = sas === null || !!e2ee?.verified;
}

// ---------------------------------------------------------------------------
// Ending

/**
 * End the page's part in the session (the call logic says why): close the
 * connection, release camera and microphone.
 *
 * @param {boolean} sendBye say goodbye to the server (a hang-up)
 */
function finish(sendBye) {
  // The call ends before the browsers agreed on a key (e.g. the other side
  // refused it): frame encryption did not come about.
  if ((e2ee?.state ?? e2eeEnded) === 'negotiating') {
    e2ee?.close();
    e2ee = null;
    e2eeEnded = 'failed';
  }
  if (signaling) {
    // What the call had since the last summary, unless it was nothing.
    if (summary.hasSamples) sendSummary(true);
    reportMedia('disconnected');
    if (sendBye) signaling.hangup();
    else signaling.close();
  }
  closePeer();
  renderE2ee();
  stopLevel?.();
  stopLevel = null;
  stopStream(localStream);
  ui.localVideo.srcObject = null;
  ui.remoteVideo.srcObject = null;
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
 * @property {boolean} compatMode compatibility mode is on (relay-only over TCP/TLS)
 * @property {boolean} relayOnly relay-only as shown (the server's policy, or the therapist's pending wish)
 * @property {number} restarts ICE restarts performed (therapist) or requested (client) in this tab
 * @property {number} peerConnections peer connections made in this tab
 * @property {boolean} serverAway the line to the server is being restored while the call goes on
 * @property {import('./signaling.js').SignalingState} signaling the signaling connection's state
 * @property {() => Promise<CallStats>} stats inbound totals and the selected candidate pair
 * @property {E2eeHandle} e2ee frame encryption of the current connection (a fresh snapshot on each read)
 * @property {QualityHandle} quality what our video sender uses now and how both directions look
 */

/**
 * @typedef {object} QualityHandle
 * @property {ProfileName | null} profile the profile applied to our video sender
 * @property {number | null} maxKbps its bitrate (0: video paused)
 * @property {Grade | null} send
 * @property {Grade | null} receive
 * @property {'weak' | 'manual' | null} remotePaused the other side paused its video to us
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
 */

/** @type {CallHandle} */
const handle = Object.freeze({
  get role() {
    return machine.snapshot.role;
  },
  get state() {
    return machine.snapshot.status;
  },
  get pc() {
    return peer && !peer.closed ? peer.pc : null;
  },
  get compatMode() {
    return compatActive();
  },
  get relayOnly() {
    return relayOnlyShown();
  },
  get restarts() {
    return restarts;
  },
  get peerConnections() {
    return peerConnections;
  },
  get serverAway() {
    return machine.snapshot.serverAway;
  },
  get signaling() {
    return signaling?.state ?? 'idle';
  },
  get quality() {
    return Object.freeze({
      profile: appliedProfile,
      maxKbps: appliedProfile === null ? null : appliedKbps,
      send: grades.send,
      receive: grades.receive,
      remotePaused,
    });
  },
  get e2ee() {
    const session = e2ee;
    return Object.freeze({
      state: e2eeState(),
      epoch: session?.epoch ?? null,
      sendKid: session?.sendKid ?? null,
      sas: session?.sas ?? null,
      verified: session?.verified ?? false,
      keyAgeSeconds: session?.keyAgeSeconds ?? null,
      counters: () =>
        session
          ? session.counters()
          : Promise.resolve({
              encrypted: { audio: 0, video: 0 },
              decrypted: { audio: 0, video: 0 },
              decryptFailures: 0,
              droppedNoKey: 0,
              sendDroppedNoKey: 0,
              passthrough: 0,
            }),
    });
  },
  async stats() {
    if (!peer || peer.closed) {
      return {
        framesDecoded: 0,
        framesReceived: 0,
        audioPacketsReceived: 0,
        path: null,
        relayProtocol: null,
        localType: null,
        remoteType: null,
        localAddress: null,
        remoteAddress: null,
      };
    }
    return await peer.stats();
  },
});
Object.defineProperty(window, 'sprechzimmer', { value: handle, writable: false, configurable: false, enumerable: false });

// ---------------------------------------------------------------------------
// Start

function main() {
  initI18n();
  unlockAudioOnGesture();
  onLangChange(() => {
    ui.status.textContent = statusText(machine.snapshot.text);
    renderConnection(ui.connection.dataset.state ?? 'new');
    renderNetworkControls();
    renderE2ee();
    renderQuality();
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
    dispatch({ type: 'bad-link' });
    return;
  }

  ui.cameraSelect.addEventListener('change', onDeviceSelect);
  ui.micSelect.addEventListener('change', onDeviceSelect);
  ui.join.addEventListener('click', () => join(invite));
  ui.admit.addEventListener('click', () => {
    ui.admit.disabled = ui.decline.disabled = true;
    dispatch({ type: 'admit' });
  });
  ui.decline.addEventListener('click', () => {
    ui.admit.disabled = ui.decline.disabled = true;
    dispatch({ type: 'decline' });
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
  ui.hangup.addEventListener('click', () => dispatch({ type: 'hangup' }));
  ui.leave.addEventListener('click', () => dispatch({ type: 'hangup' }));
  ui.rejoin.addEventListener('click', () => location.reload());
  ui.compat.addEventListener('click', onCompatClick);
  ui.relayOnly.addEventListener('click', onRelayOnlyClick);
  ui.audioOnly.addEventListener('click', onAudioOnlyClick);
  ui.verify.addEventListener('click', () => {
    if (machine.snapshot.role === 'therapist') e2ee?.verify();
  });
  renderNetworkControls();
  renderE2ee();
  setInterval(() => {
    if (e2ee?.state === 'active') renderE2ee();
  }, KEY_AGE_REFRESH_MS);
  // A new network (Wi-Fi to mobile, a VPN, back online): the old candidate
  // pair is likely gone; restart ICE rather than wait for it to time out.
  const connection = /** @type {{connection?: EventTarget}} */ (/** @type {unknown} */ (navigator)).connection;
  connection?.addEventListener?.('change', onNetworkChange);
  window.addEventListener('online', onNetworkChange);

  startDeviceCheck().catch((err) => {
    debug(`device check failed: ${err}`);
    ui.join.disabled = false;
  });
}

main();
