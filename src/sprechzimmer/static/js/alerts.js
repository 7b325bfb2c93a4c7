// How the dashboard tells the therapist that someone waits, besides its banner:
// the chime (sound.js) and a notification of the browser. Both are switches
// remembered in this browser's localStorage (a preference that never leaves it).
//
// The browser is asked for permission to notify only when the therapist turns
// the switch on (a click), never by itself; without permission everything else
// works as before. A notification never names the client ID: it may show on a
// locked screen or in a shared screen, and the pseudonym is the practice's to show.

const SOUND_KEY = 'sprechzimmer.sound';
const NOTIFY_KEY = 'sprechzimmer.notify';

/** @typedef {'granted' | 'denied' | 'default' | 'unsupported'} NotifyPermission */

/**
 * @param {string} key
 * @returns {string | null}
 */
function read(key) {
  try {
    return localStorage.getItem(key);
  } catch {
    return null; // storage disabled: the defaults hold for this page
  }
}

/**
 * @param {string} key
 * @param {string} value
 */
function write(key, value) {
  try {
    localStorage.setItem(key, value);
  } catch {
    // storage disabled: the choice lasts for this page only
  }
}

/** The chime is on unless the therapist turned it off. */
export function soundOn() {
  return read(SOUND_KEY) !== 'off';
}

/** @param {boolean} on */
export function setSound(on) {
  write(SOUND_KEY, on ? 'on' : 'off');
}

/** @returns {NotifyPermission} */
export function notifyPermission() {
  const N = globalThis.Notification;
  return N ? N.permission : 'unsupported';
}

/** On when the therapist turned it on and the browser allows it. */
export function notifyOn() {
  return read(NOTIFY_KEY) === 'on' && notifyPermission() === 'granted';
}

/**
 * Turn notifications on or off. Turning them on asks the browser the first
 * time (call this from the click itself: browsers ask only after a gesture).
 *
 * @param {boolean} on
 * @returns {Promise<NotifyPermission>}
 */
export async function setNotify(on) {
  write(NOTIFY_KEY, on ? 'on' : 'off');
  const N = globalThis.Notification;
  if (!on || !N) return notifyPermission();
  if (N.permission === 'default') {
    try {
      await N.requestPermission();
    } catch {
      // an old browser with the callback form only: it stays "default"
    }
  }
  return notifyPermission();
}

/**
 * Show one notification that someone waits, if switched on and the page is not
 * in front (in front, the banner and the chime say it already).
 *
 * @param {string} title
 * @param {string} body
 */
export function notifyWaiting(title, body) {
  if (!notifyOn() || (document.visibilityState === 'visible' && document.hasFocus())) return;
  try {
    const n = new Notification(title, { body, tag: 'sprechzimmer-waiting', icon: '/static/img/icon.svg' });
    n.addEventListener('click', () => {
      window.focus();
      n.close();
    });
  } catch {
    // some mobile browsers allow notifications only from a service worker: the
    // banner, the title and the chime remain
  }
}
