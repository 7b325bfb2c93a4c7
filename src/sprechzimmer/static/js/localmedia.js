// Our camera and microphone on the call page: the device check (choose the
// devices, watch the level) and the stream the peer connection sends.
//
// The devices themselves are devices.js; this is the controller around them,
// and callview.js draws. Never records anything.
//
// Mid-call (issue 13, "what phones and laptops do"): a track that ends by
// itself is got again and swapped into the running connection with
// replaceTrack, and so is a device the person picks; trackrecovery.js
// decides what to try, this module tries it. The peer connection stays the
// same: a new one would mean a new key agreement and a visible break.

import { acquireMedia, acquireTrack, listDevices, stopStream, watchLevel } from './devices.js';
import { TrackRecovery } from './trackrecovery.js';
import { audioContext, playChime } from './sound.js';
import { enableJoin, showLocalStream, ui } from './callview.js';
import { onDeviceChoice, onDeviceRetry, renderDeviceProblem, renderDeviceSelects, renderSpeakers, renderToggles, showMicLevel } from './deviceview.js';

/**
 * Where the browser can route sound to a chosen speaker (Chromium and Firefox
 * 116+ on desktops, Safari 18.4+ per MDN's compatibility data; not on
 * Android): feature detection, never the user agent.
 */
const CAN_CHOOSE_SPEAKER = typeof HTMLMediaElement !== 'undefined' && 'setSinkId' in HTMLMediaElement.prototype;

/**
 * @typedef {object} LocalMediaOptions
 * @property {(problem: string) => void} onProblem the devices could not be had as asked
 * @property {() => RTCPeerConnection | null} [pc] the running peer connection, whose senders get new tracks
 * @property {() => void} [onChange] our camera or microphone changed by itself (ended, got again, lost)
 * @property {(key: 'midcall.cameraLost' | 'midcall.micLost' | 'midcall.switchFailed') => void} [onNotice] tell the person
 * @property {(text: string) => void} [log]
 */

/** @typedef {'audio' | 'video'} MediaKind */

/** @param {unknown} err */
function errorName(err) {
  return err && typeof err === 'object' && 'name' in err ? String(err.name) : String(err);
}

/**
 * Our sender of `kind`: the one that carries `old`, else one that sends
 * nothing since its track was lost (replaceTrack(null)).
 * @param {RTCPeerConnection} pc
 * @param {MediaKind} kind
 * @param {MediaStreamTrack | undefined} old
 * @returns {RTCRtpSender | null}
 */
function senderFor(pc, kind, old) {
  const all = pc.getTransceivers();
  const t =
    all.find((x) => old !== undefined && x.sender.track === old) ??
    all.find((x) => x.sender.track === null && x.receiver.track.kind === kind && (x.direction === 'sendrecv' || x.direction === 'sendonly'));
  return t?.sender ?? null;
}

export class LocalMedia {
  /** @type {MediaStream | null} */
  #stream = null;
  /** @type {(() => void) | null} */
  #stopLevel = null;
  #onProblem;
  /** The last choice of devices, for "try again". @type {{videoId?: string, audioId?: string}} */
  #choice = {};
  #speakerId = '';
  /** @type {Required<Omit<LocalMediaOptions, 'onProblem'>>} */
  #o;
  /** @type {Record<MediaKind, TrackRecovery>} */
  #recovery;
  /** Camera and microphone were given back (the call ended): nothing is got again. */
  #released = false;
  /** @type {() => boolean} */
  #checking = () => true;
  /**
   * The privacy pause (pause.js) holds camera and microphone: the person's own
   * switches, kept while every track is disabled (as the off buttons do), and
   * put back when it ends; null: not held.
   * @type {{audio: boolean, video: boolean} | null}
   */
  #held = null;

  /** @param {LocalMediaOptions} options */
  constructor(options) {
    this.#onProblem = options.onProblem;
    this.#o = {
      pc: options.pc ?? (() => null),
      onChange: options.onChange ?? (() => {}),
      onNotice: options.onNotice ?? (() => {}),
      log: options.log ?? (() => {}),
    };
    this.#recovery = this.#freshRecovery();
  }

  #freshRecovery() {
    return { audio: new TrackRecovery('audio', this.#o.log), video: new TrackRecovery('video', this.#o.log) };
  }

  /** The stream to send (null: no devices). */
  get stream() {
    return this.#stream;
  }

  /**
   * The device check: the default devices, then whatever the person picks.
   * @param {() => boolean} checking the page is still at the device check
   * @returns {Promise<string | null>} what went wrong with the default devices (null: nothing)
   */
  async start(checking) {
    this.#checking = checking;
    onDeviceChoice((choice, kind) => {
      if (!checking()) {
        // In the waiting room or the call: only that device changes, in place.
        const id = kind === 'video' ? choice.videoId : choice.audioId;
        if (id) this.#switch(kind, id).catch((err) => this.#o.log(`device switch failed: ${err}`));
        return;
      }
      enableJoin(false);
      this.#use(choice).finally(() => enableJoin(true));
    });
    // A denied permission or a busy device the person has since fixed.
    onDeviceRetry(() => {
      enableJoin(false);
      this.#use(this.#choice).finally(() => enableJoin(true, true));
    });
    ui.speakerSelect.addEventListener('change', () => this.#chooseSpeaker(ui.speakerSelect.value));
    ui.speakerTest.addEventListener('click', () => playChime());
    enableJoin(false);
    const problem = await this.#use({});
    enableJoin(true, true);
    // A headset plugged in mid-call belongs in the lists as much as at the check.
    navigator.mediaDevices?.addEventListener?.('devicechange', () => {
      if (!this.#released) this.fillSelects().catch(() => {});
    });
    return problem;
  }

  /** @param {{videoId?: string, audioId?: string}} choice @returns {Promise<string | null>} */
  async #use(choice) {
    this.stopLevel();
    stopStream(this.#stream);
    this.#choice = choice;
    const { stream, problem } = await acquireMedia(choice);
    if (problem) this.#onProblem(problem);
    this.#stream = stream;
    this.#recovery = this.#freshRecovery();
    for (const track of stream?.getTracks() ?? []) this.#watch(track);
    showLocalStream(stream);
    renderDeviceProblem(problem);
    const ctx = audioContext();
    if (ctx && stream) {
      ctx.resume().catch(() => {});
      this.#stopLevel = watchLevel(ctx, stream, showMicLevel);
    }
    this.renderToggles();
    await this.fillSelects();
    return problem;
  }

  async fillSelects() {
    const devices = await listDevices();
    renderDeviceSelects(devices, this.#stream);
    renderSpeakers(devices.speakers, CAN_CHOOSE_SPEAKER, this.#speakerId);
  }

  /** @param {string} id the chosen speaker ('' for the system's default) */
  async #chooseSpeaker(id) {
    this.#speakerId = id;
    // The other person's voice and our chime (the speaker test) go there.
    const video = /** @type {HTMLVideoElement & {setSinkId?: (id: string) => Promise<void>}} */ (ui.remoteVideo);
    const ctx = /** @type {(AudioContext & {setSinkId?: (id: string) => Promise<void>}) | null} */ (audioContext());
    await Promise.allSettled([video.setSinkId?.(id), ctx?.setSinkId?.(id)]);
  }

  /** Draw the toggles again (a new language). */
  renderToggles() {
    renderToggles(this.#stream, this.#lost());
    // While held, a switch would undo the pause for one device: the pause's own
    // button is the one way back.
    if (this.#held) for (const b of [ui.mute, ui.camera, ui.waitingMute, ui.waitingCamera]) b.disabled = true;
  }

  /**
   * Hold camera and microphone for the privacy pause, or give them back as the
   * person had them. Held, the tracks are disabled (as the off buttons do: the
   * preview goes black) and taken off the running connection's senders with
   * replaceTrack(null): a disabled track would still send black frames and
   * silence at full rate, a sender without a track sends nothing at all. The
   * transceivers, their transforms and the keys stay: no renegotiation.
   * Called again while held (a new peer connection), it takes the tracks off
   * that one's senders too.
   * @param {boolean} on
   */
  hold(on) {
    const audio = this.#current('audio');
    const video = this.#current('video');
    if (on) {
      if (this.#held === null) {
        this.#held = { audio: audio?.enabled ?? true, video: video?.enabled ?? true };
        for (const track of [audio, video]) if (track) track.enabled = false;
        this.renderToggles();
      }
      this.#detachSenders([audio, video]);
      return;
    }
    if (this.#held === null) return;
    const held = this.#held;
    this.#held = null;
    if (audio) audio.enabled = held.audio;
    if (video) video.enabled = held.video;
    this.#attachSenders();
    this.renderToggles();
  }

  /** @param {(MediaStreamTrack | undefined)[]} tracks ours, to take off the running connection */
  #detachSenders(tracks) {
    const pc = this.#o.pc();
    if (!pc) return;
    for (const sender of pc.getSenders()) {
      if (sender.track && tracks.includes(sender.track)) {
        sender.replaceTrack(null).catch((err) => this.#o.log(`pause: replaceTrack(null) failed: ${errorName(err)}`));
      }
    }
  }

  /** The pause is over: our current tracks back onto the running connection's senders. */
  #attachSenders() {
    const pc = this.#o.pc();
    if (!pc) return;
    for (const kind of /** @type {const} */ (['audio', 'video'])) {
      const track = this.#current(kind);
      const sender = track ? senderFor(pc, kind, track) : null;
      if (!sender || sender.track === track) continue;
      sender.replaceTrack(track ?? null).catch((err) => this.#o.log(`pause: replaceTrack failed: ${errorName(err)}`));
    }
  }

  /** @returns {{audio: boolean, video: boolean}} which kinds were lost and could not be had again */
  #lost() {
    return { audio: this.#recovery.audio.state !== 'live', video: this.#recovery.video.state !== 'live' };
  }

  /**
   * What the other person's page is told about our camera or microphone.
   * @param {MediaKind} kind
   * @returns {'on' | 'off' | 'none'}
   */
  mediaState(kind) {
    // Lost or being got again: the person can turn it on, so it is "off", not "none".
    if (this.#recovery[kind].state !== 'live') return 'off';
    const track = this.#current(kind);
    if (!track || track.readyState === 'ended') return 'none';
    // Held by the pause: the person's own switch, which comes back after it.
    if (this.#held) return this.#held[kind] ? 'on' : 'off';
    return track.enabled ? 'on' : 'off';
  }

  /** @param {MediaKind} kind @returns {MediaStreamTrack | undefined} */
  #current(kind) {
    return kind === 'audio' ? this.#stream?.getAudioTracks()[0] : this.#stream?.getVideoTracks()[0];
  }

  /**
   * Listen for the track's end. stop() (ours) fires no `ended`; only an end
   * the browser did not expect from us does: unplugged, taken, interrupted.
   * @param {MediaStreamTrack} track
   */
  #watch(track) {
    const kind = /** @type {MediaKind} */ (track.kind);
    const deviceId = track.getSettings().deviceId;
    track.addEventListener('ended', () => this.#ended(kind, track, deviceId), { once: true });
  }

  /** @param {MediaKind} kind @param {MediaStreamTrack} track @param {string | undefined} deviceId */
  #ended(kind, track, deviceId) {
    if (this.#released || this.#current(kind) !== track) return;
    this.#o.log(`${kind} track ended by itself`);
    if (this.#checking()) {
      // At the device check nothing is sent yet: start the check over.
      this.#use(this.#choice).catch(() => {});
      return;
    }
    this.#run(kind, { type: 'ended', deviceId }).catch((err) => this.#o.log(`${kind} track: ${err}`));
  }

  /**
   * Back from the background: a browser may have ended our capture there
   * without an `ended` we could act on in time (iOS stops the camera of a
   * page in the background); get it again now.
   */
  resumeAfterBackground() {
    for (const kind of /** @type {const} */ (['audio', 'video'])) {
      const track = this.#current(kind);
      if (track && track.readyState === 'ended') this.#ended(kind, track, track.getSettings().deviceId);
    }
  }

  /** @param {MediaKind} kind @param {string} deviceId the person's choice, mid-call */
  async #switch(kind, deviceId) {
    const current = this.#current(kind);
    const currentId = current?.getSettings().deviceId;
    if (current && current.readyState === 'live' && currentId === deviceId) return;
    this.#choice = { ...this.#choice, [kind === 'video' ? 'videoId' : 'audioId']: deviceId };
    await this.#run(kind, { type: 'switch', deviceId, currentId });
  }

  /**
   * Ask trackrecovery.js what to try, try it, and carry out its verdict.
   * @param {MediaKind} kind
   * @param {import('./trackrecovery.js').TrackInput} input
   */
  async #run(kind, input) {
    const recovery = this.#recovery[kind];
    const [plan] = recovery.handle(input);
    if (plan?.type !== 'acquire') return;
    const old = this.#current(kind);
    // Asked for before the attempt: the track we stop here is still "on".
    // During the pause the old track is disabled by the pause, not by the person.
    const enabled = this.#held ? this.#held[kind] : old && old.readyState === 'live' ? old.enabled : true;
    if (plan.stopOld) old?.stop();
    // A lost device is news for the other side at once; a switch is over
    // before the word "off" would reach them, so it is said at the end only.
    if (input.type !== 'switch') this.#o.onChange();
    /** @type {MediaStreamTrack | null} */
    let track = null;
    for (const id of plan.deviceIds) {
      try {
        track = await acquireTrack(kind, id);
        break;
      } catch (err) {
        this.#o.log(`${kind} track: getUserMedia (${id ? 'a chosen device' : 'the default'}) failed: ${errorName(err)}`);
      }
    }
    if (this.#released || recovery !== this.#recovery[kind]) {
      // The call ended (or the device check started over) meanwhile.
      track?.stop();
      return;
    }
    const got = track?.getSettings().deviceId;
    const actions = track ? recovery.handle({ type: 'acquired', deviceId: got }) : recovery.handle({ type: 'failed' });
    if (track && input.type === 'switch') actions.push(...TrackRecovery.switchOutcome(input.deviceId, got));
    for (const action of actions) {
      if (action.type === 'swap' && track) await this.#swap(kind, old, track, enabled);
      else if (action.type === 'drop') await this.#swap(kind, old, null, false);
      else if (action.type === 'notice') this.#o.onNotice(action.key);
    }
    this.renderToggles();
    this.#o.onChange();
    await this.fillSelects();
  }

  /**
   * Put `track` in the place of `old`: in our stream (the preview, and any
   * connection made later) and on the running connection's sender.
   * @param {MediaKind} kind
   * @param {MediaStreamTrack | undefined} old
   * @param {MediaStreamTrack | null} track null: none could be had; the sender sends nothing
   * @param {boolean} enabled the person had it on
   */
  async #swap(kind, old, track, enabled) {
    const stream = this.#stream;
    if (!stream) {
      track?.stop();
      return;
    }
    if (old) stream.removeTrack(old);
    if (track) {
      // A track got again during the pause stays held; the person's switch is kept in #held.
      if (this.#held) this.#held[kind] = enabled;
      track.enabled = enabled && this.#held === null;
      stream.addTrack(track);
      this.#watch(track);
    }
    // Not every engine's <video> follows a change of its stream's tracks:
    // setting the source again shows the new one.
    showLocalStream(null);
    showLocalStream(stream);
    const pc = this.#o.pc();
    const sender = pc ? senderFor(pc, kind, old) : null;
    // Held by the pause, the sender stays empty; the end of the pause puts this track on.
    if (!sender || this.#held) return;
    try {
      // Same connection, same transceiver, same transform: no renegotiation.
      await sender.replaceTrack(track);
      this.#o.log(`${kind} track swapped in (replaceTrack)`);
    } catch (err) {
      this.#o.log(`${kind} track: replaceTrack failed: ${errorName(err)}`);
    }
  }

  /** The level meter is for the device check only. */
  stopLevel() {
    this.#stopLevel?.();
    this.#stopLevel = null;
  }

  /** @param {'audio' | 'video'} kind mute the microphone, or turn the camera off (and on again) */
  toggle(kind) {
    // Held: only the pause's own button ends it (the buttons are disabled; a shortcut lands here).
    if (this.#held) return;
    if (this.#recovery[kind].state === 'lost') {
      // "Kamera einschalten" on a lost camera: the person fixed it, try again.
      this.#run(kind, { type: 'retry' }).catch((err) => this.#o.log(`${kind} track: ${err}`));
      return;
    }
    const track = kind === 'audio' ? this.#stream?.getAudioTracks()[0] : this.#stream?.getVideoTracks()[0];
    if (track) track.enabled = !track.enabled;
    this.renderToggles();
  }

  /** Release camera and microphone. */
  release() {
    this.#released = true;
    this.stopLevel();
    stopStream(this.#stream);
    showLocalStream(null);
  }
}
