// The link check: before the call page asks for camera and microphone, it
// asks the server whether its link works (POST /api/v1/links/check, the
// token in the body, never in a URL). A dead link is said at once, not
// after a device check; a therapist's link skips the device check.
//
// Nothing is taken by the check: the WebSocket's hello checks the link again.

import { ApiError, request } from './api.js';

/** @typedef {import('./invite.js').Invite} Invite */
/** @typedef {import('./api.js').ApiErrorBody} ApiErrorBody */

/**
 * @typedef {object} LinkOk
 * @property {'therapist' | 'client'} role
 * @property {string} expires_at
 * @property {string} practice_name '' when the operator set none
 * @property {string} [neutral_title] the tab title of a client's page ('' or absent: the usual one)
 * @property {'required' | 'optional'} [client_name] whether a client's page must ask for the
 *   name to be addressed by (absent, from an older server: required)
 */

/**
 * What the check found: the link works; the server refused it (and says
 * why, in both languages); or the check could not say (no network, rate
 * limited, an old server): then the page goes on and the join will tell.
 * @typedef {{ok: LinkOk} | {refused: ApiErrorBody} | {unknown: true}} LinkVerdict
 */

/** @param {Invite} invite @returns {Promise<LinkVerdict>} */
export async function checkLink(invite) {
  try {
    const ok = /** @type {LinkOk} */ (await request('POST', '/api/v1/links/check', { body: { session: invite.session, token: invite.token } }));
    return { ok };
  } catch (err) {
    // 404: no such link; 410: expired or revoked. Anything else decides nothing.
    if (err instanceof ApiError && (err.status === 404 || err.status === 410) && err.body) return { refused: err.body };
    return { unknown: true };
  }
}
