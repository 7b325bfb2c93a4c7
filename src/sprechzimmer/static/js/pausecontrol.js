// The privacy pause on the call page: its button, its sentence over the other
// person's video, and what it holds (our camera and microphone via
// localmedia.js; the other's picture and sound on this page). The logic is
// pause.js; this module only carries it out and draws it.
//
// Never stores anything: the pause lives in this page's memory and in the
// `media-state` the server relays (docs/protocol.md).

import { PrivacyPause, clockTime } from './pause.js';
import { getLang, t } from './i18n.js';

/** @param {string} testid @returns {HTMLElement} */
function byTestId(testid) {
  const el = document.querySelector(`[data-testid="${testid}"]`);
  if (!(el instanceof HTMLElement)) throw new Error(`missing element ${testid}`);
  return el;
}

/**
 * @typedef {object} PauseControlOptions
 * @property {{hold: (on: boolean) => void}} media our camera and microphone (localmedia.js)
 * @property {() => void} report tell the other page our media state (with `paused`)
 * @property {() => boolean} inCall whether the button has a call to pause
 */

export class PauseControl {
  #pause = new PrivacyPause();
  #o;
  #button = /** @type {HTMLButtonElement} */ (byTestId('privacy-pause'));
  #label = /** @type {HTMLElement} */ (this.#button.querySelector('.control-label'));
  #banner = byTestId('pause-state');
  #remote = /** @type {HTMLVideoElement} */ (byTestId('remote-video'));

  /** @param {PauseControlOptions} options */
  constructor(options) {
    this.#o = options;
    this.#button.addEventListener('click', () => this.toggle());
  }

  /** Whether we paused: said in our `media-state`. */
  get paused() {
    return this.#pause.own;
  }

  toggle() {
    if (!this.#pause.own && !this.#o.inCall()) return;
    this.#pause.toggle(Date.now());
    this.#apply();
    this.#o.report();
  }

  /** @param {boolean} paused the other side's `media-state` */
  peerSaid(paused) {
    this.#pause.peerSaid(paused, Date.now());
    this.#apply();
  }

  /** The other side left, or the call ended: what it held goes; our own pause ends with the call. */
  peerGone() {
    this.#pause.peerGone();
    this.#apply();
  }

  reset() {
    const was = this.#pause.own;
    this.#pause.reset();
    this.#apply();
    if (was) this.#o.report();
  }

  #apply() {
    this.#o.media.hold(this.#pause.held);
    // The other's sound goes quiet at once on this page too: until their page
    // holds their media, someone in our room could still hear them. Volume, not
    // `muted`: callview.js uses `muted` for the browsers' autoplay rules.
    this.#remote.volume = this.#pause.held ? 0 : 1;
    this.render();
  }

  /**
   * Draw the button and the sentence (also after a change of language). Called
   * on every change of the call, it also holds the media of a peer connection
   * opened during the pause (a reconnect, relay-only).
   */
  render() {
    if (this.#pause.held) this.#o.media.hold(true);
    const own = this.#pause.own;
    this.#button.dataset.off = String(own);
    this.#button.setAttribute('aria-pressed', String(own));
    this.#label.textContent = t(own ? 'pause.resume' : 'pause.pause');
    this.#button.disabled = !own && !this.#o.inCall();
    const banner = this.#pause.banner();
    this.#banner.hidden = banner === null;
    this.#banner.dataset.paused = banner === null ? '' : banner.key === 'pause.ownSince' ? 'self' : 'peer';
    this.#banner.textContent = banner === null ? '' : t(banner.key, { time: clockTime(banner.since, getLang()) });
    // The other's picture goes from our screen too (CSS hides it).
    this.#remote.closest('.stage')?.setAttribute('data-paused', String(this.#pause.held));
  }
}
