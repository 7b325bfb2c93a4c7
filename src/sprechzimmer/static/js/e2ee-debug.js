// Test hooks of the frame encryption, for the negative end-to-end tests only.
// They reach the E2EE code only as FrameEncryption's explicit `testHooks`
// option, which call.js fills from these switches; what a hook does (spoil a
// receive key) is written here, not in the key derivation.

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

/**
 * What FrameEncryption does differently for the tests; every field absent in
 * normal use.
 * @typedef {object} TestHooks
 * @property {boolean} [skipReceiveTransform] attach no decrypting transform on receivers
 * @property {(key: Uint8Array) => void} [spoilReceiveKey] change a receive key before it
 *   is installed (so that it cannot open the peer's frames)
 */

/**
 * @param {DebugSwitches} switches
 * @returns {TestHooks}
 */
export function testHooks(switches) {
  /** @type {TestHooks} */
  const hooks = {};
  if (switches.noReceiveTransform) hooks.skipReceiveTransform = true;
  if (switches.wrongReceiveKey) {
    hooks.spoilReceiveKey = (key) => {
      for (let i = 0; i < key.length; i += 1) key[i] ^= 0xff;
    };
  }
  return hooks;
}
