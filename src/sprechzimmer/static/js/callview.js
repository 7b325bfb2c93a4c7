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
/** @typedef {import('./callstate.js').Ending} Ending */
/** @typedef {import('./protocol.js').Role} Role */
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
  endTitle: $('#end-title', HTMLElement),
  endText: $('#end-text', HTMLElement),
  rejoin: $('#rejoin', HTMLButtonElement),
  endDashboard: $('#end-dashboard', HTMLAnchorElement),
  clientLabel: $('#client-label', HTMLElement),
  practiceName: $('#practice-name', HTMLElement),
  timer: $('[data-testid="call-timer"]', HTMLElement),
  muteLabel: $('#mute-label', HTMLElement),
  cameraLabel: $('#camera-label', HTMLElement),
  waitingMute: $('#waiting-mute', HTMLButtonElement),
  waitingCamera: $('#waiting-camera', HTMLButtonElement),
  hangupConfirmBox: $('#hangup-confirm', HTMLElement),
  hangupQuestion: $('#hangup-question', HTMLElement),
  hangupConfirm: $('[data-testid="hangup-confirm"]', HTMLButtonElement),
  hangupCancel: $('#hangup-cancel', HTMLButtonElement),
  remoteState: $('[data-testid="remote-state"]', HTMLElement),
  selfState: $('#self-state', HTMLElement),
  knockDevices: $('#knock-devices', HTMLElement),
  previewEmpty: $('#preview-empty', HTMLElement),
  notice: $('#call-notice', HTMLElement),
  noticeText: $('#call-notice-text', HTMLElement),
  noticeClose: $('#call-notice-close', HTMLButtonElement),
  details: $('[data-testid="details"]', HTMLDetailsElement),
  keyAge: $('#e2ee-key-age', HTMLElement),
  compatBox: $('#compat-box', HTMLElement),
  deviceMessageText: $('#device-message-text', HTMLElement),
  deviceSteps: $('#device-steps', HTMLElement),
  deviceRetry: $('#device-retry', HTMLButtonElement),
  speaker: $('#speaker', HTMLElement),
  speakerSelect: $('#speaker-select', HTMLSelectElement),
  speakerTest: $('#speaker-test', HTMLButtonElement),
  speakerRows: {
    device: $('#speaker-row-device', HTMLElement),
    'waiting-room': $('#speaker-row-waiting', HTMLElement),
  },
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
  ui.relayOnlyBox.hidden = s.role !== 'therapist' || ui.relayOnlyBox.dataset.available !== 'true';
  if (s.seq === shownSeq) return;
  const before = ui.status.dataset.status;
  shownSeq = s.seq;
  ui.status.dataset.status = s.status;
  ui.status.textContent = statusText(s.text);
  show(s.view, s.status);
  renderEnd(s);
  if (s.status === 'knocking') ui.admit.focus();
  // The knock answered (or gone): the focus was on a button that is now
  // hidden; give it to the controls instead of dropping it to the page.
  else if (before === 'knocking' && s.view === 'call') ui.mute.focus();
  if (s.finished) ui.hangupConfirmBox.hidden = true;
}

/** Texts of the end screen, by why it ended and who we are. @type {Record<Ending, {title: MessageKey, text: (role: Role | null) => MessageKey | null, next: MessageKey | null}>} */
const ENDINGS = {
  'hung-up': { title: 'call.endTitle', text: (r) => (r === 'therapist' ? 'call.endTherapist' : 'call.endClient'), next: 'call.rejoin' },
  'peer-hung-up': { title: 'call.endTitle', text: () => 'call.endClient', next: 'call.rejoin' },
  declined: { title: 'call.declinedTitle', text: () => 'call.declinedText', next: 'call.knockAgain' },
  // The server's sentence (on the status line) already names the client's next step.
  link: { title: 'call.linkTitle', text: (r) => (r === 'therapist' ? 'call.errorLinkTherapist' : null), next: null },
  'bad-link': { title: 'call.linkTitle', text: () => null, next: null },
  replaced: { title: 'call.endTitle', text: () => null, next: null },
  failed: { title: 'call.errorTitle', text: () => 'call.errorRetry', next: 'call.retry' },
};

/** The role the page had, for the end screen (the machine keeps it too, but a link error may come before the welcome). @type {Role | null} */
let endRole = null;

/** @param {CallSnapshot} s */
function renderEnd(s) {
  if (s.role) endRole = s.role;
  if (!s.ending) return;
  const end = ENDINGS[s.ending];
  ui.endTitle.textContent = t(end.title);
  const text = end.text(endRole);
  ui.endText.textContent = text ? t(text) : '';
  ui.endText.hidden = text === null;
  ui.rejoin.hidden = end.next === null;
  if (end.next) ui.rejoin.textContent = t(end.next);
  ui.endDashboard.hidden = endRole !== 'therapist';
  (end.next ? ui.rejoin : ui.endTitle).focus?.();
}

/** Re-render the end screen in a new language. @param {CallSnapshot} s */
export function renderEndText(s) {
  renderEnd(s);
}

/** @param {StatusText} text in the language of the moment */
export function statusText(text) {
  return 'key' in text ? t(text.key, text.params) : serverMessage(text.error, text.fallback);
}

/** @param {View} view @param {CallStatus} status */
function show(view, status) {
  document.body.dataset.view = view;
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
  // The speaker test goes with the device check and the waiting room.
  const row = view === 'device' || view === 'waiting-room' ? ui.speakerRows[view] : null;
  if (row && ui.speaker.parentElement !== row) row.append(ui.speaker);
}

/** @param {string} name the practice's name as the operator set it ('' for none) */
export function renderPracticeName(name) {
  ui.practiceName.textContent = name;
  ui.practiceName.hidden = name === '';
}

/** @param {number | null} seconds since the call started (null: no call) */
export function renderTimer(seconds) {
  ui.timer.hidden = seconds === null;
  if (seconds === null) return;
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const sec = String(seconds % 60).padStart(2, '0');
  const time = h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
  ui.timer.textContent = time;
  ui.timer.setAttribute('aria-label', t('call.timer', { time }));
}

/**
 * A notice over the stage that stays until it is closed (something the
 * person should know but that changes nothing in the call).
 * @param {MessageKey | null} key
 */
export function showNotice(key) {
  ui.notice.hidden = key === null;
  if (key === null) {
    delete ui.notice.dataset.i18n;
    return;
  }
  ui.notice.dataset.notice = key;
  ui.noticeText.textContent = t(key);
}

/** @param {'therapist' | 'client' | null} role @param {boolean} open the hang-up question is asked */
export function renderHangupQuestion(role, open) {
  ui.hangupConfirmBox.hidden = !open;
  ui.hangup.setAttribute('aria-expanded', String(open));
  ui.hangupQuestion.textContent = t(role === 'therapist' ? 'call.hangupQuestionTherapist' : 'call.hangupQuestionClient');
  if (open) ui.hangupConfirm.focus();
}

/**
 * The other person's camera and microphone, in words on their video.
 * @typedef {object} RemoteShown
 * @property {'on' | 'off' | 'none' | null} camera null: not known (yet)
 * @property {'on' | 'off' | 'none' | null} microphone
 * @property {boolean} audioOnly they chose audio only
 * @property {boolean} present they are in the call
 * @property {boolean} reconnecting our connection to them is being restored
 */

/** @param {RemoteShown} r */
export function renderRemoteState(r) {
  /** @type {MessageKey[]} */
  const parts = [];
  let central = false;
  if (r.present) {
    if (r.reconnecting) {
      parts.push('remote.reconnecting');
      central = true;
    } else if (r.camera === 'none' && r.microphone === 'none') {
      parts.push('remote.noDevices');
      central = true;
    } else {
      if (r.audioOnly) parts.push('remote.audioOnly');
      else if (r.camera === 'off') parts.push('remote.cameraOff');
      else if (r.camera === 'none') parts.push('remote.cameraNone');
      if (r.microphone === 'off') parts.push('remote.micOff');
      else if (r.microphone === 'none') parts.push('remote.micNone');
      central = r.audioOnly || r.camera === 'off' || r.camera === 'none';
    }
  }
  ui.remoteState.dataset.camera = r.present ? (r.camera ?? '') : '';
  ui.remoteState.dataset.microphone = r.present ? (r.microphone ?? '') : '';
  ui.remoteState.dataset.audioOnly = String(r.present && r.audioOnly);
  ui.remoteState.classList.toggle('is-central', central);
  const text = parts.map((k) => t(k)).join(' · ');
  // Written only when it changes: a live region that is rewritten is read again.
  if (ui.remoteState.textContent !== text) ui.remoteState.textContent = text;
  ui.remoteState.hidden = parts.length === 0;

  // A knocking client's devices, told before the therapist lets them in.
  /** @type {MessageKey | null} */
  let knock = null;
  if (r.camera === 'none' && r.microphone === 'none') knock = 'remote.noDevicesKnock';
  else if (r.camera === 'none') knock = 'remote.cameraNone';
  else if (r.microphone === 'none') knock = 'remote.micNone';
  ui.knockDevices.hidden = knock === null;
  ui.knockDevices.dataset.camera = r.camera ?? '';
  ui.knockDevices.dataset.microphone = r.microphone ?? '';
  ui.knockDevices.textContent = knock ? t(knock) : '';
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
 * @property {boolean} peer a peer connection is open (someone to encrypt for)
 */

/** @param {E2eeShown} e */
export function renderE2ee(e) {
  ui.e2eeState.dataset.state = e.state;
  /** @type {string[]} */
  let parts;
  switch (e.state) {
    case 'active':
      parts = [t('e2ee.active')];
      if (e.verified) parts.push(t('e2ee.verified'));
      break;
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
  // Nobody to encrypt for yet: no "being set up" while the therapist waits.
  ui.e2eeState.hidden = !e.peer;
  // Written only when it changes (it is read out by screen readers once).
  const text = parts.join(' · ');
  if (ui.e2eeState.textContent !== text) ui.e2eeState.textContent = text;
  // The key's age is for the curious: in the details, not in the call.
  const age = e.state === 'active' && e.keyAgeSeconds !== null ? Math.floor(e.keyAgeSeconds / 60) : null;
  ui.keyAge.hidden = age === null;
  ui.keyAge.textContent = age === null ? '' : age < 1 ? t('e2ee.keyAgeNew') : t('e2ee.keyAge', { minutes: age });
  const sas = e.state === 'active' ? e.sas : null;
  ui.sasBox.hidden = sas === null;
  ui.sas.textContent = sas ?? '';
  // One procedure: the client reads the code out, the therapist compares and
  // confirms, and the client's page says that it was confirmed.
  const therapist = e.role === 'therapist';
  ui.sasHelp.textContent = t(
    e.verified ? (therapist ? 'e2ee.sasConfirmedTherapist' : 'e2ee.sasConfirmedClient') : therapist ? 'e2ee.sasHelpTherapist' : 'e2ee.sasHelpClient',
  );
  ui.verify.hidden = !therapist || e.verified;
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
  // A service without the relay: the switches that need it are not shown at
  // all, rather than shown disabled with an explanation nobody needs.
  ui.compatBox.hidden = n.iceKnown && !n.compatOk && !n.compatOn;
  ui.relayOnlyBox.dataset.available = String(n.turn || n.relayOnly);
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
  const muted = !!audio && !audio.enabled;
  const cameraOff = !!video && !video.enabled;
  // The label says what a press does ("Ton einschalten" while muted), so the
  // buttons carry no aria-pressed: both at once would be read as a riddle.
  for (const [button, label, track, off, offKey, onKey] of /** @type {const} */ ([
    [ui.mute, ui.muteLabel, audio, muted, 'call.unmute', 'call.mute'],
    [ui.camera, ui.cameraLabel, video, cameraOff, 'call.cameraOn', 'call.cameraOff'],
    [ui.waitingMute, ui.waitingMute, audio, muted, 'call.unmute', 'call.mute'],
    [ui.waitingCamera, ui.waitingCamera, video, cameraOff, 'call.cameraOn', 'call.cameraOff'],
  ])) {
    button.disabled = !track;
    button.dataset.off = String(off);
    label.textContent = t(off ? offKey : onKey);
  }
  delete ui.waitingMute.dataset.i18n;
  delete ui.waitingCamera.dataset.i18n;
  // Our own state, on our own picture: easy to forget that one is muted.
  /** @type {MessageKey[]} */
  const self = [];
  if (cameraOff) self.push('remote.cameraOff');
  if (muted) self.push('self.muted');
  ui.selfState.textContent = self.map((k) => t(k)).join(' · ');
  ui.selfState.hidden = self.length === 0;
  // The device check without a picture says so instead of a black box.
  ui.previewEmpty.hidden = !!video && video.readyState !== 'ended';
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

/** Problems the person can fix and then try again (a denied permission, a busy device). */
const RETRYABLE = new Set(['denied', 'busy']);

/** @param {string | null} problem from acquireMedia (devices.js) */
export function renderDeviceProblem(problem) {
  if (problem) {
    ui.deviceMessage.dataset.problem = problem;
    ui.deviceMessageText.textContent = t(DEVICE_PROBLEMS[problem]);
    ui.deviceSteps.hidden = problem !== 'denied';
    ui.deviceSteps.textContent = problem === 'denied' ? t('call.devicesDeniedSteps') : '';
    ui.deviceRetry.hidden = !RETRYABLE.has(problem);
    ui.deviceMessage.hidden = false;
  } else {
    delete ui.deviceMessage.dataset.problem;
    ui.deviceMessage.hidden = true;
  }
}

/** @param {() => void} fn the person asks to try the devices again */
export function onDeviceRetry(fn) {
  ui.deviceRetry.addEventListener('click', fn);
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
 * The speaker choice, where the browser can route sound (setSinkId); the
 * test button works everywhere.
 * @param {MediaDeviceInfo[]} speakers
 * @param {boolean} canChoose
 * @param {string} currentId
 */
export function renderSpeakers(speakers, canChoose, currentId) {
  const show = canChoose && speakers.length > 1;
  ui.speakerSelect.hidden = !show;
  ui.speakerSelect.labels.forEach((l) => (l.hidden = !show));
  if (!show) return;
  ui.speakerSelect.replaceChildren(new Option(t('call.speakerDefault'), ''));
  speakers
    .filter((d) => d.deviceId !== 'default' && d.deviceId !== '')
    .forEach((d, i) => ui.speakerSelect.append(new Option(d.label || `${t('call.speaker')} ${i + 1}`, d.deviceId)));
  ui.speakerSelect.value = currentId;
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
    // Nothing to choose: disabled, and it looks it (see app.css).
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
