// The page's end of the frame-encryption worker (e2ee-worker.js): made once
// per connection (two people) or per call (a group), it takes keys (their
// buffers are transferred: the page keeps no copy), says which one to send
// under, and answers the diagnostics' counters. Terminating it drops every
// key with the worker's memory.
//
// Shared by frame-encryption.js and groupencryption.js; the messages are
// worker-messages.js's.

import { toWorker } from './worker-messages.js';

/** @typedef {import('./worker-messages.js').Counters} WorkerCounters */
/** @typedef {import('./worker-messages.js').WorkerToPage} WorkerToPage */
/** @typedef {Omit<WorkerCounters, 'encryptFailures'>} Counters */

/** Counters of a connection without a worker (yet): all zero. */
/** @type {Counters} */
export const NO_COUNTERS = Object.freeze({
  encrypted: { audio: 0, video: 0 },
  decrypted: { audio: 0, video: 0 },
  received: { audio: 0, video: 0 },
  decryptFailures: 0,
  droppedNoKey: 0,
  sendDroppedNoKey: 0,
  passthrough: 0,
});

/**
 * How long a request to the worker (its counters; the tests' captured frames) may take
 * before it is answered without it: the counters the worker said last by itself (a
 * worker busy with a group's frames on a loaded machine gets to questions late).
 */
const COUNTERS_TIMEOUT_MS = 2000;

export class FrameWorker {
  /** @type {Worker | null} */
  #worker;
  /** @type {Map<number, () => void>} */
  #installed = new Map();
  /** @type {Map<number, (c: Counters) => void>} */
  #counterRequests = new Map();
  #nextRequest = 1;
  /** The counters the worker said last by itself (id 0). @type {Counters | null} */
  #latest = null;
  /** TEST ONLY answers ("capture-frames"), by request id. @type {Map<number, (answer: unknown) => void>} */
  #testRequests = new Map();

  /** @param {(text: string) => void} log */
  constructor(log) {
    this.#worker = new Worker(new URL('./e2ee-worker.js', import.meta.url), { type: 'module', name: 'sprechzimmer-e2ee' });
    this.#worker.onmessage = (event) => this.#fromWorker(event.data);
    this.#worker.onerror = () => log('e2ee: worker error');
  }

  /** The worker itself, for the transforms (transforms.js); null once terminated. */
  get worker() {
    return this.#worker;
  }

  /** @param {number} kid @param {Uint8Array} key transferred */
  sendKey(kid, key) {
    if (this.#worker) toWorker(this.#worker, { type: 'send-key', kid, key }, [key.buffer]);
  }

  /**
   * A receive key, installed when the promise resolves (or refused by the worker).
   * @param {number} kid @param {Uint8Array} key transferred
   * @returns {Promise<void>}
   */
  receiveKey(kid, key) {
    const worker = this.#worker;
    if (!worker) return Promise.resolve();
    const installed = new Promise((resolve) => this.#installed.set(kid, () => resolve(undefined)));
    toWorker(worker, { type: 'receive-key', kid, key }, [key.buffer]);
    return /** @type {Promise<void>} */ (installed);
  }

  /** @param {number} kid */
  useSendKey(kid) {
    if (this.#worker) toWorker(this.#worker, { type: 'use-send-key', kid });
  }

  /** @param {number} kid */
  removeReceiveKey(kid) {
    if (this.#worker) toWorker(this.#worker, { type: 'remove-receive-key', kid });
  }

  passthrough() {
    if (this.#worker) toWorker(this.#worker, { type: 'mode', mode: 'passthrough' });
  }

  /** @returns {Promise<Counters>} cumulative counters of the worker */
  counters() {
    const worker = this.#worker;
    if (!worker) return Promise.resolve(structuredClone(NO_COUNTERS));
    const id = this.#nextRequest++;
    return new Promise((resolve) => {
      this.#counterRequests.set(id, resolve);
      toWorker(worker, { type: 'counters', id });
      setTimeout(() => {
        if (this.#counterRequests.delete(id)) resolve(structuredClone(this.#latest ?? NO_COUNTERS));
      }, COUNTERS_TIMEOUT_MS);
    });
  }

  /** TEST ONLY: from now on keep copies of the last ciphertext frames opened. */
  capture() {
    if (this.#worker) toWorker(this.#worker, { type: 'capture' });
  }

  /**
   * TEST ONLY: the ciphertext frames kept, each with the KID it opened under.
   * @returns {Promise<import('./worker-messages.js').CapturedFrame[]>}
   */
  captured() {
    return /** @type {Promise<import('./worker-messages.js').CapturedFrame[]>} */ (this.#ask((id) => ({ type: 'captured', id }), []));
  }

  /**
   * TEST ONLY: whether the keys held now open this ciphertext frame (and why not).
   * @param {'audio' | 'video'} kind @param {Uint8Array} data
   * @returns {Promise<{ok: boolean, error: string | null}>}
   */
  tryOpen(kind, data) {
    return /** @type {Promise<{ok: boolean, error: string | null}>} */ (
      this.#ask((id) => ({ type: 'try-open', id, kind, data: new Uint8Array(data) }), { ok: false, error: 'no-worker' })
    );
  }

  /**
   * @param {(id: number) => import('./worker-messages.js').PageToWorker} message
   * @param {unknown} fallback the answer without a worker or after the timeout
   */
  #ask(message, fallback) {
    const worker = this.#worker;
    if (!worker) return Promise.resolve(fallback);
    const id = this.#nextRequest++;
    return new Promise((resolve) => {
      this.#testRequests.set(id, resolve);
      toWorker(worker, message(id));
      setTimeout(() => {
        if (this.#testRequests.delete(id)) resolve(fallback);
      }, COUNTERS_TIMEOUT_MS);
    });
  }

  terminate() {
    for (const resolve of this.#counterRequests.values()) resolve(structuredClone(NO_COUNTERS));
    this.#counterRequests.clear();
    for (const done of this.#installed.values()) done();
    this.#installed.clear();
    this.#worker?.terminate();
    this.#worker = null;
  }

  /** @param {unknown} data */
  #fromWorker(data) {
    // Only our own worker posts here.
    const m = /** @type {WorkerToPage} */ (data);
    if (m.type === 'counters') {
      const { encryptFailures: _unused, ...counters } = m.counters;
      if (m.id === 0) {
        this.#latest = counters;
        return;
      }
      const resolve = this.#counterRequests.get(m.id);
      this.#counterRequests.delete(m.id);
      resolve?.(counters);
    } else if (m.type === 'captured' || m.type === 'opened') {
      const resolve = this.#testRequests.get(m.id);
      this.#testRequests.delete(m.id);
      resolve?.(m.type === 'captured' ? m.frames : { ok: m.ok, error: m.error });
    } else {
      this.#installed.get(m.kid)?.();
      this.#installed.delete(m.kid);
    }
  }
}
