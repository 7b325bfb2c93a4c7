// First-frame probe of the call-setup benchmark (bench/call_setup.py).
//
// Installed with Playwright's add_init_script into every page of the
// benchmark (the real call page and bench/floor.html), before the page's own
// scripts, so that the full-stack runs and the floor runs detect "first
// decoded video frame" with the very same code: the ratio of the two is only
// fair if they do.
//
// Times are `performance.timeOrigin + performance.now()` (milliseconds,
// Unix epoch based, sub-millisecond). All pages of a run live in one Chromium
// process on one machine, so these times are comparable between pages (the
// benchmark checks the offset between two pages and reports it).
//
// Methods:
//  - 'rvfc'  requestVideoFrameCallback on the <video> that shows the remote
//            track: the first frame's presentationTime, i.e. when the decoded
//            frame was handed to the compositor. Costs nothing while waiting.
//  - 'stats' getStats() every 10 ms on the peer connection until the video
//            inbound-rtp has framesDecoded > 0. Adds up to ~10 ms plus the
//            cost of getStats, on both sides of the ratio alike.
(() => {
  const POLL_MS = 10;
  const now = () => performance.timeOrigin + performance.now();

  /**
   * @typedef {{first: number | null, method: string, stop: () => void}} Watch
   */
  /** @type {Map<string, Watch>} */
  const watches = new Map();

  /** @param {() => RTCPeerConnection | null | undefined} getPc */
  async function decodedVideo(getPc) {
    const pc = getPc();
    if (!pc || pc.connectionState === 'closed') return false;
    const report = await pc.getStats();
    for (const s of report.values()) {
      if (s.type === 'inbound-rtp' && s.kind === 'video' && s.framesDecoded > 0) return true;
    }
    return false;
  }

  /**
   * Start watching for the first frame; `video` and `getPc` must stay the
   * element and the connection the remote video arrives on.
   *
   * @param {string} name
   * @param {HTMLVideoElement} video
   * @param {() => RTCPeerConnection | null | undefined} getPc
   * @param {'rvfc' | 'stats'} method
   */
  function watch(name, video, getPc, method) {
    watches.get(name)?.stop();
    let stopped = false;
    /** @type {Watch} */
    const w = { first: null, meta: null, method, stop: () => { stopped = true; } };
    watches.set(name, w);
    if (method === 'rvfc') {
      video.requestVideoFrameCallback((_, meta) => {
        if (stopped || w.first !== null) return;
        // presentationTime: when the decoded frame was handed to the
        // compositor. The callback itself runs in the next rendering update,
        // up to a frame interval later; that delay is not the call's.
        w.first = Number.isFinite(meta.presentationTime)
          ? performance.timeOrigin + meta.presentationTime
          : now();
        w.meta = { ...meta, callback: now() - performance.timeOrigin };
      });
    } else {
      const tick = async () => {
        if (stopped || w.first !== null) return;
        try {
          if (await decodedVideo(getPc)) {
            w.first = now();
            return;
          }
        } catch {
          // The connection was replaced or closed between two polls.
        }
        setTimeout(tick, POLL_MS);
      };
      tick();
    }
  }

  /** @param {string} name @returns {number | null} */
  const first = (name) => watches.get(name)?.first ?? null;

  /** @param {string} name */
  const meta = (name) => watches.get(name)?.meta ?? null;

  function stopAll() {
    for (const w of watches.values()) w.stop();
  }

  Object.defineProperty(window, '__bench', {
    value: Object.freeze({ now, watch, first, meta, stopAll }),
    writable: false,
    configurable: false,
    enumerable: false,
  });
})();
