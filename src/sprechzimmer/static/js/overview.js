// What the dashboard shows, worked out from the session list: pure, no DOM and
// no clock (the times come in as arguments), so that node can test it.

/** @typedef {'open' | 'expired' | 'closed' | 'revoked'} ListedState */
/** @typedef {'join' | 'links' | 'close' | 'erase'} SessionAction */

/**
 * Whole minutes a client has waited, by the server's clock: `since` and
 * `serverNow` are the server's times, `elapsedMs` how long ago (by the
 * browser's own steady clock) the server said `serverNow`. A browser whose
 * clock is wrong therefore shows the right waiting time. Null when unknown.
 *
 * @param {string | null | undefined} since
 * @param {string} serverNow
 * @param {number} elapsedMs
 * @returns {number | null}
 */
export function waitedMinutes(since, serverNow, elapsedMs) {
  if (!since) return null;
  const start = Date.parse(since);
  const now = Date.parse(serverNow);
  if (Number.isNaN(start) || Number.isNaN(now)) return null;
  return Math.max(0, Math.floor((now + Math.max(0, elapsedMs) - start) / 60_000));
}

/**
 * The tab's title, with the number of waiting clients in front while there are
 * any: a tab in the background still says that someone waits.
 *
 * @param {number} waiting
 * @param {string} page
 * @param {string} app
 */
export function pageTitle(waiting, page, app) {
  return `${waiting > 0 ? `(${waiting}) ` : ''}${page} – ${app}`;
}

/**
 * The sessions that wait now and did not at the last look; none at the first
 * look (`before` null), so that opening the page does not ring.
 *
 * @param {Set<string> | null} before
 * @param {{session_id: string, waiting: boolean}[]} sessions
 * @returns {string[]}
 */
export function newlyWaiting(before, sessions) {
  if (before === null) return [];
  return sessions.filter((s) => s.waiting && !before.has(s.session_id)).map((s) => s.session_id);
}

/**
 * What the therapist can do with a session in its state. Only what works is
 * offered (a disabled button cannot tell why it is disabled): an expired
 * session has no seat to join but can get new links; an ended one can only be
 * erased.
 *
 * @param {string} state
 * @returns {SessionAction[]}
 */
export function actionsFor(state) {
  switch (state) {
    case 'open':
      return ['join', 'links', 'close', 'erase'];
    case 'expired':
      return ['links', 'close', 'erase'];
    default:
      return ['erase'];
  }
}

/**
 * The `count` calendar months up to the one of `today` (local calendar),
 * newest first, as `YYYY-MM`: the billing month picker's choices.
 *
 * @param {Date} today
 * @param {number} count
 * @returns {string[]}
 */
export function recentMonths(today, count) {
  const months = [];
  let year = today.getFullYear();
  let month = today.getMonth() + 1;
  for (let i = 0; i < count; i += 1) {
    months.push(`${year}-${String(month).padStart(2, '0')}`);
    month -= 1;
    if (month === 0) {
      month = 12;
      year -= 1;
    }
  }
  return months;
}
