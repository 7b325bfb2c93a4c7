// Screen sharing on the call page: its button, the words over the video, and
// the shared track on the running connection.
//
// The shared screen or window goes in our camera's place on the video sender
// (replaceTrack): the same transceiver, so the same frame encryption
// transform encrypts every shared frame as it does the camera's (no clear
// frame leaves, no renegotiation, no new keys). The track says
// `contentHint = 'detail'`, which the browser and our send ladder
// (sendladder.js forContent) read as "keep the resolution, drop frames".
//
// Only where the browser can share (getDisplayMedia: desktop browsers; not
// phones): elsewhere the button is absent, not broken. Never records
// anything; the other page learns only that a screen is shown
// (`media-state.screen`, docs/protocol.md).

import { t } from './i18n.js';

/** Frames a second asked of the capture: a screen is read, not watched. */
const CAPTURE_FPS = 15;

/** @param {string} testid @returns {HTMLElement} */
function byTestId(testid) {
  const el = document.querySelector(`[data-testid="${testid}"]`);
  if (!(el instanceof HTMLElement)) throw new Error(`missing element ${testid}`);
  return el;
}

/** @param {unknown} err */
function errorName(err) {
  return err && typeof err === 'object' && 'name' in err ? String(err.name) : String(err);
}

/**
 * The video sender of a connection: the transceiver that sends video (its
 * receiver's kind says the kind even while the sender carries no track).
 * @param {RTCPeerConnection} pc
 * @returns {RTCRtpSender | null}
 */
function videoSender(pc) {
  const t = pc
    .getTransceivers()
    .find((x) => x.receiver.track.kind === 'video' && (x.direction === 'sendrecv' || x.direction === 'sendonly'));
  return t?.sender ?? null;
}

/**
 * @typedef {object} ScreenShareOptions
 * @property {() => RTCPeerConnection | null} pc the running connection
 * @property {() => MediaStreamTrack | null} camera our camera's track (put back when sharing ends)
 * @property {() => boolean} inCall whether there is a call to share into
 * @property {() => void} report tell the other page (our `media-state` with `screen`)
 * @property {(key: 'screen.failed') => void} onProblem tell the person
 * @property {(text: string) => void} log
 */

export class ScreenShare {
  /** The shared screen's track while sharing, else null. @type {MediaStreamTrack | null} */
  #track = null;
  /** A picker is open: a second click must not open another. */
  #asking = false;
  /** The other side shares its screen (their `media-state.screen`). */
  #peerShares = false;
  #o;
  #button = /** @type {HTMLButtonElement} */ (byTestId('screen-share'));
  #label = /** @type {HTMLElement} */ (this.#button.querySelector('.control-label'));
  #state = byTestId('screen-state');
  #stage = /** @type {HTMLElement} */ (this.#state.closest('.stage'));

  /** @param {ScreenShareOptions} options */
  constructor(options) {
    this.#o = options;
    // Feature detection, never the user agent: phones have no getDisplayMedia.
    this.#button.hidden = !ScreenShare.supported();
    this.#button.addEventListener('click', () => {
      if (this.#track) this.stop();
      else this.start().catch((err) => this.#o.log(`screen: ${err}`));
    });
  }

  static supported() {
    return typeof navigator !== 'undefined' && typeof navigator.mediaDevices?.getDisplayMedia === 'function';
  }

  /** Whether we share now: said in our `media-state`. */
  get sharing() {
    return this.#track !== null;
  }

  async start() {
    if (this.#track || this.#asking || !this.#o.inCall()) return;
    this.#asking = true;
    /** @type {MediaStream} */
    let stream;
    try {
      // Video only: the sound of a shared tab would go out unasked.
      stream = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { max: CAPTURE_FPS } }, audio: false });
    } catch (err) {
      // The person closed the picker: nothing to say. Anything else: say so.
      const name = errorName(err);
      this.#o.log(`screen: not shared: ${name}`);
      if (name !== 'NotAllowedError' && name !== 'AbortError') this.#o.onProblem('screen.failed');
      return;
    } finally {
      this.#asking = false;
    }
    const track = stream.getVideoTracks()[0];
    if (!track || !this.#o.inCall()) {
      // The call ended while the picker was open.
      for (const t of stream.getTracks()) t.stop();
      return;
    }
    track.contentHint = 'detail';
    // "Stop sharing" in the browser's own bar ends the track: we end the share.
    track.addEventListener('ended', () => {
      if (this.#track === track) this.stop();
    });
    this.#track = track;
    this.apply();
    this.#o.report();
    this.render();
  }

  /**
   * End the share: the camera goes back on the sender (`camera: false`: none,
   * for the privacy pause, which holds the camera itself).
   * @param {{camera?: boolean}} [options]
   */
  stop({ camera = true } = {}) {
    const track = this.#track;
    if (!track) return;
    this.#track = null;
    track.stop();
    const pc = this.#o.pc();
    const sender = pc ? videoSender(pc) : null;
    if (sender && sender.track === track) {
      sender.replaceTrack(camera ? this.#o.camera() : null).catch((err) => this.#o.log(`screen: camera not back: ${errorName(err)}`));
    }
    this.#o.report();
    this.render();
  }

  /**
   * Put the shared track on the running connection's video sender, if it is
   * not there: called on every change of the call, so that a new connection
   * (a reconnect, relay-only) shares the screen too.
   */
  apply() {
    const track = this.#track;
    const pc = this.#o.pc();
    if (!track || !pc) return;
    const sender = videoSender(pc);
    if (!sender || sender.track === track) return;
    sender.replaceTrack(track).catch((err) => this.#o.log(`screen: replaceTrack failed: ${errorName(err)}`));
  }

  /** @param {boolean} shares the other side's `media-state.screen` */
  peerSaid(shares) {
    this.#peerShares = shares;
    this.render();
  }

  /** Draw the button and the words over the video (also after a change of language). */
  render() {
    if (!this.#o.inCall() && this.#track) this.stop({ camera: false });
    this.apply();
    const own = this.#track !== null;
    this.#button.setAttribute('aria-pressed', String(own));
    this.#button.dataset.off = String(own);
    this.#button.disabled = !own && !this.#o.inCall();
    this.#label.textContent = t(own ? 'screen.stop' : 'screen.share');
    const peer = this.#peerShares && this.#o.inCall();
    this.#state.hidden = !own && !peer;
    this.#state.dataset.sharing = own ? 'self' : peer ? 'peer' : '';
    this.#state.textContent = own ? t('screen.own') : peer ? t('screen.peer') : '';
    this.#stage.dataset.screen = String(peer);
  }
}
