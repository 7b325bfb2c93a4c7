// The call page's view of the connection: its path, its quality, its frame
// encryption (the state line, the verification code and its procedure), and
// the network switches in the details. Draws what the controllers
// (qualityloop.js, connection.js, networkmode.js) hand it; decides nothing.

import { t } from './i18n.js';
import { pathLabelKey } from './stats.js';
import { ui } from './callview.js';

/** @typedef {import('./i18n.js').MessageKey} MessageKey */
/** @typedef {import('./keyagreement.js').E2eeState} E2eeState */
/** @typedef {import('./sendladder.js').Grade} Grade */
/** @typedef {{path: import('./stats.js').MediaPath | null, relayProtocol: string | null}} PathShown */

/** @param {RTCPeerConnectionState | string} state @param {PathShown} path */
export function renderConnection(state, path) {
  ui.connection.dataset.state = state;
  ui.connection.dataset.path = path.path ?? '';
  if (path.path === 'relay' && path.relayProtocol) ui.connection.dataset.relayProtocol = path.relayProtocol;
  else delete ui.connection.dataset.relayProtocol;
  ui.connection.textContent =
    state === 'connected' && path.path
      ? t(pathLabelKey(path.path, path.relayProtocol))
      : t(/** @type {MessageKey} */ (`conn.${state}`));
}

/**
 * @typedef {object} QualityShown
 * @property {Grade | null} send
 * @property {Grade | null} receive
 * @property {'weak' | 'manual' | null} ownPaused our video to the other side is paused, and why
 * @property {'weak' | 'manual' | null} remotePaused the other side's video to us is paused, and why
 * @property {boolean} audioOnly the person chose audio only
 */

/** @param {QualityShown} q */
export function renderQuality(q) {
  ui.quality.dataset.send = q.send ?? '';
  ui.quality.dataset.receive = q.receive ?? '';
  ui.qualitySendText.textContent = t(q.send ? `quality.${q.send}` : 'quality.unknown');
  ui.qualityReceiveText.textContent = t(q.receive ? `quality.${q.receive}` : 'quality.unknown');
  // Ours first: what we can change; then what the other side says.
  const own = q.ownPaused;
  const paused = own ?? q.remotePaused;
  ui.qualityNotice.hidden = paused === null;
  ui.qualityNotice.dataset.side = own ? 'send' : paused ? 'receive' : '';
  ui.qualityNotice.dataset.reason = paused ?? '';
  ui.qualityNotice.textContent = paused === null ? '' : t(paused === 'manual' ? 'quality.pausedManual' : 'quality.pausedWeak');
  ui.audioOnly.setAttribute('aria-pressed', String(q.audioOnly));
}

/**
 * @typedef {object} E2eeShown
 * @property {E2eeState} state
 * @property {number | null} keyAgeSeconds
 * @property {boolean} verified
 * @property {string | null} sas
 * @property {import('./protocol.js').Role | null} role
 * @property {boolean} peer a peer connection is open (someone to encrypt for)
 */

/** @param {E2eeShown} e */
export function renderE2ee(e) {
  ui.e2eeState.dataset.state = e.state;
  /** @type {string[]} */
  let parts;
  switch (e.state) {
    case 'active':
      parts = [t('e2ee.active')];
      if (e.verified) parts.push(t('e2ee.verified'));
      break;
    case 'dtls-only':
      parts = [t('e2ee.dtlsOnly')];
      break;
    case 'failed':
      parts = [t('e2ee.failed')];
      break;
    case 'unsupported':
      parts = [t('e2ee.unsupported')];
      break;
    default:
      parts = [t('e2ee.negotiating')];
  }
  // Nobody to encrypt for yet: no "being set up" while the therapist waits;
  // but a failure stays said after the other person left.
  ui.e2eeState.hidden = !e.peer && e.state !== 'failed' && e.state !== 'unsupported';
  // Written only when it changes (it is read out by screen readers once).
  const text = parts.join(' · ');
  if (ui.e2eeState.textContent !== text) ui.e2eeState.textContent = text;
  // The key's age is for the curious: in the details, not in the call.
  const age = e.state === 'active' && e.keyAgeSeconds !== null ? Math.floor(e.keyAgeSeconds / 60) : null;
  ui.keyAge.hidden = age === null;
  ui.keyAge.textContent = age === null ? '' : age < 1 ? t('e2ee.keyAgeNew') : t('e2ee.keyAge', { minutes: age });
  const sas = e.state === 'active' ? e.sas : null;
  ui.sasBox.hidden = sas === null;
  ui.sas.textContent = sas ?? '';
  // One procedure: the client reads the code out, the therapist compares and
  // confirms, and the client's page says that it was confirmed.
  const therapist = e.role === 'therapist';
  ui.sasHelp.dataset.verified = String(e.verified);
  ui.sasHelp.textContent = t(
    e.verified ? (therapist ? 'e2ee.sasConfirmedTherapist' : 'e2ee.sasConfirmedClient') : therapist ? 'e2ee.sasHelpTherapist' : 'e2ee.sasHelpClient',
  );
  ui.verify.hidden = !therapist || e.verified;
  ui.verify.disabled = sas === null || e.verified;
}

/**
 * @typedef {object} NetworkShown
 * @property {boolean} iceKnown we know what the server offers (a welcome came)
 * @property {boolean} compatOk the server offers a relay over TCP/TLS
 * @property {boolean} compatOn compatibility mode is on
 * @property {boolean} compatAuto recovery switched it on
 * @property {boolean} turn the server offers a relay at all
 * @property {boolean} relayOnly relay-only as the server last said
 * @property {boolean} relayOnlyShown relay-only as shown (the therapist's wish until the server answers)
 * @property {boolean} relaySwitching a switch waits for the server's answer
 */

/**
 * Compatibility mode and relay-only: what the server offers, not what the
 * current call got, so the controls are there before a call.
 * @param {NetworkShown} n
 */
export function renderNetworkControls(n) {
  // A service without the relay: the switches that need it are not shown at
  // all, rather than shown disabled with an explanation nobody needs.
  ui.compatBox.hidden = n.iceKnown && !n.compatOk && !n.compatOn;
  ui.relayOnlyBox.dataset.available = String(n.turn || n.relayOnly);
  ui.compat.disabled = !n.compatOk;
  ui.compat.setAttribute('aria-pressed', String(n.compatOn));
  /** @type {MessageKey} */
  let help = 'call.compatHelp';
  if (n.iceKnown && !n.compatOk) help = 'call.compatUnavailable';
  else if (n.compatOn) help = n.compatAuto ? 'call.compatAuto' : 'call.compatOn';
  ui.compatHelp.dataset.i18n = help;
  ui.compatHelp.textContent = t(help);
  ui.compat.title = t(n.iceKnown && !n.compatOk ? 'call.compatUnavailable' : 'call.compatHelp');

  ui.relayOnly.disabled = !n.turn;
  ui.relayOnly.setAttribute('aria-pressed', String(n.relayOnlyShown));
  ui.relayOnly.dataset.enabled = String(n.relayOnly);
  ui.relayOnly.title = t(n.turn ? 'call.relayOnlyHelp' : 'call.relayOnlyUnavailable');
  /** @type {MessageKey} */
  let state = n.relayOnlyShown ? 'call.relayOnlyOn' : 'call.relayOnlyOff';
  if (!n.turn && !n.relayOnly) state = 'call.relayOnlyUnavailable';
  else if (n.relaySwitching) state = 'call.relayOnlyPending';
  ui.relayOnlyState.dataset.i18n = state;
  ui.relayOnlyState.textContent = t(state);
}
