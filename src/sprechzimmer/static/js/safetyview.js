// The safety net on the call page (safetynet.js holds the logic): the
// client's two optional fields in the room check, and the therapist's panel
// that shows them only when the call dropped or the client left by its quick
// exit. Builds its own elements. Never stores anything, never sends a word
// through the server: the details go on the session channel (chatview.js).

import { t, onLangChange } from './i18n.js';
import { MAX_LOCATION_CHARS, MAX_PHONE_CHARS } from './chat.js';
import { SafetyNet } from './safetynet.js';

/** @typedef {import('./chat.js').SafetyMessage} SafetyMessage */

/**
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag @param {Record<string, string>} [attrs]
 * @returns {HTMLElementTagNameMap[K]}
 */
function el(tag, attrs = {}) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

export class SafetyView {
  net = new SafetyNet();
  /** @type {'therapist' | 'client' | null} */
  #role = null;
  /** The client's latest words, to say again on every channel that opens. @type {SafetyMessage | null} */
  #mine = null;
  #send;
  /** @type {ReturnType<typeof setTimeout> | null} */
  #timer = null;
  /** @type {{phone: HTMLInputElement, location: HTMLInputElement, hint: HTMLElement, phoneLabel: HTMLElement, locationLabel: HTMLElement} | null} */
  #form = null;
  /** @type {{box: HTMLElement, title: HTMLElement, phone: HTMLElement, location: HTMLElement} | null} */
  #panel = null;

  /** @param {(message: SafetyMessage) => boolean} send on the session channel, if open */
  constructor(send) {
    this.#send = send;
    onLangChange(() => this.#renderTexts());
  }

  /**
   * The page's role is known: the client gets the fields in the room check,
   * the therapist the (hidden) panel over the video.
   * @param {'therapist' | 'client'} role
   */
  setRole(role) {
    if (this.#role !== null) return;
    this.#role = role;
    if (role === 'client') this.#mountForm();
    else this.#mountPanel();
    this.#renderTexts();
  }

  #mountForm() {
    const check = document.querySelector('[data-testid="room-check"]');
    if (!check) return;
    const box = el('div', { class: 'safety-form' });
    const hint = el('p', { class: 'hint', id: 'safety-hint' });
    const phoneLabel = el('label', { for: 'safety-phone' });
    const phone = el('input', { id: 'safety-phone', type: 'tel', 'data-testid': 'safety-phone', maxlength: String(MAX_PHONE_CHARS), autocomplete: 'off', 'aria-describedby': 'safety-hint' });
    const locationLabel = el('label', { for: 'safety-location' });
    const location = el('input', { id: 'safety-location', type: 'text', 'data-testid': 'safety-location', maxlength: String(MAX_LOCATION_CHARS), autocomplete: 'off', 'aria-describedby': 'safety-hint' });
    box.append(hint, phoneLabel, phone, locationLabel, location);
    // Before the therapist's "Erledigt" button: it stays the last thing in the check.
    const done = check.querySelector('[data-testid="room-check-done"]');
    check.insertBefore(box, done);
    // Said as it is typed: the therapist may tick the check off (and the
    // fields go) before the person leaves a field.
    const said = () => {
      this.#mine = SafetyNet.message(phone.value, location.value);
      this.#send(this.#mine);
    };
    phone.addEventListener('input', said);
    location.addEventListener('input', said);
    this.#form = { phone, location, hint, phoneLabel, locationLabel };
  }

  #mountPanel() {
    // Over everything on the video, the chat drawer included: it must be seen.
    const top = document.querySelector('#call-view .stage');
    if (!top) return;
    const box = el('div', { class: 'safety-net', 'data-testid': 'safety-net', role: 'alert', hidden: '' });
    const title = el('p', { class: 'safety-title' });
    const phone = el('p', { 'data-testid': 'safety-net-phone' });
    const location = el('p', { 'data-testid': 'safety-net-location' });
    box.append(title, phone, location);
    top.prepend(box);
    this.#panel = { box, title, phone, location };
  }

  /** A session channel opened, or the line is back: the client says its details again (the other page may be new, or they were typed into the cut). */
  channelOpen() {
    if (this.#role === 'client' && this.#mine) this.#send(this.#mine);
  }

  /** The therapist's page got the client's details. @param {SafetyMessage} m */
  received(m) {
    if (this.#role !== 'therapist') return;
    this.net.received(m);
    this.net.heard(performance.now());
    this.#render();
  }

  /** The client's page said something on the session channel (therapist's page). */
  heard() {
    if (this.#role !== 'therapist') return;
    this.net.heard(performance.now());
    this.#render();
  }

  quickExit() {
    this.net.quickExit();
    this.#render();
  }

  /** The conversation is over: the details go from memory and from the page. */
  wipe() {
    this.net.wipe();
    this.#mine = null;
    if (this.#form) {
      this.#form.phone.value = '';
      this.#form.location.value = '';
    }
    this.#render();
  }

  #render() {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    const panel = this.#panel;
    if (!panel) return;
    const now = performance.now();
    const shown = this.net.shown(now);
    panel.box.hidden = shown === null;
    panel.phone.hidden = !shown?.phone;
    panel.location.hidden = !shown?.location;
    panel.phone.textContent = shown?.phone ? t('safety.call', { phone: shown.phone }) : '';
    panel.location.textContent = shown?.location ? t('safety.location', { location: shown.location }) : '';
    const at = this.net.timer();
    if (at !== null && shown === null) this.#timer = setTimeout(() => this.#render(), Math.max(0, at - now));
  }

  #renderTexts() {
    if (this.#form) {
      this.#form.hint.textContent = t('safety.hint');
      this.#form.phoneLabel.textContent = t('safety.phone');
      this.#form.locationLabel.textContent = t('safety.locationLabel');
    }
    if (this.#panel) this.#panel.title.textContent = t('safety.title');
    this.#render();
  }
}
