// Our camera and microphone on the call page: the device check (choose the
// devices, watch the level) and the stream the peer connection sends.
//
// The devices themselves are devices.js; this is the controller around them,
// and callview.js draws. Never records anything.

import { acquireMedia, listDevices, stopStream, watchLevel } from './devices.js';
import { audioContext, playChime } from './sound.js';
import { enableJoin, showLocalStream, ui } from './callview.js';
import { onDeviceChoice, onDeviceRetry, renderDeviceProblem, renderDeviceSelects, renderSpeakers, renderToggles, showMicLevel } from './deviceview.js';

/**
 * Where the browser can route sound to a chosen speaker (Chromium, Firefox
 * 116+; not WebKit): feature detection, never the user agent.
 */
const CAN_CHOOSE_SPEAKER = typeof HTMLMediaElement !== 'undefined' && 'setSinkId' in HTMLMediaElement.prototype;

/**
 * @typedef {object} LocalMediaOptions
 * @property {(problem: string) => void} onProblem the devices could not be had as asked
 */

export class LocalMedia {
  /** @type {MediaStream | null} */
  #stream = null;
  /** @type {(() => void) | null} */
  #stopLevel = null;
  #onProblem;
  /** The last choice of devices, for "try again". @type {{videoId?: string, audioId?: string}} */
  #choice = {};
  #speakerId = '';

  /** @param {LocalMediaOptions} options */
  constructor(options) {
    this.#onProblem = options.onProblem;
  }

  /** The stream to send (null: no devices). */
  get stream() {
    return this.#stream;
  }

  /**
   * The device check: the default devices, then whatever the person picks.
   * @param {() => boolean} checking the page is still at the device check
   * @returns {Promise<string | null>} what went wrong with the default devices (null: nothing)
   */
  async start(checking) {
    onDeviceChoice((choice) => {
      enableJoin(false);
      this.#use(choice).finally(() => enableJoin(true));
    });
    // A denied permission or a busy device the person has since fixed.
    onDeviceRetry(() => {
      enableJoin(false);
      this.#use(this.#choice).finally(() => enableJoin(true, true));
    });
    ui.speakerSelect.addEventListener('change', () => this.#chooseSpeaker(ui.speakerSelect.value));
    ui.speakerTest.addEventListener('click', () => playChime());
    enableJoin(false);
    const problem = await this.#use({});
    enableJoin(true, true);
    navigator.mediaDevices?.addEventListener?.('devicechange', () => {
      if (checking()) this.fillSelects().catch(() => {});
    });
    return problem;
  }

  /** @param {{videoId?: string, audioId?: string}} choice @returns {Promise<string | null>} */
  async #use(choice) {
    this.stopLevel();
    stopStream(this.#stream);
    this.#choice = choice;
    const { stream, problem } = await acquireMedia(choice);
    if (problem) this.#onProblem(problem);
    this.#stream = stream;
    showLocalStream(stream);
    renderDeviceProblem(problem);
    const ctx = audioContext();
    if (ctx && stream) {
      ctx.resume().catch(() => {});
      this.#stopLevel = watchLevel(ctx, stream, showMicLevel);
    }
    renderToggles(stream);
    await this.fillSelects();
    return problem;
  }

  async fillSelects() {
    const devices = await listDevices();
    renderDeviceSelects(devices, this.#stream);
    renderSpeakers(devices.speakers, CAN_CHOOSE_SPEAKER, this.#speakerId);
  }

  /** @param {string} id the chosen speaker ('' for the system's default) */
  async #chooseSpeaker(id) {
    this.#speakerId = id;
    // The other person's voice and our chime (the speaker test) go there.
    const video = /** @type {HTMLVideoElement & {setSinkId?: (id: string) => Promise<void>}} */ (ui.remoteVideo);
    const ctx = /** @type {(AudioContext & {setSinkId?: (id: string) => Promise<void>}) | null} */ (audioContext());
    await Promise.allSettled([video.setSinkId?.(id), ctx?.setSinkId?.(id)]);
  }

  /** Draw the toggles again (a new language). */
  renderToggles() {
    renderToggles(this.#stream);
  }

  /** The level meter is for the device check only. */
  stopLevel() {
    this.#stopLevel?.();
    this.#stopLevel = null;
  }

  /** @param {'audio' | 'video'} kind mute the microphone, or turn the camera off (and on again) */
  toggle(kind) {
    const track = kind === 'audio' ? this.#stream?.getAudioTracks()[0] : this.#stream?.getVideoTracks()[0];
    if (track) track.enabled = !track.enabled;
    renderToggles(this.#stream);
  }

  /** Release camera and microphone. */
  release() {
    this.stopLevel();
    stopStream(this.#stream);
    showLocalStream(null);
  }
}
