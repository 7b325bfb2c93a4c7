"""Issue 15, the network test in the waiting room, end to end.

The client's page, waiting (not admitted), asks the server for short-lived
relay credentials (``nettest`` / ``nettest-servers``) and tests the way to the
deployment's own coturn over UDP, TCP and TLS with throwaway relay-only peer
connections, then a loopback through the relay. Three worlds: everything open
(``harness/topology.py``), all UDP dropped in the client's namespace (nftables),
and a server with no relay configured. The verdict is read from
``network-result``'s ``data-verdict`` and its sentence.

Every wait is bounded by ``WAIT_MS`` (scaled by ``SPRECHZIMMER_TEST_TIME_SCALE``).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from harness.chromium import launch_chromium
from harness.topology import Browsers, Topology, browsers, diagnostics, topology

from tests.real.test_e2e_call import WAIT_MS, _join, _need_chromium, _server

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, Page

pytestmark = [pytest.mark.netns, pytest.mark.browser]

THERAPIST = "dr-nettest"
TEST_MS = 40_000 * (WAIT_MS / 20_000)
"""Upper bound for one network test (gathering up to 6 s, loopback up to ~15 s)."""


@contextlib.asynccontextmanager
async def _world(tmp_path: Path) -> AsyncIterator[tuple[Topology, Browsers]]:
    _need_chromium()
    with topology(tmp_path) as topo:
        topo.server.add_therapist(THERAPIST)
        try:
            async with browsers(topo) as both:
                yield topo, both
        except BaseException:
            print(diagnostics(topo))
            raise


async def _waiting_client(context: BrowserContext, url: str) -> Page:
    page = await context.new_page()
    await page.goto(url, timeout=WAIT_MS)
    await _join(page)
    await page.get_by_test_id("waiting-room").wait_for(state="visible", timeout=WAIT_MS)
    return page


async def _run_test(page: Page) -> dict[str, Any]:
    """Press the test's button, wait for its verdict; the verdict, sentence and details."""
    button = page.get_by_test_id("network-test")
    await button.wait_for(state="visible", timeout=WAIT_MS)
    await button.click(timeout=WAIT_MS)
    result = page.get_by_test_id("network-result")
    await page.wait_for_selector(
        '[data-testid="network-result"][data-state="done"]', state="visible", timeout=TEST_MS
    )
    details = page.get_by_test_id("network-details")
    return {
        "verdict": await result.get_attribute("data-verdict"),
        "text": await result.inner_text(),
        "details": await details.inner_text() if await details.is_visible() else "",
        "peer_connections_open": await page.evaluate("window.sprechzimmer.pc"),
    }


async def test_all_open_says_video_is_fine(tmp_path: Path) -> None:
    async with _world(tmp_path) as (topo, both):
        links = topo.links(THERAPIST, "K-net-ok")
        client = await _waiting_client(both.client, links["client_url"])
        found = await _run_test(client)
        assert found["verdict"] == "video", found
        assert "Ihre Verbindung reicht für Video" in found["text"], found
        assert "UDP: offen · TCP: offen · TLS: offen" in found["details"], found
        assert "kbit/s" in found["details"], found
        # The test is no call: the waiting client has no peer connection of the call.
        assert found["peer_connections_open"] is None
        assert await client.evaluate("window.sprechzimmer.state") == "waiting"
        # The therapist, alone in the room before admitting, has it in the details.
        therapist = await both.therapist.new_page()
        await therapist.goto(links["therapist_url"], timeout=WAIT_MS)
        await _join(therapist)
        await therapist.wait_for_selector(
            '[data-testid="call-status"][data-status="knocking"]', state="attached", timeout=WAIT_MS
        )
        await therapist.locator('[data-testid="details"] > summary').click(timeout=WAIT_MS)
        found = await _run_test(therapist)
        assert found["verdict"] == "video", found
        log = topo.server.log()
        for side in ("10.231.2.2", "10.231.1.2"):
            assert side not in log


async def test_udp_blocked_points_to_compatibility_mode(tmp_path: Path) -> None:
    async with _world(tmp_path) as (topo, both):
        with topo.drop_udp("B"):
            links = topo.links(THERAPIST, "K-net-udp")
            client = await _waiting_client(both.client, links["client_url"])
            found = await _run_test(client)
        assert found["verdict"] in ("compat", "compat-audio"), found
        assert "blockiert UDP, der Kompatibilitätsmodus hilft" in found["text"], found
        assert "UDP: blockiert · TCP: offen · TLS: offen" in found["details"], found


async def test_without_a_relay_it_says_what_it_cannot_test(tmp_path: Path) -> None:
    _need_chromium()
    with _server(tmp_path) as server:
        links = server.create_session("dr-e2e", "K-net-none")
        async with launch_chromium(server.ns, tmp_path, contexts=1) as chromium:
            client = await _waiting_client(chromium.contexts[0], links["client_url"])
            found = await _run_test(client)
    assert found["verdict"] == "no-relay", found
    assert "keinen eigenen Relay-Server" in found["text"], found
