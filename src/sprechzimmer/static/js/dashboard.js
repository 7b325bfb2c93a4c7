// The therapist's dashboard: create sessions, hand out links, see who is
// waiting, join, revoke.

import { initI18n, onLangChange, t, serverMessage, getLang } from './i18n.js';
import * as api from './api.js';
import { clientIdWarnings } from './clientid.js';
import { playChime, unlockAudioOnGesture } from './sound.js';

/** @typedef {import('./i18n.js').MessageKey} MessageKey */
/** @typedef {import('./api.js').SessionSummary} SessionSummary */

const POLL_MS = 3000;

/** @param {string} id */
function byId(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`missing element #${id}`);
  return el;
}

const ui = {
  who: byId('who'),
  logout: /** @type {HTMLButtonElement} */ (byId('logout')),
  waitingAlert: byId('waiting-alert'),
  form: /** @type {HTMLFormElement} */ (byId('create-form')),
  clientId: /** @type {HTMLInputElement} */ (byId('client-id')),
  warning: byId('client-id-warning'),
  createError: byId('create-error'),
  create: /** @type {HTMLButtonElement} */ (document.querySelector('[data-testid="create-session"]')),
  created: byId('created'),
  createdText: byId('created-text'),
  clientUrl: byId('client-url'),
  copy: /** @type {HTMLButtonElement} */ (byId('copy')),
  copyResult: byId('copy-result'),
  therapistLink: /** @type {HTMLAnchorElement} */ (byId('therapist-link')),
  billingMonth: /** @type {HTMLInputElement} */ (byId('billing-month')),
  billingExport: /** @type {HTMLAnchorElement} */ (byId('billing-export')),
  listError: byId('list-error'),
  noSessions: byId('no-sessions'),
  tbody: /** @type {HTMLTableSectionElement} */ (document.querySelector('#sessions tbody')),
  table: byId('sessions'),
};

let csrf = '';
/** @type {SessionSummary[]} */
let sessions = [];
/** Sessions that had a waiting client at the last poll (to ring once). */
/** @type {Set<string> | null} */
let waitingBefore = null;
/** @type {import('./api.js').SessionLinks | null} */
let lastCreated = null;
/** Re-rendered on a language switch. */
/** @type {Map<HTMLElement, () => string>} */
const dynamicTexts = new Map();

/**
 * Show a sentence that follows the language switch; null hides the element.
 * @param {HTMLElement} el
 * @param {(() => string) | null} text
 */
function setText(el, text) {
  if (text) {
    dynamicTexts.set(el, text);
    el.textContent = text();
    el.hidden = false;
  } else {
    dynamicTexts.delete(el);
    el.textContent = '';
    el.hidden = true;
  }
}

/** @param {unknown} err */
function errorText(err) {
  if (err instanceof api.ApiError && err.status === 0) return () => t('error.network');
  if (err instanceof api.ApiError && err.body) {
    const body = err.body;
    return () => serverMessage(body, 'error.unexpected');
  }
  return () => t('error.unexpected');
}

/** @param {unknown} err @returns {boolean} true when we were sent to the login page */
function handleAuth(err) {
  if (err instanceof api.ApiError && err.status === 401) {
    location.replace('/');
    return true;
  }
  return false;
}

// --- client ID warnings -----------------------------------------------------

function checkClientId() {
  const warnings = clientIdWarnings(ui.clientId.value);
  if (warnings.length === 0) {
    setText(ui.warning, null);
    return;
  }
  setText(ui.warning, () =>
    [...warnings.map((w) => t(/** @type {MessageKey} */ (`clientId.warn.${w}`))), t('clientId.warn.hint')].join(' '),
  );
}

// --- creating a session -------------------------------------------------------

/** @param {import('./api.js').SessionLinks} links */
function showLinks(links) {
  lastCreated = links;
  setText(ui.createdText, () => t('dashboard.created', { clientId: links.client_id }));
  ui.clientUrl.textContent = absolute(links.client_url);
  ui.therapistLink.href = absolute(links.therapist_url);
  setText(ui.copyResult, null);
  ui.created.hidden = false;
}

/**
 * The API may answer with a path or a full URL; the client needs a full one.
 * @param {string} url
 */
function absolute(url) {
  return new URL(url, location.origin).href;
}

ui.form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const clientId = ui.clientId.value.trim();
  if (!clientId) {
    ui.clientId.focus();
    return;
  }
  ui.create.disabled = true;
  setText(ui.createError, null);
  try {
    const links = await api.createSession(csrf, clientId);
    showLinks(links);
    ui.clientId.value = '';
    setText(ui.warning, null);
    await refresh();
  } catch (err) {
    if (!handleAuth(err)) setText(ui.createError, errorText(err));
  } finally {
    ui.create.disabled = false;
  }
});

ui.copy.addEventListener('click', async () => {
  const text = ui.clientUrl.textContent ?? '';
  try {
    await navigator.clipboard.writeText(text);
    setText(ui.copyResult, () => t('dashboard.copied'));
  } catch {
    // No clipboard API (plain http, old browser) or no permission: select
    // the link so that Ctrl+C works.
    const selection = window.getSelection();
    selection?.selectAllChildren(ui.clientUrl);
    setText(ui.copyResult, () => t('dashboard.copyFailed'));
  }
});

// --- the list -----------------------------------------------------------------

async function refresh() {
  try {
    sessions = await api.listSessions();
    setText(ui.listError, null);
  } catch (err) {
    if (handleAuth(err)) return;
    setText(ui.listError, () => t('dashboard.loadFailed'));
    return;
  }
  const waitingNow = new Set(sessions.filter((s) => s.waiting).map((s) => s.session_id));
  if (waitingBefore && [...waitingNow].some((id) => !waitingBefore?.has(id))) playChime();
  waitingBefore = waitingNow;
  renderList();
}

/** @param {string} iso */
function formatTime(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return new Intl.DateTimeFormat(getLang() === 'de' ? 'de-DE' : 'en-GB', {
    dateStyle: 'medium',
    timeStyle: 'short',
  }).format(date);
}

/** @param {string} state */
function stateText(state) {
  const key = `dashboard.state.${state}`;
  const text = t(/** @type {MessageKey} */ (key));
  return text === key ? state : text;
}

function renderList() {
  const waiting = sessions.filter((s) => s.waiting);
  setText(
    ui.waitingAlert,
    waiting.length ? () => waiting.map((s) => t('dashboard.someoneWaiting', { clientId: s.client_id })).join(' ') : null,
  );
  ui.noSessions.hidden = sessions.length > 0;
  ui.table.hidden = sessions.length === 0;
  // Rebuilt every poll: a few dozen rows, and no focus is lost because
  // buttons keep their place (we restore focus by session and action).
  const active = document.activeElement;
  const focusKey = active instanceof HTMLElement ? active.dataset.focusKey : undefined;
  const rows = sessions.map((s) => renderRow(s));
  ui.tbody.replaceChildren(...rows);
  if (focusKey) {
    const again = ui.tbody.querySelector(`[data-focus-key="${CSS.escape(focusKey)}"]`);
    if (again instanceof HTMLElement) again.focus();
  }
}

/** @param {SessionSummary} s */
function renderRow(s) {
  const tr = document.createElement('tr');
  tr.dataset.sessionId = s.session_id;
  if (s.waiting) tr.classList.add('is-waiting');

  const id = document.createElement('td');
  id.textContent = s.client_id; // as entered: text only, never HTML
  const created = document.createElement('td');
  created.textContent = formatTime(s.created_at);
  const state = document.createElement('td');
  state.append(stateText(s.state));
  if (s.waiting) state.append(' ', badge('waiting', t('dashboard.waiting')));
  if (s.in_call) state.append(' ', badge('in-call', t('dashboard.inCall')));

  const actions = document.createElement('td');
  actions.className = 'actions';
  const open = s.state === 'open';
  actions.append(
    button('dashboard.join', s, 'join', open, () => joinSession(s)),
    button('dashboard.newLink', s, 'links', open, () => newLink(s)),
    button('dashboard.revoke', s, 'revoke', open, () => revoke(s), 'danger'),
  );
  tr.append(id, created, state, actions);
  return tr;
}

/** @param {string} kind @param {string} text */
function badge(kind, text) {
  const span = document.createElement('span');
  span.className = `badge badge-${kind}`;
  span.textContent = text;
  return span;
}

/**
 * @param {MessageKey} key
 * @param {SessionSummary} s
 * @param {string} action
 * @param {boolean} enabled
 * @param {() => Promise<void>} onClick
 * @param {string} [variant]
 */
function button(key, s, action, enabled, onClick, variant = 'secondary') {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = `${variant} small`;
  b.textContent = t(key);
  b.disabled = !enabled;
  b.dataset.action = action;
  b.dataset.focusKey = `${s.session_id}:${action}`;
  b.addEventListener('click', async () => {
    b.disabled = true;
    try {
      await onClick();
    } catch (err) {
      if (!handleAuth(err)) setText(ui.listError, errorText(err));
    } finally {
      b.disabled = false;
    }
  });
  return b;
}

/** @param {SessionSummary} s */
async function joinSession(s) {
  // Our own seat only: a join mints no client link and never extends the session.
  const seat = await api.joinSession(csrf, s.session_id);
  location.assign(absolute(seat.therapist_url));
}

/** @param {SessionSummary} s */
async function newLink(s) {
  const links = await api.newLinks(csrf, s.session_id);
  showLinks(links);
  ui.created.scrollIntoView({ behavior: 'smooth', block: 'nearest' });
}

/** @param {SessionSummary} s */
async function revoke(s) {
  if (!window.confirm(t('dashboard.revokeConfirm', { clientId: s.client_id }))) return;
  await api.revokeSession(csrf, s.session_id);
  if (lastCreated?.session_id === s.session_id) ui.created.hidden = true;
  await refresh();
}

ui.logout.addEventListener('click', async () => {
  ui.logout.disabled = true;
  try {
    await api.logout(csrf);
  } catch {
    // Going to the login page anyway; the cookie may already be gone.
  }
  location.replace('/');
});

ui.clientId.addEventListener('input', checkClientId);

// --- start --------------------------------------------------------------------

/** The CSV of the chosen month (same origin, the login cookie; a GET needs no CSRF token). */
function updateBillingLink() {
  const month = ui.billingMonth.value;
  ui.billingExport.href = `/api/v1/billing?month=${encodeURIComponent(month)}`;
  ui.billingExport.download = `sprechzimmer-${month}.csv`;
}

/** This month in the practice's own calendar (the browser's local time). */
function currentMonth() {
  const now = new Date();
  return `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, '0')}`;
}

async function main() {
  initI18n();
  ui.billingMonth.value = currentMonth();
  updateBillingLink();
  ui.billingMonth.addEventListener('change', updateBillingLink);
  unlockAudioOnGesture();
  onLangChange(() => {
    for (const [el, text] of dynamicTexts) el.textContent = text();
    if (ui.who.dataset.code) ui.who.textContent = t('dashboard.loggedInAs', { code: ui.who.dataset.code });
    renderList();
  });
  try {
    const who = await api.me();
    csrf = who.csrf_token;
    ui.who.dataset.code = who.code;
    ui.who.textContent = t('dashboard.loggedInAs', { code: who.code });
  } catch (err) {
    if (!handleAuth(err)) setText(ui.listError, errorText(err));
    return;
  }
  await refresh();
  // setTimeout rather than setInterval: a slow answer never stacks requests.
  const poll = () => {
    setTimeout(async () => {
      // Also while the tab is in the background: that is exactly when the
      // chime for a waiting client matters.
      await refresh();
      poll();
    }, POLL_MS);
  };
  poll();
}

main();
