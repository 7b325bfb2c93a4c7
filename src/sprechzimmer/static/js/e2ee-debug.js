// Test hooks of the frame encryption, for the negative end-to-end tests only.
// They reach the E2EE code only as the explicit `debug` option of
// E2eeSession, which call.js fills from this parser.

/**
 * @typedef {object} DebugSwitches
 * @property {boolean} noReceiveTransform do not attach the decrypting transform on receivers
 * @property {boolean} wrongReceiveKey install a deliberately wrong receive key
 */

/**
 * TEST HOOKS, for the negative end-to-end tests only. Read once at page load
 * from sessionStorage key `sz-debug-e2ee`: "no-receive-transform" or
 * "wrong-receive-key" (several may be given, comma-separated). Without that
 * key, nothing changes; the switches never weaken the sending side, so a
 * page that has one set still never sends a clear frame.
 * @param {string | null} value
 * @returns {DebugSwitches}
 */
export function parseDebugSwitches(value) {
  const words = new Set((value ?? '').split(',').map((w) => w.trim()));
  return { noReceiveTransform: words.has('no-receive-transform'), wrongReceiveKey: words.has('wrong-receive-key') };
}
