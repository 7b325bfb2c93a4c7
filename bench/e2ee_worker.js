// Benchmark worker of bench/e2ee_cost.py: the per-frame cost of SFrame as the
// call's encoded-transform worker pays it, with the project's own sframe.js
// and framing.js (imported from the running server, unchanged).
//
// One message in: {kind, frames, warmup, pool}; one message out: per-frame
// encrypt and decrypt times in microseconds, or {error}. Frames are synthetic
// random bytes with the first bytes a VP8 key frame, VP8 delta frame or Opus
// frame would have, so that framing.js keeps the real clear prefix. Each
// frame is encrypted, then decrypted and compared with the original: a cost
// is counted only for a round trip that worked. Frames are made before the
// clock runs; keys are random and never leave the worker.

import { SFrameContext } from '/static/js/sframe.js';
import { protect, unprotect } from '/static/js/framing.js';

const KINDS = {
  // bit 0 of byte 0 clear: key frame; bytes 3..5 the VP8 start code
  'video-key': { codec: 'video/VP8', min: 30000, max: 60000, key: true },
  'video-delta': { codec: 'video/VP8', min: 5000, max: 15000, key: false },
  audio: { codec: 'audio/opus', min: 80, max: 120, key: false },
};

function makeFrame(spec) {
  const n = spec.min + Math.floor(Math.random() * (spec.max - spec.min + 1));
  const frame = new Uint8Array(n);
  for (let o = 0; o < n; o += 65536) crypto.getRandomValues(frame.subarray(o, Math.min(n, o + 65536)));
  if (spec.codec === 'video/VP8') {
    frame[0] = spec.key ? frame[0] & 0xfe : frame[0] | 0x01;
    if (spec.key) frame.set([0x9d, 0x01, 0x2a], 3);
  }
  return frame;
}

function same(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i += 1) if (a[i] !== b[i]) return false;
  return true;
}

self.onmessage = async ({ data }) => {
  try {
    const spec = KINDS[data.kind];
    if (!spec) throw new Error(`unknown kind ${data.kind}`);
    const base = crypto.getRandomValues(new Uint8Array(16));
    const sender = new SFrameContext();
    const receiver = new SFrameContext();
    await sender.addKey(1, base);
    await receiver.addKey(1, base);
    const pool = Array.from({ length: data.pool }, () => makeFrame(spec));
    const enc = [];
    const dec = [];
    let bytes = 0;
    let overhead = 0;
    for (let i = -data.warmup; i < data.frames; i += 1) {
      const frame = pool[(i + data.warmup) % pool.length];
      const t0 = performance.now();
      const sealed = await protect(sender, 1, frame, spec.codec);
      const t1 = performance.now();
      const opened = await unprotect(receiver, sealed, spec.codec);
      const t2 = performance.now();
      if (!same(opened.frame, frame)) throw new Error('round trip changed a frame');
      if (i >= 0) {
        enc.push((t1 - t0) * 1000);
        dec.push((t2 - t1) * 1000);
        bytes += frame.length;
        overhead += sealed.length - frame.length;
      }
    }
    self.postMessage({
      kind: data.kind,
      enc,
      dec,
      meanBytes: bytes / data.frames,
      meanOverhead: overhead / data.frames,
      isolated: self.crossOriginIsolated === true,
    });
  } catch (error) {
    self.postMessage({ error: String(error && error.message ? error.message : error) });
  }
};
