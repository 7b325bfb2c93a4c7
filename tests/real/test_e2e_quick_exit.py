"""The client's quick way out, in real Chromium (issue 15): Escape twice leaves the
call at once, the tab shows a neutral page of ours with no history entry back to
the call, and the therapist's page says the person left abruptly and shows the
safety net the client gave at the room check.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from harness.chromium import launch_chromium
from harness.server import RunningServer, running_server

from tests.real.test_e2e_call import WAIT_MS, _connected_p2p, _need_chromium, _until
from tests.real.test_e2e_e2ee import _enter

if TYPE_CHECKING:
    from playwright.async_api import Page

pytestmark = [pytest.mark.netns, pytest.mark.browser]

THERAPIST = "dr-exit"
CLIENT_ID = "Pseudonym-EX1T"
PHONE = "030 5550123"
NEUTRAL = "Dokument1 – Notizen"


@contextlib.contextmanager
def _server(tmp_path: Path) -> Iterator[RunningServer]:
    # The operator's neutral tab title for the client's page (not the therapist's).
    with running_server(tmp_path, extra_env={"SPRECHZIMMER_NEUTRAL_TITLE": NEUTRAL}) as server:
        server.add_therapist(THERAPIST)
        yield server


@contextlib.asynccontextmanager
async def _call(tmp_path: Path) -> AsyncIterator[tuple[Page, Page]]:
    """Therapist and client in a call, connected, in two Chromium contexts."""
    _need_chromium()
    with _server(tmp_path) as server:
        links = server.create_session(THERAPIST, CLIENT_ID)
        async with launch_chromium(server.ns, tmp_path, contexts=2) as chromium:
            therapist, client = await _enter(
                *chromium.contexts, links["therapist_url"], links["client_url"]
            )
            for page in (therapist, client):
                await _connected_p2p(page)
            yield therapist, client


async def _told_abruptly(therapist: Page) -> None:
    await _until(
        therapist,
        "() => document.querySelector('[data-testid=call-status]')"
        ".textContent.includes('abrupt verlassen')",
        what="the therapist's page to say the client left abruptly",
    )


async def test_escape_twice_leaves_at_once_without_a_way_back(tmp_path: Path) -> None:
    async with _call(tmp_path) as (therapist, client):
        # The client has the button; the therapist has none.
        await client.get_by_test_id("quick-exit").wait_for(state="visible", timeout=WAIT_MS)
        assert await therapist.get_by_test_id("quick-exit").count() == 0
        entries = await client.evaluate("history.length")
        assert await client.title() == NEUTRAL
        assert await therapist.title() != NEUTRAL
        # A phone number at the room check (no whereabouts): nothing shows yet.
        await client.get_by_test_id("safety-phone").fill(PHONE)
        await client.wait_for_timeout(500)
        net = therapist.get_by_test_id("safety-net")
        assert await net.is_hidden()

        # One Escape does nothing; two within a second leave.
        await client.keyboard.press("Escape")
        await client.wait_for_timeout(1200)
        assert await client.evaluate("window.sprechzimmer.state") == "in-call"
        await client.keyboard.press("Escape")
        await client.keyboard.press("Escape")
        await client.wait_for_url("**/static/neutral.html", timeout=WAIT_MS)
        assert await client.title() == "Neuer Tab"
        assert await client.evaluate("document.body.textContent.trim()") == ""
        # The call page's entry was replaced, not left behind.
        assert await client.evaluate("history.length") == entries

        await _told_abruptly(therapist)
        assert await therapist.evaluate("window.sprechzimmer.state") == "waiting"
        # At once, not after a silence: the person may not be safe.
        await net.wait_for(state="visible", timeout=2000)
        assert f"Rufen Sie an: {PHONE}" in (await net.text_content() or "")
        assert await therapist.get_by_test_id("safety-net-location").is_hidden()

        # Back leads to what was before the call, never to the call page.
        await client.go_back(timeout=WAIT_MS)
        assert "/call" not in client.url, client.url


async def test_the_button_leaves_at_once_too(tmp_path: Path) -> None:
    """One tap on "Sofort verlassen" (a phone has no Escape key): the same way out."""
    async with _call(tmp_path) as (therapist, client):
        entries = await client.evaluate("history.length")
        await client.get_by_test_id("quick-exit").click(timeout=WAIT_MS)
        await client.wait_for_url("**/static/neutral.html", timeout=WAIT_MS)
        assert await client.title() == "Neuer Tab"
        assert await client.evaluate("history.length") == entries
        await _told_abruptly(therapist)
        # Nothing was given at the room check: no safety net to show.
        assert await therapist.get_by_test_id("safety-net").is_hidden()
