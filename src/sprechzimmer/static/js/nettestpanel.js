// The network test on the call page: its button and what it found, in the
// waiting room (the client) and in the connection details (the therapist,
// before admitting). The measuring is nettest.js, the meaning
// nettestverdict.js; this module asks for the credentials, runs it and draws.
//
// Keeps nothing beyond this page's memory: the last result is shown, never
// stored or sent.

import { runNetTest } from './nettest.js';
import { VERDICT_KEYS, verdict } from './nettestverdict.js';
import { t } from './i18n.js';

/** @typedef {import('./protocol.js').IceServer} IceServer */
/** @typedef {import('./nettestverdict.js').NetTestResult} NetTestResult */

/** @param {string} selector @returns {HTMLElement} */
function $(selector) {
  const el = document.querySelector(selector);
  if (!(el instanceof HTMLElement)) throw new Error(`missing element ${selector}`);
  return el;
}

/**
 * @typedef {object} NetTestPanelOptions
 * @property {() => Promise<IceServer[] | null>} servers relay credentials for the test (null: none came)
 * @property {(text: string) => void} log
 */

export class NetTestPanel {
  #o;
  #panel = $('#nettest');
  #button = /** @type {HTMLButtonElement} */ ($('[data-testid="network-test"]'));
  #result = $('[data-testid="network-result"]');
  #details = $('#nettest-details');
  /** @type {'idle' | 'running' | 'failed' | 'done'} */
  #state = 'idle';
  /** @type {NetTestResult | null} */
  #last = null;
  #available = false;

  /** @param {NetTestPanelOptions} options */
  constructor(options) {
    this.#o = options;
    this.#button.addEventListener('click', () => {
      this.run().catch((err) => this.#o.log(`network test failed: ${err}`));
    });
  }

  async run() {
    if (this.#state === 'running' || !this.#available) return;
    this.#state = 'running';
    this.render();
    const servers = await this.#o.servers();
    if (servers === null) {
      this.#state = 'failed';
    } else {
      this.#last = await runNetTest(servers);
      this.#state = 'done';
      this.#o.log(`network test: ${verdict(this.#last)}`);
    }
    this.render();
  }

  /**
   * Where the panel is and whether it can run: in the waiting room, or in the
   * details before a call; never during one (it would compete with the call).
   * @param {{view: string, connected: boolean, inCall: boolean}} where
   */
  place({ view, connected, inCall }) {
    const home = view === 'waiting-room' ? $('#nettest-slot-waiting') : $('#nettest-slot-call');
    if (this.#panel.parentElement !== home) home.append(this.#panel);
    this.#available = connected && !inCall;
    this.#panel.hidden = !this.#available && this.#state !== 'done';
    this.render();
  }

  render() {
    const running = this.#state === 'running';
    this.#button.disabled = running || !this.#available;
    this.#button.textContent = t(this.#state === 'done' ? 'nettest.again' : 'nettest.start');
    this.#result.hidden = this.#state === 'idle';
    this.#result.dataset.state = this.#state;
    this.#details.hidden = this.#state !== 'done';
    if (running) {
      this.#result.textContent = t('nettest.running');
      delete this.#result.dataset.verdict;
      return;
    }
    if (this.#state === 'failed') {
      this.#result.textContent = t('nettest.failed');
      return;
    }
    const r = this.#last;
    if (this.#state !== 'done' || r === null) return;
    const v = verdict(r);
    this.#result.dataset.verdict = v;
    this.#result.textContent = t(VERDICT_KEYS[v]);
    /** @param {import('./nettestverdict.js').Reach} reach */
    const word = (reach) => t(reach === 'ok' ? 'nettest.ok' : reach === 'failed' ? 'nettest.closed' : 'nettest.notOffered');
    const lines = r.relay ? [t('nettest.details', { udp: word(r.reach.udp), tcp: word(r.reach.tcp), tls: word(r.reach.tls) })] : [];
    if (r.rttMs !== null && r.kbps !== null) lines.push(t('nettest.measured', { rtt: String(r.rttMs), kbps: String(r.kbps) }));
    this.#details.textContent = lines.join(' · ');
    this.#details.hidden = lines.length === 0;
  }
}

/** How long to wait for `nettest-servers`. */
const ASK_MS = 5000;
/** Credentials are used only while they have this much life left (the test takes ~10 s). */
const MARGIN_S = 30;
/** @type {{servers: IceServer[], until: number} | null} the last credentials, in this page's memory */
let cached = null;

/**
 * Relay credentials for the test: the ones we have while they are good, else
 * fresh ones from the server (`nettest`, answered by `nettest-servers`). The
 * server gives at most one set per 20 s, so a page keeps what it got.
 * @param {import('./signaling.js').SignalingClient} signaling
 * @param {number} now Date.now()
 * @returns {Promise<IceServer[] | null>} null: no answer
 */
export function askNetTestServers(signaling, now) {
  if (cached !== null && cached.until > now) return Promise.resolve(cached.servers);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      off();
      resolve(null);
    }, ASK_MS);
    const off = signaling.on('nettest-servers', (m) => {
      off();
      clearTimeout(timer);
      cached = { servers: m.ice_servers, until: now + Math.max(0, m.ttl - MARGIN_S) * 1000 };
      resolve(m.ice_servers);
    });
    if (!signaling.send({ type: 'nettest' })) {
      off();
      clearTimeout(timer);
      resolve(null);
    }
  });
}
