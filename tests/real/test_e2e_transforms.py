"""End to end: both encoded-transform paths of Chromium and a transform everywhere.

Chromium 156 has the standard ``RTCRtpScriptTransform`` and its own older
``createEncodedStreams``; the page takes the first. The test switch
``sessionStorage['sz-debug-e2ee'] = 'force-<path>'`` (e2ee-debug.js, TEST ONLY)
makes it take either, so that each path runs a whole call here: frame
encryption active, both sides decoding, equal codes, a key renewal with frames
advancing after it, and no frame that went out or came in past the worker.

"Past the worker" is measured, not assumed: the page's RTP statistics count
what the browser sent and received (video frames, audio packets: one Opus
frame each), the worker counts every frame that entered its transforms. A
frame the statistics saw but the worker did not went past the transform: sent
in clear, or handed to the decoder as it arrived. The worker's counts lag
behind the statistics by the frames in flight, so the test waits (bounded)
until they catch up with a snapshot taken before.

The twenty set-ups look for a race other projects saw on Chromium >= 141
(amazon-chime-sdk-js pull request 3123: a receiver's transform set right after
``addTransceiver`` did not take effect in about 1 of 500 calls): each set-up
checks every sender and receiver of both pages, and that audio and video are
decrypted on both sides.

Every wait is an upper bound, scaled by ``SPRECHZIMMER_TEST_TIME_SCALE``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from harness.chromium import launch_chromium
from harness.server import RunningServer, running_server

from tests.real.test_e2e_call import (
    VIDEO_FRAMES,
    WAIT_MS,
    _frames_advance,
    _hang_up,
    _join,
    _need_chromium,
    _status,
    _until,
)
from tests.real.test_e2e_e2ee import (
    NOT_ENCRYPTED,
    _active,
    _counters,
    _debug_switch,
    _e2ee,
    _enter,
    _same_sas,
)

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, Page

pytestmark = [pytest.mark.netns, pytest.mark.browser]

THERAPIST = "dr-transforms"
CLIENT_ID = "Pseudonym-TR-20"
SERVER_PORT = 8767
PATHS = ("script-transform", "encoded-streams")
REKEY_S = "3"
"""Key renewal interval of the full calls (the server's setting, seconds)."""
SETUPS = 20
KINDS = ("audio", "video")

# Every transceiver of the page's connection: its kind, whether our
# FrameEncryption put a transform on its sender and receiver (either path),
# and whether that is an RTCRtpScriptTransform on the object itself.
TRANSFORMS = """() => {
  const h = window.sprechzimmer;
  const pc = h && h.pc;
  if (!pc) return null;
  const e = h.e2ee;
  const script = (x) => typeof RTCRtpScriptTransform === 'function'
    && x.transform instanceof RTCRtpScriptTransform;
  return {
    path: e.transform ? e.transform.path : null,
    forced: e.transform ? e.transform.forced : null,
    attached: e.transform ? e.transform.attached : null,
    transceivers: pc.getTransceivers().map((t) => ({
      mid: t.mid,
      kind: t.receiver.track.kind,
      direction: t.currentDirection,
      sender: {ours: e.hasTransform(t.sender), script: script(t.sender), track: !!t.sender.track},
      receiver: {ours: e.hasTransform(t.receiver), script: script(t.receiver)},
    })),
  };
}"""

# What the browser's RTP statistics say went out and came in: video frames
# and audio packets (one Opus frame per packet; RED is not negotiated).
WIRE = """async () => {
  const pc = window.sprechzimmer && window.sprechzimmer.pc;
  if (!pc) return null;
  const out = {sent: {audio: 0, video: 0}, received: {audio: 0, video: 0}};
  for (const s of (await pc.getStats()).values()) {
    if (s.type === 'outbound-rtp') {
      out.sent[s.kind] += (s.kind === 'video' ? s.framesSent : s.packetsSent) || 0;
    } else if (s.type === 'inbound-rtp') {
      out.received[s.kind] += (s.kind === 'video' ? s.framesReceived : s.packetsReceived) || 0;
    }
  }
  return out;
}"""

# True once the worker has seen at least the frames of a WIRE snapshot: every
# frame sent entered the encrypting transform, every frame received the
# decrypting one.
WORKER_CAUGHT_UP = """async (wire) => {
  const c = await window.sprechzimmer.e2ee.counters();
  // Frames the sending transform dropped before the first key, or passed in
  // dtls-only mode, are not kept per kind: they count for both.
  const other = c.sendDroppedNoKey + c.passthrough;
  const ok = (kind) => c.received[kind] >= wire.received[kind]
    && c.encrypted[kind] + other >= wire.sent[kind];
  return ok('audio') && ok('video');
}"""


@contextlib.contextmanager
def _server(tmp_path: Path, **env: str) -> Iterator[RunningServer]:
    with running_server(tmp_path, port=SERVER_PORT, extra_env=env) as server:
        server.add_therapist(THERAPIST)
        yield server


async def _transforms_in_place(page: Page, path: str) -> dict[str, Any]:
    """Every sender and receiver of the page's connection has its transform, on ``path``."""
    seen: dict[str, Any] | None = await page.evaluate(TRANSFORMS)
    assert seen is not None, "the page has no connection"
    assert seen["path"] == path, seen
    kinds = sorted(t["kind"] for t in seen["transceivers"])
    assert kinds == ["audio", "video"], seen  # one each way per kind, nothing else
    for t in seen["transceivers"]:
        assert t["sender"]["track"], seen  # both sides have camera and microphone here
        for side in ("sender", "receiver"):
            assert t[side]["ours"], (side, t, seen)
            # Each path leaves its own mark: the standard one on the object,
            # the old one nowhere but in the streams handed to the worker.
            assert t[side]["script"] is (path == "script-transform"), (side, t, seen)
    one_each = {"audio": 1, "video": 1}
    assert seen["attached"] == {"send": one_each, "receive": one_each}, seen
    return seen


async def _every_frame_through_the_worker(page: Page) -> dict[str, Any]:
    """The worker has seen every frame the RTP statistics counted, both ways."""
    wire: dict[str, Any] | None = await page.evaluate(WIRE)
    assert wire is not None
    for direction in ("sent", "received"):
        for kind in KINDS:
            assert wire[direction][kind] > 0, wire
    await _until(page, WORKER_CAUGHT_UP, wire, "the worker to have seen every frame on the wire")
    return wire


async def _decrypting_both_kinds(page: Page, before: dict[str, Any]) -> dict[str, Any]:
    """Audio and video are decrypted and encrypted beyond ``before``; nothing in clear."""
    grows = """async (before) => {
      const c = await window.sprechzimmer.e2ee.counters();
      return ['audio', 'video'].every((k) => c.decrypted[k] > before.decrypted[k]
        && c.encrypted[k] > before.encrypted[k]);
    }"""
    await _until(page, grows, before, "audio and video encrypted and decrypted")
    after = await _counters(page)
    assert after["passthrough"] == 0, after
    return after


# --- one full call per path -----------------------------------------------------------


@pytest.mark.parametrize("path", PATHS)
async def test_full_call_on_each_path(tmp_path: Path, path: str) -> None:
    """A call forced onto one path: encrypted, decoded, same code, renewed keys, no clear frame."""
    _need_chromium()
    with _server(tmp_path, SPRECHZIMMER_REKEY_INTERVAL=REKEY_S) as server:
        links = server.create_session(THERAPIST, CLIENT_ID)
        async with launch_chromium(server.ns, tmp_path, contexts=2) as chromium:
            for context in chromium.contexts:
                await context.add_init_script(_debug_switch(f"force-{path}"))
            therapist, client = await _enter(
                *chromium.contexts, links["therapist_url"], links["client_url"]
            )
            pages = {"therapist": therapist, "client": client}
            first: dict[str, dict[str, Any]] = {}
            base: dict[str, dict[str, Any]] = {}
            for role, page in pages.items():
                first[role], base[role] = await _active(page)
                await _frames_advance(page)
            await _same_sas(therapist, client)
            for page in pages.values():
                seen = await _transforms_in_place(page, path)
                assert seen["forced"] == path, seen

            # At least one renewal on both sides, then frames still advance.
            renewed = """(epoch) => {
              const e = window.sprechzimmer.e2ee;
              return e.state === 'active' && e.epoch > epoch;
            }"""
            for role, page in pages.items():
                await _until(page, renewed, first[role]["epoch"], "a renewed key")
            after: dict[str, dict[str, Any]] = {}
            for role, page in pages.items():
                await _frames_advance(page)
                after[role] = await _decrypting_both_kinds(page, base[role])
                await _every_frame_through_the_worker(page)
                await _transforms_in_place(page, path)  # the renewal changed nothing there
            await _same_sas(therapist, client)
            states = {role: await _e2ee(page) for role, page in pages.items()}

        for role in pages:
            c, b = after[role], base[role]
            assert c["passthrough"] == 0, (role, c)
            assert c["decryptFailures"] == b["decryptFailures"], (role, b, c)
            assert states[role]["state"] not in NOT_ENCRYPTED, states
            assert states[role]["epoch"] > first[role]["epoch"], (first, states)


# --- a new connection in the middle of a call --------------------------------------

# Keeps the current connection and its transform objects in the page, so that
# those of a later connection can be compared with them.
KEEP_TRANSFORMS = """() => {
  const pc = window.sprechzimmer.pc;
  window.__szOldTransforms = {
    pc,
    transforms: [...pc.getSenders(), ...pc.getReceivers()].map((x) => x.transform),
  };
  return window.__szOldTransforms.transforms.length;
}"""

# True once the page has another connection than the kept one, with frame
# encryption active on it.
NEW_CONNECTION = """() => {
  const h = window.sprechzimmer;
  return !!h.pc && h.pc !== window.__szOldTransforms.pc && h.e2ee.state === 'active';
}"""

# How many transform objects of the new connection are among the kept ones.
REUSED_TRANSFORMS = """() => {
  const old = new Set(window.__szOldTransforms.transforms);
  const now = [...window.sprechzimmer.pc.getSenders(), ...window.sprechzimmer.pc.getReceivers()];
  return {count: now.length, reused: now.filter((x) => old.has(x.transform)).length};
}"""


async def test_a_new_connection_mid_call_gets_fresh_transforms(tmp_path: Path) -> None:
    """The client reloads mid-call: the therapist's page makes a new RTCPeerConnection.

    WebKit cannot put a transform object on a second sender or receiver (see
    FrameEncryption's ``#attach``): every sender and receiver of the new
    connection must carry a new RTCRtpScriptTransform, none of the old ones,
    and audio and video must be decrypted on it both ways.
    """
    _need_chromium()
    with _server(tmp_path) as server:
        links = server.create_session(THERAPIST, CLIENT_ID)
        async with launch_chromium(server.ns, tmp_path, contexts=2) as chromium:
            therapist, client = await _enter(
                *chromium.contexts, links["therapist_url"], links["client_url"]
            )
            for page in (therapist, client):
                await _active(page)
                await _frames_advance(page)
                await _transforms_in_place(page, "script-transform")
            assert await therapist.evaluate(KEEP_TRANSFORMS) == 4
            made = await therapist.evaluate("window.sprechzimmer.peerConnections")

            await client.reload(timeout=WAIT_MS)
            await _join(client)
            await _until(therapist, NEW_CONNECTION, None, "a new connection with active e2ee")
            for page in (therapist, client):
                await _active(page)
                await _frames_advance(page)
                await _transforms_in_place(page, "script-transform")
                await _decrypting_both_kinds(page, await _counters(page))
                await _every_frame_through_the_worker(page)
            reused = await therapist.evaluate(REUSED_TRANSFORMS)
            now_made = await therapist.evaluate("window.sprechzimmer.peerConnections")
        assert now_made == made + 1, (made, now_made)
        assert reused == {"count": 4, "reused": 0}, reused


# Installed before the page's scripts: this browser now lacks Chromium's old path.
HIDE_ENCODED_STREAMS = """(() => {
  delete RTCRtpSender.prototype.createEncodedStreams;
  delete RTCRtpReceiver.prototype.createEncodedStreams;
})()"""


async def test_a_forced_path_the_browser_lacks_fails_loudly(tmp_path: Path) -> None:
    """Forcing ``encoded-streams`` where it is missing: an error, never the other path.

    The page throws TransformUnavailableError where the connection would be
    made (an uncaught error, Playwright's ``weberror``), and no call comes
    about: no connection, no frame encryption, no frame on either side.
    """
    _need_chromium()
    with _server(tmp_path) as server:
        links = server.create_session(THERAPIST, CLIENT_ID)
        async with launch_chromium(server.ns, tmp_path, contexts=2) as chromium:
            errors: list[tuple[Any, str]] = []
            both_failed = asyncio.Event()

            def on_error(error: Any) -> None:
                errors.append((error.page, str(error.error)))
                if len(errors) >= 2:
                    both_failed.set()

            for context in chromium.contexts:
                await context.add_init_script(HIDE_ENCODED_STREAMS)
                await context.add_init_script(_debug_switch("force-encoded-streams"))
                context.on("weberror", on_error)
            therapist, client = await _enter(
                *chromium.contexts, links["therapist_url"], links["client_url"]
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(both_failed.wait(), WAIT_MS / 1000)
            pages = (therapist, client)
            connections = [await page.evaluate("window.sprechzimmer.pc") for page in pages]
            states = [await _e2ee(page) for page in pages]
            frames = [await page.evaluate(VIDEO_FRAMES) for page in pages]
        # One on each page, where its connection would start.
        assert [page for page, _ in errors].count(therapist) == 1, errors
        assert [page for page, _ in errors].count(client) == 1, errors
        for _, error in errors:
            assert "TEST SWITCH force-encoded-streams" in error, errors
        assert connections == [None, None], connections
        for state in states:
            assert state["state"] != "active" and state["sas"] is None, states
        for seen in frames:
            assert seen["decoded"] == 0, frames


# --- twenty set-ups, every sender and receiver ---------------------------------------


async def _one_setup(
    contexts: list[BrowserContext], links: dict[str, str], index: int
) -> dict[str, Any]:
    """Admit, both sides decoding, every transform in place and used; hang up."""
    therapist, client = await _enter(*contexts, links["therapist_url"], links["client_url"])
    pages = {"therapist": therapist, "client": client}
    found: dict[str, Any] = {}
    try:
        for page in pages.values():
            await _frames_advance(page)
        for role, page in pages.items():
            transforms = await _transforms_in_place(page, "script-transform")
            counters = await _decrypting_both_kinds(page, _ZERO_COUNTERS)
            wire = await _every_frame_through_the_worker(page)
            found[role] = {"transforms": transforms, "counters": counters, "wire": wire}
        await _hang_up(therapist)
        for page in pages.values():
            await _status(page, "ended")
    except (AssertionError, pytest.fail.Exception) as error:
        raise AssertionError(f"set-up {index + 1} of {SETUPS}: {error}") from error
    finally:
        for page in pages.values():
            await page.close()
    return found


_ZERO_COUNTERS: dict[str, Any] = {
    "encrypted": {"audio": 0, "video": 0},
    "decrypted": {"audio": 0, "video": 0},
}


async def test_twenty_setups_every_sender_and_receiver_has_its_transform(
    tmp_path: Path, record_property: Any
) -> None:
    """Twenty calls in a row: each transform in place, each used for audio and video both ways.

    The same session and the same two browser contexts each time; every set-up
    opens fresh pages (a fresh FrameEncryption, worker and connection), admits,
    checks, and hangs up. The time of the whole loop is recorded.
    """
    _need_chromium()
    with _server(tmp_path) as server:
        links = server.create_session(THERAPIST, CLIENT_ID)
        async with launch_chromium(server.ns, tmp_path, contexts=2) as chromium:
            started = time.monotonic()
            results = []
            for index in range(SETUPS):
                results.append(await _one_setup(chromium.contexts, links, index))
            elapsed = time.monotonic() - started
    record_property("setups_seconds", f"{elapsed:.1f}")
    print(f"{SETUPS} set-ups in {elapsed:.1f} s")
    assert len(results) == SETUPS
