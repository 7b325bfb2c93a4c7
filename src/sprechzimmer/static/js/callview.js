// The call page's view: finds the page's elements once and writes into them
// what it is given (a snapshot of the call logic, the connection's path, the
// quality grades, the frame-encryption state, the devices).
//
// It decides nothing: callstate.js decides, the controllers (call.js,
// connection.js, qualityloop.js, localmedia.js) carry it out and hand the
// view what to show. It keeps no state but what the DOM holds.

import { t, serverMessage } from './i18n.js';
import { pathLabelKey } from './stats.js';

/** @typedef {import('./i18n.js').MessageKey} MessageKey */
/** @typedef {import('./callstate.js').CallSnapshot} CallSnapshot */
/** @typedef {import('./callstate.js').CallStatus} CallStatus */
/** @typedef {import('./callstate.js').StatusText} StatusText */
/** @typedef {import('./callstate.js').View} View */
/** @typedef {import('./keyagreement.js').E2eeState} E2eeState */
/** @typedef {import('./sendladder.js').Grade} Grade */
/** @typedef {{path: import('./stats.js').MediaPath | null, relayProtocol: string | null}} PathShown */

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

export const ui = {
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
// The status line and the views

/** The `seq` of the snapshot whose status is on screen. */
let shownSeq = -1;

/**
 * The call logic's snapshot. What goes with a status (the view, the knock
 * buttons, the focus) is applied when a status is set, not on every render:
 * a clicked admit button stays disabled until the next status.
 * @param {CallSnapshot} s
 */
export function renderStatus(s) {
  ui.relayOnlyBox.hidden = s.role !== 'therapist';
  if (s.seq === shownSeq) return;
  shownSeq = s.seq;
  ui.status.dataset.status = s.status;
  ui.status.textContent = statusText(s.text);
  show(s.view, s.status);
  if (s.rejoin) ui.rejoin.hidden = false;
  if (s.status === 'knocking') ui.admit.focus();
}

/** @param {StatusText} text in the language of the moment */
export function statusText(text) {
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

/** @param {string | null} clientId the therapist's label of the client */
export function renderClientLabel(clientId) {
  if (!clientId) return;
  ui.clientLabel.textContent = t('call.clientLabel', { clientId });
  ui.clientLabel.hidden = false;
}

// ---------------------------------------------------------------------------
// The connection, its quality, its encryption

/** @param {RTCPeerConnectionState | string} state @param {PathShown} path */
export function renderConnection(state, path) {
  ui.connection.dataset.state = state;
  ui.connection.dataset.path = path.path ?? '';
  if (path.path === 'relay' && path.relayProtocol) ui.connection.dataset.relayProtocol = path.relayProtocol;
  else delete ui.connection.dataset.relayProtocol;
  ui.connection.textContent =
    state === 'connected' && path.path
      ? t(pathLabelKey(path.path, path.relayProtocol))
      : t(/** @type {MessageKey} */ (`conn.${state}`));
}

/**
 * @typedef {object} QualityShown
 * @property {Grade | null} send
 * @property {Grade | null} receive
 * @property {'weak' | 'manual' | null} ownPaused our video to the other side is paused, and why
 * @property {'weak' | 'manual' | null} remotePaused the other side's video to us is paused, and why
 * @property {boolean} audioOnly the person chose audio only
 */

/** @param {QualityShown} q */
export function renderQuality(q) {
  ui.quality.dataset.send = q.send ?? '';
  ui.quality.dataset.receive = q.receive ?? '';
  ui.qualitySendText.textContent = t(q.send ? `quality.${q.send}` : 'quality.unknown');
  ui.qualityReceiveText.textContent = t(q.receive ? `quality.${q.receive}` : 'quality.unknown');
  // Ours first: what we can change; then what the other side says.
  const own = q.ownPaused;
  const paused = own ?? q.remotePaused;
  ui.qualityNotice.hidden = paused === null;
  ui.qualityNotice.dataset.side = own ? 'send' : paused ? 'receive' : '';
  ui.qualityNotice.dataset.reason = paused ?? '';
  ui.qualityNotice.textContent = paused === null ? '' : t(paused === 'manual' ? 'quality.pausedManual' : 'quality.pausedWeak');
  ui.audioOnly.setAttribute('aria-pressed', String(q.audioOnly));
}

/**
 * @typedef {object} E2eeShown
 * @property {E2eeState} state
 * @property {number | null} keyAgeSeconds
 * @property {boolean} verified
 * @property {string | null} sas
 * @property {import('./protocol.js').Role | null} role
 */

/** @param {E2eeShown} e */
export function renderE2ee(e) {
  ui.e2eeState.dataset.state = e.state;
  /** @type {string[]} */
  let parts;
  switch (e.state) {
    case 'active': {
      parts = [t('e2ee.active')];
      if (e.keyAgeSeconds !== null) {
        const minutes = Math.floor(e.keyAgeSeconds / 60);
        parts.push(minutes < 1 ? t('e2ee.keyAgeNew') : t('e2ee.keyAge', { minutes }));
      }
      if (e.verified) parts.push(t('e2ee.verified'));
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
  const sas = e.state === 'active' ? e.sas : null;
  ui.sasBox.hidden = sas === null;
  ui.sas.textContent = sas ?? '';
  ui.sasHelp.textContent = t(e.role === 'therapist' ? 'e2ee.sasHelpTherapist' : 'e2ee.sasHelpClient');
  ui.verify.hidden = e.role !== 'therapist';
  ui.verify.disabled = sas === null || e.verified;
}

/**
 * @typedef {object} NetworkShown
 * @property {boolean} iceKnown we know what the server offers (a welcome came)
 * @property {boolean} compatOk the server offers a relay over TCP/TLS
 * @property {boolean} compatOn compatibility mode is on
 * @property {boolean} compatAuto recovery switched it on
 * @property {boolean} turn the server offers a relay at all
 * @property {boolean} relayOnly relay-only as the server last said
 * @property {boolean} relayOnlyShown relay-only as shown (the therapist's wish until the server answers)
 * @property {boolean} relaySwitching a switch waits for the server's answer
 */

/**
 * Compatibility mode and relay-only: what the server offers, not what the
 * current call got, so the controls are there before a call.
 * @param {NetworkShown} n
 */
export function renderNetworkControls(n) {
  ui.compat.disabled = !n.compatOk;
  ui.compat.setAttribute('aria-pressed', String(n.compatOn));
  /** @type {MessageKey} */
  let help = 'call.compatHelp';
  if (n.iceKnown && !n.compatOk) help = 'call.compatUnavailable';
  else if (n.compatOn) help = n.compatAuto ? 'call.compatAuto' : 'call.compatOn';
  ui.compatHelp.dataset.i18n = help;
  ui.compatHelp.textContent = t(help);
  ui.compat.title = t(n.iceKnown && !n.compatOk ? 'call.compatUnavailable' : 'call.compatHelp');

  ui.relayOnly.disabled = !n.turn;
  ui.relayOnly.setAttribute('aria-pressed', String(n.relayOnlyShown));
  ui.relayOnly.dataset.enabled = String(n.relayOnly);
  ui.relayOnly.title = t(n.turn ? 'call.relayOnlyHelp' : 'call.relayOnlyUnavailable');
  /** @type {MessageKey} */
  let state = n.relayOnlyShown ? 'call.relayOnlyOn' : 'call.relayOnlyOff';
  if (!n.turn && !n.relayOnly) state = 'call.relayOnlyUnavailable';
  else if (n.relaySwitching) state = 'call.relayOnlyPending';
  ui.relayOnlyState.dataset.i18n = state;
  ui.relayOnlyState.textContent = t(state);
}

// ---------------------------------------------------------------------------
// The media elements, the join and knock buttons

/** @param {MediaStream | null} stream ours, in the one local <video> */
export function showLocalStream(stream) {
  ui.localVideo.srcObject = stream;
}

/** @param {MediaStream | null} stream the other side's media (null: gone) */
export function showRemoteStream(stream) {
  if (stream === null) {
    ui.remoteVideo.srcObject = null;
    return;
  }
  if (ui.remoteVideo.srcObject !== stream) ui.remoteVideo.srcObject = stream;
  ui.remoteVideo.play().catch(() => {});
}

/** @param {boolean} enabled @param {boolean} [focus] */
export function enableJoin(enabled, focus = false) {
  ui.join.disabled = !enabled;
  if (focus) ui.join.focus();
}

/** A knock was answered: no second answer until the next status. */
export function disableKnockButtons() {
  ui.admit.disabled = ui.decline.disabled = true;
}

// ---------------------------------------------------------------------------
// Camera and microphone

/** @param {(choice: {videoId?: string, audioId?: string}) => void} fn the person picked a camera or microphone */
export function onDeviceChoice(fn) {
  const chosen = () => fn({ videoId: ui.cameraSelect.value || undefined, audioId: ui.micSelect.value || undefined });
  ui.cameraSelect.addEventListener('change', chosen);
  ui.micSelect.addEventListener('change', chosen);
}

/** @param {number} level of the microphone, 0..1 */
export function showMicLevel(level) {
  ui.micLevel.value = level;
}

/** @param {MediaStream | null} stream */
export function renderToggles(stream) {
  const audio = stream?.getAudioTracks()[0];
  const video = stream?.getVideoTracks()[0];
  ui.mute.disabled = !audio;
  ui.camera.disabled = !video;
  ui.mute.setAttribute('aria-pressed', String(!!audio && !audio.enabled));
  ui.camera.setAttribute('aria-pressed', String(!!video && !video.enabled));
}

/** @type {Record<string, MessageKey>} */
const DEVICE_PROBLEMS = {
  denied: 'call.devicesDenied',
  missing: 'call.devicesMissing',
  busy: 'call.devicesBusy',
  insecure: 'call.insecure',
  'audio-only': 'call.audioOnly',
  'video-only': 'call.videoOnly',
};

/** @param {string | null} problem from acquireMedia (devices.js) */
export function renderDeviceProblem(problem) {
  if (problem) {
    ui.deviceMessage.dataset.i18n = DEVICE_PROBLEMS[problem];
    ui.deviceMessage.textContent = t(DEVICE_PROBLEMS[problem]);
    ui.deviceMessage.hidden = false;
  } else {
    delete ui.deviceMessage.dataset.i18n;
    ui.deviceMessage.hidden = true;
  }
}

/**
 * @param {{cameras: MediaDeviceInfo[], microphones: MediaDeviceInfo[]}} devices
 * @param {MediaStream | null} stream the devices in use
 */
export function renderDeviceSelects(devices, stream) {
  const videoId = stream?.getVideoTracks()[0]?.getSettings().deviceId;
  const audioId = stream?.getAudioTracks()[0]?.getSettings().deviceId;
  fillSelect(ui.cameraSelect, devices.cameras, videoId, 'call.camera');
  fillSelect(ui.micSelect, devices.microphones, audioId, 'call.microphone');
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
