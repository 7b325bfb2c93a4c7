// The call page, for both roles: device check, waiting room, call.
//
// Wiring only. The call logic (which state the page is in, what a server
// message means for it, when to open or close the connection) is the pure
// state machine of callstate.js; this module hands it what happens (the
// person's clicks, the server's messages via signaling.js, the connection's
// news via connection.js), carries out the actions it returns, and has
// callview.js render its snapshot. The controllers around it:
//  - localmedia.js: camera and microphone, the device check
//  - connection.js: the peer connection, its encryption and its recovery
//  - networkmode.js: compatibility mode and relay-only
//  - qualityloop.js: what the connection carries, and the anonymous summary
//  - callhandle.js: `window.sprechzimmer`, the read-only handle for tests
//
// Never records anything; never talks to any host but this page's origin.
//
// Longer than our ~400 lines on purpose: it is the one place where the
// person's inputs (buttons, shortcuts, closing the tab) and the server's
// messages meet the parts above; each handler is a few lines that only
// forward, and splitting them would hide the wiring it exists to show.

import { initI18n, onLangChange, t } from './i18n.js';
import { loadInvite, saveInvite } from './invite.js';
import { SignalingClient, signalingUrl } from './signaling.js';
import { playChime, unlockAudioOnGesture } from './sound.js';
import { parseDebugSwitches } from './e2ee-debug.js';
import { parseNegotiationSwitches } from './negotiation-debug.js';
import { CallMachine } from './callstate.js';
import {
  disableKnockButtons,
  enableJoin,
  renderClientLabel,
  renderEndText,
  knownRole,
  renderHangupQuestion,
  renderPeerName,
  renderPracticeName,
  renderRemoteState,
  renderRoomCheck,
  renderStatus,
  renderTimer,
  resumeMediaElements,
  showNotice,
  showRemoteStream,
  startRemoteSound,
  statusText,
  ui,
} from './callview.js';
import { LocalMedia } from './localmedia.js';
import { QualityLoop } from './qualityloop.js';
import { CallConnection } from './connection.js';
import { installCallHandle } from './callhandle.js';
import { checkLink } from './linkcheck.js';
import { notifyOn, soundOn } from './alerts.js';
import { CallPresence } from './undisturbed.js';
import { JoinForm } from './joinform.js';
import { ChatPanel } from './chatview.js';
import { QuickExit } from './quickexit.js';
import { SafetyView } from './safetyview.js';
import { PauseControl } from './pausecontrol.js';
import { ScreenShare } from './screenshare.js';
import { NetTestPanel, askNetTestServers } from './nettestpanel.js';
import { GroupCall } from './groupcall.js';
import { GroupView } from './groupview.js';
import { renderE2ee } from './connectionview.js';
import { testHooks } from './e2ee-debug.js';

/** @typedef {import('./protocol.js').WelcomeMessage} WelcomeMessage */
/** @typedef {import('./callstate.js').CallInput} CallInput */
/** @typedef {import('./callstate.js').CallAction} CallAction */

const debug = (/** @type {string} */ text) => console.debug(`[sprechzimmer] ${text}`);
/** How often the key age on screen is brought up to date. */
const KEY_AGE_REFRESH_MS = 5000;
/** States in which leaving the page would cut a conversation: the browser asks first. */
const LIVE = new Set(['connecting', 'in-call', 'reconnecting', 'no-connection']);

/**
 * TEST HOOKS for the end-to-end tests, read once at page load from
 * sessionStorage key `sz-debug-e2ee` ("no-receive-transform",
 * "wrong-receive-key", "force-script-transform", "force-encoded-streams");
 * see parseDebugSwitches. Unset, nothing changes.
 */
const e2eeDebug = parseDebugSwitches(readSession('sz-debug-e2ee'));
/** TEST HOOK: `sz-debug-sdp` ("corrupt-codecs"), see negotiation-debug.js. */
const negotiationDebug = parseNegotiationSwitches(readSession('sz-debug-sdp'));

/** @param {string} key */
function readSession(key) {
  try {
    return sessionStorage.getItem(key);
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------
// The parts

/** The call logic: status, admission, the other side's presence. */
const machine = new CallMachine({ log: debug });
/** Tells the therapist's other tabs while this one is in a call, so that they stay silent. */
const presence = new CallPresence();
/** @type {ReturnType<typeof setTimeout> | null} */
let machineTimer = null;
/** @type {SignalingClient | null} */
let signaling = null;
/** @type {WelcomeMessage | null} */
let welcome = null;

const quality = new QualityLoop({
  peer: () => connection.peer,
  send: (message) => {
    signaling?.send(message);
  },
  log: debug,
});
const media = new LocalMedia({
  onProblem: () => quality.summary.error('gum-failed'),
  // A track that ends mid-call, or another device, goes onto this connection's senders.
  pc: () => connection.peer?.pc ?? null,
  onChange: () => reportOwnMedia(),
  onNotice: (key) => showNotice(key),
  log: debug,
});
/** Whether a call runs that the call's own controls (pause, screen, chat) act on. */
function inCall() {
  const s = machine.snapshot;
  return s.view === 'call' && s.admitted && !s.finished;
}
/** Screen sharing (screenshare.js): our screen in our camera's place, frame-encrypted alike. */
const screenShare = new ScreenShare({
  pc: () => connection.peer?.pc ?? null,
  camera: () => media.stream?.getVideoTracks()[0] ?? null,
  inCall,
  report: () => reportOwnMedia(),
  onProblem: (key) => showNotice(key),
  log: debug,
});
/** The privacy pause (pause.js): either side holds both sides' camera and microphone. */
const pauseControl = new PauseControl({
  media: {
    hold: (on) => {
      // Held, nothing of ours goes out: a shared screen ends too.
      if (on) screenShare.stop({ camera: false });
      media.hold(on);
    },
  },
  report: () => reportOwnMedia(),
  inCall,
});
/** The network test against our own relay, before a call. */
const netTest = new NetTestPanel({
  servers: () => (signaling ? askNetTestServers(signaling, Date.now()) : Promise.resolve(null)),
  log: debug,
});
/** The client's name and consent, asked before joining (a client's link only). */
const joinForm = new JoinForm();
/** The chat over the browsers' own session channel (chat.js); never through the server. */
const chatPanel = new ChatPanel({
  log: debug,
  onOther: (message) => {
    if (message.type === 'safety') safety.received(message);
    else safety.heard();
  },
  onUsable: () => safety.channelOpen(),
});
/** The client's safety net for a dropped line: memory only, over the session channel. */
const safety = new SafetyView((message) => chatPanel.sendOther(message));
/** The client's quick way out: bye at once, a neutral page in the tab's place. */
const quickExit = new QuickExit({
  leave: () => {
    signaling?.hangup('quick-exit');
    chatPanel.wipe();
    safety.wipe();
    connection.close();
    media.release();
  },
  log: debug,
});

/**
 * The role is known (the link check, then `welcome`): only a client's page has
 * the quick exit (a therapist pressing Escape twice stays) and the safety
 * net's fields; the therapist's has the safety net's panel.
 * @param {'therapist' | 'client'} role
 */
function offerSessionFeatures(role) {
  quickExit.enable(role === 'client', document.querySelector('#call-view .stage-top'), quickExitTexts());
  safety.setRole(role);
}

function quickExitTexts() {
  return { label: t('exit.button'), help: t('exit.help') };
}
// ---------------------------------------------------------------------------
// A group session (welcome.seats > 1): the call's connections are groupcall.js's

/** The session has more than one client seat: group keys, tiles, a waiting list. */
let group = false;
/** The `admitted` that starts the group's call (its peers, ICE servers, epoch). @type {import('./protocol.js').AdmittedMessage | null} */
let groupAdmitted = null;
/** Therapist: the seats knocking now, with the name each gave (memory only). @type {Map<number, {name: string | null, consent: boolean}>} */
const knocking = new Map();
/** Each member's camera and microphone as its page said (relayed by the server). @type {Map<number, {camera: 'on' | 'off' | 'none', microphone: 'on' | 'off' | 'none'}>} */
const seatMedia = new Map();
/** The member heard loudest just now, or null. @type {number | null} */
let speakingSeat = null;
/** This browser cannot encrypt a group's frames: said in the call bar, also after the call closed. */
let groupUnsupported = false;
/** The group's connection state as the call logic last heard it. @type {RTCPeerConnectionState | null} */
let groupState = null;
/** How often the tiles look for who speaks. */
const SPEAKING_POLL_MS = 400;
/** The audio level (0..1) from which a member counts as speaking. */
const SPEAKING_LEVEL = 0.03;

const groupCall = new GroupCall({
  send: (message) => signaling?.send(message) ?? false,
  localStream: () => media.stream,
  onChange: () => groupChanged(),
  testHooks: testHooks(e2eeDebug),
  // Fail closed, after the action that started the call is done.
  onUnsupported: () => {
    groupUnsupported = true;
    queueMicrotask(() => dispatch({ type: 'e2ee-failed', state: 'unsupported' }));
  },
  log: debug,
});
const groupView = new GroupView(
  /** @type {HTMLElement} */ (document.querySelector('#call-view .stage')),
  /** @type {HTMLElement} */ (document.querySelector('#call-view .stage-top')),
  {
    admit: (seat) => signaling?.send(seat === null ? { type: 'admit' } : { type: 'admit', seat }),
    decline: (seat) => signaling?.send({ type: 'decline', seat }),
    askMute: (seat) => signaling?.send({ type: 'mute-request', to: seat }),
    muteAnswer: (accept) => {
      if (accept && media.mediaState('audio') === 'on') toggleOwn('audio');
    },
  },
  () => {
    ui.startSound.hidden = false;
  },
);

/** The group's links, keys or code changed: the tiles, and the call logic if the whole changed. */
function groupChanged() {
  renderGroup();
  renderGroupE2ee();
  const state = groupCall.open ? groupCall.state : null;
  if (state !== null && state !== groupState) {
    groupState = state;
    dispatch({ type: 'connection', state, recovering: false, noRelay: false });
  }
}

function renderGroup() {
  if (!group) return;
  groupView.render(groupCall.peers, (seat) => ({
    camera: seatMedia.get(seat)?.camera ?? null,
    microphone: seatMedia.get(seat)?.microphone ?? null,
    speaking: seat === speakingSeat,
  }));
  groupView.renderWaiting([...knocking].sort(([a], [b]) => a - b).map(([seat, k]) => ({ seat, ...k })));
}

/** Who speaks: the loudest member's tile is highlighted (its level, read from our receivers). */
async function pollSpeaking() {
  if (!group || !groupCall.open) return;
  let best = /** @type {number | null} */ (null);
  let level = SPEAKING_LEVEL;
  for (const peer of groupCall.peers) {
    const receiver = groupCall
      .link(peer.seat)
      ?.pc.getReceivers()
      .find((r) => r.track.kind === 'audio');
    const heard = receiver?.getSynchronizationSources?.()[0]?.audioLevel ?? 0;
    if (heard > level) {
      level = heard;
      best = peer.seat;
    }
  }
  if (best !== speakingSeat) {
    speakingSeat = best;
    renderGroup();
  }
}

const connection = new CallConnection({
  dispatch,
  snapshot: () => machine.snapshot,
  localStream: () => media.stream,
  quality,
  e2eeDebug,
  negotiationDebug,
  log: debug,
  sessionChannel: (channel, usable) => chatPanel.attach(channel, usable),
});

// ---------------------------------------------------------------------------
// The call logic: inputs in, actions out

/**
 * Hand the call logic what happened, carry out what it decided, render.
 * @param {CallInput} input
 */
function dispatch(input) {
  carryOut(machine.handle(input, performance.now()));
}

/** @param {CallAction[]} actions */
function carryOut(actions) {
  for (const action of actions) perform(action);
  render();
  scheduleMachine();
}

/** Arm the one timer of the call logic. */
function scheduleMachine() {
  if (machineTimer !== null) clearTimeout(machineTimer);
  machineTimer = null;
  const at = machine.timer();
  if (at === null) return;
  machineTimer = setTimeout(() => {
    machineTimer = null;
    carryOut(machine.handleTimer(performance.now()));
  }, Math.max(0, at - performance.now()));
}

/** @param {CallAction} action */
function perform(action) {
  switch (action.type) {
    case 'close-peer':
      if (group) closeGroup();
      else connection.close();
      break;
    case 'open-peer': {
      if (group) {
        if (groupAdmitted && welcome) {
          debug(`group: call starts, epoch ${groupAdmitted.epoch}, peers ${(groupAdmitted.peers ?? []).map((p) => p.seat).join(',')}`);
          groupCall.start(groupAdmitted, welcome.seat ?? (welcome.role === 'therapist' ? 0 : 1));
        }
        break;
      }
      const p = connection.open();
      if (action.then === 'offer') p?.start();
      else if (action.then === 'restart-ice') p?.restartIce();
      break;
    }
    case 'describe':
      connection.peer?.handleDescription(action.description, action.sdp);
      break;
    case 'clear-remote':
      showRemoteStream(null);
      break;
    case 'send':
      signaling?.send(action.message);
      break;
    case 'chime':
      // The therapist's own switches on the dashboard hold here too; and a
      // consultation in another tab is never disturbed by it (undisturbed.js).
      if (presence.callElsewhere()) break;
      if (soundOn()) playChime();
      notifyKnock();
      break;
    case 'report-media':
      connection.reportMediaAgain();
      break;
    case 'finish':
      pauseControl.reset();
      screenShare.stop({ camera: false });
      connection.finish(action.bye);
      closeGroup();
      knocking.clear();
      renderGroup();
      // Nothing of the conversation stays in the page after it.
      chatPanel.wipe();
      safety.wipe();
      media.release();
      showRemoteStream(null);
      break;
  }
}

function closeGroup() {
  groupCall.close();
  groupState = null;
  speakingSeat = null;
  seatMedia.clear();
  renderGroup();
}

/** The group's frame encryption, in the call bar: its state and the one code of all. */
function renderGroupE2ee() {
  const e = groupCall.e2ee;
  renderE2ee({
    state: groupUnsupported ? 'unsupported' : e?.state === 'active' ? 'active' : 'negotiating',
    keyAgeSeconds: e?.keyAgeSeconds ?? null,
    verified: false,
    sas: e?.sas ?? null,
    role: machine.snapshot.role,
    peer: groupCall.peers.length > 0,
  });
  // One code for everyone, compared together: nobody confirms it for the others.
  ui.verify.hidden = true;
  ui.sasHelp.textContent = t('group.sasHelp');
}

function render() {
  const s = machine.snapshot;
  renderStatus(s);
  connection.modes.render();
  if (group) renderGroupE2ee();
  else connection.renderE2ee();
  renderGroup();
  // The call's duration runs from the first picture and sound to the end of
  // this conversation: a client who leaves stops it, a short break does not.
  if (s.status === 'in-call' && callStartedAt === null) callStartedAt = performance.now();
  if (s.finished || !s.admitted || s.view !== 'call') callStartedAt = null;
  presence.setInCall(!s.finished && s.admitted && s.view === 'call');
  renderTimerNow();
  if (s.finished) hangupAsked = false;
  renderRemote();
  renderRoomCheck(s);
  // The chat is the two browsers' own channel: not (yet) in a group.
  chatPanel.setAvailable(!group && s.view === 'call' && s.admitted && !s.finished);
  pauseControl.render();
  screenShare.render();
  netTest.place({ view: s.view, connected: welcome !== null && !s.finished, inCall: s.admitted && s.view === 'call' });
  renderTitle();
}

/**
 * The operator's neutral tab title for a client's page (SPRECHZIMMER_NEUTRAL_TITLE,
 * from the link check): a glance at the tab bar shows no consultation.
 */
let neutralTitle = '';

/** A knocking client shows in the tab's title, so a therapist in another tab sees it. */
function renderTitle() {
  const title = neutralTitle || t('call.title');
  document.title = machine.snapshot.status === 'knocking' ? t('call.knockTitle', { title }) : title;
}

/**
 * A local notification of the browser for a knock while this tab is not in
 * front (only if the therapist allowed notifications on the dashboard; we
 * never ask from here). Names nobody: the screen may be shared or seen.
 */
function notifyKnock() {
  if (!notifyOn() || !document.hidden) return;
  try {
    new Notification(t('call.knocking'), { tag: 'sprechzimmer-knock' });
  } catch {
    // Some browsers allow notifications only from a service worker: the title and chime remain.
  }
}

/** When the running conversation started (performance.now()), or null. @type {number | null} */
let callStartedAt = null;
/** The hang-up question is open. */
let hangupAsked = false;
/**
 * The other person's camera and microphone as their page last told us
 * (relayed by the server, kept only here).
 * @type {{camera: 'on' | 'off' | 'none', microphone: 'on' | 'off' | 'none', audio_only: boolean} | null}
 */
let remoteMedia = null;
/**
 * Therapist: the name the client gave and whether it confirmed consent, as the
 * server last said (knock, welcome, peer-joined); forgotten when it leaves.
 * @type {string | null}
 */
let peerName = null;
let peerConsent = false;

/** @param {string | null | undefined} name @param {boolean} [consent] */
function setPeer(name, consent = peerConsent) {
  peerName = name ?? null;
  peerConsent = consent;
}

function renderTimerNow() {
  renderTimer(callStartedAt === null ? null : Math.floor((performance.now() - callStartedAt) / 1000));
}

function renderRemote() {
  const s = machine.snapshot;
  // The client's name, to the therapist only, while the client's seat is in
  // this page's view (a knock, the call); kept in this page's memory alone.
  const showName = s.role === 'therapist' && s.view === 'call' && !s.finished;
  renderPeerName(showName ? peerName : null, showName && peerConsent && s.status === 'knocking');
  // Admitted and in the call view: the other person's video is there, or is
  // coming back (their line dropped: say so on the black picture).
  const present = s.view === 'call' && s.admitted && !s.finished;
  renderRemoteState({
    camera: remoteMedia?.camera ?? null,
    microphone: remoteMedia?.microphone ?? null,
    audioOnly: remoteMedia?.audio_only ?? false,
    present,
    reconnecting: s.status === 'reconnecting' || (s.status === 'waiting' && !s.peer),
  });
}

/** Tell the other person's page what our camera and microphone do now. */
function reportOwnMedia() {
  // signaling.js keeps it and says it again after every welcome.
  signaling?.setMediaState({
    camera: media.mediaState('video'),
    microphone: media.mediaState('audio'),
    audio_only: quality.audioOnly,
    paused: pauseControl.paused,
    screen: screenShare.sharing,
  });
}

/** @param {'audio' | 'video'} kind */
function toggleOwn(kind) {
  media.toggle(kind);
  reportOwnMedia();
}

/** @param {boolean} open */
function askHangup(open) {
  hangupAsked = open && !machine.snapshot.finished;
  renderHangupQuestion(machine.snapshot.role, hangupAsked, true);
  if (!open) ui.hangup.focus();
}

// ---------------------------------------------------------------------------
// Joining: the server's messages to the call logic

/** @param {import('./invite.js').Invite} invite */
function join(invite) {
  /** @type {{name: string | undefined, consent: true} | null} */
  let answers = null;
  if (joinForm.shown) {
    answers = joinForm.read();
    if (answers === null) return; // the form says what is missing
    joinForm.lock();
  }
  media.stopLevel();
  enableJoin(false);
  dispatch({ type: 'join' });
  const client = new SignalingClient({
    url: signalingUrl(location),
    session: invite.session,
    token: invite.token,
    resume: invite.resume,
    log: debug,
    onResume: (resume) => saveInvite(sessionStorage, { session: invite.session, token: invite.token, resume }),
    // A restarted server forgot the key epoch; the next renewal must go beyond ours.
    // 0 says we have no call left (a reload): the server starts a fresh one.
    epoch: () => (group ? groupCall.resumeEpoch : connection.resumeEpoch),
    // A running call must not end because the server stays away for long (a
    // slow deploy): keep trying, at the slow pace, for about an hour.
    maxReconnectAttempts: 240,
    // A restarted server forgot a therapist's relay-only choice; the call keeps it.
    relayOnly: () => machine.snapshot.role === 'therapist' && machine.snapshot.relayOnly,
    // Said in every hello of this visit (a server that restarted learns it
    // again); never written to any storage.
    name: answers?.name,
    consent: answers?.consent,
  });
  signaling = client;
  connection.join(client, invite.session);
  // Said once here; signaling.js says it again after every welcome.
  reportOwnMedia();

  client.on('welcome', (w) => {
    welcome = w;
    group = (w.seats ?? 1) > 1;
    connection.modes.group = group;
    groupView.setRole(w.role);
    offerSessionFeatures(w.role);
    connection.welcome(w);
    if (w.role === 'therapist') {
      renderClientLabel(w.client_id);
      // A seat held without a name (a server that forgot it) keeps what we knew.
      if (!w.peer_present) setPeer(null, false);
      else if (w.peer_name) setPeer(w.peer_name);
    }
    dispatch({ type: 'welcome', welcome: w });
  });
  client.on('media-state', (m) => {
    if (group) {
      if (m.from_seat !== undefined) seatMedia.set(m.from_seat, { camera: m.camera, microphone: m.microphone });
      renderGroup();
      return;
    }
    remoteMedia = { camera: m.camera, microphone: m.microphone, audio_only: m.audio_only };
    pauseControl.peerSaid(m.paused ?? false);
    screenShare.peerSaid(m.screen ?? false);
    renderRemote();
  });
  client.on('notice', (m) => {
    if (m.notice === 'link-in-use') showNotice('call.linkInUse');
  });
  client.on('waiting', () => dispatch({ type: 'waiting' }));
  client.on('knock', (m) => {
    setPeer(m.name, m.consent ?? false);
    if (group) {
      knocking.set(m.seat ?? 1, { name: m.name ?? null, consent: m.consent ?? false });
      renderGroup();
      // A knock during the group's call rings and waits in the list; the call goes on.
      if (groupCall.open) {
        carryOut([{ type: 'chime' }]);
        return;
      }
    }
    dispatch({ type: 'knock' });
  });
  client.on('knock-cancelled', (m) => {
    if (group) {
      knocking.delete(m.seat ?? 1);
      renderGroup();
      if (groupCall.open || knocking.size > 0) return;
    }
    remoteMedia = null;
    pauseControl.peerGone();
    screenShare.peerSaid(false);
    setPeer(null, false);
    dispatch({ type: 'knock-cancelled' });
  });
  client.on('admitted', (m) => {
    if (group) {
      groupAdmitted = m;
      for (const peer of m.peers ?? []) knocking.delete(peer.seat);
    }
    connection.admitted(m);
    dispatch({ type: 'admitted', relayOnly: m.ice_transport_policy === 'relay', roomCheck: m.room_check ?? true });
  });
  client.on('rekey', (m) => (group ? groupCall.rekey(m.epoch) : connection.rekey(m.epoch)));
  client.on('mute-request', () => groupView.askToMute(true));
  client.on('declined', () => {
    remoteMedia = null;
    dispatch({ type: 'declined' });
  });
  client.on('peer-joined', (m) => {
    if (m.role === 'client' && m.name) setPeer(m.name);
    dispatch({ type: 'peer-joined', admitted: m.admitted });
  });
  client.on('room-check-done', () => dispatch({ type: 'room-check-done' }));
  client.on('peer-left', (m) => {
    // A client who leaves a group leaves the others in their call; the therapist who
    // leaves ends it for everyone (the server ends every admission), as for two.
    if (group && m.seat !== undefined && m.role === 'client') {
      seatMedia.delete(m.seat);
      groupCall.peerLeft(m.seat);
      // The call goes on for those who stay; the last one leaving ends it as for two.
      if (groupCall.peers.length > 0) return;
    }
    remoteMedia = null;
    pauseControl.peerGone();
    screenShare.peerSaid(false);
    // The seat has gone, and its name with it.
    setPeer(null, false);
    connection.peerLeft();
    // The other seat is gone (not just away): its conversation goes with it.
    chatPanel.wipe();
    // The safety net stays after a dropped line (the seat timed out) and
    // shows after a quick exit; a hang-up takes it along.
    if (m.reason === 'quick-exit') safety.quickExit();
    else if (m.reason === 'hangup') safety.wipe();
    dispatch({ type: 'peer-left', reason: m.reason });
  });
  client.on('offer', (m) => (group ? groupCall.handle(m) : dispatch({ type: 'offer', sdp: m.sdp, fromOtherConnection: connection.isFromOtherConnection(m.sdp) })));
  client.on('answer', (m) =>
    group ? groupCall.handle(m) : dispatch({ type: 'answer', sdp: m.sdp, fromOtherConnection: connection.isFromOtherConnection(m.sdp) }),
  );
  client.on('candidate', (m) => (group ? groupCall.handle(m) : connection.peer?.handleCandidate(m)));
  client.on('restart', (m) => (group ? groupCall.handle(m) : connection.remoteRestart()));
  // A group's SFU path: the SFU's answer and offers, and the members' keys, through the server.
  client.on('sfu-published', (m) => groupCall.handle(m));
  client.on('sfu-subscribe', (m) => groupCall.handle(m));
  client.on('group-key', (m) => groupCall.handle(m));
  client.on('negotiation-failed', (m) => dispatch({ type: 'negotiation-failed', reason: m.reason }));
  client.on('error', (m) => {
    debug(`server error ${m.code}${m.fatal ? ' (fatal)' : ''}`);
    if (m.code === 'group-needs-sfu') showNotice('group.needsSfu');
    dispatch({ type: 'error', error: m });
  });
  client.on('closed', (c) => dispatch({ type: 'closed', closed: c }));

  client.connect();
}

// ---------------------------------------------------------------------------
// Start

installCallHandle({
  snapshot: () => machine.snapshot,
  peer: () => connection.peer,
  e2ee: () => connection.e2ee,
  e2eeState: () => connection.e2eeState,
  compatMode: () => connection.compatMode,
  restarts: () => connection.restarts,
  peerConnections: () => connection.peerConnections,
  signaling: () => signaling?.state ?? 'idle',
  quality: () => quality.handle,
  group: () => (group ? groupCall : null),
});

function main() {
  initI18n();
  chatPanel.mount(document.querySelector('[data-testid="hangup"]')?.parentElement ?? null, document.querySelector('#call-view .stage'));
  unlockAudioOnGesture();
  onLangChange(() => {
    ui.status.textContent = statusText(machine.snapshot.text);
    renderEndText(machine.snapshot);
    renderTitle();
    quickExit.setTexts(quickExitTexts());
    renderHangupQuestion(machine.snapshot.role, hangupAsked);
    renderRemote();
    renderTimerNow();
    media.renderToggles();
    pauseControl.render();
    screenShare.render();
    netTest.render();
    if (!ui.notice.hidden && ui.notice.dataset.notice) showNotice(/** @type {any} */ (ui.notice.dataset.notice));
    quality.renderConnection(ui.connection.dataset.state ?? 'new');
    connection.modes.render();
    connection.renderE2ee();
    quality.render();
    if (welcome?.role === 'therapist') renderClientLabel(welcome.client_id);
    joinForm.render();
    renderGroup();
    if (group) renderGroupE2ee();
    media.fillSelects().catch(() => {});
  });

  const invite = loadInvite(location.hash, sessionStorage);
  if (location.hash) {
    // The token must not stay in the address bar (screen sharing, history,
    // a shoulder); sessionStorage keeps it for a reload of this tab.
    history.replaceState(null, '', location.pathname + location.search);
  }
  if (!invite) {
    dispatch({ type: 'bad-link' });
    return;
  }

  ui.join.addEventListener('click', () => join(invite));
  ui.roomCheckDone.addEventListener('click', () => dispatch({ type: 'tick-room-check' }));
  ui.admit.addEventListener('click', () => {
    disableKnockButtons();
    dispatch({ type: 'admit' });
  });
  ui.decline.addEventListener('click', () => {
    disableKnockButtons();
    dispatch({ type: 'decline' });
  });
  const toggle = toggleOwn;
  ui.mute.addEventListener('click', () => toggle('audio'));
  ui.camera.addEventListener('click', () => toggle('video'));
  ui.waitingMute.addEventListener('click', () => toggle('audio'));
  ui.waitingCamera.addEventListener('click', () => toggle('video'));
  // Hang-up asks once: a tap by mistake must not end a therapy session.
  ui.hangup.addEventListener('click', () => askHangup(!hangupAsked));
  ui.hangupCancel.addEventListener('click', () => askHangup(false));
  ui.hangupConfirm.addEventListener('click', () => {
    hangupAsked = false;
    renderHangupQuestion(machine.snapshot.role, false);
    dispatch({ type: 'hangup' });
  });
  ui.leave.addEventListener('click', () => dispatch({ type: 'hangup' }));
  ui.noticeClose.addEventListener('click', () => showNotice(null));
  ui.startSound.addEventListener('click', () => {
    startRemoteSound();
    groupView.startSound();
  });
  // Back from the background (another app in front on a phone, a tab the
  // browser froze: `resume`): play what was paused, get back what ended.
  const back = () => {
    if (document.visibilityState !== 'visible') return;
    resumeMediaElements();
    media.resumeAfterBackground();
  };
  document.addEventListener('visibilitychange', back);
  document.addEventListener('resume', back);
  // Joining again starts the page over with the same link (kept in this tab).
  ui.rejoin.addEventListener('click', () => location.reload());
  document.addEventListener('keydown', onKey);
  window.addEventListener('beforeunload', (event) => {
    // Closing the tab by mistake mid-conversation: the browser asks first.
    if (quickExit.gone || !LIVE.has(machine.snapshot.status) || !machine.snapshot.admitted) return;
    event.preventDefault();
    event.returnValue = '';
  });
  setInterval(renderTimerNow, 1000);
  setInterval(() => {
    pollSpeaking().catch(() => {});
  }, SPEAKING_POLL_MS);
  ui.compat.addEventListener('click', () => connection.onCompatClick());
  ui.relayOnly.addEventListener('click', () => connection.modes.onRelayOnlyClick());
  ui.audioOnly.addEventListener('click', () => {
    quality.toggleAudioOnly();
    reportOwnMedia();
  });
  ui.verify.addEventListener('click', () => {
    if (machine.snapshot.role === 'therapist') connection.e2ee?.verify();
    // The button goes away with the confirmation: the focus goes to what it says.
    ui.sasHelp.focus();
  });
  render();
  setInterval(() => {
    if (group) renderGroupE2ee();
    else if (connection.e2ee?.state === 'active') connection.renderE2ee();
  }, KEY_AGE_REFRESH_MS);
  // A new network (Wi-Fi to mobile, a VPN, back online): the old candidate
  // pair is likely gone; restart ICE rather than wait for it to time out.
  const net = /** @type {{connection?: EventTarget}} */ (/** @type {unknown} */ (navigator)).connection;
  net?.addEventListener?.('change', () => connection.networkChanged());
  window.addEventListener('online', () => connection.networkChanged());

  start(invite).catch((err) => {
    debug(`device check failed: ${err}`);
    enableJoin(true);
  });
}

/**
 * The link first, then the devices: a dead link is said before any device
 * prompt. A therapist (who came from the dashboard and checked the devices
 * before) goes straight into the room unless the devices need attention.
 * @param {import('./invite.js').Invite} invite
 */
async function start(invite) {
  enableJoin(false);
  ui.status.textContent = t('call.linkChecking');
  const verdict = await checkLink(invite);
  ui.status.textContent = statusText(machine.snapshot.text);
  if ('refused' in verdict) {
    dispatch({ type: 'link-refused', error: verdict.refused });
    return;
  }
  if ('ok' in verdict) {
    renderPracticeName(verdict.ok.practice_name);
    knownRole(verdict.ok.role);
    offerSessionFeatures(verdict.ok.role);
    if (verdict.ok.role === 'client' && verdict.ok.neutral_title) {
      neutralTitle = verdict.ok.neutral_title;
      renderTitle();
    }
  }
  // A client's link asks for the name and consent; so does a link the check
  // could not judge (the server refuses a client's hello without them, and
  // ignores them from a therapist).
  if ('ok' in verdict ? verdict.ok.role === 'client' : true) {
    joinForm.show('ok' in verdict ? verdict.ok.client_name !== 'optional' : true);
  }
  const problem = await media.start(() => machine.state === 'device-check');
  if ('ok' in verdict && verdict.ok.role === 'therapist' && problem === null && machine.state === 'device-check') join(invite);
}

/**
 * Alt+M and Alt+K switch microphone and camera (announced on the buttons by
 * aria-keyshortcuts); Escape closes the hang-up question.
 * @param {KeyboardEvent} event
 */
function onKey(event) {
  if (event.key === 'Escape' && hangupAsked) {
    askHangup(false);
    return;
  }
  if (!event.altKey || event.ctrlKey || event.metaKey) return;
  // `code`, not `key`: Alt+M types "µ" on a Mac keyboard.
  const kind = event.code === 'KeyM' ? 'audio' : event.code === 'KeyK' ? 'video' : null;
  if (!kind) return;
  const view = machine.snapshot.view;
  if (view !== 'call' && view !== 'waiting-room' && view !== 'device') return;
  event.preventDefault();
  media.toggle(kind);
  reportOwnMedia();
}

main();
