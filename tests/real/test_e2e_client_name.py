"""The client's name, its consent and the room check, in real browsers (issue on KBV
Anlage 31b): the name the client types reaches the therapist's screen at the knock
and in the call, and nothing of the server keeps it.

One call in a namespace of the test's own (Chromium, ``sprechzimmer serve``): the
client types a distinctive name and ticks consent; the therapist sees the name and
"Einwilligung bestätigt" at the knock and the name during the call; both see the
room check, the therapist ticks it, it goes on both. After the hang-up the name is
searched for in every row of every table, in every file under the test's
directory the server wrote (the database files, its data dir, its log, at debug
level) and in the browsers' storage of the client's page.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from harness.chromium import launch_chromium
from harness.server import RunningServer, running_server

from tests.real.test_e2e_call import (
    WAIT_MS,
    _admit,
    _connected_p2p,
    _hang_up,
    _join,
    _need_chromium,
    _open,
    _status,
)
from tests.real.test_e2e_e2ee import Wire, _dump_database

if TYPE_CHECKING:
    from playwright.async_api import Page

pytestmark = [pytest.mark.netns, pytest.mark.browser]

THERAPIST = "dr-name"
CLIENT_ID = "Pseudonym-N4ME"
SERVER_PORT = 8771
# Distinctive, with a character outside ASCII (JSON may escape it, UTF-8 takes two bytes).
NAME = "Quirinia Zwetschgenbühl"
# The safety net the client may type at the room check (test_e2e_safety_net.py shows
# when the therapist sees it): here, that the fields are the client's and nothing
# of them reaches the server.
PHONE = "0157 3141592653"
PLACE = "Bei Tante Walburga im Erker"


@contextlib.contextmanager
def _server(tmp_path: Path) -> Iterator[RunningServer]:
    # At debug level: whatever any logger of the server says is in the log.
    env = {"SPRECHZIMMER_LOG_LEVEL": "debug"}
    with running_server(tmp_path, port=SERVER_PORT, extra_env=env) as server:
        server.add_therapist(THERAPIST)
        yield server


def _forms(name: str) -> list[bytes]:
    """The ways a name could be written down: as it is, JSON-escaped, lower case."""
    escaped = json.dumps(name)[1:-1]
    return sorted({form.encode() for form in (name, escaped, name.lower(), name.split()[1])})


async def _text(page: Page, testid: str) -> str:
    return (await page.get_by_test_id(testid).text_content() or "").strip()


async def _visible(page: Page, testid: str) -> None:
    await page.get_by_test_id(testid).wait_for(state="visible", timeout=WAIT_MS)


async def _hidden(page: Page, testid: str) -> None:
    await page.get_by_test_id(testid).wait_for(state="hidden", timeout=WAIT_MS)


async def test_the_clients_name_shows_to_the_therapist_and_nothing_keeps_it(
    tmp_path: Path,
) -> None:
    _need_chromium()
    with _server(tmp_path) as server:
        links = server.create_session(THERAPIST, CLIENT_ID)
        async with launch_chromium(server.ns, tmp_path, contexts=2) as chromium:
            therapist_ctx, client_ctx = chromium.contexts
            therapist = await _open(therapist_ctx, links["therapist_url"])
            await _join(therapist)
            await _status(therapist, "waiting")
            assert await therapist.get_by_test_id("client-name").is_hidden()  # no form for her

            wire = Wire()
            client = await client_ctx.new_page()
            wire.attach(client)
            await client.goto(links["client_url"], timeout=WAIT_MS)
            join = client.get_by_test_id("join")
            await client.wait_for_selector('[data-testid="join"]:enabled', timeout=WAIT_MS)
            # Prefilled nowhere; nothing ticked for the person.
            assert await client.get_by_test_id("client-name").input_value() == ""
            assert not await client.get_by_test_id("consent").is_checked()
            assert await client.locator("#consent-terms").get_attribute("href") == (
                "/nutzungsbedingungen"
            )
            assert await client.locator("#consent-privacy").get_attribute("href") == "/datenschutz"
            # Without a name, then without consent, joining says what is missing.
            await join.click(timeout=WAIT_MS)
            await _visible(client, "join-form-error")
            assert "angesprochen" in await _text(client, "join-form-error")
            await client.get_by_test_id("client-name").fill(f"  {NAME} ")
            await _hidden(client, "join-form-error")
            await join.click(timeout=WAIT_MS)
            assert "Datenschutzhinweise" in await _text(client, "join-form-error")
            assert await client.evaluate("window.sprechzimmer.state") == "device-check"
            await client.get_by_test_id("consent").check()
            await join.click(timeout=WAIT_MS)
            await client.get_by_test_id("waiting-room").wait_for(state="visible", timeout=WAIT_MS)

            # The knock: the name as typed (trimmed) and the consent, on the therapist's page.
            await _status(therapist, "knocking")
            await _visible(therapist, "peer-name")
            assert await _text(therapist, "peer-name") == NAME
            await _visible(therapist, "knock-consent")
            assert await _text(therapist, "knock-consent") == "Einwilligung bestätigt"
            assert NAME not in await therapist.title()  # a shared screen shows no name
            await _admit(therapist)
            for page in (therapist, client):
                await _connected_p2p(page)
            # In the call: still the name for the therapist; the client sees no name tag.
            assert await _text(therapist, "peer-name") == NAME
            assert await client.get_by_test_id("peer-name").is_hidden()

            # The room check on both pages; only the therapist can tick it.
            for page in (therapist, client):
                await _visible(page, "room-check")
                assert "ungestört" in await _text(page, "room-check")
            assert await client.get_by_test_id("room-check-done").is_hidden()
            assert await therapist.get_by_test_id("safety-phone").count() == 0
            await client.get_by_test_id("safety-phone").fill(PHONE)
            await client.get_by_test_id("safety-location").fill(PLACE)
            await therapist.get_by_test_id("room-check-done").click(timeout=WAIT_MS)
            for page in (therapist, client):
                await _hidden(page, "room-check")
            assert await therapist.get_by_test_id("safety-net").is_hidden()  # the call runs

            # The client's browser keeps it in the page's memory only.
            stored = await client.evaluate(
                "JSON.stringify([{...localStorage}, {...sessionStorage}])"
            )
            assert NAME not in stored and "Zwetschgen" not in stored
            await _hang_up(therapist)
            for page in (therapist, client):
                await _status(page, "ended")
            assert await therapist.get_by_test_id("peer-name").is_hidden()
        database = _dump_database(server.env["SPRECHZIMMER_DATABASE_URL"])
    log = server.log()

    # The search proves something: the name went out, the database and log are real.
    hello = json.loads(next(f for f in wire.sent if '"hello"' in f))
    assert hello["name"] == NAME and hello["consent"] is True
    assert CLIENT_ID in database and "joined" in database
    assert "room:" in log  # the room's own log lines, at debug level and above

    safety = [*_forms(PHONE), *_forms(PLACE)]
    forms = [*_forms(NAME), *safety]
    for form in forms:
        text = form.decode()
        assert text not in database, f"{text!r} in a table"
        assert text not in log, f"{text!r} in the log"
    # The name goes in the hello (above); the safety net never through signaling.
    for form in safety:
        assert not any(form.decode() in f for f in wire.sent + wire.received), form
    assert _files_holding(tmp_path, forms) == []


def _files_holding(directory: Path, forms: list[bytes]) -> list[str]:
    """The files under ``directory`` (the database files, the server's data dir and
    log) that hold any of ``forms``."""
    written = [p for p in directory.rglob("*") if p.is_file()]
    assert any(p.name.startswith("e2e.sqlite3") for p in written), written
    return [
        str(p.relative_to(directory))
        for p in written
        if any(form in p.read_bytes() for form in forms)
    ]
