// The JSON API of docs/http.md, as the dashboard and login pages use it.
// Same origin only (relative URLs); the login cookie travels by itself, the
// CSRF token goes into a header on every state-changing request.

/**
 * @typedef {object} ApiErrorBody
 * @property {string} code
 * @property {string} message English sentence
 * @property {string} message_de German sentence
 */

/**
 * @typedef {object} SessionLinks
 * @property {string} session_id
 * @property {string} client_id
 * @property {string} therapist_url
 * @property {string} client_url
 * @property {string[]} [client_urls] one link per client seat, seat 1 first
 * @property {string} created_at
 * @property {string} expires_at
 */

/**
 * @typedef {object} SessionSummary
 * @property {string} session_id
 * @property {string} reference short reference, as in the billing CSV
 * @property {string} client_id
 * @property {string} created_at
 * @property {string} expires_at when its links stop working
 * @property {'open' | 'expired' | 'closed' | 'revoked'} state
 * @property {boolean} waiting
 * @property {boolean} in_call
 * @property {string | null} waiting_since when the waiting client began to knock
 * @property {number} billable_seconds so far, all months
 * @property {number} billable_minutes the same, two decimals
 */

/**
 * @typedef {object} SessionList
 * @property {SessionSummary[]} sessions newest first
 * @property {string} now the server's time of the answer
 * @property {string[]} purge_soon months (YYYY-MM) whose times of day the purge deletes soon
 */

/** @typedef {{code: string, csrf_token: string, max_seats?: number}} Me max_seats: the most client seats a new session may have (absent: 1) */

export class ApiError extends Error {
  /**
   * @param {number} status HTTP status, 0 for a network failure
   * @param {ApiErrorBody | null} body
   */
  constructor(status, body) {
    super(body?.message ?? `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.body = body;
  }
}

/**
 * @param {string} method
 * @param {string} path
 * @param {{csrf?: string, body?: unknown}} [options]
 * @returns {Promise<unknown>} the parsed JSON body, or null for 204
 */
export async function request(method, path, options = {}) {
  /** @type {Record<string, string>} */
  const headers = { Accept: 'application/json' };
  if (options.csrf) headers['X-CSRF-Token'] = options.csrf;
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  /** @type {Response} */
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      credentials: 'same-origin',
      cache: 'no-store',
      redirect: 'error',
    });
  } catch {
    throw new ApiError(0, null);
  }
  if (response.status === 204) return null;
  /** @type {unknown} */
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    const err = /** @type {{error?: ApiErrorBody} | null} */ (data)?.error ?? null;
    throw new ApiError(response.status, err && typeof err === 'object' ? err : null);
  }
  return data;
}

/** @returns {Promise<Me>} */
export async function me() {
  return /** @type {Me} */ (await request('GET', '/api/v1/me'));
}

/**
 * @param {string} code
 * @param {string} password
 * @returns {Promise<Me>}
 */
export async function login(code, password) {
  return /** @type {Me} */ (await request('POST', '/api/v1/login', { body: { code, password } }));
}

/** @param {string} csrf */
export async function logout(csrf) {
  await request('POST', '/api/v1/logout', { csrf });
}

/** @returns {Promise<SessionList>} */
export async function listSessions() {
  const data = /** @type {Partial<SessionList> | null} */ (await request('GET', '/api/v1/sessions'));
  return {
    sessions: Array.isArray(data?.sessions) ? data.sessions : [],
    now: typeof data?.now === 'string' ? data.now : new Date().toISOString(),
    purge_soon: Array.isArray(data?.purge_soon) ? data.purge_soon : [],
  };
}

/**
 * @param {string} csrf
 * @param {string} clientId
 * @param {number} [seats] client seats, each with its own link (1: a one-to-one session)
 * @returns {Promise<SessionLinks>}
 */
export async function createSession(csrf, clientId, seats = 1) {
  return /** @type {SessionLinks} */ (await request('POST', '/api/v1/sessions', { csrf, body: { client_id: clientId, seats } }));
}

/**
 * @param {string} csrf
 * @param {string} sessionId
 * @returns {Promise<SessionLinks>}
 */
export async function newLinks(csrf, sessionId) {
  return /** @type {SessionLinks} */ (
    await request('POST', `/api/v1/sessions/${encodeURIComponent(sessionId)}/links`, { csrf })
  );
}

/**
 * The therapist's own seat: no client link is minted and the expiry stays.
 * @param {string} csrf
 * @param {string} sessionId
 * @returns {Promise<{therapist_url: string, expires_at: string}>}
 */
export async function joinSession(csrf, sessionId) {
  return /** @type {{therapist_url: string, expires_at: string}} */ (
    await request('POST', `/api/v1/sessions/${encodeURIComponent(sessionId)}/join`, { csrf })
  );
}

/**
 * @param {string} csrf
 * @param {string} sessionId
 */
export async function revokeSession(csrf, sessionId) {
  await request('DELETE', `/api/v1/sessions/${encodeURIComponent(sessionId)}`, { csrf });
}

/**
 * End the session: its links stop working, a running call ends, its minutes stay.
 * @param {string} csrf
 * @param {string} sessionId
 */
export async function closeSession(csrf, sessionId) {
  await request('POST', `/api/v1/sessions/${encodeURIComponent(sessionId)}/close`, { csrf });
}

/**
 * Erase the session's record (data-subject deletion): row, links and events.
 * @param {string} csrf
 * @param {string} sessionId
 */
export async function eraseRecord(csrf, sessionId) {
  await request('DELETE', `/api/v1/sessions/${encodeURIComponent(sessionId)}/record`, { csrf });
}
