// Test hooks of the frame encryption, for the end-to-end tests only. They
// reach the E2EE code only as FrameEncryption's explicit `testHooks` option,
// which call.js fills from these switches; what a hook does (spoil a receive
// key, force one encoded-transform path) is written here, not in the key
// derivation.

/** @typedef {'script-transform' | 'encoded-streams'} TransformPath */

/**
 * @typedef {object} DebugSwitches
 * @property {boolean} noReceiveTransform do not attach the decrypting transform on receivers
 * @property {boolean} wrongReceiveKey install a deliberately wrong receive key
 * @property {TransformPath | null} forceTransform use this encoded-transform path, or fail
 * @property {boolean} captureFrames the worker keeps copies of the last ciphertext frames it
 *   opened, and a group's page keeps its worker (and its old keys) after its call, so that a
 *   test can feed one member's captured frames to another's keys (issue 16's renewal tests)
 */

/** The switch words that force one encoded-transform path. */
const FORCE_WORDS = /** @type {const} */ ({
  'force-script-transform': 'script-transform',
  'force-encoded-streams': 'encoded-streams',
});

/**
 * TEST HOOKS, for the end-to-end tests only. Read once at page load from
 * sessionStorage key `sz-debug-e2ee`, comma-separated words:
 *
 * - "no-receive-transform", "wrong-receive-key": the negative tests' broken
 *   receivers;
 * - "capture-frames": keep ciphertext for the renewal tests (see DebugSwitches);
 * - "force-script-transform", "force-encoded-streams": take that
 *   encoded-transform path even where the browser has both (Chromium >= 141),
 *   so that each path can run a whole call. A forced path the browser lacks
 *   is an error, never a quiet fall-back to the other path or to none.
 *
 * Without that key, nothing changes. No switch weakens the sending side: a
 * page that has one set still never sends a clear frame (a forced path is
 * one of the two real ones, with the same worker and the same keys).
 * @param {string | null} value
 * @returns {DebugSwitches}
 */
export function parseDebugSwitches(value) {
  const words = new Set((value ?? '').split(',').map((w) => w.trim()));
  const forced = Object.entries(FORCE_WORDS)
    .filter(([word]) => words.has(word))
    .map(([, path]) => path);
  if (forced.length > 1) throw new Error(`sz-debug-e2ee: ${Object.keys(FORCE_WORDS).join(' and ')} exclude each other`);
  return {
    noReceiveTransform: words.has('no-receive-transform'),
    wrongReceiveKey: words.has('wrong-receive-key'),
    forceTransform: forced[0] ?? null,
    captureFrames: words.has('capture-frames'),
  };
}

/**
 * What FrameEncryption does differently for the tests; every field absent in
 * normal use.
 * @typedef {object} TestHooks
 * @property {boolean} [skipReceiveTransform] attach no decrypting transform on receivers
 * @property {(key: Uint8Array) => void} [spoilReceiveKey] change a receive key before it
 *   is installed (so that it cannot open the peer's frames)
 * @property {TransformPath} [forceTransform] this encoded-transform path, or an error
 * @property {boolean} [captureFrames] the worker keeps the last ciphertext frames it opened
 *   and the keys of a finished call stay in it (groupencryption.js), for `tryOpen`
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
  if (switches.forceTransform) hooks.forceTransform = switches.forceTransform;
  if (switches.captureFrames) hooks.captureFrames = true;
  return hooks;
}
