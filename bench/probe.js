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
//
// Marks (the breakdown of a set-up): the first time each named step happens
// in this page, from wrappers around the browser's own objects, so the call
// page and the reference pages are marked alike without a line of bench code
// in either: signaling messages sent and received (`ws>type`, `ws<type`, the
// JSON `type` field only), getUserMedia, each peer connection's creation,
// descriptions, candidates, ICE, DTLS and SCTP states, data-channel opens and
// messages (`dc>type`, `dc<type`), and page<->worker messages (`worker>type`,
// `worker<type`: the key installation). Event-driven: nothing polls unless
// `watchMedia` is called (first RTP packet and frame counters from getStats).
// Only the type of a message is read, never its content.
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

  // -------------------------------------------------------------------------
  // Marks

  /** @type {Map<string, number>} first time of each step in this page */
  const marks = new Map();
  const MAX_MARKS = 400;
  /** @param {string} name @param {number} [at] */
  function mark(name, at) {
    if (!marks.has(name) && marks.size < MAX_MARKS) marks.set(name, at ?? now());
  }
  const allMarks = () => Object.fromEntries(marks);
  const resetMarks = () => marks.clear();

  /** @param {unknown} data @returns {string} the message's `type`, or '?' */
  function typeOf(data) {
    if (typeof data === 'string' && data.length < 200_000) {
      try {
        const t = JSON.parse(data)?.type;
        if (typeof t === 'string') return t.slice(0, 40);
      } catch {
        // not JSON
      }
    } else if (data && typeof data === 'object' && typeof (/** @type {any} */ (data)).type === 'string') {
      return /** @type {any} */ (data).type.slice(0, 40);
    }
    return '?';
  }

  const NativeSocket = window.WebSocket;
  if (NativeSocket) {
    const send = NativeSocket.prototype.send;
    NativeSocket.prototype.send = function (data) {
      mark(`ws>${typeOf(data)}`);
      return send.call(this, data);
    };
    window.WebSocket = class extends NativeSocket {
      /** @param {ConstructorParameters<typeof WebSocket>} args */
      constructor(...args) {
        super(...args);
        this.addEventListener('open', () => mark('ws open'));
        this.addEventListener('message', (e) => mark(`ws<${typeOf(e.data)}`));
      }
    };
  }

  const md = navigator.mediaDevices;
  if (md?.getUserMedia) {
    const gum = md.getUserMedia.bind(md);
    md.getUserMedia = async (constraints) => {
      mark('gum start');
      const stream = await gum(constraints);
      mark('gum done');
      return stream;
    };
  }

  /** @param {RTCDataChannel} channel */
  function watchChannel(channel) {
    const label = channel.label.replace(/^sprechzimmer-/, '');
    channel.addEventListener('open', () => mark(`dc open ${label}`));
    channel.addEventListener('message', (e) => mark(`dc<${typeOf(e.data)}`));
  }

  const NativePc = window.RTCPeerConnection;
  if (NativePc) {
    const proto = NativePc.prototype;
    /** @type {WeakSet<object>} */
    const seenTransports = new WeakSet();
    /** @param {RTCPeerConnection} pc */
    const watchTransports = (pc) => {
      for (const x of [...pc.getSenders(), ...pc.getReceivers()]) {
        const dtls = x.transport;
        if (!dtls || seenTransports.has(dtls)) continue;
        seenTransports.add(dtls);
        dtls.addEventListener('statechange', () => mark(`dtls ${dtls.state}`));
        dtls.iceTransport?.addEventListener('statechange', () => mark(`ice transport ${dtls.iceTransport.state}`));
      }
      const sctp = pc.sctp;
      if (sctp && !seenTransports.has(sctp)) {
        seenTransports.add(sctp);
        sctp.addEventListener('statechange', () => mark(`sctp ${sctp.state}`));
      }
    };
    for (const name of ['setLocalDescription', 'setRemoteDescription']) {
      const original = proto[name];
      proto[name] = async function (...args) {
        const type = args[0]?.type ?? (name === 'setLocalDescription' ? this.signalingState === 'have-remote-offer' ? 'answer' : 'offer' : '?');
        const short = name === 'setLocalDescription' ? 'local' : 'remote';
        mark(`${short} ${type} start`);
        const result = await original.apply(this, args);
        mark(`${short} ${type} set`);
        watchTransports(this);
        return result;
      };
    }
    const addCandidate = proto.addIceCandidate;
    proto.addIceCandidate = function (...args) {
      mark('remote candidate added');
      return addCandidate.apply(this, args);
    };
    const createChannel = proto.createDataChannel;
    proto.createDataChannel = function (...args) {
      const channel = createChannel.apply(this, args);
      watchChannel(channel);
      return channel;
    };
    window.RTCPeerConnection = class extends NativePc {
      /** @param {ConstructorParameters<typeof RTCPeerConnection>} args */
      constructor(...args) {
        super(...args);
        mark('pc created');
        this.addEventListener('icecandidate', (e) => mark(e.candidate?.candidate ? 'local candidate' : 'gathering done'));
        this.addEventListener('iceconnectionstatechange', () => mark(`ice ${this.iceConnectionState}`));
        this.addEventListener('connectionstatechange', () => mark(`pc ${this.connectionState}`));
        this.addEventListener('track', (e) => mark(`track ${e.track.kind}`));
        this.addEventListener('datachannel', (e) => watchChannel(e.channel));
      }
    };
  }
  const NativeChannel = window.RTCDataChannel;
  if (NativeChannel) {
    const send = NativeChannel.prototype.send;
    NativeChannel.prototype.send = function (data) {
      mark(`dc>${typeOf(data)}`);
      return send.call(this, data);
    };
  }

  const NativeWorker = window.Worker;
  if (NativeWorker) {
    const post = NativeWorker.prototype.postMessage;
    NativeWorker.prototype.postMessage = function (message, ...rest) {
      mark(`worker>${typeOf(message)}`);
      return post.call(this, message, ...rest);
    };
    window.Worker = class extends NativeWorker {
      /** @param {ConstructorParameters<typeof Worker>} args */
      constructor(...args) {
        super(...args);
        mark('worker created');
        this.addEventListener('message', (e) => mark(`worker<${typeOf(e.data)}`));
      }
    };
  }

  /**
   * Poll getStats (every POLL_MS, up to `forMs`) for the media steps the
   * browser has no event for: first video RTP packet sent and received,
   * first frame encoded, received, decoded, first key frame each way. Costs
   * getStats calls: only on request (the bench's --media-marks).
   * @param {() => RTCPeerConnection | null | undefined} getPc
   * @param {number} forMs
   */
  function watchMedia(getPc, forMs) {
    const until = now() + forMs;
    const fields = {
      'outbound-rtp': ['framesEncoded', 'keyFramesEncoded', 'packetsSent'],
      'inbound-rtp': ['packetsReceived', 'framesReceived', 'keyFramesDecoded', 'framesDecoded'],
    };
    const tick = async () => {
      if (now() > until) return;
      const pc = getPc();
      if (pc && pc.connectionState !== 'closed') {
        try {
          const report = await pc.getStats();
          const at = now();
          for (const s of report.values()) {
            if (s.kind !== 'video' || !(s.type in fields)) continue;
            for (const f of fields[s.type]) if (s[f] > 0) mark(`video ${f}`, at);
          }
          if (marks.has('video framesDecoded') && marks.has('video packetsSent')) return;
        } catch {
          // closed between two polls
        }
      }
      setTimeout(tick, POLL_MS);
    };
    tick();
  }

  Object.defineProperty(window, '__bench', {
    value: Object.freeze({ now, watch, first, meta, stopAll, mark, marks: allMarks, resetMarks, watchMedia }),
    writable: false,
    configurable: false,
    enumerable: false,
  });
})();
