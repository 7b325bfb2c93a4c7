// The call page's view: finds the page's elements once (`ui`) and writes into
// them what it is given: the call logic's snapshot (status line, views, end
// screen), the other person's camera and microphone, the timer, notices and
// the hang-up question. connectionview.js draws the connection (path,
// quality, encryption), deviceview.js our own devices.
//
// It decides nothing: callstate.js decides, the controllers (call.js,
// connection.js, qualityloop.js, localmedia.js) carry it out and hand the
// view what to show. It keeps no state but what the DOM holds.

import { t, serverMessage } from './i18n.js';

/** @typedef {import('./i18n.js').MessageKey} MessageKey */
/** @typedef {import('./callstate.js').CallSnapshot} CallSnapshot */
/** @typedef {import('./callstate.js').CallStatus} CallStatus */
/** @typedef {import('./callstate.js').StatusText} StatusText */
/** @typedef {import('./callstate.js').View} View */
/** @typedef {import('./callstate.js').Ending} Ending */
/** @typedef {import('./protocol.js').Role} Role */

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
  knockConsent: $('#knock-consent', HTMLElement),
  peerName: $('[data-testid="peer-name"]', HTMLElement),
  roomCheck: $('[data-testid="room-check"]', HTMLElement),
  roomCheckDone: $('[data-testid="room-check-done"]', HTMLButtonElement),
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
    call: $('#speaker-row-call', HTMLElement),
  },
  deviceChoice: $('#device-choice', HTMLElement),
  choiceSlots: {
    device: $('#choice-slot-device', HTMLElement),
    call: $('#choice-slot-call', HTMLElement),
  },
  startSound: $('[data-testid="start-sound"]', HTMLButtonElement),
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
  left: { title: 'call.leftTitle', text: () => 'call.leftText', next: 'call.knockAgain' },
  closed: { title: 'call.endTitle', text: (r) => (r === 'therapist' ? null : 'call.closedClient'), next: null },
  'peer-hung-up': { title: 'call.endTitle', text: () => 'call.endByTherapist', next: 'call.rejoin' },
  declined: { title: 'call.declinedTitle', text: () => 'call.declinedText', next: 'call.knockAgain' },
  // The server's sentence (on the status line) already names the client's next step.
  link: { title: 'call.linkTitle', text: (r) => (r === 'therapist' ? 'call.errorLinkTherapist' : null), next: null },
  'bad-link': { title: 'call.linkTitle', text: () => null, next: null },
  // The server's sentence says: go on in the other window.
  elsewhere: { title: 'call.elsewhereTitle', text: () => null, next: null },
  failed: { title: 'call.errorTitle', text: () => 'call.errorRetry', next: 'call.retry' },
};

/** The role the page had, for the end screen (the machine keeps it too, but a link error may come before the welcome). @type {Role | null} */
let endRole = null;

/** The role the link check found, before any welcome. @param {Role} role */
export function knownRole(role) {
  endRole = role;
}

/** @param {CallSnapshot} s @param {boolean} [focus] move the focus to the end screen (not on a language change) */
function renderEnd(s, focus = true) {
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
  if (focus) (end.next ? ui.rejoin : ui.endTitle).focus();
}

/** Re-render the end screen in a new language. @param {CallSnapshot} s */
export function renderEndText(s) {
  renderEnd(s, false);
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
  // The speaker goes with the device check, the waiting room and the call's
  // device panel; camera and microphone with the check and that panel.
  const row = view === 'device' || view === 'waiting-room' || view === 'call' ? ui.speakerRows[view] : null;
  if (row && ui.speaker.parentElement !== row) row.append(ui.speaker);
  const choice = view === 'device' || view === 'call' ? ui.choiceSlots[view] : null;
  if (choice && ui.deviceChoice.parentElement !== choice) choice.append(ui.deviceChoice);
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
    delete ui.notice.dataset.notice;
    return;
  }
  ui.notice.dataset.notice = key;
  ui.noticeText.textContent = t(key);
}

/**
 * @param {'therapist' | 'client' | null} role
 * @param {boolean} open the hang-up question is asked
 * @param {boolean} [focus] it was just asked: the focus goes to its answer (not on a language change)
 */
export function renderHangupQuestion(role, open, focus = false) {
  ui.hangupConfirmBox.hidden = !open;
  ui.hangup.setAttribute('aria-expanded', String(open));
  ui.hangupQuestion.textContent = t(role === 'therapist' ? 'call.hangupQuestionTherapist' : 'call.hangupQuestionClient');
  if (open && focus) ui.hangupConfirm.focus();
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

/**
 * To the therapist: the name the client gave, over the stage from its knock
 * to its leaving (null: none to show), and whether it confirmed consent.
 * Never in the tab's title or a notification: the screen may be shared.
 * @param {string | null} name
 * @param {boolean} consent
 */
export function renderPeerName(name, consent) {
  ui.peerName.hidden = name === null;
  if (ui.peerName.textContent !== (name ?? '')) ui.peerName.textContent = name ?? '';
  ui.knockConsent.hidden = !consent;
}

/**
 * The room check over the stage; only the therapist has the tick.
 * @param {CallSnapshot} s
 */
export function renderRoomCheck(s) {
  ui.roomCheck.hidden = !(s.roomCheck && s.view === 'call');
  ui.roomCheckDone.hidden = s.role !== 'therapist';
}

/** @param {string | null} clientId the therapist's label of the client */
export function renderClientLabel(clientId) {
  if (!clientId) return;
  ui.clientLabel.textContent = t('call.clientLabel', { clientId });
  ui.clientLabel.hidden = false;
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
    ui.remoteVideo.muted = false;
    ui.startSound.hidden = true;
    return;
  }
  if (ui.remoteVideo.srcObject !== stream) ui.remoteVideo.srcObject = stream;
  playRemote();
}

/**
 * Play the other person's video. A browser that wants a click before sound
 * (autoplay rules: Chromium and Firefox before any gesture, WebKit when we
 * capture nothing) rejects play() with NotAllowedError: then the picture
 * plays muted, which every engine allows, and one button starts the sound.
 */
function playRemote() {
  const video = ui.remoteVideo;
  video.play().catch((/** @type {unknown} */ err) => {
    if (!(err instanceof DOMException) || err.name !== 'NotAllowedError' || video.muted) return;
    video.muted = true;
    ui.startSound.hidden = false;
    video.play().catch(() => {});
  });
}

/** The person pressed the start-sound button: a gesture, so the sound may play now. */
export function startRemoteSound() {
  const video = ui.remoteVideo;
  video.muted = false;
  video.play().then(
    () => {
      ui.startSound.hidden = true;
    },
    () => {
      // Still refused: keep the picture and the button.
      video.muted = true;
      video.play().catch(() => {});
    },
  );
}

/**
 * Back from the background: a browser may have paused our media elements
 * there (iOS does); play them again. A remote video that now wants a click
 * gets the start-sound button.
 */
export function resumeMediaElements() {
  if (ui.localVideo.srcObject && ui.localVideo.paused && !ui.localVideo.hidden) ui.localVideo.play().catch(() => {});
  if (ui.remoteVideo.srcObject && ui.remoteVideo.paused) playRemote();
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
