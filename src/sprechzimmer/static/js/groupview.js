// The call screen of a group (issue 16): a tile per other member in a grid
// that fits the stage (phone and desktop, no scrolling), each with its name,
// its camera and microphone state, the speaking person highlighted; for the
// therapist, a waiting list with a button per knocking seat, and on each
// client's tile a request to mute and a way to remove them; for a client,
// the therapist's request to mute, which it may accept or not.
//
// Renders what it is given; the decisions and the messages are call.js's.

import { t } from './i18n.js';

/** @typedef {import('./groupcall.js').GroupPeer} GroupPeer */

/**
 * A tile's state as the page knows it.
 * @typedef {object} TileState
 * @property {'on' | 'off' | 'none' | null} camera
 * @property {'on' | 'off' | 'none' | null} microphone
 * @property {boolean} speaking
 */

/**
 * One knocking seat, to the therapist.
 * @typedef {{seat: number, name: string | null, consent: boolean}} Knocking
 */

/**
 * @typedef {object} GroupViewActions
 * @property {(seat: number | null) => void} admit a seat, or null: everyone knocking
 * @property {(seat: number) => void} decline a knocking seat, or remove a member
 * @property {(seat: number) => void} askMute
 * @property {(accept: boolean) => void} muteAnswer a client's answer to the request
 */

/**
 * Columns for `n` tiles on a stage of `width` x `height` so that each tile
 * (4:3, the cameras' usual shape on phones and laptops) is as large as it can be.
 * @param {number} n
 * @param {number} width
 * @param {number} height
 * @returns {{cols: number, rows: number}}
 */
export function gridFor(n, width, height) {
  if (n <= 1 || width <= 0 || height <= 0) return { cols: 1, rows: 1 };
  let best = { cols: 1, rows: n, size: 0 };
  for (let cols = 1; cols <= n; cols++) {
    const rows = Math.ceil(n / cols);
    const w = width / cols;
    const h = height / rows;
    const size = Math.min(w, (h * 4) / 3);
    if (size > best.size) best = { cols, rows, size };
  }
  return { cols: best.cols, rows: best.rows };
}

/**
 * @param {string} testid
 * @param {'primary' | 'secondary'} kind
 * @param {string} text
 * @param {(button: HTMLButtonElement) => void} onClick
 */
function button(testid, kind, text, onClick) {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = `${kind} small`;
  b.dataset.testid = testid;
  b.textContent = text;
  b.addEventListener('click', () => onClick(b));
  return b;
}

export class GroupView {
  /** @type {HTMLElement} */
  #stage;
  #tiles = document.createElement('div');
  #waiting = document.createElement('ul');
  #admitAll = button('admit-all', 'primary', '', () => this.#actions.admit(null));
  #mutePrompt = document.createElement('div');
  /** @type {Map<number, {root: HTMLElement, video: HTMLVideoElement, name: HTMLElement, state: HTMLElement, askMute: HTMLButtonElement, remove: HTMLButtonElement}>} */
  #shown = new Map();
  #actions;
  /** @type {'therapist' | 'client' | null} */
  #role = null;
  /** Whether the browser wants a click before the members' sound. */
  #needsClick = false;
  /** @type {() => void} */
  #onNeedsClick;
  /** Our own picture's place: a corner of the stage for two, a cell of the grid for a group. */
  /** @type {HTMLElement | null} */
  #selfSlot;

  /**
   * @param {HTMLElement} stage
   * @param {HTMLElement} top where the waiting list and the mute request go
   * @param {GroupViewActions} actions
   * @param {() => void} onNeedsClick a tile's sound needs a click (the page shows its button)
   */
  constructor(stage, top, actions, onNeedsClick) {
    this.#stage = stage;
    this.#actions = actions;
    this.#onNeedsClick = onNeedsClick;
    this.#selfSlot = stage.querySelector('.self-slot');
    this.#tiles.className = 'tiles';
    this.#tiles.dataset.testid = 'tiles';
    this.#tiles.hidden = true;
    stage.prepend(this.#tiles);
    this.#waiting.className = 'waiting-list';
    this.#waiting.dataset.testid = 'waiting-list';
    this.#waiting.hidden = true;

    this.#mutePrompt.className = 'mute-request';
    this.#mutePrompt.dataset.testid = 'mute-request';
    this.#mutePrompt.setAttribute('role', 'alertdialog');
    this.#mutePrompt.hidden = true;
    top.append(this.#waiting, this.#mutePrompt);
    new ResizeObserver(() => this.#layout()).observe(stage);
  }

  /** @param {'therapist' | 'client'} role */
  setRole(role) {
    this.#role = role;
  }

  /**
   * The tiles of the others in the call (none: the grid goes away).
   * @param {GroupPeer[]} peers
   * @param {(seat: number) => TileState} stateOf
   */
  render(peers, stateOf) {
    this.#stage.dataset.group = String(peers.length > 0);
    this.#tiles.hidden = peers.length === 0;
    // In a group our own picture takes a cell of the grid, last: in a corner it would
    // cover another member's tile and its buttons.
    const self = this.#selfSlot;
    if (self && peers.length > 0 && self.parentElement !== this.#tiles) this.#tiles.append(self);
    if (self && peers.length === 0 && self.parentElement === this.#tiles) this.#stage.append(self);
    for (const seat of [...this.#shown.keys()]) {
      if (!peers.some((p) => p.seat === seat)) {
        this.#shown.get(seat)?.root.remove();
        this.#shown.delete(seat);
      }
    }
    for (const peer of peers) {
      const tile = this.#shown.get(peer.seat) ?? this.#makeTile(peer.seat);
      const name = peer.role === 'therapist' ? t('group.therapist') : peer.name || t('group.seat', { seat: peer.seat });
      if (tile.name.textContent !== name) tile.name.textContent = name;
      tile.video.setAttribute('aria-label', t('group.tile', { name }));
      if (tile.video.srcObject !== peer.stream) {
        tile.video.srcObject = peer.stream;
        if (peer.stream) this.#play(tile.video);
      }
      const s = stateOf(peer.seat);
      tile.root.dataset.camera = s.camera ?? '';
      tile.root.dataset.microphone = s.microphone ?? '';
      tile.root.dataset.speaking = String(s.speaking);
      tile.root.dataset.state = peer.state;
      const words = [];
      if (s.microphone === 'off' || s.microphone === 'none') words.push(t('group.micOff'));
      if (s.camera === 'off' || s.camera === 'none') words.push(t('group.cameraOff'));
      tile.state.textContent = words.join(' · ');
      tile.state.hidden = words.length === 0;
      const canAct = this.#role === 'therapist' && peer.role === 'client';
      tile.askMute.hidden = !canAct || s.microphone !== 'on';
      tile.remove.hidden = !canAct;
      if (tile.askMute.hidden) {
        tile.askMute.disabled = false;
        tile.askMute.textContent = t('group.askMute');
      }
      if (tile.remove.dataset.confirm !== 'true') tile.remove.textContent = t('group.remove');
    }
    this.#layout();
  }

  /**
   * The therapist's waiting list: each knocking seat with its name.
   * @param {Knocking[]} knocking
   */
  renderWaiting(knocking) {
    this.#waiting.hidden = this.#role !== 'therapist' || knocking.length === 0;
    this.#waiting.replaceChildren();
    for (const k of knocking) {
      const item = document.createElement('li');
      item.dataset.seat = String(k.seat);
      const label = document.createElement('span');
      label.textContent = `${k.name || t('group.seat', { seat: k.seat })} · ${t('group.waiting')}`;
      const admit = button('admit-seat', 'primary', t('group.admitOne'), (b) => {
        b.disabled = true;
        this.#actions.admit(k.seat);
      });
      const decline = button('decline-seat', 'secondary', t('group.declineOne'), (b) => {
        b.disabled = true;
        this.#actions.decline(k.seat);
      });
      item.append(label, admit, decline);
      this.#waiting.append(item);
    }
    if (knocking.length > 1) {
      this.#admitAll.textContent = t('group.admitAll');
      const item = document.createElement('li');
      item.append(this.#admitAll);
      this.#waiting.append(item);
    }
  }

  /** The therapist asks us to mute: we decide. @param {boolean} open */
  askToMute(open) {
    this.#mutePrompt.hidden = !open;
    if (!open) return;
    const text = document.createElement('p');
    text.textContent = t('group.muteAsk');
    const accept = button('mute-accept', 'primary', t('group.muteAccept'), () => this.#answer(true));
    const refuse = button('mute-refuse', 'secondary', t('group.muteRefuse'), () => this.#answer(false));
    this.#mutePrompt.replaceChildren(text, accept, refuse);
    accept.focus();
  }

  /** The person allowed sound (the start-sound button): every tile plays with it. */
  startSound() {
    this.#needsClick = false;
    for (const { video } of this.#shown.values()) {
      video.muted = false;
      video.play().catch(() => {});
    }
  }

  /** @param {boolean} accept */
  #answer(accept) {
    this.#mutePrompt.hidden = true;
    this.#actions.muteAnswer(accept);
  }

  /** @param {HTMLVideoElement} video */
  #play(video) {
    video.muted = this.#needsClick;
    video.play().catch((/** @type {unknown} */ err) => {
      if (!(err instanceof DOMException) || err.name !== 'NotAllowedError' || video.muted) return;
      // Autoplay rules: the picture plays muted, one button starts every tile's sound.
      this.#needsClick = true;
      video.muted = true;
      this.#onNeedsClick();
      video.play().catch(() => {});
    });
  }

  /** @param {number} seat */
  #makeTile(seat) {
    const root = document.createElement('figure');
    root.className = 'tile';
    root.dataset.testid = 'tile';
    root.dataset.seat = String(seat);
    const video = document.createElement('video');
    video.autoplay = true;
    video.playsInline = true;
    const caption = document.createElement('figcaption');
    const name = document.createElement('span');
    name.className = 'tile-name';
    name.dataset.testid = 'tile-name';
    const state = document.createElement('span');
    state.className = 'tile-state';
    state.dataset.testid = 'tile-state';
    caption.append(name, state);
    const tools = document.createElement('div');
    tools.className = 'tile-tools';
    const askMute = button('ask-mute', 'secondary', t('group.askMute'), (b) => {
      b.disabled = true;
      b.textContent = t('group.asked');
      this.#actions.askMute(seat);
    });
    // Two steps: a tap by mistake must not send a person out of their therapy.
    const remove = button('remove-member', 'secondary', t('group.remove'), (b) => {
      if (b.dataset.confirm === 'true') {
        b.disabled = true;
        this.#actions.decline(seat);
        return;
      }
      b.dataset.confirm = 'true';
      b.textContent = t('group.removeConfirm');
    });
    tools.append(askMute, remove);
    root.append(video, caption, tools);
    // Before our own picture, which stays the last cell (moving a playing video would pause it).
    const self = this.#selfSlot?.parentElement === this.#tiles ? this.#selfSlot : null;
    this.#tiles.insertBefore(root, self);
    const tile = { root, video, name, state, askMute, remove };
    this.#shown.set(seat, tile);
    return tile;
  }

  #layout() {
    const n = this.#shown.size + (this.#selfSlot?.parentElement === this.#tiles ? 1 : 0);
    const { cols, rows } = gridFor(n, this.#stage.clientWidth, this.#stage.clientHeight);
    this.#tiles.style.setProperty('--cols', String(cols));
    this.#tiles.style.setProperty('--rows', String(rows));
  }
}
