// What to do about one of our own tracks (camera or microphone) mid-call:
// it ended by itself (unplugged, taken by another program, interrupted by
// the operating system), the person picked another device, or asked to turn
// a lost one on again. Pure: no getUserMedia, no DOM, no clock. localmedia.js
// asks it what to try, tries, and tells it how that went.
//
// One attempt at a time per kind: a second "ended" while we are already
// getting a new track is the same loss, and a device choice during an
// attempt would race it for the same camera.

/** @typedef {'audio' | 'video'} MediaKind */

/**
 * live: a track is there (or was never asked for); reacquiring: getUserMedia
 * runs; lost: it failed, the toggle shows the device as off until the person
 * turns it on again.
 * @typedef {'live' | 'reacquiring' | 'lost'} TrackState
 */

/**
 * @typedef {{type: 'ended', deviceId?: string}
 *   | {type: 'switch', deviceId: string, currentId?: string}
 *   | {type: 'retry'}
 *   | {type: 'acquired', deviceId?: string}
 *   | {type: 'failed'}} TrackInput
 */

/**
 * @typedef {{type: 'acquire', deviceIds: (string | undefined)[], stopOld: boolean}
 *   | {type: 'swap'}
 *   | {type: 'drop'}
 *   | {type: 'notice', key: 'midcall.cameraLost' | 'midcall.micLost' | 'midcall.switchFailed'}} TrackAction
 * acquire: try these devices in order (undefined: the browser's default) and
 *   stop the old track first if asked (a phone cannot open its second camera
 *   while the first runs); swap: put the new track in; drop: none could be had,
 *   take the old one out; notice: tell the person.
 */

/** @type {Record<TrackState, readonly TrackInput['type'][]>} */
const ALLOWED = {
  live: ['ended', 'switch'],
  reacquiring: ['acquired', 'failed'],
  lost: ['retry', 'switch'],
};

/** @param {(string | undefined)[]} ids @returns {(string | undefined)[]} */
function unique(ids) {
  return ids.filter((id, i) => ids.indexOf(id) === i);
}

export class TrackRecovery {
  /** @type {TrackState} */
  #state = 'live';
  /** What started the running attempt. @type {TrackInput['type'] | null} */
  #cause = null;
  /** The device last in use, tried first again. @type {string | undefined} */
  #lastId;
  #kind;
  #log;

  /** @param {MediaKind} kind @param {(text: string) => void} [log] */
  constructor(kind, log = () => {}) {
    this.#kind = kind;
    this.#log = log;
  }

  get state() {
    return this.#state;
  }

  /**
   * @param {TrackInput} input
   * @returns {TrackAction[]} nothing when the input does not fit the state (it is logged)
   */
  handle(input) {
    if (!ALLOWED[this.#state].includes(input.type)) {
      this.#log(`${this.#kind} track: ${input.type} ignored while ${this.#state}`);
      return [];
    }
    switch (input.type) {
      case 'ended':
        if (input.deviceId) this.#lastId = input.deviceId;
        // The same device first (an interruption that is over), then whatever
        // the system offers now (the laptop's own camera after a USB one left).
        return this.#start('ended', [this.#lastId, undefined], false);
      case 'retry':
        return this.#start('retry', [this.#lastId, undefined], false);
      case 'switch':
        if (input.currentId) this.#lastId = input.currentId;
        // The chosen one; if it will not start, back to the one before.
        return this.#start('switch', [input.deviceId, this.#lastId, undefined], true);
      case 'acquired':
        if (input.deviceId) this.#lastId = input.deviceId;
        this.#to('live');
        return [{ type: 'swap' }];
      case 'failed': {
        const cause = this.#cause;
        this.#to('lost');
        /** @type {TrackAction[]} */
        const actions = [{ type: 'drop' }];
        actions.push({ type: 'notice', key: this.#kind === 'video' ? 'midcall.cameraLost' : 'midcall.micLost' });
        this.#log(`${this.#kind} track: could not be had again (${cause})`);
        return actions;
      }
    }
  }

  /**
   * A switch that came back on the previous device rather than the chosen
   * one: the person should know their choice did not take.
   * @param {string | undefined} chosen
   * @param {string | undefined} got
   * @returns {TrackAction[]}
   */
  static switchOutcome(chosen, got) {
    return chosen !== undefined && got !== chosen ? [{ type: 'notice', key: 'midcall.switchFailed' }] : [];
  }

  /** @param {TrackInput['type']} cause @param {(string | undefined)[]} ids @param {boolean} stopOld @returns {TrackAction[]} */
  #start(cause, ids, stopOld) {
    this.#cause = cause;
    this.#to('reacquiring');
    return [{ type: 'acquire', deviceIds: unique(ids), stopOld }];
  }

  /** @param {TrackState} next */
  #to(next) {
    if (next !== this.#state) this.#log(`${this.#kind} track: ${this.#state} -> ${next}`);
    this.#state = next;
    if (next !== 'reacquiring') this.#cause = null;
  }
}
