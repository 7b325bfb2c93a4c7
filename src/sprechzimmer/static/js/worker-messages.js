// The messages between the page (frame-encryption.js) and the frame-encryption
// worker (e2ee-worker.js), defined once: both sides are type-checked against
// these unions (the worker also under tsconfig.worker.json, without the DOM).
// Keys travel only from the page to the worker, and never come back.

/** @typedef {'send' | 'receive'} Side */
/** @typedef {'audio' | 'video'} Kind */

/**
 * @typedef {object} Counters cumulative, for the page's diagnostics
 * @property {{audio: number, video: number}} encrypted
 * @property {{audio: number, video: number}} decrypted
 * @property {{audio: number, video: number}} received frames that entered a receive
 *   transform, whatever became of them (tests compare it with the RTP statistics:
 *   a received frame that is not counted here went past the transform)
 * @property {number} decryptFailures authentication failed, malformed, replayed
 * @property {number} droppedNoKey received frames dropped for lack of their key
 * @property {number} sendDroppedNoKey outgoing frames dropped before the first send key
 * @property {number} passthrough frames passed unchanged (dtls-only)
 * @property {number} encryptFailures
 */

/**
 * Page -> worker. A key's buffer is transferred, so the page keeps no copy.
 * @typedef {{type: 'send-key', kid: number, key: Uint8Array}} SendKey add a send key
 * @typedef {{type: 'use-send-key', kid: number}} UseSendKey send under kid from the next
 *   frame on; older send keys go
 * @typedef {{type: 'receive-key', kid: number, key: Uint8Array}} ReceiveKey add a receive
 *   key; answered `installed` or `install-failed`
 * @typedef {{type: 'remove-receive-key', kid: number}} RemoveReceiveKey
 * @typedef {{type: 'mode', mode: 'e2ee' | 'passthrough'}} Mode
 * @typedef {{type: 'counters', id: number}} CountersRequest answered `counters`
 * @typedef {{type: 'streams', side: Side, kind: Kind, readable: ReadableStream,
 *   writable: WritableStream}} Streams the createEncodedStreams path
 * TEST ONLY (the "capture-frames" switch, e2ee-debug.js): keep copies of the ciphertext of
 * the frames opened from now on; hand them over; try to open a frame with the keys held now.
 * Nothing here gives a key or a plaintext back.
 * @typedef {{type: 'capture'}} Capture
 * @typedef {{type: 'captured', id: number}} CapturedRequest answered `captured`
 * @typedef {{type: 'try-open', id: number, kind: Kind, data: Uint8Array}} TryOpen answered `opened`
 * @typedef {SendKey | UseSendKey | ReceiveKey | RemoveReceiveKey | Mode | CountersRequest |
 *   Streams | Capture | CapturedRequest | TryOpen} PageToWorker
 */

/**
 * Worker -> page.
 * @typedef {{type: 'installed', kid: number}} Installed
 * @typedef {{type: 'install-failed', kid: number}} InstallFailed
 * @typedef {{type: 'counters', id: number, counters: Counters}} CountersAnswer the answer to request
 *   `id`; id 0: said unasked, at most once a second while frames flow
 * @typedef {{kind: Kind, kid: number, data: Uint8Array}} CapturedFrame a received frame as it
 *   came (ciphertext) and the KID it opened under
 * @typedef {{type: 'captured', id: number, frames: CapturedFrame[]}} CapturedAnswer
 * @typedef {{type: 'opened', id: number, ok: boolean, error: string | null}} OpenedAnswer
 * @typedef {Installed | InstallFailed | CountersAnswer | CapturedAnswer | OpenedAnswer} WorkerToPage
 */

/**
 * The one way the page talks to the worker.
 * @param {{postMessage: (message: unknown, transfer: Transferable[]) => void}} worker
 * @param {PageToWorker} message
 * @param {Transferable[]} [transfer]
 */
export function toWorker(worker, message, transfer = []) {
  worker.postMessage(message, transfer);
}

/**
 * The one way the worker talks to the page.
 * @param {{postMessage: (message: unknown) => void}} scope
 * @param {WorkerToPage} message
 */
export function toPage(scope, message) {
  scope.postMessage(message);
}
