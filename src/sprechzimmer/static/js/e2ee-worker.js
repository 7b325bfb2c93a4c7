// The encoded-transform worker of one peer connection (a module worker):
// every outgoing audio and video frame is SFrame-protected here, every
// incoming one opened, before the packetizer or the decoder sees it.
//
// One sending SFrameContext for all outgoing tracks (two contexts with the
// same key and KID would repeat nonces) and one receiving context. Keys come
// from the page (frame-encryption.js) once the browsers agreed on them; the
// page never gets a key back, and nothing here is logged.
//
// Fail closed: until the page says which key to send under, outgoing frames
// are dropped (`sendDroppedNoKey`), never sent in clear. Only the page's
// explicit `passthrough` (the operator allows DTLS-SRTP-only calls and the
// peer cannot do frame encryption) lets frames through unchanged.
//
// The messages both ways are defined in worker-messages.js.
// RTCRtpScriptTransform options: {side:'send'|'receive', kind:'audio'|'video'}.

import { SFrameContext, SFrameError } from './sframe.js';
import { protect, unprotect } from './framing.js';
import { toPage } from './worker-messages.js';

/** @typedef {import('./worker-messages.js').Side} Side */
/** @typedef {import('./worker-messages.js').Kind} Kind */
/** @typedef {import('./worker-messages.js').Counters} Counters */
/** @typedef {import('./worker-messages.js').PageToWorker} PageToWorker */
/** @typedef {RTCEncodedVideoFrame | RTCEncodedAudioFrame} EncodedFrame */
/**
 * @typedef {object} ScriptTransformer RTCRtpScriptTransformer, as far as we use it
 * @property {ReadableStream<EncodedFrame>} readable
 * @property {WritableStream<EncodedFrame>} writable
 * @property {unknown} options
 * @property {() => Promise<void>} [generateKeyFrame]
 * @property {() => Promise<void>} [sendKeyFrameRequest]
 */
/**
 * @typedef {object} WorkerScope
 * @property {((event: {transformer: ScriptTransformer}) => void) | null} onrtctransform
 * @property {((event: MessageEvent) => void) | null} onmessage
 * @property {(message: unknown) => void} postMessage
 */

const scope = /** @type {WorkerScope} */ (/** @type {unknown} */ (globalThis));

const sendContext = new SFrameContext();
// No SFrame replay window: Chromium hands the same encoded frame to the
// receive transform more than once while its decoder waits for a key frame
// (seen in our e2e runs), and a replay check would drop those. Replayed
// packets are already refused by SRTP, whose keys only the two browsers
// have; an SFrame replay check matters once a middlebox terminates DTLS.
const receiveContext = new SFrameContext();
/** @type {number | null} */
let sendKid = null;
/** @type {Set<number>} */
const sendKids = new Set();
/** @type {Set<number>} */
const receiveKids = new Set();
/** @type {'e2ee' | 'passthrough'} */
let mode = 'e2ee';
/** TEST ONLY ("capture-frames"): the last ciphertext frames opened, newest last; null: off. */
/** @type {import('./worker-messages.js').CapturedFrame[] | null} */
let captured = null;
const CAPTURE_FRAMES = 48;

/**
 * When the counters last went to the page by themselves. A worker busy with many
 * streams (a group) may get to the page's questions only seconds late, so it also
 * says its counters, at most once a second, from where it is busy: with the frames.
 */
let reportedAt = 0;
const REPORT_MS = 1000;

function reportNow() {
  const now = Date.now();
  if (now - reportedAt < REPORT_MS) return;
  reportedAt = now;
  toPage(scope, { type: 'counters', id: 0, counters: structuredClone(counters) });
}

/** Send-side video transformers, for key frames at a key switch. */
/** @type {Set<ScriptTransformer>} */
const videoSenders = new Set();

/** @type {Counters} */
const counters = {
  encrypted: { audio: 0, video: 0 },
  decrypted: { audio: 0, video: 0 },
  received: { audio: 0, video: 0 },
  decryptFailures: 0,
  droppedNoKey: 0,
  sendDroppedNoKey: 0,
  passthrough: 0,
  encryptFailures: 0,
};

/**
 * The codec of a frame, for its clear prefix. While frame encryption is on
 * only VP8 and Opus are negotiated; the kind is the fallback where the
 * metadata has no MIME type (Firefox; Safari before 26, per MDN's
 * browser-compat-data `RTCEncodedVideoFrame.getMetadata` →
 * `return_object_property_mimeType`) or no getMetadata at all (WebKit's
 * first RTCEncodedAudioFrame had none: its IDL carried the method commented
 * out), where calling it would throw and drop every frame.
 * @param {EncodedFrame} frame
 * @param {Kind} kind
 */
function codecOf(frame, kind) {
  const metadata = typeof frame.getMetadata === 'function' ? frame.getMetadata() : {};
  const mime = /** @type {{mimeType?: unknown}} */ (metadata).mimeType;
  if (typeof mime === 'string' && mime) return mime;
  return kind === 'video' ? 'video/VP8' : 'audio/opus';
}

/**
 * @param {Kind} kind
 * @returns {TransformStream<EncodedFrame, EncodedFrame>}
 */
function encryptor(kind) {
  return new TransformStream({
    async transform(frame, controller) {
      if (mode === 'passthrough') {
        counters.passthrough += 1;
        controller.enqueue(frame);
        return;
      }
      const kid = sendKid;
      if (kid === null) {
        counters.sendDroppedNoKey += 1;
        return;
      }
      try {
        const sealed = await protect(sendContext, kid, new Uint8Array(frame.data), codecOf(frame, kind));
        frame.data = sealed.buffer;
        counters.encrypted[kind] += 1;
        controller.enqueue(frame);
        reportNow();
      } catch {
        counters.encryptFailures += 1;
      }
    },
  });
}

/**
 * @param {Kind} kind
 * @param {ScriptTransformer | null} transformer
 * @returns {TransformStream<EncodedFrame, EncodedFrame>}
 */
function decryptor(kind, transformer) {
  /** Frames were dropped since the last good one: the decoder needs a key frame. */
  let gap = false;
  return new TransformStream({
    async transform(frame, controller) {
      counters.received[kind] += 1;
      if (mode === 'passthrough') {
        counters.passthrough += 1;
        controller.enqueue(frame);
        return;
      }
      const data = new Uint8Array(frame.data);
      if (data.length === 0) {
        controller.enqueue(frame);
        return;
      }
      try {
        const sealed = captured ? data.slice() : null;
        const opened = await unprotect(receiveContext, data, codecOf(frame, kind));
        if (captured && sealed && opened.kid !== null) {
          captured.push({ kind, kid: Number(opened.kid), data: sealed });
          if (captured.length > CAPTURE_FRAMES) captured.shift();
        }
        frame.data = opened.frame.buffer;
        counters.decrypted[kind] += 1;
        controller.enqueue(frame);
        reportNow();
        if (gap && kind === 'video') transformer?.sendKeyFrameRequest?.().catch(() => {});
        gap = false;
      } catch (err) {
        gap = true;
        if (receiveKids.size === 0 || (err instanceof SFrameError && err.code === 'unknown-key')) {
          counters.droppedNoKey += 1;
        } else {
          counters.decryptFailures += 1;
        }
      }
    },
  });
}

/**
 * @param {Side} side
 * @param {Kind} kind
 * @param {ReadableStream<EncodedFrame>} readable
 * @param {WritableStream<EncodedFrame>} writable
 * @param {ScriptTransformer | null} transformer
 */
function pipe(side, kind, readable, writable, transformer) {
  const stream = side === 'send' ? encryptor(kind) : decryptor(kind, transformer);
  if (side === 'send' && kind === 'video' && transformer) videoSenders.add(transformer);
  readable
    .pipeThrough(stream)
    .pipeTo(writable)
    .catch(() => {})
    .finally(() => {
      if (transformer) videoSenders.delete(transformer);
    });
}

/**
 * @param {unknown} options
 * @returns {{side: Side, kind: Kind} | null}
 */
function readOptions(options) {
  const o = /** @type {{side?: unknown, kind?: unknown}} */ (options ?? {});
  /** @type {Side | null} */
  const side = o.side === 'send' ? 'send' : o.side === 'receive' ? 'receive' : null;
  /** @type {Kind | null} */
  const kind = o.kind === 'audio' ? 'audio' : o.kind === 'video' ? 'video' : null;
  return side && kind ? { side, kind } : null;
}

scope.onrtctransform = (event) => {
  const transformer = event.transformer;
  const options = readOptions(transformer.options);
  if (!options) return; // not ours: the frames stall rather than pass in clear
  pipe(options.side, options.kind, transformer.readable, transformer.writable, transformer);
};

function keyFrame() {
  for (const transformer of videoSenders) transformer.generateKeyFrame?.().catch(() => {});
}

scope.onmessage = async (event) => {
  // Only our page can post here (a module worker of our own origin).
  const m = /** @type {PageToWorker} */ (event.data);
  switch (m.type) {
    case 'send-key':
      try {
        sendKids.add(m.kid);
        await sendContext.addKey(m.kid, m.key);
      } catch {
        sendKids.delete(m.kid);
      } finally {
        if (m.key instanceof Uint8Array) m.key.fill(0);
      }
      break;
    case 'use-send-key':
      if (!sendKids.has(m.kid)) break;
      sendKid = m.kid;
      for (const kid of sendKids) {
        if (kid !== m.kid) {
          sendContext.removeKey(kid);
          sendKids.delete(kid);
        }
      }
      keyFrame();
      break;
    case 'receive-key':
      try {
        receiveKids.add(m.kid);
        await receiveContext.addKey(m.kid, m.key);
        toPage(scope, { type: 'installed', kid: m.kid });
      } catch {
        receiveKids.delete(m.kid);
        toPage(scope, { type: 'install-failed', kid: m.kid });
      } finally {
        if (m.key instanceof Uint8Array) m.key.fill(0);
      }
      break;
    case 'remove-receive-key':
      receiveContext.removeKey(m.kid);
      receiveKids.delete(m.kid);
      break;
    case 'mode':
      mode = m.mode === 'passthrough' ? 'passthrough' : 'e2ee';
      break;
    case 'counters':
      toPage(scope, { type: 'counters', id: m.id, counters: structuredClone(counters) });
      break;
    case 'capture':
      captured ??= [];
      break;
    case 'captured':
      toPage(scope, { type: 'captured', id: m.id, frames: captured ? [...captured] : [] });
      break;
    case 'try-open':
      try {
        await unprotect(receiveContext, m.data, m.kind === 'video' ? 'video/VP8' : 'audio/opus');
        toPage(scope, { type: 'opened', id: m.id, ok: true, error: null });
      } catch (err) {
        toPage(scope, { type: 'opened', id: m.id, ok: false, error: err instanceof SFrameError ? err.code : 'failed' });
      }
      break;
    case 'streams': {
      const options = readOptions(m);
      if (options) pipe(options.side, options.kind, m.readable, m.writable, null);
      break;
    }
  }
};
