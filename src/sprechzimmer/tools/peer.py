"""A headless participant: joins a session over the signaling protocol with synthetic media.

``run_peer`` speaks ``docs/protocol.md`` as either role (the token decides which) with
a WebSocket client and sends aiortc media made up on the spot: a moving grey-scale
pattern and a sine tone. It exists for end-to-end tests, load and latency
measurements and for checking a deployment from the command line
(``sprechzimmer peer INVITE_URL``): it reports whether it was admitted, whether the
peer connection came up and how many remote frames it decoded.

Its messages are the dataclasses of ``protocol.py`` both ways: ``decode_server``
reads each frame as the browser reads it (a frame it refuses ends the run), and
``encode`` writes what the peer sends.

It must never:

- record or keep anything it receives: remote frames are counted and dropped;
- contact any STUN or TURN server other than those the service hands out in
  ``welcome`` (aiortc falls back to a public Google STUN server when it gets no
  configuration; see ``_rtc_configuration``);
- go through an HTTP proxy from the environment (the socket goes straight to the
  service);
- log tokens, resume secrets, SDP or candidate addresses;
- run without bounds: everything happens under ``PeerOptions.timeout``.

End-to-end encryption: aiortc cannot run encoded transforms, so the peer
cannot do SFrame frame encryption. Where the service requires it
(``admitted.e2ee_required``, the default), the peer refuses the call: it says
``bye`` and ends with the error ``e2ee-required``; it never joins unencrypted
behind the operator's back. Where the operator allows DTLS-SRTP-only calls,
it joins and answers the browser's key agreement on the ``sprechzimmer-e2ee``
data channel with ``{"type": "e2ee-unsupported"}``, so that both browsers show
the call as protected by DTLS-SRTP only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import fractions
import json
import logging
import math
import re
import struct
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import av
import websockets
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError
from aiortc.rtcconfiguration import RTCIceTransportPolicy
from aiortc.sdp import candidate_from_sdp
from websockets.asyncio.client import ClientConnection, connect

from .. import protocol as p
from ..errors import ProtocolError

E2EE_CHANNEL = "sprechzimmer-e2ee"

__all__ = ["PeerOptions", "PeerResult", "main", "parse_invite_url", "run_peer"]

logger = logging.getLogger(__name__)

MAX_TIMEOUT = 24 * 3600.0
"""Upper bound for ``PeerOptions.timeout``: a headless peer never runs for days."""
CLEANUP_TIMEOUT = 5.0
"""Bound for hanging up and closing everything after the call."""
DEFAULT_PEER_NAME = "sprechzimmer peer"
"""What a headless client calls itself: a therapist who sees it knows it is no person."""
MAX_MESSAGES = 1_000_000
"""Bound on signaling messages handled per run (a runaway server cannot loop us forever)."""
MAX_MEDIA_RATE = 500
"""Bound on frames per second consumed per remote track, for the consumer loop's count."""

VIDEO_WIDTH = 320
VIDEO_HEIGHT = 240
VIDEO_FPS = 15
VIDEO_CLOCK = 90_000
AUDIO_RATE = 48_000
AUDIO_PTIME = 0.020
AUDIO_TONE_HZ = 400  # 8 whole periods per 20 ms frame: one precomputed frame loops cleanly
AUDIO_AMPLITUDE = 0.1

_HEX32 = re.compile(r"[0-9a-f]{32}")


# --- options and result -------------------------------------------------------


@dataclass(frozen=True)
class PeerOptions:
    """What a headless peer needs to join one session."""

    url: str
    """The service's http(s) base URL, e.g. ``http://127.0.0.1:8000``."""
    session: str
    """The session id (32 hex digits)."""
    token: str
    """The participant's token; its role (therapist or client) follows from it."""
    origin: str | None = None
    """The ``Origin`` header to send; defaults to the origin of ``url``."""
    auto_admit: bool = False
    """As therapist: admit a knocking client at once."""
    duration: float = 10.0
    """Seconds to stay in the call once remote video flows."""
    timeout: float = 60.0
    """Upper bound in seconds for the whole run, hang-up excluded."""
    name: str | None = DEFAULT_PEER_NAME
    """As client: the name the therapist's page shows for this peer (None: none, where
    the operator lets a client join without one)."""
    consent: bool = True
    """As client: whoever runs the peer confirms the terms of use and the privacy
    notice, as a person ticks the box on the call page."""

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("url must be an http(s) base URL")
        if not _HEX32.fullmatch(self.session):
            raise ValueError("session must be 32 lower-case hex digits")
        if not self.token:
            raise ValueError("token must not be empty")
        if not 0 < self.timeout <= MAX_TIMEOUT:
            raise ValueError(f"timeout must be in (0, {MAX_TIMEOUT}] seconds")
        if not 0 <= self.duration <= self.timeout:
            raise ValueError("duration must be in [0, timeout] seconds")
        if self.name is not None and p.client_name_problem(self.name) is not None:
            limit = p.MAX_CLIENT_NAME
            raise ValueError(f"name must be 1 to {limit} characters, no control characters")

    @property
    def effective_origin(self) -> str:
        if self.origin is not None:
            return self.origin
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def ws_url(self) -> str:
        parts = urlsplit(self.url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        return f"{scheme}://{parts.netloc}/ws"


@dataclass
class PeerResult:
    """What happened during one run of a headless peer."""

    role: str | None = None
    """``therapist`` or ``client`` as the server said in ``welcome``; None before that."""
    admitted: bool = False
    """The call was allowed to start (``admitted`` or a welcome saying so)."""
    connected: bool = False
    """The peer connection reached ``connected`` at least once."""
    video_frames: int = 0
    """Remote video frames decoded."""
    audio_frames: int = 0
    """Remote audio frames decoded."""
    first_frame_after_admit: float | None = None
    """Seconds from admission to the first decoded remote video frame."""
    error: str | None = None
    """Why the run did not end normally (an error code from the server, ``timeout``...)."""
    close_code: int | None = None
    """The WebSocket close code, if the socket was closed."""

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), separators=(",", ":"))


def parse_invite_url(invite: str) -> tuple[str, str, str]:
    """Split an invite URL ``http://host/call#s=<session>&t=<token>`` into (base, s, t)."""
    parts = urlsplit(invite)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("invite URL must start with http:// or https://")
    fragment = parse_qs(parts.fragment, keep_blank_values=False, strict_parsing=False)
    sessions = fragment.get("s", [])
    tokens = fragment.get("t", [])
    if len(sessions) != 1 or len(tokens) != 1:
        raise ValueError("invite URL needs exactly one s= and one t= in its fragment")
    return f"{parts.scheme}://{parts.netloc}", sessions[0], tokens[0]


# --- synthetic media ------------------------------------------------------------


class PatternVideoTrack(MediaStreamTrack):
    """A 320x240 moving grey-scale gradient at 15 fps; cheap to make, cheap to encode."""

    kind = "video"

    def __init__(self) -> None:
        super().__init__()
        # A horizontal ramp twice the frame width: each frame shows a window of it,
        # shifted a little, so that the picture visibly moves.
        ramp = bytes((x * 255) // (VIDEO_WIDTH - 1) for x in range(VIDEO_WIDTH))
        self._ramp = ramp + ramp[::-1]
        self._chroma = bytes([128]) * ((VIDEO_WIDTH // 2) * (VIDEO_HEIGHT // 2))
        self._start: float | None = None
        self._count = 0

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self._start is None:
            self._start = now
        due = self._start + self._count / VIDEO_FPS
        if due > now:
            await asyncio.sleep(due - now)
        shift = (self._count * 4) % len(self._ramp)
        row = (self._ramp[shift:] + self._ramp[:shift])[:VIDEO_WIDTH]
        frame = av.VideoFrame(VIDEO_WIDTH, VIDEO_HEIGHT, "yuv420p")
        _fill_plane(frame.planes[0], row * VIDEO_HEIGHT, VIDEO_WIDTH)
        _fill_plane(frame.planes[1], self._chroma, VIDEO_WIDTH // 2)
        _fill_plane(frame.planes[2], self._chroma, VIDEO_WIDTH // 2)
        frame.pts = self._count * (VIDEO_CLOCK // VIDEO_FPS)
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        self._count += 1
        return frame


def _fill_plane(plane: Any, data: bytes, width: int) -> None:
    """Copy tightly packed rows into a plane whose rows may be padded to ``line_size``."""
    line = int(plane.line_size)
    if line != width:
        pad = bytes(line - width)
        data = b"".join(data[i : i + width] + pad for i in range(0, len(data), width))
    plane.update(data)


class ToneAudioTrack(MediaStreamTrack):
    """A quiet 400 Hz sine tone, mono, 48 kHz, in 20 ms frames."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        samples = int(AUDIO_RATE * AUDIO_PTIME)
        peak = int(32767 * AUDIO_AMPLITUDE)
        wave = (
            round(peak * math.sin(2 * math.pi * AUDIO_TONE_HZ * i / AUDIO_RATE))
            for i in range(samples)
        )
        self._samples = samples
        self._pcm = struct.pack(f"<{samples}h", *wave)
        self._start: float | None = None
        self._count = 0

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self._start is None:
            self._start = now
        due = self._start + self._count * AUDIO_PTIME
        if due > now:
            await asyncio.sleep(due - now)
        frame = av.AudioFrame(format="s16", layout="mono", samples=self._samples)
        frame.planes[0].update(self._pcm)
        frame.sample_rate = AUDIO_RATE
        frame.pts = self._count * self._samples
        frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        self._count += 1
        return frame


# --- ICE configuration ------------------------------------------------------------


def _rtc_configuration(
    ice_servers: list[p.IceServerInfo],
    policy: p.IceTransportPolicy = p.IceTransportPolicy.ALL,
) -> RTCConfiguration:
    """Turn ``ice_servers`` of ``welcome``/``admitted`` into an explicit aiortc configuration.

    aiortc 1.16 (``RTCIceGatherer.__init__``) replaces ``iceServers=None`` -- which is
    also what ``RTCPeerConnection()`` without a configuration ends up with -- by
    a public Google STUN server. An empty list is taken as it is: no STUN and no
    TURN server, host candidates only. So the list is always built here and never None,
    and only the service's own servers are ever contacted. (aiortc uses at most one
    STUN and one TURN server from the list, and only ``turn:`` over udp/tcp and
    ``turns:`` over tcp.)
    """
    servers = [
        RTCIceServer(urls=list(server.urls), username=server.username, credential=server.credential)
        for server in ice_servers
    ]
    transport_policy = (
        RTCIceTransportPolicy.RELAY
        if policy is p.IceTransportPolicy.RELAY
        else RTCIceTransportPolicy.ALL
    )
    return RTCConfiguration(iceServers=servers, iceTransportPolicy=transport_policy)


# --- the peer -----------------------------------------------------------------------


class _Peer:
    """One run: a socket, at most one live peer connection at a time, and counters."""

    def __init__(self, options: PeerOptions) -> None:
        self.options = options
        self.result = PeerResult()
        self._role: p.Role | None = None
        """As the server said in ``welcome``."""
        self._ws: ClientConnection | None = None
        self._pc: RTCPeerConnection | None = None
        self._ice: RTCConfiguration = RTCConfiguration(iceServers=[])
        self._heartbeat = 25.0
        self._done = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._pending_candidates: list[p.Candidate] = []
        self._admit_pending = False
        self._media_reported = False
        self._admitted_at: float | None = None
        self._duration_started = False
        self._hung_up = False

    # -- lifecycle

    async def run(self) -> PeerResult:
        try:
            async with asyncio.timeout(self.options.timeout):
                await self._run_connected()
        except TimeoutError:
            self._fail("timeout")
        except websockets.exceptions.InvalidStatus as exc:
            self._fail(f"handshake refused: HTTP {exc.response.status_code}")
        except (OSError, websockets.exceptions.InvalidHandshake) as exc:
            self._fail(f"cannot connect: {type(exc).__name__}")
        finally:
            await self._cleanup()
        return self.result

    async def _run_connected(self) -> None:
        self._ws = await connect(
            self.options.ws_url,
            origin=websockets.Origin(self.options.effective_origin),
            compression=None,
            max_size=p.MAX_SERVER_FRAME_BYTES,
            proxy=None,
            ping_interval=None,  # the protocol has its own heartbeat
            open_timeout=self.options.timeout,
            close_timeout=CLEANUP_TIMEOUT,
        )
        # A therapist's server ignores name and consent: the peer does not know its
        # role before the welcome, as a call page may not.
        hello = p.Hello(
            session=self.options.session,
            token=self.options.token,
            name=self.options.name,
            consent=self.options.consent,
        )
        await self._send(hello)
        self._spawn(self._read_loop())
        await self._done.wait()

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _finish(self, reason: str) -> None:
        if not self._done.is_set():
            logger.info("peer: finishing (%s)", reason)
        self._done.set()

    def _fail(self, error: str) -> None:
        if self.result.error is None:
            self.result.error = error
        self._finish(error)

    async def _cleanup(self) -> None:
        try:
            async with asyncio.timeout(CLEANUP_TIMEOUT):
                if self._ws is not None and self._role is not None:
                    await self._report_media(connected=False)
                    if not self._hung_up:
                        self._hung_up = True
                        await self._send(p.Bye())
                await self._close_pc()
                if self._ws is not None:
                    await self._ws.close()
        except TimeoutError:
            logger.warning("peer: cleanup did not finish in time")
        finally:
            for task in list(self._tasks):
                task.cancel()
            for task in list(self._tasks):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            if self._ws is not None and self._ws.close_code is not None:
                self.result.close_code = self._ws.close_code

    async def _send(self, message: p.ClientMessage) -> None:
        if self._ws is None:
            return
        with contextlib.suppress(websockets.exceptions.ConnectionClosed):
            await self._ws.send(p.encode(message))

    # -- signaling

    async def _read_loop(self) -> None:
        assert self._ws is not None
        try:
            for _ in range(MAX_MESSAGES):
                raw = await self._ws.recv()
                if not isinstance(raw, str):
                    self._fail("binary frame from server")
                    return
                try:
                    message = p.decode_server(raw, p.MAX_SERVER_FRAME_BYTES)
                except ProtocolError as exc:
                    logger.info("peer: malformed message from server: %s", exc)
                    self._fail("malformed message from server")
                    return
                await self._handle(message)
                if self._done.is_set():
                    return
            self._fail("too many messages")
        except websockets.exceptions.ConnectionClosed as exc:
            self.result.close_code = exc.rcvd.code if exc.rcvd is not None else None
            if not self._done.is_set() and self.result.error is None:
                self.result.error = f"socket closed ({self.result.close_code})"
            self._finish("socket closed")
        except Exception as exc:  # the run must report, not crash
            logger.exception("peer: unexpected failure")
            self._fail(f"internal: {type(exc).__name__}")

    async def _handle(self, message: p.ServerMessage) -> None:
        if not isinstance(message, p.Pong):
            inner = message.message if isinstance(message, p.Relayed) else message
            logger.debug("peer: got %s", inner.TYPE)
        therapist = self._role is p.Role.THERAPIST
        match message:
            case p.Welcome():
                await self._on_welcome(message)
            case p.Knock():
                if self.options.auto_admit and not self._admit_pending:
                    self._admit_pending = True
                    await self._send(p.Admit())
            case p.KnockCancelled():
                self._admit_pending = False
            case p.Admitted():
                await self._on_admitted(message)
            case p.PeerJoined(admitted=True) if therapist:
                # The client came back with a new peer connection: aiortc cannot
                # restart ICE, so the therapist starts over with a fresh one.
                await self._make_offer(fresh=True)
            case p.Relayed(p.Restart()) if therapist:
                await self._make_offer(fresh=True)
            case p.Relayed(p.Offer(sdp)):
                await self._on_offer(sdp)
            case p.Relayed(p.Answer(sdp)):
                await self._on_answer(sdp)
            case p.Relayed(p.Candidate() as candidate):
                await self._on_candidate(candidate)
            case p.PeerLeft(reason=reason):
                self._finish(f"peer left ({reason})")
            case p.Declined():
                self._fail("declined")
            case p.Error(code=code, fatal=True):
                self._fail(code)
            case p.Error(code=code):
                logger.info("peer: non-fatal error %s", code)
            # waiting, pong, rekey, peer-joined otherwise: nothing to do

    async def _on_welcome(self, message: p.Welcome) -> None:
        self._role = message.role
        self.result.role = message.role.value
        # With TURN credentials only inside a call (a seat taken back while
        # admitted); otherwise STUN alone, until ``admitted`` brings them.
        self._ice = _rtc_configuration(message.ice_servers)
        if 0.5 <= message.heartbeat_interval <= 3600:
            self._heartbeat = message.heartbeat_interval
        self._spawn(self._heartbeat_loop())
        logger.info("peer: welcomed as %s", self.result.role)
        therapist = self._role is p.Role.THERAPIST
        if message.admitted:
            self._mark_admitted()
            if therapist and message.peer_present:
                await self._make_offer(fresh=False)
        elif (
            therapist
            and message.peer_present
            and self.options.auto_admit
            and not self._admit_pending
        ):
            # The client may have knocked before we came; admit now, and not again
            # when the server also sends a `knock`.
            self._admit_pending = True
            await self._send(p.Admit())

    def _mark_admitted(self) -> None:
        self._admit_pending = False
        if not self.result.admitted:
            self.result.admitted = True
            self._admitted_at = time.monotonic()

    async def _on_admitted(self, message: p.Admitted) -> None:
        self._mark_admitted()
        if message.e2ee_required:
            # Fail closed: no frame encryption here, so no call where it is required.
            await self._send(p.Bye())
            self._fail("e2ee-required")
            return
        # Each admission brings this member's own fresh TURN credentials.
        self._ice = _rtc_configuration(message.ice_servers, message.ice_transport_policy)
        if self._role is p.Role.THERAPIST:
            await self._make_offer(fresh=False)

    async def _heartbeat_loop(self) -> None:
        count = int(self.options.timeout / self._heartbeat) + 2
        for _ in range(count):
            await asyncio.sleep(self._heartbeat)
            await self._send(p.Ping())

    # -- WebRTC

    async def _new_pc(self) -> RTCPeerConnection:
        await self._close_pc()
        self._pending_candidates.clear()
        pc = RTCPeerConnection(configuration=self._ice)
        self._pc = pc

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc is not self._pc:
                return
            state = pc.connectionState
            logger.info("peer: connection %s", state)
            if state == "connected":
                self.result.connected = True
                await self._report_media(connected=True)
            elif state in ("failed", "closed", "disconnected"):
                await self._report_media(connected=False)

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            self._spawn(self._consume(track))

        pc.addTrack(ToneAudioTrack())
        pc.addTrack(PatternVideoTrack())
        return pc

    @staticmethod
    def _open_e2ee_channel(pc: RTCPeerConnection) -> None:
        """The browsers' key-agreement channel (negotiated, id 0): say plainly that
        this peer cannot do frame encryption."""
        channel = pc.createDataChannel(E2EE_CHANNEL, negotiated=True, id=0)

        @channel.on("open")
        def on_open() -> None:
            channel.send(json.dumps({"type": "e2ee-unsupported"}))

        @channel.on("message")
        def on_message(data: object) -> None:
            if isinstance(data, str) and '"key-share"' in data:
                channel.send(json.dumps({"type": "e2ee-unsupported"}))

    async def _close_pc(self) -> None:
        pc, self._pc = self._pc, None
        if pc is not None:
            await self._report_media(connected=False)
            await pc.close()

    async def _report_media(self, *, connected: bool) -> None:
        if connected == self._media_reported or not self.result.admitted:
            return
        self._media_reported = connected
        state = p.MediaState.CONNECTED if connected else p.MediaState.DISCONNECTED
        await self._send(p.Media(state))

    async def _make_offer(self, *, fresh: bool) -> None:
        if self._pc is not None and not fresh:
            return  # already offered on this connection
        pc = await self._new_pc()
        self._open_e2ee_channel(pc)
        # aiortc gathers all candidates here and puts them into the SDP: no trickle.
        await pc.setLocalDescription(await pc.createOffer())
        await self._send(p.Offer(pc.localDescription.sdp))

    async def _on_offer(self, sdp: str) -> None:
        if self._role is not p.Role.CLIENT:
            return  # the therapist is impolite: it ignores colliding offers
        pc = self._pc
        if pc is None or pc.remoteDescription is not None:
            # First offer, or a new one from a therapist who started over.
            pc = await self._new_pc()
            if "\nm=application " in sdp:
                # Only where the offer has a data section, or the answer breaks.
                self._open_e2ee_channel(pc)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        await self._flush_candidates()
        await pc.setLocalDescription(await pc.createAnswer())
        await self._send(p.Answer(pc.localDescription.sdp))

    async def _on_answer(self, sdp: str) -> None:
        pc = self._pc
        if pc is None or pc.signalingState != "have-local-offer":
            return
        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
        await self._flush_candidates()

    async def _on_candidate(self, message: p.Candidate) -> None:
        pc = self._pc
        if pc is None or pc.remoteDescription is None:
            # Trickled candidates can overtake nothing on one socket, but a new pc
            # may still be waiting for its description: keep them (bounded) until then.
            if len(self._pending_candidates) < 100:
                self._pending_candidates.append(message)
            return
        await self._add_candidate(pc, message)

    async def _flush_candidates(self) -> None:
        pc = self._pc
        pending, self._pending_candidates = self._pending_candidates, []
        if pc is not None:
            for message in pending:
                await self._add_candidate(pc, message)

    async def _add_candidate(self, pc: RTCPeerConnection, message: p.Candidate) -> None:
        if not message.candidate:
            return  # end of candidates: aiortc does not need it
        text = message.candidate.removeprefix("candidate:")
        try:
            candidate = candidate_from_sdp(text)
        except (AssertionError, ValueError, IndexError):
            logger.info("peer: ignoring a malformed candidate")
            return
        if candidate.ip.endswith(".local"):
            # An mDNS name would make aioice send multicast queries: not wanted here.
            return
        candidate.sdpMid = message.sdpMid
        candidate.sdpMLineIndex = message.sdpMLineIndex
        if candidate.sdpMid is None and candidate.sdpMLineIndex is None:
            return
        await pc.addIceCandidate(candidate)

    async def _consume(self, track: MediaStreamTrack) -> None:
        """Decode and drop remote frames, counting them; never stores them."""
        video = track.kind == "video"
        limit = int(self.options.timeout * MAX_MEDIA_RATE) + 1
        for _ in range(limit):
            try:
                await track.recv()
            except MediaStreamError:
                return
            if not video:
                self.result.audio_frames += 1
                continue
            self.result.video_frames += 1
            if self.result.video_frames == 1:
                if self._admitted_at is not None:
                    elapsed = time.monotonic() - self._admitted_at
                    self.result.first_frame_after_admit = round(elapsed, 4)
                logger.info("peer: first remote video frame")
            if not self._duration_started:
                self._duration_started = True
                self._spawn(self._stay(self.options.duration))

    async def _stay(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        self._finish("duration over")


async def run_peer(options: PeerOptions) -> PeerResult:
    """Join ``options.session`` as the token's role, exchange media, hang up, report."""
    return await _Peer(options).run()


# --- command line ---------------------------------------------------------------------


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sprechzimmer peer",
        description="Join a session as a headless participant with synthetic audio and video.",
    )
    parser.add_argument("invite_url", help="invite URL, e.g. http://host/call#s=SESSION&t=TOKEN")
    parser.add_argument(
        "--duration",
        type=float,
        default=None,
        help="seconds to stay once video flows (default: 10, at most half the timeout)",
    )
    parser.add_argument("--timeout", type=float, default=60.0, help="upper bound for the run")
    parser.add_argument(
        "--auto-admit", action="store_true", help="as therapist: admit the client at once"
    )
    parser.add_argument("--origin", default=None, help="Origin header (default: the URL's)")
    parser.add_argument(
        "--name",
        default=DEFAULT_PEER_NAME,
        help=f"as client: the name the therapist sees (default: {DEFAULT_PEER_NAME!r})",
    )
    parser.add_argument("--json", action="store_true", help="print the result as one JSON line")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """``sprechzimmer peer``: exit 0 when remote video flowed, 1 otherwise, 2 on bad use."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    try:
        base, session, token = parse_invite_url(args.invite_url)
        options = PeerOptions(
            url=base,
            session=session,
            token=token,
            origin=args.origin,
            auto_admit=args.auto_admit,
            name=args.name,
            duration=min(10.0, args.timeout / 2) if args.duration is None else args.duration,
            timeout=args.timeout,
        )
    except ValueError as exc:
        parser.error(str(exc))
    result = asyncio.run(run_peer(options))
    if args.json:
        print(result.to_json())
    else:
        print(
            f"role={result.role} admitted={result.admitted} connected={result.connected} "
            f"video_frames={result.video_frames} audio_frames={result.audio_frames} "
            f"first_frame_after_admit={result.first_frame_after_admit} "
            f"error={result.error} close_code={result.close_code}",
            file=sys.stdout,
        )
    return 0 if result.video_frames > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
