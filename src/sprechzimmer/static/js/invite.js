// Reading the invite link. The link is `/call#s=<session id>&t=<token>`: the
// fragment never reaches the server (no access log ever holds a token), and
// call.js removes it from the address bar as soon as it has been read.
// Pure module: the storage object is passed in.

import { MAX_RESUME } from './protocol.js';

const SESSION = /^[0-9a-f]{32}$/;
const TOKEN = /^[A-Za-z0-9_-]{43}$/;
const STORAGE_KEY = 'sprechzimmer.invite';

/** @typedef {{session: string, token: string, resume?: string}} Invite */

/**
 * Parse `#s=...&t=...`. Returns null for anything malformed: a half-copied
 * link must give a clear message, not a socket that is refused.
 *
 * @param {string} hash location.hash, with or without the leading '#'
 * @returns {Invite | null}
 */
export function parseInviteFragment(hash) {
  const text = hash.startsWith('#') ? hash.slice(1) : hash;
  if (!text) return null;
  const params = new URLSearchParams(text);
  // Mail programs sometimes upper-case or wrap links; only the hex case is
  // safe to repair (the token is case-sensitive base64url).
  const session = (params.get('s') ?? '').trim().toLowerCase();
  const token = (params.get('t') ?? '').trim();
  if (!SESSION.test(session) || !TOKEN.test(token)) return null;
  return { session, token };
}

/**
 * The invite of this tab: from the fragment if there is one, else what an
 * earlier load of this tab kept (so that reload works after the fragment was
 * removed). A fresh fragment for another session or token forgets the old
 * resume secret, which belonged to the other place.
 *
 * @param {string} hash
 * @param {Pick<Storage, 'getItem' | 'setItem'>} storage sessionStorage: per tab, gone with the tab
 * @returns {Invite | null}
 */
export function loadInvite(hash, storage) {
  const fromHash = parseInviteFragment(hash);
  const stored = readStored(storage);
  if (fromHash) {
    const same = stored && stored.session === fromHash.session && stored.token === fromHash.token;
    const invite = same ? stored : fromHash;
    saveInvite(storage, invite);
    return invite;
  }
  return stored;
}

/**
 * @param {Pick<Storage, 'setItem'>} storage
 * @param {Invite} invite
 */
export function saveInvite(storage, invite) {
  try {
    storage.setItem(STORAGE_KEY, JSON.stringify(invite));
  } catch {
    // Storage full or disabled (private mode): reload will need the link again.
  }
}

/**
 * @param {Pick<Storage, 'getItem'>} storage
 * @returns {Invite | null}
 */
function readStored(storage) {
  try {
    const raw = storage.getItem(STORAGE_KEY);
    if (!raw) return null;
    const v = JSON.parse(raw);
    if (typeof v !== 'object' || v === null) return null;
    if (typeof v.session !== 'string' || !SESSION.test(v.session)) return null;
    if (typeof v.token !== 'string' || !TOKEN.test(v.token)) return null;
    /** @type {Invite} */
    const invite = { session: v.session, token: v.token };
    if (typeof v.resume === 'string' && v.resume.length <= MAX_RESUME) invite.resume = v.resume;
    return invite;
  } catch {
    return null;
  }
}
