// Camera and microphone: getting a stream, listing devices, measuring the
// microphone level. Nothing here records: the stream goes to a <video>
// preview, an AnalyserNode (which only measures) and the peer connection.

/**
 * Why we got less than camera + microphone.
 * @typedef {'denied' | 'missing' | 'busy' | 'insecure' | 'audio-only' | 'video-only' | null} DeviceProblem
 */

/**
 * @typedef {object} Acquired
 * @property {MediaStream | null} stream
 * @property {DeviceProblem} problem
 */

/**
 * @param {string | undefined} deviceId
 * @returns {MediaTrackConstraints | boolean}
 */
function videoConstraints(deviceId) {
  /** @type {MediaTrackConstraints} */
  const c = { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 } };
  if (deviceId) c.deviceId = { exact: deviceId };
  return c;
}

/**
 * @param {string | undefined} deviceId
 * @returns {MediaTrackConstraints | boolean}
 */
function audioConstraints(deviceId) {
  /** @type {MediaTrackConstraints} */
  const c = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };
  if (deviceId) c.deviceId = { exact: deviceId };
  return c;
}

/** @param {unknown} err */
function errorName(err) {
  return err && typeof err === 'object' && 'name' in err ? String(err.name) : '';
}

/**
 * Ask for camera and microphone; fall back to one of them, then to none.
 * Never throws: a person without a camera can still talk, and one without
 * either can still see and hear (and type the therapist a message elsewhere).
 *
 * @param {{videoId?: string, audioId?: string}} [choice]
 * @returns {Promise<Acquired>}
 */
export async function acquireMedia(choice = {}) {
  const md = navigator.mediaDevices;
  if (!md?.getUserMedia) return { stream: null, problem: window.isSecureContext ? 'missing' : 'insecure' };
  const attempts = /** @type {const} */ ([
    ['both', true, true],
    ['audio-only', false, true],
    ['video-only', true, false],
  ]);
  /** @type {DeviceProblem} */
  let problem = 'missing';
  for (const [label, video, audio] of attempts) {
    try {
      const stream = await md.getUserMedia({
        video: video ? videoConstraints(choice.videoId) : false,
        audio: audio ? audioConstraints(choice.audioId) : false,
      });
      return { stream, problem: label === 'both' ? null : label };
    } catch (err) {
      const name = errorName(err);
      if (name === 'NotAllowedError' || name === 'SecurityError') return { stream: null, problem: 'denied' };
      if (name === 'OverconstrainedError' && (choice.videoId || choice.audioId)) {
        // The chosen device is gone (unplugged): try again with the defaults.
        return acquireMedia({});
      }
      if (name === 'NotReadableError' || name === 'AbortError') problem = 'busy';
      // NotFoundError and the rest: try with fewer devices.
    }
  }
  return { stream: null, problem };
}

/**
 * One new track of `kind` from `deviceId` (undefined: the browser's default),
 * with the same constraints as at the start. Throws what getUserMedia throws.
 * @param {'audio' | 'video'} kind
 * @param {string | undefined} deviceId
 * @returns {Promise<MediaStreamTrack>}
 */
export async function acquireTrack(kind, deviceId) {
  const md = navigator.mediaDevices;
  if (!md?.getUserMedia) throw new DOMException('no getUserMedia', 'NotSupportedError');
  const stream = await md.getUserMedia(kind === 'video' ? { video: videoConstraints(deviceId) } : { audio: audioConstraints(deviceId) });
  const [track] = kind === 'video' ? stream.getVideoTracks() : stream.getAudioTracks();
  if (!track) throw new DOMException(`no ${kind} track`, 'NotFoundError');
  return track;
}

/** @param {MediaStream | null} stream */
export function stopStream(stream) {
  for (const track of stream?.getTracks() ?? []) track.stop();
}

/**
 * @returns {Promise<{cameras: MediaDeviceInfo[], microphones: MediaDeviceInfo[], speakers: MediaDeviceInfo[]}>}
 */
export async function listDevices() {
  /** @type {MediaDeviceInfo[]} */
  let devices = [];
  try {
    devices = (await navigator.mediaDevices?.enumerateDevices()) ?? [];
  } catch {
    devices = [];
  }
  return {
    cameras: devices.filter((d) => d.kind === 'videoinput'),
    microphones: devices.filter((d) => d.kind === 'audioinput'),
    speakers: devices.filter((d) => d.kind === 'audiooutput'),
  };
}

/**
 * Measure the microphone level of `stream` and report it (0..1) about 20
 * times a second. Returns a function that stops measuring.
 *
 * @param {AudioContext} ctx
 * @param {MediaStream} stream
 * @param {(level: number) => void} report
 * @returns {() => void}
 */
export function watchLevel(ctx, stream, report) {
  if (stream.getAudioTracks().length === 0) {
    report(0);
    return () => {};
  }
  const source = ctx.createMediaStreamSource(stream);
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 1024;
  source.connect(analyser);
  // The analyser is not connected to the speakers: we must not hear ourselves.
  const samples = new Float32Array(analyser.fftSize);
  let smoothed = 0;
  const timer = setInterval(() => {
    analyser.getFloatTimeDomainData(samples);
    let sum = 0;
    for (const s of samples) sum += s * s;
    const rms = Math.sqrt(sum / samples.length);
    // Speech sits around 0.01..0.3 RMS; a square root makes quiet speech
    // visible on the meter without letting loud speech peg it.
    const level = Math.min(1, Math.sqrt(rms * 4));
    smoothed = Math.max(level, smoothed * 0.85);
    report(smoothed);
  }, 50);
  return () => {
    clearInterval(timer);
    source.disconnect();
    report(0);
  };
}
