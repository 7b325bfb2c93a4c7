// The chat on the call page: its button, its drawer, and its end of the
// session channel (chat.js holds the logic). The drawer lies over the call,
// so the phone layout keeps its height.
//
// Builds its own elements (call.html only has the stylesheet), so that the
// page's markup and this feature can change apart. Never stores anything:
// the log is in memory and in the drawer's DOM, and `wipe()` (at the call's
// end) empties both. Never sends a word through the server.

import { t, onLangChange } from './i18n.js';
import { ALIVE_INTERVAL_MS, ChatLog, MAX_CHAT_CHARS, decodeSessionMessage, encodeSessionMessage, linkSegments } from './chat.js';

/** @typedef {import('./chat.js').SessionMessage} SessionMessage */
/** @typedef {import('./chat.js').ChatRefusal} ChatRefusal */
/** @typedef {import('./i18n.js').MessageKey} MessageKey */

/**
 * @typedef {object} ChatPanelOptions
 * @property {(message: SessionMessage) => void} [onOther] a session message that is not chat (safety net)
 * @property {() => void} [onUsable] a session channel opened, or the line is back after a cut
 *   (to say the safety net again)
 * @property {(text: string) => void} [log]
 */

/** @type {Record<ChatRefusal, MessageKey>} */
const REFUSALS = { empty: 'chat.empty', 'too-long': 'chat.tooLong', rate: 'chat.tooFast' };

/**
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag @param {Record<string, string>} [attrs]
 * @returns {HTMLElementTagNameMap[K]}
 */
function el(tag, attrs = {}) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

export class ChatPanel {
  chat = new ChatLog();
  /** The current connection's channel; an older one is closed with its connection. @type {RTCDataChannel | null} */
  #channel = null;
  #o;
  #button;
  #badge;
  #buttonLabel;
  #panel;
  #title;
  #note;
  #list;
  #input;
  #send;
  #close;
  #problem;
  /** @type {MessageKey | null} */
  #problemKey = null;
  /** @type {ReturnType<typeof setInterval> | null} */
  #alive = null;
  /** Whether the current connection can carry a message now (attach). */
  #usable = () => false;
  /** The line was down at the last beat: what waits goes when it is back. */
  #lineDown = false;

  /** @param {ChatPanelOptions} [options] */
  constructor(options = {}) {
    this.#o = options;
    this.#button = el('button', { type: 'button', class: 'toggle control chat-open', 'data-testid': 'chat-open', 'aria-expanded': 'false', 'aria-controls': 'chat-panel', hidden: '' });
    this.#button.innerHTML =
      '<svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><path d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2Z"/></svg>';
    this.#buttonLabel = el('span', { class: 'control-label' });
    this.#badge = el('span', { class: 'chat-unread', 'data-testid': 'chat-unread', hidden: '' });
    this.#button.append(this.#buttonLabel, this.#badge);

    this.#panel = el('div', { id: 'chat-panel', class: 'chat-panel', role: 'dialog', 'aria-modal': 'false', 'data-testid': 'chat-panel', 'aria-labelledby': 'chat-title', hidden: '' });
    const head = el('div', { class: 'chat-head' });
    this.#title = el('h2', { id: 'chat-title' });
    this.#close = el('button', { type: 'button', class: 'secondary small', 'data-testid': 'chat-close' });
    head.append(this.#title, this.#close);
    this.#note = el('p', { class: 'hint chat-note', 'data-testid': 'chat-note' });
    this.#list = el('ol', { class: 'chat-log', 'data-testid': 'chat-log', 'aria-live': 'polite' });
    const form = el('form', { class: 'chat-form' });
    this.#input = el('textarea', { 'data-testid': 'chat-input', rows: '2', autocomplete: 'off' });
    this.#send = el('button', { type: 'submit', class: 'primary', 'data-testid': 'chat-send' });
    this.#problem = el('p', { class: 'chat-problem', 'data-testid': 'chat-problem', role: 'alert', hidden: '' });
    form.append(this.#input, this.#send);
    this.#panel.append(head, this.#note, this.#list, this.#problem, form);

    form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.#submit();
    });
    // Enter sends, Shift+Enter breaks the line: as in every messenger.
    this.#input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.#submit();
      }
    });
    this.#button.addEventListener('click', () => this.setOpen(!this.chat.panelOpen));
    this.#close.addEventListener('click', () => this.setOpen(false));
    onLangChange(() => this.#renderTexts());
  }

  /**
   * Put the button among the call's controls (before hang-up) and the drawer
   * over the video.
   * @param {Element | null} controls
   * @param {Element | null} stage
   */
  mount(controls, stage) {
    const hangup = controls?.querySelector('[data-testid="hangup"]') ?? null;
    if (controls) controls.insertBefore(this.#button, hangup);
    (stage ?? document.body).append(this.#panel);
    this.#renderTexts();
  }

  /** The chat belongs to a running call: shown only then. @param {boolean} inCall */
  setAvailable(inCall) {
    this.#button.hidden = !inCall;
    if (!inCall && this.chat.panelOpen) this.setOpen(false);
  }

  /** @param {boolean} open */
  setOpen(open) {
    this.chat.setPanelOpen(open);
    this.#panel.hidden = !open;
    this.#button.setAttribute('aria-expanded', String(open));
    this.#renderBadge();
    if (open) {
      this.#input.focus();
      this.#list.lastElementChild?.scrollIntoView({ block: 'end' });
    } else {
      this.#button.focus();
    }
  }

  /**
   * A fresh connection's session channel: what is still undelivered goes
   * again when it opens, and again whenever the line comes back (the
   * receiver drops what it has seen).
   *
   * Nothing is written while the line is down (`usable` false): Firefox
   * fails the whole connection's DTLS when a data channel writes while its
   * ICE is disconnected, and the call would not come back from a cut. So
   * the beat pauses, and a chat typed into the cut waits in the outbox.
   * @param {RTCDataChannel} channel
   * @param {() => boolean} usable the connection's ICE is connected now
   */
  attach(channel, usable) {
    this.#channel = channel;
    this.#usable = usable;
    this.#stopAlive();
    channel.onopen = () => {
      if (this.#channel !== channel) return;
      this.#lineDown = !usable();
      if (!this.#lineDown) this.#lineBack();
      // The other page tells a silent line from a quiet chat by this (the safety net).
      this.#stopAlive();
      this.#alive = setInterval(() => {
        if (this.#channel !== channel || channel.readyState !== 'open') {
          this.#stopAlive();
        } else if (!usable()) {
          this.#lineDown = true;
        } else {
          if (this.#lineDown) this.#lineBack();
          else this.#resendDue();
          this.#lineDown = false;
          this.#transmit({ type: 'alive' });
        }
      }, ALIVE_INTERVAL_MS);
    };
    channel.onmessage = (event) => {
      if (this.#channel !== channel) return;
      const message = decodeSessionMessage(event.data);
      if (!message) {
        this.#o.log?.('chat: a session message that does not fit, ignored');
        return;
      }
      if (message.type === 'chat' || message.type === 'chat-ack') {
        const { ack, shown } = this.chat.receive(message);
        if (ack) this.#transmit(ack);
        if (shown || message.type === 'chat-ack') this.#renderLog();
        return;
      }
      this.#o.onOther?.(message);
    };
  }

  /**
   * Send on the current channel if it is open.
   * @param {SessionMessage} message
   * @returns {boolean}
   */
  #transmit(message) {
    const channel = this.#channel;
    if (!channel || channel.readyState !== 'open' || !this.#usable()) return false;
    try {
      channel.send(encodeSessionMessage(message));
      return true;
    } catch (err) {
      this.#o.log?.(`chat: not sent: ${err}`);
      return false;
    }
  }

  /** For the safety net: a message on the current channel. @param {SessionMessage} message */
  sendOther(message) {
    return this.#transmit(message);
  }

  #submit() {
    const result = this.chat.compose(this.#input.value, crypto.randomUUID(), performance.now());
    if ('refused' in result) {
      this.#showProblem(REFUSALS[result.refused]);
      return;
    }
    this.#showProblem(null);
    this.#input.value = '';
    this.#sendMine(result.message);
    this.#renderLog();
  }

  /** @param {MessageKey | null} key */
  #showProblem(key) {
    this.#problemKey = key;
    this.#problem.hidden = key === null;
    this.#problem.textContent = key === null ? '' : t(key, { max: MAX_CHAT_CHARS });
  }

  /** A message of mine, noted as sent when it went. @param {import('./chat.js').ChatMessage} message */
  #sendMine(message) {
    if (this.#transmit(message)) this.chat.sent(message.id, performance.now());
  }

  /** The line carries again (the channel opened, or a cut is over): say what waits. */
  #lineBack() {
    for (const m of this.chat.outbox) this.#sendMine(m);
    this.#o.onUsable?.();
  }

  /** What is still not acknowledged a while after it went goes again (the receiver drops repeats). */
  #resendDue() {
    for (const m of this.chat.due(performance.now())) this.#sendMine(m);
  }

  #stopAlive() {
    if (this.#alive !== null) clearInterval(this.#alive);
    this.#alive = null;
  }

  /** The call is over: the log goes from memory and from the page. */
  wipe() {
    this.chat.wipe();
    this.#stopAlive();
    this.#channel = null;
    this.#list.replaceChildren();
    this.#input.value = '';
    this.#showProblem(null);
    this.setAvailable(false);
    this.#renderBadge();
  }

  #renderLog() {
    const items = this.chat.entries.map((entry) => {
      const li = el('li', { class: `chat-entry chat-${entry.from}`, 'data-from': entry.from, 'data-delivered': String(entry.delivered) });
      const who = el('span', { class: 'chat-who' });
      who.textContent = t(entry.from === 'me' ? 'chat.me' : 'chat.peer');
      const body = el('span', { class: 'chat-text' });
      // Text nodes and http(s) links only: nothing the other side writes becomes markup.
      for (const part of linkSegments(entry.text)) {
        if ('href' in part) {
          const a = el('a', { href: part.href, rel: 'noopener noreferrer', target: '_blank' });
          a.textContent = part.text;
          body.append(a);
        } else {
          body.append(document.createTextNode(part.text));
        }
      }
      li.append(who, body);
      if (!entry.delivered) {
        const pending = el('span', { class: 'chat-pending' });
        pending.textContent = t('chat.pending');
        li.append(pending);
      }
      return li;
    });
    this.#list.replaceChildren(...items);
    this.#list.lastElementChild?.scrollIntoView({ block: 'end' });
    this.#renderBadge();
  }

  #renderBadge() {
    const n = this.chat.unread;
    this.#badge.hidden = n === 0;
    this.#badge.textContent = n === 0 ? '' : String(n);
    this.#button.setAttribute('aria-label', n === 0 ? t('chat.open') : t('chat.openUnread', { count: n }));
  }

  #renderTexts() {
    this.#buttonLabel.textContent = t('chat.open');
    this.#title.textContent = t('chat.title');
    this.#close.textContent = t('chat.close');
    this.#note.textContent = t('chat.note');
    this.#input.setAttribute('aria-label', t('chat.input'));
    this.#input.placeholder = t('chat.input');
    this.#send.textContent = t('chat.send');
    if (this.#problemKey) this.#showProblem(this.#problemKey);
    this.#renderLog();
  }
}
