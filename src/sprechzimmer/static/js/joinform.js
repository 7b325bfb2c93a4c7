// The client's name and consent, asked on the device check before "Beitreten":
// the name the person wants to be addressed by (for the therapist's screen;
// KBV Anlage 31b asks that the therapist can recognise the patient) and the
// tick that confirms the terms of use and the privacy notice.
//
// What it never does: prefill the name, or keep it anywhere but in this
// page's memory (no localStorage, no sessionStorage, autocomplete off): the
// signaling client says it again in every hello of this visit, and it is gone
// with the page. `checkJoinForm` is pure; `JoinForm` touches the DOM only when
// called, so node can import this module.

import { t } from './i18n.js';
import { clientNameProblem, MAX_CLIENT_NAME } from './protocol.js';

/** @typedef {import('./i18n.js').MessageKey} MessageKey */

/**
 * What the form says: what to send, or what the person must fix first.
 * @typedef {{ok: {name: string | undefined, consent: true}}
 *   | {problem: MessageKey, params?: Record<string, number>, field: 'name' | 'consent'}} JoinFormVerdict
 */

/**
 * @param {{name: string, consent: boolean, required: boolean}} form as typed and ticked;
 *   `required`: the operator's `SPRECHZIMMER_CLIENT_NAME` (from the link check)
 * @returns {JoinFormVerdict}
 */
export function checkJoinForm(form) {
  // White space around a name is a slip of the keyboard, not part of it.
  const name = form.name.trim();
  if (name === '' && form.required) return { problem: 'name.missing', field: 'name' };
  if (name !== '') {
    const problem = clientNameProblem(name);
    if (problem === 'too-long') return { problem: 'name.tooLong', params: { max: MAX_CLIENT_NAME }, field: 'name' };
    if (problem === 'control') return { problem: 'name.control', field: 'name' };
  }
  if (!form.consent) return { problem: 'consent.missing', field: 'consent' };
  return { ok: { name: name === '' ? undefined : name, consent: true } };
}

/** The form on the call page (call.html, `#join-form`). */
export class JoinForm {
  #box = /** @type {HTMLElement} */ (document.getElementById('join-form'));
  #name = /** @type {HTMLInputElement} */ (document.getElementById('client-name'));
  #label = /** @type {HTMLElement} */ (document.getElementById('client-name-label'));
  #consent = /** @type {HTMLInputElement} */ (document.getElementById('consent'));
  #terms = /** @type {HTMLAnchorElement} */ (document.getElementById('consent-terms'));
  #privacy = /** @type {HTMLAnchorElement} */ (document.getElementById('consent-privacy'));
  #error = /** @type {HTMLElement} */ (document.getElementById('join-form-error'));
  #required = true;
  /** @type {JoinFormVerdict | null} the last refusal shown, to say it again in another language */
  #shownProblem = null;

  constructor() {
    // The message goes as soon as the person fixes what it was about.
    this.#name.addEventListener('input', () => this.#clear('name'));
    this.#consent.addEventListener('change', () => this.#clear('consent'));
  }

  /** A client's link: ask. @param {boolean} required the name must be given */
  show(required) {
    this.#required = required;
    this.#box.hidden = false;
    this.render();
  }

  get shown() {
    return !this.#box.hidden;
  }

  /**
   * What to send, or null after showing what is missing (the focus goes there).
   * @returns {{name: string | undefined, consent: true} | null}
   */
  read() {
    const verdict = checkJoinForm({ name: this.#name.value, consent: this.#consent.checked, required: this.#required });
    if ('ok' in verdict) {
      this.#shownProblem = null;
      this.#renderProblem();
      return verdict.ok;
    }
    this.#shownProblem = verdict;
    this.#renderProblem();
    (verdict.field === 'name' ? this.#name : this.#consent).focus();
    return null;
  }

  /** Joined: the form stays as it is but cannot change what was sent. */
  lock() {
    this.#name.disabled = this.#consent.disabled = true;
  }

  /** The texts that depend on the language or the setting. */
  render() {
    this.#label.textContent = t(this.#required ? 'name.label' : 'name.labelOptional');
    this.#name.required = this.#required;
    this.#terms.href = t('consent.termsHref');
    this.#privacy.href = t('consent.privacyHref');
    this.#renderProblem();
  }

  /** @param {'name' | 'consent'} field */
  #clear(field) {
    if (this.#shownProblem && 'field' in this.#shownProblem && this.#shownProblem.field === field) {
      this.#shownProblem = null;
      this.#renderProblem();
    }
  }

  #renderProblem() {
    const p = this.#shownProblem;
    const problem = p && 'problem' in p ? p : null;
    this.#error.hidden = problem === null;
    this.#error.textContent = problem ? t(problem.problem, problem.params) : '';
    this.#name.setAttribute('aria-invalid', String(problem?.field === 'name'));
    this.#consent.setAttribute('aria-invalid', String(problem?.field === 'consent'));
    if (problem?.field === 'name') this.#name.setAttribute('aria-describedby', 'client-name-hint join-form-error');
    else this.#name.setAttribute('aria-describedby', 'client-name-hint');
  }
}
