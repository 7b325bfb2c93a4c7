"""End to end: a whole call talks to nobody but the service, and every answer is hardened.

The real server and Debian's Chromium run in a network namespace of the test's
own (as in ``test_e2e_call.py``). Every HTTP request and WebSocket of both
browser contexts is recorded, from the login page through the dashboard, a new
session, a call with moving video on both sides, to the hang-up. Each must go
to the service's own origin, and each HTTP response must carry the security
headers. ICE (STUN/TURN/media) is not an HTTP request and is not seen here;
``sprechzimmer audit`` and the relay tests cover where it may go.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest
from harness.chromium import launch_chromium

from sprechzimmer import billing
from sprechzimmer.tools.audit import header_problems
from tests.real.test_e2e_call import (
    WAIT_MS,
    _admit,
    _connected_p2p,
    _fragment,
    _frames_advance,
    _hang_up,
    _join,
    _login_and_create_session,
    _need_chromium,
    _open,
    _server,
    _status,
)

CALL_S = 2.0
"""Seconds the call stays up before the hang-up."""

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, Page, Request, Response, WebSocket

pytestmark = [pytest.mark.netns, pytest.mark.browser]

REQUIRED_HEADERS = (
    "content-security-policy",
    "referrer-policy",
    "permissions-policy",
    "x-content-type-options",
)


@dataclass
class Recorder:
    """Every request, response and WebSocket one browser context makes."""

    requests: list[str] = field(default_factory=list)
    responses: list[Response] = field(default_factory=list)
    sockets: list[str] = field(default_factory=list)

    def attach(self, context: BrowserContext) -> None:
        def on_request(request: Request) -> None:
            self.requests.append(request.url)

        def on_response(response: Response) -> None:
            self.responses.append(response)

        def on_socket(ws: WebSocket) -> None:
            self.sockets.append(ws.url)

        def on_page(page: Page) -> None:
            page.on("websocket", on_socket)

        context.on("request", on_request)
        context.on("response", on_response)
        context.on("page", on_page)


def _foreign(urls: list[str], origin: str) -> list[str]:
    """The URLs that leave ``origin`` (same host and port; ws for http, wss for https)."""
    own = urlsplit(origin)
    ws_scheme = "wss" if own.scheme == "https" else "ws"
    out = []
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme == "data":
            continue
        if parts.scheme == "blob":
            parts = urlsplit(parts.path)  # blob:<origin>/<uuid>
        if parts.netloc != own.netloc or parts.scheme not in (own.scheme, ws_scheme):
            out.append(url)
    return out


async def test_a_whole_call_stays_on_the_service_and_every_answer_is_hardened(
    tmp_path: Path,
) -> None:
    _need_chromium()
    client_id = "Pseudonym-HYG-7"
    with _server(tmp_path) as server:
        origin = server.base_url
        async with launch_chromium(server.ns, tmp_path, contexts=2) as chromium:
            therapist_ctx, client_ctx = chromium.contexts
            recorders = [Recorder(), Recorder()]
            for recorder, context in zip(recorders, chromium.contexts, strict=True):
                recorder.attach(context)

            dashboard, client_url = await _login_and_create_session(
                therapist_ctx, origin, client_id
            )
            session_id = _fragment(client_url)["s"]

            client = await _open(client_ctx, client_url)
            await _join(client)
            await client.get_by_test_id("waiting-room").wait_for(state="visible", timeout=WAIT_MS)
            row = dashboard.locator(f'tr[data-session-id="{session_id}"]')
            await row.locator(".badge-waiting").wait_for(state="visible", timeout=WAIT_MS)
            await row.locator('button[data-action="join"]').click(timeout=WAIT_MS)
            await dashboard.wait_for_url(f"{origin}/call**", timeout=WAIT_MS)
            therapist = dashboard
            await _join(therapist)
            await _admit(therapist)
            for page in (therapist, client):
                await _connected_p2p(page)
                await _frames_advance(page)
            # Keep the call up for a couple of seconds, so that it has billable time
            # (frames can advance within half a second, which rounds to 0 s).
            await asyncio.sleep(CALL_S)
            await _hang_up(therapist)
            for page in (therapist, client):
                await _status(page, "ended")
            # The therapist downloads this month's billable minutes from the dashboard.
            await therapist.goto(f"{origin}/dashboard", timeout=WAIT_MS)
            async with therapist.expect_download(timeout=WAIT_MS) as download_info:
                await therapist.get_by_test_id("billing-export").click(timeout=WAIT_MS)
            download = await download_info.value
            csv_path = await download.path()
            csv_text = await asyncio.to_thread(Path(csv_path).read_text, encoding="utf-8")
            events = server.events(session_id)
            # Read while the browser still runs: all_headers() asks it.
            headers = [
                (response.url, await response.all_headers())
                for recorder in recorders
                for response in recorder.responses
            ]

    # The call (a few seconds of both sides connected) is in the CSV, under its session:
    # the German one, as the dashboard offers it in German (";", decimal comma).
    assert csv_text.startswith("\ufeffDatum;Pseudonym;")
    rows = billing.from_csv(csv_text)
    (row,) = [r for r in rows if r.reference == billing.reference(session_id)]
    assert row.client_id == client_id and row.seconds >= CALL_S - 1, (rows, events)

    requests = [url for r in recorders for url in r.requests]
    sockets = [url for r in recorders for url in r.sockets]
    assert _foreign(requests, origin) == []
    assert _foreign(sockets, origin) == []
    # The whole way was recorded: pages, scripts, the worker, the API, both sockets.
    paths = {urlsplit(url).path for url in requests}
    for path in ("/", "/dashboard", "/call", "/static/js/e2ee-worker.js", "/api/v1/sessions"):
        assert path in paths, sorted(paths)
    assert len(sockets) >= 2 and all(urlsplit(s).path == "/ws" for s in sockets)

    assert headers, "no response was recorded"
    for url, found in headers:
        missing = [name for name in REQUIRED_HEADERS if name not in found]
        assert missing == [], f"{url} lacks {missing}"
        assert header_problems(found, https=False) == [], url
