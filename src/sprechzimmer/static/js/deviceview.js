// The call page's view of our own camera, microphone and speaker: the
// device check (choices, level, problems and how to fix them), the toggles'
// labels and our own state on our own picture. localmedia.js decides and
// hands it what to show.

import { t } from './i18n.js';
import { ui } from './callview.js';

/** @typedef {import('./i18n.js').MessageKey} MessageKey */

/** @param {(choice: {videoId?: string, audioId?: string}, kind: 'audio' | 'video') => void} fn the person picked a camera or microphone */
export function onDeviceChoice(fn) {
  const chosen = (/** @type {'audio' | 'video'} */ kind) => () =>
    fn({ videoId: ui.cameraSelect.value || undefined, audioId: ui.micSelect.value || undefined }, kind);
  ui.cameraSelect.addEventListener('change', chosen('video'));
  ui.micSelect.addEventListener('change', chosen('audio'));
}

/** @param {number} level of the microphone, 0..1 */
export function showMicLevel(level) {
  ui.micLevel.value = level;
}

/**
 * @param {MediaStream | null} stream
 * @param {{audio: boolean, video: boolean}} [lost] a device that stopped mid-call and could not be had again: shown as off, and a press tries again
 */
export function renderToggles(stream, lost = { audio: false, video: false }) {
  const audio = stream?.getAudioTracks()[0];
  const video = stream?.getVideoTracks()[0];
  const hasAudio = !!audio || lost.audio;
  const hasVideo = !!video || lost.video;
  const muted = lost.audio || (!!audio && !audio.enabled);
  const cameraOff = lost.video || (!!video && !video.enabled);
  // The label says what a press does ("Ton einschalten" while muted), so the
  // buttons carry no aria-pressed: both at once would be read as a riddle.
  for (const [button, label, track, off, offKey, onKey] of /** @type {const} */ ([
    [ui.mute, ui.muteLabel, hasAudio, muted, 'call.unmute', 'call.mute'],
    [ui.camera, ui.cameraLabel, hasVideo, cameraOff, 'call.cameraOn', 'call.cameraOff'],
    [ui.waitingMute, ui.waitingMute, hasAudio, muted, 'call.unmute', 'call.mute'],
    [ui.waitingCamera, ui.waitingCamera, hasVideo, cameraOff, 'call.cameraOn', 'call.cameraOff'],
  ])) {
    button.disabled = !track;
    button.dataset.off = String(off);
    // No device: the button says so instead of being silently disabled.
    label.textContent = t(!track ? (button === ui.mute || button === ui.waitingMute ? 'remote.micNone' : 'remote.cameraNone') : off ? offKey : onKey);
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
  // Without permission a browser lists each kind once, with no id and no
  // label: nothing to choose from, so the choice is not offered.
  if (devices.length === 0 || devices.every((d) => d.deviceId === '')) {
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
