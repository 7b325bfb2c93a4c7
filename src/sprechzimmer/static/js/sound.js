// A short, soft chime made with WebAudio oscillators (no audio file, nothing
// fetched). Browsers only let a page make sound after a user gesture, so the
// AudioContext is unlocked on the first click or key press and the chime is
// silently skipped before that.

/** @type {AudioContext | null} */
let context = null;

/** @returns {AudioContext | null} */
export function audioContext() {
  if (context) return context;
  const Ctor = globalThis.AudioContext;
  if (!Ctor) return null;
  context = new Ctor();
  return context;
}

/** Resume the shared AudioContext on the first user gesture. */
export function unlockAudioOnGesture() {
  const unlock = () => {
    const ctx = audioContext();
    if (ctx && ctx.state === 'suspended') ctx.resume().catch(() => {});
    window.removeEventListener('pointerdown', unlock);
    window.removeEventListener('keydown', unlock);
  };
  window.addEventListener('pointerdown', unlock);
  window.addEventListener('keydown', unlock);
}

/** Two gentle notes (like a door bell), about half a second. */
export function playChime() {
  const ctx = audioContext();
  if (!ctx) return;
  if (ctx.state === 'suspended') ctx.resume().catch(() => {});
  const start = ctx.currentTime + 0.02;
  for (const [i, freq] of [659.25, 523.25].entries()) {
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.type = 'sine';
    osc.frequency.value = freq;
    const t0 = start + i * 0.22;
    // Ramp in and out: a hard start or stop of a sine wave clicks.
    gain.gain.setValueAtTime(0.0001, t0);
    gain.gain.exponentialRampToValueAtTime(0.2, t0 + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, t0 + 0.35);
    osc.connect(gain).connect(ctx.destination);
    osc.start(t0);
    osc.stop(t0 + 0.4);
  }
}
