// The therapist's dashboard: create sessions and hand out links, see who is
// waiting and for how long, join, end a session, erase a record typed by
// mistake, download the month's billable minutes.
//
// Longer than our ~400 lines on purpose: it is the page's wiring and view
// together (the list, the banner, the forms); the pure parts already live in
// overview.js (what each session offers, titles, months) and alerts.js.

import { initI18n, onLangChange, t, serverMessage, getLang } from './i18n.js';
import * as api from './api.js';
import { clientIdWarnings } from './clientid.js';
import { playChime, unlockAudioOnGesture } from './sound.js';
import { actionsFor, newlyWaiting, pageTitle, recentMonths, waitedMinutes } from './overview.js';
import * as alerts from './alerts.js';
import { CallPresence } from './undisturbed.js';

/** @typedef {import('./i18n.js').MessageKey} MessageKey */
/** @typedef {import('./api.js').SessionSummary} SessionSummary */
/** @typedef {import('./overview.js').SessionAction} SessionAction */

const POLL_MS = 3000;
/** Months in the billing picker: the current one and two years back (retention is 400 days by default). */
const BILLING_MONTHS = 25;

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
  waitingBanner: byId('waiting-banner'),
  waitingList: byId('waiting-list'),
  form: /** @type {HTMLFormElement} */ (byId('create-form')),
  clientId: /** @type {HTMLInputElement} */ (byId('client-id')),
  warning: byId('client-id-warning'),
  createError: byId('create-error'),
  create: /** @type {HTMLButtonElement} */ (document.querySelector('[data-testid="create-session"]')),
  created: byId('created'),
  createdText: byId('created-text'),
  createdExpiry: byId('created-expiry'),
  clientUrl: byId('client-url'),
  seatsRow: byId('seats-row'),
  seats: /** @type {HTMLSelectElement} */ (byId('seats')),
  moreLinks: byId('more-links'),
  copy: /** @type {HTMLButtonElement} */ (byId('copy')),
  copyResult: byId('copy-result'),
  therapistLink: /** @type {HTMLAnchorElement} */ (byId('therapist-link')),
  sound: /** @type {HTMLInputElement} */ (byId('sound-switch')),
  notifyRow: byId('notify-row'),
  notify: /** @type {HTMLInputElement} */ (byId('notify-switch')),
  notifyDenied: byId('notify-denied'),
  sessionsHeading: byId('sessions-heading'),
  listError: byId('list-error'),
  listStatus: byId('list-status'),
  noSessions: byId('no-sessions'),
  tbody: /** @type {HTMLTableSectionElement} */ (document.querySelector('#sessions tbody')),
  table: byId('sessions'),
  billingMonth: /** @type {HTMLSelectElement} */ (byId('billing-month')),
  billingFormat: /** @type {HTMLSelectElement} */ (byId('billing-format')),
  billingExport: /** @type {HTMLAnchorElement} */ (byId('billing-export')),
  purgeSoon: byId('purge-soon'),
};

let csrf = '';
/** @type {SessionSummary[]} */
let sessions = [];
/** The server's time of the last list, and when (browser's steady clock) it came. */
let serverNow = new Date().toISOString();
let receivedAt = performance.now();
/** Sessions that had a waiting client at the last poll (null before the first). */
/** @type {Set<string> | null} */
let waitingBefore = null;
/** @type {{links: import('./api.js').SessionLinks, fresh: boolean} | null} */
let lastCreated = null;
/** The billing format follows the language until the therapist picks one. */
let formatChosen = false;
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

/**
 * A live region's sentence: always present (a hidden live region is not
 * announced), emptied when there is nothing to say.
 * @param {HTMLElement} el
 * @param {(() => string) | null} text
 */
function announce(el, text) {
  setText(el, text);
  el.hidden = false;
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

function locale() {
  return getLang() === 'de' ? 'de-DE' : 'en-GB';
}

/** @param {string} iso */
function formatTime(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return new Intl.DateTimeFormat(locale(), { dateStyle: 'medium', timeStyle: 'short' }).format(date);
}

/** @param {number} minutes */
function formatMinutes(minutes) {
  const number = new Intl.NumberFormat(locale(), { maximumFractionDigits: 2 }).format(minutes);
  return t('dashboard.minutes', { minutes: number });
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

// --- creating a session and new links -------------------------------------------

/**
 * @param {import('./api.js').SessionLinks} links
 * @param {boolean} fresh a new session (else: another link to an existing one)
 */
function showLinks(links, fresh) {
  lastCreated = { links, fresh };
  const urls = links.client_urls ?? [links.client_url];
  const group = fresh && urls.length > 1;
  setText(ui.createdText, () =>
    group
      ? t('dashboard.createdGroup', { clientId: links.client_id, count: urls.length })
      : t(fresh ? 'dashboard.created' : 'dashboard.newLinkMade', { clientId: links.client_id }),
  );
  renderMoreLinks(group ? urls.slice(1) : []);
  setText(ui.createdExpiry, () => t('dashboard.createdExpiry', { date: formatTime(links.expires_at) }));
  ui.clientUrl.textContent = absolute(links.client_url);
  ui.therapistLink.href = absolute(links.therapist_url);
  setText(ui.copyResult, null);
  ui.created.hidden = false;
}

/**
 * The links shown for this session are dead (closed) or must not stay on the
 * page (erased): take them, and the client ID with them, off the page.
 * @param {string} sessionId
 */
function forgetLinks(sessionId) {
  if (lastCreated?.links.session_id !== sessionId) return;
  lastCreated = null;
  setText(ui.createdText, null);
  setText(ui.createdExpiry, null);
  setText(ui.copyResult, null);
  ui.clientUrl.textContent = '';
  renderMoreLinks([]);
  ui.therapistLink.href = '/call';
  ui.created.hidden = true;
}

/** The group's links of seats 2 and on shown now (rendered again in another language). */
/** @type {string[]} */
let moreLinks = [];

/**
 * A group's links of seats 2 and on, each with its own copy button.
 * @param {string[]} urls
 */
function renderMoreLinks(urls) {
  moreLinks = urls;
  ui.moreLinks.replaceChildren(
    ...urls.map((url, i) => {
      const item = document.createElement('li');
      item.className = 'link-row';
      const code = document.createElement('code');
      code.className = 'link';
      code.tabIndex = 0;
      code.dataset.testid = 'seat-url';
      code.textContent = absolute(url);
      code.setAttribute('aria-label', t('dashboard.seatLink', { seat: i + 2 }));
      const copy = document.createElement('button');
      copy.type = 'button';
      copy.className = 'secondary';
      copy.textContent = t('dashboard.copy');
      copy.addEventListener('click', () => copyLink(code));
      item.append(code, copy);
      return item;
    }),
  );
  ui.moreLinks.hidden = urls.length === 0;
}

/**
 * The number of client seats the form offers (1 .. what the server allows).
 * @param {number} max
 */
function offerSeats(max) {
  ui.seatsRow.hidden = max <= 1;
  ui.seats.replaceChildren(
    ...Array.from({ length: Math.max(1, max) }, (_, i) => {
      const option = document.createElement('option');
      option.value = String(i + 1);
      option.textContent = String(i + 1);
      return option;
    }),
  );
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
    const links = await api.createSession(csrf, clientId, Number(ui.seats.value) || 1);
    showLinks(links, true);
    ui.clientId.value = '';
    ui.seats.value = '1';
    setText(ui.warning, null);
    ui.createdText.focus(); // a screen reader reads what was made and what to do with it
    await refresh();
  } catch (err) {
    if (!handleAuth(err)) setText(ui.createError, errorText(err));
  } finally {
    ui.create.disabled = false;
  }
});

/** @param {HTMLElement} link the element holding the link */
async function copyLink(link) {
  try {
    await navigator.clipboard.writeText(link.textContent ?? '');
    setText(ui.copyResult, () => t('dashboard.copied'));
  } catch {
    // No clipboard API (plain http, old browser) or no permission: select
    // the link so that Ctrl+C works.
    const selection = window.getSelection();
    selection?.selectAllChildren(link);
    setText(ui.copyResult, () => t('dashboard.copyFailed'));
  }
}

ui.copy.addEventListener('click', () => copyLink(ui.clientUrl));

// --- the list and the waiting banner ---------------------------------------------

const presence = new CallPresence();

/** One of the therapist's sessions is in a call: by the list, or by a call page of this browser. */
function callRunning() {
  return presence.callElsewhere() || sessions.some((s) => s.in_call);
}

async function refresh() {
  try {
    const list = await api.listSessions();
    sessions = list.sessions;
    serverNow = list.now;
    renderPurgeSoon(list.purge_soon);
    receivedAt = performance.now();
    setText(ui.listError, null);
  } catch (err) {
    if (handleAuth(err)) return;
    setText(ui.listError, () => t('dashboard.loadFailed'));
    return;
  }
  const fresh = newlyWaiting(waitingBefore, sessions);
  waitingBefore = new Set(sessions.filter((s) => s.waiting).map((s) => s.session_id));
  if (fresh.length) {
    // A consultation runs (here or on another device): the banner, the list
    // and the title say it; no chime, no notification (undisturbed.js).
    if (!callRunning()) {
      if (alerts.soundOn()) playChime();
      alerts.notifyWaiting(t('dashboard.notifyTitle'), t('dashboard.notifyBody'));
    }
    const names = sessions.filter((s) => fresh.includes(s.session_id)).map((s) => s.client_id);
    announce(ui.waitingAlert, () => names.map((clientId) => t('dashboard.someoneWaiting', { clientId })).join(' '));
  } else if (waitingBefore.size === 0) {
    announce(ui.waitingAlert, null); // nothing stale to re-announce on a language switch
  }
  render();
}

function render() {
  const waiting = sessions.filter((s) => s.waiting);
  document.title = pageTitle(waiting.length, t('dashboard.title'), t('app.name'));
  // Both are rebuilt every poll: a few dozen rows. Focus is put back on the
  // same action of the same session, so a keyboard user does not lose place.
  const active = document.activeElement;
  const focusKey = active instanceof HTMLElement ? active.dataset.focusKey : undefined;
  renderBanner(waiting);
  renderList();
  if (focusKey) {
    const again = document.querySelector(`[data-focus-key="${CSS.escape(focusKey)}"]`);
    if (again instanceof HTMLElement) again.focus();
  }
}

/** @param {SessionSummary} s */
function waitingText(s) {
  const minutes = waitedMinutes(s.waiting_since, serverNow, performance.now() - receivedAt);
  if (minutes === null) return t('dashboard.waiting');
  return minutes < 1 ? t('dashboard.waitingJustNow') : t('dashboard.waitingSince', { minutes });
}

/** @param {SessionSummary[]} waiting */
function renderBanner(waiting) {
  ui.waitingBanner.hidden = waiting.length === 0;
  ui.waitingList.replaceChildren(
    ...waiting.map((s) => {
      const li = document.createElement('li');
      li.dataset.sessionId = s.session_id;
      const text = document.createElement('p');
      const who = document.createElement('strong');
      who.textContent = s.client_id; // as entered: text only, never HTML
      const since = document.createElement('span');
      since.className = 'waiting-since';
      since.textContent = waitingText(s);
      text.append(who, ' ', since);
      const join = actionButton('join', s, 'primary');
      join.textContent = t('dashboard.joinWaiting');
      join.setAttribute('aria-label', t('dashboard.actionFor', { action: t('dashboard.joinWaiting'), clientId: s.client_id }));
      join.dataset.testid = 'waiting-join';
      join.dataset.focusKey = `${s.session_id}:banner-join`;
      li.append(text, join);
      return li;
    }),
  );
}

function renderList() {
  ui.noSessions.hidden = sessions.length > 0;
  ui.table.hidden = sessions.length === 0;
  ui.tbody.replaceChildren(...sessions.map((s) => renderRow(s)));
}

/** @param {string} state */
function stateText(state) {
  const key = `dashboard.state.${state}`;
  const text = t(/** @type {MessageKey} */ (key));
  return text === key ? state : text;
}

/** @param {SessionSummary} s */
function linkText(s) {
  const date = formatTime(s.expires_at);
  if (s.state === 'open') return t('dashboard.linkValidUntil', { date });
  if (s.state === 'expired') return t('dashboard.linkExpired', { date });
  return t('dashboard.linksEnded');
}

/** @param {SessionSummary} s */
function renderRow(s) {
  const tr = document.createElement('tr');
  tr.dataset.sessionId = s.session_id;
  tr.dataset.state = s.state;
  if (s.waiting) tr.classList.add('is-waiting');

  const id = document.createElement('td');
  const name = document.createElement('span');
  name.className = 'client-id';
  name.textContent = s.client_id; // as entered: text only, never HTML
  const ref = document.createElement('span');
  ref.className = 'reference';
  ref.textContent = t('dashboard.reference', { reference: s.reference });
  id.append(name, ref);

  const created = document.createElement('td');
  created.textContent = formatTime(s.created_at);

  const links = document.createElement('td');
  const expiry = document.createElement('span');
  expiry.dataset.testid = 'link-expiry';
  expiry.textContent = linkText(s);
  links.append(expiry);

  const minutes = document.createElement('td');
  minutes.className = 'minutes';
  minutes.dataset.testid = 'minutes';
  minutes.textContent = formatMinutes(s.billable_minutes);

  const state = document.createElement('td');
  state.append(stateText(s.state));
  if (s.waiting) state.append(' ', badge('waiting', t('dashboard.waiting')));
  if (s.in_call) state.append(' ', badge('in-call', t('dashboard.inCall')));

  const actions = document.createElement('td');
  const group = document.createElement('div');
  group.className = 'actions';
  group.append(...actionsFor(s.state).map((action) => actionButton(action, s)));
  actions.append(group);
  tr.append(id, created, links, minutes, state, actions);
  return tr;
}

/** @param {string} kind @param {string} text */
function badge(kind, text) {
  const span = document.createElement('span');
  span.className = `badge badge-${kind}`;
  span.textContent = text;
  return span;
}

/** @type {Record<SessionAction, {label: MessageKey, run: (s: SessionSummary) => Promise<void>, variant: string, help?: string}>} */
const ACTIONS = {
  join: { label: 'dashboard.join', run: joinSession, variant: 'secondary' },
  links: { label: 'dashboard.newLink', run: newLink, variant: 'secondary', help: 'new-link-help' },
  close: { label: 'dashboard.close', run: closeSession, variant: 'secondary' },
  erase: { label: 'dashboard.erase', run: eraseRecord, variant: 'danger', help: 'erase-help' },
};

/**
 * @param {SessionAction} action
 * @param {SessionSummary} s
 * @param {string} [variant]
 */
function actionButton(action, s, variant) {
  const spec = ACTIONS[action];
  const b = document.createElement('button');
  b.type = 'button';
  b.className = `${variant ?? spec.variant} small`;
  b.textContent = t(spec.label);
  // Every row has the same buttons: the name says whose session it acts on.
  b.setAttribute('aria-label', t('dashboard.actionFor', { action: t(spec.label), clientId: s.client_id }));
  if (spec.help) b.setAttribute('aria-describedby', spec.help);
  b.dataset.action = action;
  b.dataset.focusKey = `${s.session_id}:${action}`;
  b.addEventListener('click', async () => {
    b.disabled = true;
    try {
      await spec.run(s);
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
  showLinks(links, false);
  ui.created.scrollIntoView({ behavior: 'smooth', block: 'nearest' });
  ui.createdText.focus();
  await refresh();
}

/** @param {SessionSummary} s */
async function closeSession(s) {
  if (!window.confirm(t('dashboard.closeConfirm', { clientId: s.client_id }))) return;
  await api.closeSession(csrf, s.session_id);
  forgetLinks(s.session_id);
  announce(ui.listStatus, () => t('dashboard.closed', { clientId: s.client_id }));
  await refresh();
  // The row stays (now "ended") with its one remaining action; focus goes there.
  const next = ui.tbody.querySelector(`[data-focus-key="${CSS.escape(`${s.session_id}:erase`)}"]`);
  if (next instanceof HTMLElement) next.focus();
}

/** @param {SessionSummary} s */
async function eraseRecord(s) {
  const minutes = new Intl.NumberFormat(locale(), { maximumFractionDigits: 2 }).format(s.billable_minutes);
  if (!window.confirm(t('dashboard.eraseConfirm', { clientId: s.client_id, minutes }))) return;
  await api.eraseRecord(csrf, s.session_id);
  forgetLinks(s.session_id);
  // The message must not keep the name that was just erased on screen: it says
  // what was done by the short reference.
  announce(ui.listStatus, () => t('dashboard.erased', { reference: s.reference }));
  await refresh();
  ui.sessionsHeading.focus(); // the row is gone: back to the top of the list
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

// --- alerts: sound and notification switches --------------------------------------

function renderAlerts() {
  ui.sound.checked = alerts.soundOn();
  const permission = alerts.notifyPermission();
  ui.notifyRow.hidden = permission === 'unsupported';
  ui.notify.checked = alerts.notifyOn();
  setText(ui.notifyDenied, permission === 'denied' ? () => t('dashboard.notifyDenied') : null);
}

ui.sound.addEventListener('change', () => {
  alerts.setSound(ui.sound.checked);
  if (ui.sound.checked) playChime(); // this click unlocks audio; the chime says how it sounds
});

ui.notify.addEventListener('change', async () => {
  await alerts.setNotify(ui.notify.checked);
  renderAlerts();
});

// --- billing ------------------------------------------------------------------------

function renderMonths() {
  const chosen = ui.billingMonth.value;
  const label = new Intl.DateTimeFormat(locale(), { month: 'long', year: 'numeric' });
  ui.billingMonth.replaceChildren(
    ...recentMonths(new Date(), BILLING_MONTHS).map((month) => {
      const [year, number] = month.split('-').map(Number);
      const option = document.createElement('option');
      option.value = month;
      option.textContent = label.format(new Date(year, number - 1, 1));
      return option;
    }),
  );
  if (chosen) ui.billingMonth.value = chosen;
}

/** The CSV of the chosen month (same origin, the login cookie; a GET needs no CSRF token). */
function updateBillingLink() {
  const month = ui.billingMonth.value;
  const lang = ui.billingFormat.value === 'en' ? 'en' : 'de';
  ui.billingExport.href = billingHref(month, lang);
  ui.billingExport.download = billingFile(month, lang);
}

/** @param {string} month YYYY-MM @param {'de' | 'en'} lang */
function billingHref(month, lang) {
  return `/api/v1/billing?month=${encodeURIComponent(month)}&lang=${lang}`;
}

/** The server's own file name for the format (Content-Disposition says the same). @param {string} month @param {'de' | 'en'} lang */
function billingFile(month, lang) {
  return `${lang === 'de' ? 'abrechnung' : 'billing'}-${month}.csv`;
}

/**
 * Months whose start and end times the next purges delete, each a link to its CSV,
 * so that a practice can keep them first (docs/privacy.md, metadata retention).
 * @param {string[]} months
 */
function renderPurgeSoon(months) {
  const lang = ui.billingFormat.value === 'en' ? 'en' : 'de';
  ui.purgeSoon.hidden = months.length === 0;
  const links = months.map((month) => {
    const link = document.createElement('a');
    link.href = billingHref(month, lang);
    link.download = billingFile(month, lang);
    link.textContent = month;
    return link;
  });
  ui.purgeSoon.replaceChildren(t('retention.purgeSoon'), ...links.flatMap((link) => [' ', link]));
}

ui.billingMonth.addEventListener('change', updateBillingLink);
ui.billingFormat.addEventListener('change', () => {
  formatChosen = true;
  updateBillingLink();
});

// --- start --------------------------------------------------------------------

async function main() {
  initI18n();
  renderMonths();
  ui.billingFormat.value = getLang();
  updateBillingLink();
  renderAlerts();
  unlockAudioOnGesture();
  document.title = pageTitle(0, t('dashboard.title'), t('app.name'));
  onLangChange((lang) => {
    for (const [el, text] of dynamicTexts) el.textContent = text();
    if (ui.who.dataset.code) ui.who.textContent = t('dashboard.loggedInAs', { code: ui.who.dataset.code });
    renderMonths();
    renderMoreLinks(moreLinks);
    if (!formatChosen) ui.billingFormat.value = lang;
    updateBillingLink();
    render();
  });
  try {
    const who = await api.me();
    csrf = who.csrf_token;
    offerSeats(who.max_seats ?? 1);
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
      // chime, the title and the notification for a waiting client matter.
      await refresh();
      poll();
    }, POLL_MS);
  };
  poll();
}

main();
