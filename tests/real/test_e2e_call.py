"""End to end: the real server, the real browser client and the real headless peer.

Each test starts ``sprechzimmer serve`` in a network namespace of its own (see
``harness/server.py``) and drives Debian's Chromium inside the same
namespace through Playwright, so every candidate is a loopback address of that
namespace and nothing leaves it. What a person would see is read from the page
(``data-testid`` elements, the ``<video>`` element's own decoded-frame counters);
what the practice is billed for is read from the database through the CLI.

Nothing here measures speed: every wait is an upper bound, scaled by
``SPRECHZIMMER_TEST_TIME_SCALE``, and passes as soon as its condition holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import pytest
from harness.callstates import WalkError, until
from harness.chromium import chromium_available, launch_chromium
from harness.joinform import fill_join_form
from harness.netns import netns_available, require_or_skip
from harness.server import CLI, PASSWORD, TIME_SCALE, RunningServer, running_server

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, Page

pytestmark = [pytest.mark.netns, pytest.mark.browser]

WAIT_MS = 20_000 * TIME_SCALE
"""Upper bound for one thing to happen in a page (a click's effect, the first frame)."""
THERAPIST = "dr-e2e"
CLIENT_ID = "Pseudonym-Q7XK"
"""Distinctive on purpose: the server log is searched for it and must not hold it."""
MEDIA_CONNECTED = {("therapist", "media_connected"), ("client", "media_connected")}

# Counts the decoded frames of the element itself, which is what a person sees:
# stats of the connection could advance while the element shows nothing.
VIDEO_FRAMES = """() => {
  const v = document.querySelector('[data-testid="remote-video"]');
  const q = v.getVideoPlaybackQuality();
  return {
    decoded: v.webkitDecodedFrameCount,
    total: q.totalVideoFrames,
    width: v.videoWidth,
    height: v.videoHeight,
    hasStream: v.srcObject !== null,
  };
}"""

FRAMES_MORE_THAN = """(before) => {
  const v = document.querySelector('[data-testid="remote-video"]');
  return v.videoWidth > 0
    && v.webkitDecodedFrameCount > before.decoded
    && v.getVideoPlaybackQuality().totalVideoFrames > before.total;
}"""

# True once the page has sent at least ``n`` video frames on its peer connection.
VIDEO_FRAMES_SENT = """async (n) => {
  const pc = window.sprechzimmer.pc;
  if (!pc) return false;
  let sent = 0;
  (await pc.getStats()).forEach((r) => {
    if (r.type === 'outbound-rtp' && r.kind === 'video') sent += r.framesSent || 0;
  });
  return sent >= n;
}"""

# Installed before any script of the page: counts peer connections and remote
# tracks, so that a test can say a page never got as far as media at all.
MEDIA_WATCH = """(() => {
  const Original = window.RTCPeerConnection;
  window.__szWatch = {peerConnections: 0, remoteTracks: 0};
  window.RTCPeerConnection = class extends Original {
    constructor(...args) {
      super(...args);
      window.__szWatch.peerConnections += 1;
      this.addEventListener('track', () => { window.__szWatch.remoteTracks += 1; });
    }
  };
})()"""


def _need_chromium() -> None:
    for reason in (netns_available(), chromium_available()):
        if reason is not None:
            require_or_skip(reason)


def _fragment(url: str) -> dict[str, str]:
    """The ``s`` and ``t`` of an invite link's fragment."""
    return {k: v[0] for k, v in parse_qs(urlsplit(url).fragment).items()}


@contextlib.contextmanager
def _server(tmp_path: Path, **env: str) -> Iterator[RunningServer]:
    with running_server(tmp_path, extra_env=env) as server:
        server.add_therapist(THERAPIST)
        yield server


# --- the page, as a person uses it ------------------------------------------------------


async def _until(page: Page, predicate: str, arg: Any = None, what: str = "") -> None:
    """Poll ``predicate`` (a JS function) in ``page`` until it is true; bounded by WAIT_MS
    (the harness's wait: ``wait_for_function`` would need ``eval``, which the CSP forbids)."""
    try:
        await until(page, predicate, arg, what)
    except WalkError as error:
        pytest.fail(str(error))


async def _open(context: BrowserContext, url: str) -> Page:
    page = await context.new_page()
    await page.goto(url, timeout=WAIT_MS)
    return page


async def _join(page: Page) -> None:
    """Join as a person does: press join once the device check has the camera.

    A therapist's page whose link checked out and whose devices came up joins
    by itself (no second device check after the dashboard): then there is
    nothing to press. The join button of such a page is never enabled, so
    "enabled" or "past the device check", whichever comes first, is certain.
    """
    joined_or_ready = """() => {
        const status = document.querySelector('[data-testid="call-status"]').dataset.status;
        if (status !== 'device-check') return true;
        const join = document.querySelector('[data-testid="join"]');
        return join.offsetParent !== null && !join.disabled;
    }"""
    await _until(page, joined_or_ready, what="the device check to be done")
    if await page.evaluate("window.sprechzimmer.state") == "device-check":
        await fill_join_form(page)  # a client's name and consent; a therapist has no form
        await page.get_by_test_id("join").click(timeout=WAIT_MS)


async def _hang_up(page: Page) -> None:
    """Hang up as a person does: the button, then the one confirmation it asks for."""
    await page.get_by_test_id("hangup").click(timeout=WAIT_MS)
    await page.get_by_test_id("hangup-confirm").click(timeout=WAIT_MS)


async def _status(page: Page, status: str) -> None:
    await page.wait_for_selector(
        f'[data-testid="call-status"][data-status="{status}"]', state="attached", timeout=WAIT_MS
    )


async def _admit(therapist: Page) -> None:
    """The knock: the admit control shows up enabled; the therapist presses it."""
    from playwright.async_api import expect

    admit = therapist.get_by_test_id("admit")
    await admit.wait_for(state="visible", timeout=WAIT_MS)
    await expect(admit).to_be_enabled(timeout=WAIT_MS)
    await admit.click(timeout=WAIT_MS)


async def _frames_advance(page: Page) -> dict[str, Any]:
    """The remote video has a picture and its decoded-frame count goes up; return a sample."""
    await _until(page, FRAMES_MORE_THAN, {"decoded": 0, "total": 0}, "a first remote frame")
    first: dict[str, Any] = await page.evaluate(VIDEO_FRAMES)
    await _until(page, FRAMES_MORE_THAN, first, "more remote frames")
    second: dict[str, Any] = await page.evaluate(VIDEO_FRAMES)
    assert second["decoded"] > first["decoded"] > 0
    assert second["total"] > first["total"] > 0
    assert second["width"] > 0 and second["height"] > 0
    return second


async def _connected_p2p(page: Page) -> None:
    state = page.get_by_test_id("connection-state")
    await page.wait_for_selector(
        '[data-testid="connection-state"][data-state="connected"][data-path="p2p"]',
        state="attached",
        timeout=WAIT_MS,
    )
    assert await state.get_attribute("data-state") == "connected"
    assert await state.get_attribute("data-path") == "p2p"
    assert await page.evaluate("window.sprechzimmer.state") == "in-call"


async def _start_call(
    therapist_ctx: BrowserContext, client_ctx: BrowserContext, links: dict[str, str]
) -> tuple[Page, Page]:
    """Therapist joins, client joins and waits, therapist admits; both see moving video."""
    therapist = await _open(therapist_ctx, links["therapist_url"])
    await _join(therapist)
    await _status(therapist, "waiting")
    client = await _open(client_ctx, links["client_url"])
    await _join(client)
    await client.get_by_test_id("waiting-room").wait_for(state="visible", timeout=WAIT_MS)
    assert await client.evaluate("window.sprechzimmer.state") == "waiting"
    assert await client.get_by_test_id("remote-video").is_hidden()
    await _admit(therapist)
    for page in (therapist, client):
        await _connected_p2p(page)
        await _frames_advance(page)
    return therapist, client


# --- what the server kept ---------------------------------------------------------------


def _events_when(
    server: RunningServer, session_id: str, wanted: set[tuple[str, str]]
) -> list[dict[str, str]]:
    """The session's events once all of ``wanted`` are there (they are written async)."""
    events: list[dict[str, str]] = []
    for _ in range(int(40 * TIME_SCALE)):
        events = server.events(session_id)
        if wanted <= {(e["role"], e["kind"]) for e in events}:
            return events
        time.sleep(0.25)  # between two CLI runs; the loop is bounded by its count
    missing = wanted - {(e["role"], e["kind"]) for e in events}
    pytest.fail(f"events missing: {sorted(missing)}; got {events}")


def _times(events: list[dict[str, str]], role: str, kind: str) -> list[dt.datetime]:
    return [
        dt.datetime.fromisoformat(e["at"].replace("Z", "+00:00"))
        for e in events
        if e["role"] == role and e["kind"] == kind
    ]


def _check_call_events(events: list[dict[str, str]], *, ended: bool) -> None:
    """joined (both) <= admitted <= media_connected (both) <= media_disconnected, left."""
    roles = ("therapist", "client")
    for role in roles:
        assert len(_times(events, role, "joined")) == 1, events
        assert _times(events, role, "media_connected"), events
    (admitted,) = _times(events, "client", "admitted")
    assert not _times(events, "therapist", "admitted")  # admission is billed to the client
    assert max(t for r in roles for t in _times(events, r, "joined")) <= admitted
    assert admitted <= min(t for r in roles for t in _times(events, r, "media_connected"))
    if ended:
        last_connected = max(t for r in roles for t in _times(events, r, "media_connected"))
        for role in roles:
            (left,) = _times(events, role, "left")
            disconnected = _times(events, role, "media_disconnected")
            assert disconnected, events
            assert last_connected <= max(disconnected) <= left
    assert {e["kind"] for e in events} <= {
        "joined",
        "admitted",
        "media_connected",
        "media_disconnected",
        "left",
    }


def _check_log_is_clean(server: RunningServer, links: dict[str, str], client_id: str) -> None:
    log = server.log()
    assert "Application startup complete" in log  # the log is the server's, and not empty
    assert "127.0.0.1" not in log
    for url in (links["therapist_url"], links["client_url"]):
        token = _fragment(url)["t"]
        assert len(token) == 43
        assert token not in log
    assert client_id not in log


# --- the tests ----------------------------------------------------------------------------


async def test_chromium_to_chromium_call(tmp_path: Path) -> None:
    """Acceptance: knock, admit, video both ways on a direct path, hang up, billed events."""
    _need_chromium()
    with _server(tmp_path) as server:
        links = server.create_session(THERAPIST, CLIENT_ID)
        async with launch_chromium(server.ns, tmp_path, contexts=2) as chromium:
            therapist, client = await _start_call(*chromium.contexts, links)
            assert await therapist.evaluate("window.sprechzimmer.role") == "therapist"
            assert await client.evaluate("window.sprechzimmer.role") == "client"
            # The token left the address bar as soon as the page read it.
            assert "#" not in therapist.url and "#" not in client.url

            await _hang_up(therapist)
            for page in (therapist, client):
                await _status(page, "ended")
                assert await page.evaluate("window.sprechzimmer.pc") is None
                assert (await page.evaluate(VIDEO_FRAMES))["hasStream"] is False
        events = _events_when(
            server,
            links["session_id"],
            {(r, "left") for r in ("therapist", "client")}
            | {(r, "media_disconnected") for r in ("therapist", "client")},
        )
        _check_call_events(events, ended=True)
        _check_log_is_clean(server, links, CLIENT_ID)


async def test_headless_client_with_chromium_therapist(tmp_path: Path) -> None:
    """Acceptance: the aiortc peer as client; both sides get media, both are billed.

    aiortc cannot encrypt frames, so this runs where the operator allows calls
    protected by DTLS-SRTP only (tests/real/test_e2e_e2ee.py covers the refusal).
    """
    _need_chromium()
    # The peer stays until the therapist hangs up (its duration is the whole
    # timeout): a peer that left after a fixed 3 s raced the therapist's page,
    # which on a loaded machine saw its frames advance only later.
    timeout = 60 * TIME_SCALE
    duration = timeout
    with _server(tmp_path, SPRECHZIMMER_E2EE_REQUIRED="0") as server:
        links = server.create_session(THERAPIST, CLIENT_ID)
        peer = server.ns.popen(
            [
                *CLI,
                "peer",
                links["client_url"],
                "--json",
                "--duration",
                str(duration),
                "--timeout",
                str(timeout),
            ],
            env=server.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        async with launch_chromium(server.ns, tmp_path, contexts=1) as chromium:
            therapist = await _open(chromium.contexts[0], links["therapist_url"])
            await _join(therapist)
            await _admit(therapist)  # the headless client is already knocking
            await _connected_p2p(therapist)
            await _frames_advance(therapist)
            # Six times the frames the peer must have had, then the hang-up.
            await _until(therapist, VIDEO_FRAMES_SENT, 60, "60 video frames sent to the peer")
            await _hang_up(therapist)
            await _status(therapist, "ended")
            # The peer hears that the therapist left and ends as well.
            out, err = await asyncio.to_thread(peer.communicate, timeout=timeout + 15)
        assert peer.returncode == 0, err[-3000:]
        result = json.loads(out.strip().splitlines()[-1])
        assert result["role"] == "client"
        assert result["error"] is None
        assert result["admitted"] is True
        assert result["connected"] is True
        assert result["video_frames"] > 10
        assert result["audio_frames"] > 0
        assert result["close_code"] == 1000
        events = _events_when(
            server,
            links["session_id"],
            {(r, k) for r in ("therapist", "client") for k in ("left", "media_disconnected")},
        )
        _check_call_events(events, ended=True)
        _check_log_is_clean(server, links, CLIENT_ID)


async def test_copied_client_link_cannot_join_a_running_call(tmp_path: Path) -> None:
    """A third browser with the client's link is refused and never gets media."""
    _need_chromium()
    with _server(tmp_path) as server:
        links = server.create_session(THERAPIST, CLIENT_ID)
        async with launch_chromium(server.ns, tmp_path, contexts=3) as chromium:
            therapist_ctx, client_ctx, intruder_ctx = chromium.contexts
            await intruder_ctx.add_init_script(MEDIA_WATCH)
            therapist, client = await _start_call(therapist_ctx, client_ctx, links)

            received: list[dict[str, Any]] = []
            intruder = await intruder_ctx.new_page()
            intruder.on(
                "websocket",
                lambda ws: ws.on("framereceived", lambda frame: received.append(json.loads(frame))),
            )
            await intruder.goto(links["client_url"], timeout=WAIT_MS)
            await _join(intruder)
            await _status(intruder, "error")
            # The server said why, and said nothing else: no welcome, no relayed SDP.
            assert [m["type"] for m in received] == ["error"], received
            assert received[0]["code"] == "occupied"
            assert received[0]["fatal"] is True
            assert (await intruder.get_by_test_id("call-status").text_content() or "").strip()
            assert await intruder.evaluate("window.sprechzimmer.state") == "error"
            assert await intruder.evaluate("window.sprechzimmer.pc") is None
            assert await intruder.evaluate("window.__szWatch") == {
                "peerConnections": 0,
                "remoteTracks": 0,
            }
            seen = await intruder.evaluate(VIDEO_FRAMES)
            assert seen == {"decoded": 0, "total": 0, "width": 0, "height": 0, "hasStream": False}
            assert await intruder.get_by_test_id("waiting-room").is_hidden()

            # The real call goes on, undisturbed.
            for page in (therapist, client):
                assert await page.evaluate("window.sprechzimmer.state") == "in-call"
                await _frames_advance(page)
            assert await therapist.get_by_test_id("admit").is_hidden()
            # The therapist is told that someone tried the link, and by whom nothing.
            notice = therapist.locator("#call-notice")
            await notice.wait_for(state="visible", timeout=WAIT_MS)
            assert await notice.get_attribute("data-notice") == "call.linkInUse"
            # The intruder gets a next step, not a "join again" that cannot work.
            assert await intruder.locator("#rejoin").is_hidden()
            assert await intruder.locator("#end-title").is_visible()
            said = await intruder.get_by_test_id("call-status").text_content() or ""
            assert "Link" in said, said
        events = _events_when(server, links["session_id"], MEDIA_CONNECTED)
        # The refused socket never took a place: nothing of it is billed.
        assert len(_times(events, "client", "joined")) == 1
        _check_call_events(events, ended=False)


async def _login_and_create_session(
    context: BrowserContext, origin: str, client_id: str
) -> tuple[Page, str]:
    """Log in as the therapist on ``/``, create a session on the dashboard; (page, client link)."""
    dashboard = await _open(context, f"{origin}/")
    await dashboard.get_by_test_id("login-code").fill(THERAPIST)
    await dashboard.get_by_test_id("login-password").fill(PASSWORD)
    await dashboard.get_by_test_id("login-submit").click(timeout=WAIT_MS)
    await dashboard.wait_for_url(f"{origin}/dashboard", timeout=WAIT_MS)
    await dashboard.get_by_test_id("client-id").fill(client_id)
    await dashboard.get_by_test_id("create-session").click(timeout=WAIT_MS)
    link = dashboard.get_by_test_id("client-url")
    await link.wait_for(state="visible", timeout=WAIT_MS)
    return dashboard, (await link.text_content() or "").strip()


async def test_therapist_logs_in_creates_session_and_joins_from_dashboard(
    tmp_path: Path,
) -> None:
    """The therapist's whole way through the UI: login, new link, waiting client, call."""
    _need_chromium()
    client_id = "Pseudonym-DASH-42"
    with _server(tmp_path) as server:
        async with launch_chromium(server.ns, tmp_path, contexts=2) as chromium:
            therapist_ctx, client_ctx = chromium.contexts
            dashboard, client_url = await _login_and_create_session(
                therapist_ctx, server.base_url, client_id
            )
            assert client_url.startswith(f"{server.base_url}/call#")
            session_id = _fragment(client_url)["s"]
            row = dashboard.locator(f'tr[data-session-id="{session_id}"]')
            await row.wait_for(state="visible", timeout=WAIT_MS)
            assert await row.locator(".badge-waiting").count() == 0

            client = await _open(client_ctx, client_url)
            await _join(client)
            await client.get_by_test_id("waiting-room").wait_for(state="visible", timeout=WAIT_MS)
            # The dashboard polls; the row shows the waiting client within a few polls.
            await row.locator(".badge-waiting").wait_for(state="visible", timeout=WAIT_MS)
            assert client_id in (await row.text_content() or "")

            await row.locator('button[data-action="join"]').click(timeout=WAIT_MS)
            await dashboard.wait_for_url(f"{server.base_url}/call**", timeout=WAIT_MS)
            therapist = dashboard
            await _join(therapist)
            await _admit(therapist)
            for page in (therapist, client):
                await _connected_p2p(page)
                await _frames_advance(page)
        events = _events_when(server, session_id, MEDIA_CONNECTED)
        _check_call_events(events, ended=False)
        log = server.log()
        assert client_id not in log
        assert PASSWORD not in log
        assert "127.0.0.1" not in log
