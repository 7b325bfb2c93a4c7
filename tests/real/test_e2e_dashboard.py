"""The dashboard in a real browser (issue 12, points 4, 7 and 10): a waiting client
is hard to miss, the links' validity is shown, and a session can be closed and its
record erased from the list, each after a confirmation.

One server, one Chromium with two contexts: the therapist's dashboard, and a
client that knocks with a plain WebSocket from a page of the service's origin
(the dashboard only needs the knock; the call page and its camera are tested
in ``test_e2e_call.py``).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from harness.chromium import launch_chromium

from tests.real.test_e2e_call import (
    THERAPIST,
    WAIT_MS,
    _fragment,
    _login_and_create_session,
    _need_chromium,
    _open,
    _server,
    _until,
)

if TYPE_CHECKING:
    from playwright.async_api import Dialog, Page

pytestmark = [pytest.mark.netns, pytest.mark.browser]

# Knocks from the client's page and keeps the socket alive with pings; what
# became of the socket is kept on ``window.__knock`` for the test to read.
KNOCK = """([session, token]) => {
  const ws = new WebSocket(`ws://${location.host}/ws`);
  window.__knock = {types: [], closed: null};
  const hello = {type: 'hello', protocol: 1, session, token, name: 'Test Client', consent: true};
  ws.onopen = () => ws.send(JSON.stringify(hello));
  ws.onmessage = (e) => window.__knock.types.push(JSON.parse(e.data).type);
  ws.onclose = (e) => { window.__knock.closed = e.code; clearInterval(window.__knockPing); };
  window.__knockPing = setInterval(() => ws.send(JSON.stringify({type: 'ping'})), 2000);
}"""


async def _confirming(page: Page, messages: list[str]) -> None:
    """Accept the next confirmation dialog of ``page``, keeping what it said."""

    async def accept(dialog: Dialog) -> None:
        messages.append(dialog.message)
        await dialog.accept()

    page.once("dialog", accept)


async def test_waiting_banner_link_expiry_close_and_erase(tmp_path: Path) -> None:
    _need_chromium()
    client_id = "Pseudonym-DASH-77"
    with _server(tmp_path) as server:
        async with launch_chromium(server.ns, tmp_path, contexts=2) as chromium:
            therapist_ctx, client_ctx = chromium.contexts
            dashboard, client_url = await _login_and_create_session(
                therapist_ctx, server.base_url, client_id
            )
            session_id = _fragment(client_url)["s"]
            # Where the fresh link is shown, and in its row: until when it works.
            created_expiry = dashboard.locator('#created [data-testid="link-expiry"]')
            assert "gültig bis" in (await created_expiry.text_content() or "")
            row = dashboard.locator(f'tr[data-session-id="{session_id}"]')
            expiry = row.get_by_test_id("link-expiry")
            await expiry.wait_for(state="visible", timeout=WAIT_MS)
            assert (await expiry.text_content() or "").startswith("gültig bis ")
            banner = dashboard.get_by_test_id("waiting-banner")
            assert await banner.is_hidden()
            assert not (await dashboard.title()).startswith("(")

            # The client knocks: the banner shows it with its one button, the tab's title counts it.
            client = await _open(client_ctx, f"{server.base_url}/")
            fragment = _fragment(client_url)
            await client.evaluate(KNOCK, [fragment["s"], fragment["t"]])
            await banner.wait_for(state="visible", timeout=WAIT_MS)
            text = await banner.text_content() or ""
            assert client_id in text and "wartet seit" in text, text
            assert await banner.get_by_test_id("waiting-join").is_visible()
            assert await banner.locator("button").count() == 1
            assert (await dashboard.title()).startswith("(1) Übersicht")

            # Close it from the list: a confirmation, then the knock ends and the row says so.
            said: list[str] = []
            await _confirming(dashboard, said)
            await row.locator('button[data-action="close"]').click(timeout=WAIT_MS)
            await dashboard.locator(
                f'tr[data-session-id="{session_id}"][data-state="closed"]'
            ).wait_for(timeout=WAIT_MS)
            assert said and client_id in said[0]
            await _until(client, "() => window.__knock.closed !== null", what="knock closed")
            assert await client.evaluate("() => window.__knock.closed") == 4003
            await banner.wait_for(state="hidden", timeout=WAIT_MS)
            assert not (await dashboard.title()).startswith("(")
            assert "beendet" in (await row.text_content() or "")
            assert await row.locator("button").count() == 1  # only "Datensatz löschen" is left

            # Erase the record: a confirmation that says the minutes leave the export.
            await _confirming(dashboard, said)
            await row.locator('button[data-action="erase"]').click(timeout=WAIT_MS)
            await row.wait_for(state="detached", timeout=WAIT_MS)
            assert "Abrechnungsexport" in said[1], said[1]
            status = dashboard.locator("#list-status")
            assert "Datensatz gelöscht" in (await status.text_content() or "")
            assert client_id not in (await dashboard.locator("main").text_content() or "")
            # Focus is back at the top of the list, not lost to the page.
            focused = await dashboard.evaluate("() => document.activeElement?.id")
            assert focused == "sessions-heading"
        # Gone from the database too.
        listed = await asyncio.to_thread(
            server.admin, "session", "list", "--therapist", THERAPIST, "--json"
        )
        assert session_id not in listed and client_id not in listed


@pytest.mark.parametrize("groups", [False, True], ids=["one-to-one", "groups"])
async def test_a_group_session_is_made_on_the_dashboard_with_a_link_per_person(
    tmp_path: Path, groups: bool
) -> None:
    """Issue 16: where the operator allows groups the form asks how many clients take part
    (1 to 8) and shows a link per person; elsewhere it does not ask."""
    _need_chromium()
    env = {"SPRECHZIMMER_GROUP_SESSIONS": "1" if groups else "0"}
    with _server(tmp_path, **env) as server:
        async with launch_chromium(server.ns, tmp_path) as chromium:
            (context,) = chromium.contexts
            dashboard, first = await _login_and_create_session(
                context, server.base_url, "Paar-Mi-10"
            )
            seats = dashboard.get_by_test_id("seats")
            if not groups:
                assert await seats.is_hidden()
                assert await dashboard.get_by_test_id("more-links").is_hidden()
                return
            assert await seats.is_visible()
            options = await seats.locator("option").all_text_contents()
            assert options == [str(n) for n in range(1, 9)]
            await dashboard.get_by_test_id("client-id").fill("Familie-Do-16")
            await seats.select_option("3")
            await dashboard.get_by_test_id("create-session").click(timeout=WAIT_MS)
            more = dashboard.get_by_test_id("seat-url")
            await more.nth(1).wait_for(state="visible", timeout=WAIT_MS)
            links = [(await dashboard.get_by_test_id("client-url").text_content() or "").strip()]
            links += [(t or "").strip() for t in await more.all_text_contents()]
            assert len(links) == 3 and len(set(links)) == 3 and first not in links
            assert {_fragment(link)["s"] for link in links} != {_fragment(first)["s"]}
            assert len({_fragment(link)["s"] for link in links}) == 1  # one session, 3 seats
            text = await dashboard.locator("#created-text").text_content() or ""
            assert "3 Personen" in text, text
            # Back to one for the next session.
            assert await seats.input_value() == "1"
