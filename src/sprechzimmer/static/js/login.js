// The therapist's login page.

import { initI18n, onLangChange, t, serverMessage } from './i18n.js';
import { ApiError, login, me } from './api.js';

/** @typedef {import('./i18n.js').MessageKey} MessageKey */

const form = /** @type {HTMLFormElement} */ (document.getElementById('login-form'));
const code = /** @type {HTMLInputElement} */ (document.querySelector('[data-testid="login-code"]'));
const password = /** @type {HTMLInputElement} */ (document.querySelector('[data-testid="login-password"]'));
const submit = /** @type {HTMLButtonElement} */ (document.querySelector('[data-testid="login-submit"]'));
const errorBox = /** @type {HTMLElement} */ (document.getElementById('login-error'));

/** @type {(() => string) | null} */
let errorText = null;

/** @param {(() => string) | null} text */
function showError(text) {
  errorText = text;
  errorBox.hidden = !text;
  errorBox.textContent = text ? text() : '';
}

/** @param {unknown} err */
function describe(err) {
  if (err instanceof ApiError && err.status === 0) return () => t('error.network');
  if (err instanceof ApiError && err.body) {
    const body = err.body;
    return () => serverMessage(body, 'error.unexpected');
  }
  return () => t('error.unexpected');
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  if (!code.value.trim() || !password.value) {
    (code.value.trim() ? password : code).focus();
    return;
  }
  submit.disabled = true;
  submit.textContent = t('login.busy');
  showError(null);
  try {
    await login(code.value.trim(), password.value);
    location.assign('/dashboard');
  } catch (err) {
    password.value = '';
    showError(describe(err));
    password.focus();
  } finally {
    submit.disabled = false;
    submit.textContent = t('login.submit');
  }
});

initI18n();
onLangChange(() => {
  if (errorText) errorBox.textContent = errorText();
});
code.focus();

// Already logged in (a bookmark of /): go straight on.
me().then(
  () => location.replace('/dashboard'),
  () => {},
);
