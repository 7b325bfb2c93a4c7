"""End to end: a running consultation outlives a restart of the server.

Two Chromium pages hold a call (frame encryption on, keys renewed every few
seconds). The server is killed with SIGKILL and started again on the same data
after 1 s, then again after 5 s. Throughout, the remote video keeps advancing
(the call is peer to peer and never needed the server); each page's signaling
is back within 2 s of the server listening; the page shows that only the line
to the server is being restored; the same peer connection object carries the
call afterwards; keys are renewed again with equal codes; hanging up ends the
call on both sides; and the events table has every event once, in order, with
no gap and no duplicate.

Every wait is an upper bound scaled by ``SPRECHZIMMER_TEST_TIME_SCALE``.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from harness.chromium import launch_chromium
from harness.joinform import TEST_CLIENT_NAME
from harness.server import TIME_SCALE, RunningServer, loopback_server
from harness.wsclient import Member, hello

from tests.real.test_e2e_call import (
    FRAMES_MORE_THAN,
    VIDEO_FRAMES,
    WAIT_MS,
    _events_when,
    _frames_advance,
    _hang_up,
    _need_chromium,
    _server,
    _start_call,
    _status,
    _until,
)
from tests.real.test_e2e_e2ee import _active, _e2ee, _same_sas

if TYPE_CHECKING:
    from playwright.async_api import Page


THERAPIST = "dr-e2e"
REKEY_S = 4
BACK_WITHIN_S = 2.0 * TIME_SCALE
"""The acceptance bound: signaling open again this soon after the server listens."""
LATER_S = 10.0
"""How long after the last restart the same connection must still carry the call."""

TAG_PC = "() => { window.sprechzimmer.pc.__szTag = 'before-restart'; return true; }"
SAME_PC = """() => window.sprechzimmer.pc !== null
  && window.sprechzimmer.pc.__szTag === 'before-restart'
  && window.sprechzimmer.pc.connectionState === 'connected'"""
SIGNALING_OPEN = "() => window.sprechzimmer.signaling === 'open'"
SERVER_AWAY = "() => window.sprechzimmer.serverAway === true"


async def _frames_keep_coming(pages: tuple[Page, Page], seconds: float) -> None:
    """Over ``seconds``, every page's remote video advances in every 1 s slice."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for page in pages:
            before = await page.evaluate(VIDEO_FRAMES)
            await _until(page, FRAMES_MORE_THAN, before, "frames while the server is down")
        await asyncio.sleep(min(1.0, max(0.0, end - time.monotonic())))


async def _restart(server: RunningServer, pages: tuple[Page, Page], down_for: float) -> float:
    """SIGKILL, ``down_for`` s of media without a server, start: how long until both are back."""
    server.kill(signal.SIGKILL)
    for page in pages:
        await _until(page, SERVER_AWAY, what="the calm notice that the server is away")
        status = await page.get_by_test_id("call-status").text_content() or ""
        assert "Gespräch läuft weiter" in status, status
        assert await page.evaluate("window.sprechzimmer.state") == "in-call"
    await _frames_keep_coming(pages, down_for)
    server.start()
    listening = time.monotonic()
    for page in pages:
        await _until(page, SIGNALING_OPEN, what="signaling open again")
    back = time.monotonic() - listening
    for page in pages:
        await _until(page, "() => window.sprechzimmer.serverAway === false", what="notice gone")
        assert await page.evaluate("window.sprechzimmer.state") == "in-call"
    return back


@pytest.mark.netns
@pytest.mark.browser
async def test_a_call_outlives_two_server_restarts(tmp_path: Path) -> None:
    _need_chromium()
    with _server(tmp_path, SPRECHZIMMER_REKEY_INTERVAL=str(REKEY_S)) as server:
        links = server.create_session(THERAPIST, "Pseudonym-R3ST")
        async with launch_chromium(server.ns, tmp_path, contexts=2) as chromium:
            pages = await _start_call(*chromium.contexts, links)
            therapist, client = pages
            for page in pages:
                await _active(page)
                assert await page.evaluate(TAG_PC)
            await _same_sas(therapist, client)
            made = [await page.evaluate("window.sprechzimmer.peerConnections") for page in pages]
            name = therapist.get_by_test_id("peer-name")
            await name.wait_for(state="visible", timeout=WAIT_MS)
            assert TEST_CLIENT_NAME in (await name.text_content() or "")

            backs = []
            for down_for in (1.0, 5.0):
                epochs = [(await _e2ee(page))["epoch"] for page in pages]
                backs.append(await _restart(server, pages, down_for))
                # Key renewal goes on after the restart, in a later epoch, same code.
                for page, epoch in zip(pages, epochs, strict=True):
                    await _until(
                        page,
                        f"() => window.sprechzimmer.e2ee.epoch > {epoch}"
                        " && window.sprechzimmer.e2ee.state === 'active'",
                        what="a key renewal after the restart",
                    )
                await _same_sas(therapist, client)
                # The server forgot the name with its memory; the therapist still sees it
                # (its page kept it, and the client's page said it again in its hello).
                await _until(
                    therapist,
                    "(n) => document.querySelector('[data-testid=peer-name]')"
                    ".textContent.includes(n)",
                    TEST_CLIENT_NAME,
                    what="the client's name after the restart",
                )
                assert await name.is_visible()
            print(f"signaling back {backs[0]:.2f} s / {backs[1]:.2f} s after the server listened")
            assert max(backs) <= BACK_WITHIN_S, backs

            # Ten seconds later the very same connection carries the call.
            await asyncio.sleep(LATER_S)
            for page, before in zip(pages, made, strict=True):
                assert await page.evaluate(SAME_PC), "the peer connection was replaced"
                assert await page.evaluate("window.sprechzimmer.peerConnections") == before
                await _frames_advance(page)
            counters = [
                await page.evaluate("window.sprechzimmer.e2ee.counters()") for page in pages
            ]
            for c in counters:
                assert c["decryptFailures"] == 0, counters

            await _hang_up(therapist)
            for page in pages:
                await _status(page, "ended")
        every_event_once(server, links["session_id"])


def every_event_once(server: RunningServer, session_id: str) -> None:
    """Once the call has ended: every event once, in order. No gap (no
    disconnected/connected pair for an outage) and no duplicate (nobody joined
    or connected twice)."""
    events = _events_when(
        server,
        session_id,
        {(r, k) for r in ("therapist", "client") for k in ("media_disconnected", "left")},
    )
    counts = Counter((e["role"], e["kind"]) for e in events)
    assert counts == {
        ("therapist", "joined"): 1,
        ("client", "joined"): 1,
        ("client", "admitted"): 1,
        ("therapist", "media_connected"): 1,
        ("client", "media_connected"): 1,
        ("therapist", "media_disconnected"): 1,
        ("client", "media_disconnected"): 1,
        ("therapist", "left"): 1,
        ("client", "left"): 1,
    }, events
    order = [e["at"] for e in events]
    assert order == sorted(order)


async def test_a_graceful_stop_says_going_away_and_the_seats_come_back(tmp_path: Path) -> None:
    """SIGTERM: every signaling socket hears 1001 at once; after the start both
    take their seats back with their tickets, and nothing was recorded."""
    with loopback_server(tmp_path) as server:
        server.add_therapist()
        session, t_token, c_token = server.invite()
        url, port = server.ws_url, server.port
        therapist = await Member.open(url, port)
        await therapist.send(hello(session, t_token))
        t_ticket = (await therapist.expect("welcome", 5))["resume"]
        client = await Member.open(url, port)
        await client.send(hello(session, c_token))
        c_ticket = (await client.expect("welcome", 5))["resume"]
        await therapist.expect("knock", 5)
        await therapist.send({"type": "admit"})
        await client.expect("admitted", 5)
        for member in (therapist, client):
            await member.send({"type": "media", "state": "connected"})
        await therapist.send({"type": "ping"})
        await therapist.expect("pong", 5)
        before = [(e["role"], e["kind"]) for e in server.events(session)]

        server.kill(signal.SIGTERM)
        for member in (therapist, client):
            assert await member.wait_closed(5 * TIME_SCALE) == 1001
        server.start()
        for token, ticket in ((t_token, t_ticket), (c_token, c_ticket)):
            again = await Member.open(url, port)
            await again.send(hello(session, token, resume=ticket, epoch=1))
            welcome = await again.expect("welcome", 5)
            assert welcome["resumed"] is True
            await again.close()
        assert [(e["role"], e["kind"]) for e in server.events(session)] == before
