// The client's quick way out: a button, or Escape twice within a second,
// leaves the call at once and puts a neutral page of ours in the tab's place,
// with no history entry to go back to (location.replace; the call page
// itself only ever replaces its entry, see call.js). For a person who must
// hide the session from someone who just came into the room.
//
// `DoublePress` is pure (time passed in); `QuickExit` touches the page. Never
// stores anything, and sends nothing but the `bye` the page hands it.

/** Same origin, no script, nothing in it that speaks of therapy or of us. */
export const NEUTRAL_PAGE = '/static/neutral.html';
/** Two presses within this many ms are one request: fast enough not to happen by chance. */
export const DOUBLE_PRESS_MS = 1000;
/**
 * How long the `bye` gets to leave the socket before the page goes: the
 * therapist should read "left abruptly" rather than, a minute later, "the
 * connection dropped". The screen is emptied at once.
 */
export const BYE_FLUSH_MS = 150;

/** Two presses of a key close together. */
export class DoublePress {
  /** @type {number | null} */
  #last = null;
  #withinMs;

  constructor(withinMs = DOUBLE_PRESS_MS) {
    this.#withinMs = withinMs;
  }

  /** @param {number} now ms @returns {boolean} whether this press completes a pair */
  press(now) {
    const pair = this.#last !== null && now - this.#last <= this.#withinMs;
    // A completed pair starts over: a third press is the first of a new pair.
    this.#last = pair ? null : now;
    return pair;
  }
}

/**
 * @typedef {object} QuickExitOptions
 * @property {() => void} leave end the call now: `bye` with reason quick-exit, devices off
 * @property {(text: string) => void} [log]
 */

export class QuickExit {
  #o;
  #enabled = false;
  #gone = false;
  #escape = new DoublePress();
  /** @type {HTMLButtonElement | null} */
  #button = null;

  /** @param {QuickExitOptions} options */
  constructor(options) {
    this.#o = options;
    // Capture: the key works whatever has the focus, and before the page's own Escape.
    document.addEventListener(
      'keydown',
      (event) => {
        if (!this.#enabled || event.key !== 'Escape' || event.repeat) return;
        if (this.#escape.press(performance.now())) {
          event.preventDefault();
          this.exit();
        }
      },
      true,
    );
  }

  /** True once the page is on its way out (the page must not ask "leave?" then). */
  get gone() {
    return this.#gone;
  }

  /**
   * A client's page offers it; a therapist's never does.
   * @param {boolean} on
   * @param {Element | null} [place] where the button goes (the top of the call's video)
   * @param {{label: string, help: string}} [texts]
   */
  enable(on, place = null, texts) {
    this.#enabled = on;
    if (!on || !place || this.#button) return;
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'danger small quick-exit';
    button.dataset.testid = 'quick-exit';
    button.addEventListener('click', () => this.exit());
    place.prepend(button);
    this.#button = button;
    if (texts) this.setTexts(texts);
  }

  /** @param {{label: string, help: string}} texts */
  setTexts(texts) {
    if (!this.#button) return;
    this.#button.textContent = texts.label;
    this.#button.title = texts.help;
  }

  exit() {
    if (this.#gone) return;
    this.#gone = true;
    try {
      this.#o.leave();
    } catch (err) {
      this.#o.log?.(`quick exit: ${err}`);
    }
    // Nothing of the call on screen from this instant on (after `leave`, whose
    // last render would put the title back).
    document.title = '\u00a0';
    document.body.replaceChildren();
    setTimeout(() => location.replace(NEUTRAL_PAGE), BYE_FLUSH_MS);
  }
}
