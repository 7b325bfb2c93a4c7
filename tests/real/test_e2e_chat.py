"""The chat between the two browsers, in real Chromium (issue 15): both ways, the unread
count, a message written while the other page is gone arrives once when it is back,
and nothing of it reaches the server or stays in the page after the hang-up.

One call in a namespace of the test's own (``sprechzimmer serve`` at debug level).
The chat travels on the browsers' own data channel ``sprechzimmer-session``; the test
searches for every message in every WebSocket frame both pages sent and received,
every row of every table, every file under the test's directory and the server's log.
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
    _connected_p2p,
    _hang_up,
    _join,
    _need_chromium,
    _status,
    _until,
)
from tests.real.test_e2e_client_name import _files_holding
from tests.real.test_e2e_e2ee import Wire, _dump_database, _enter

if TYPE_CHECKING:
    from playwright.async_api import Page

pytestmark = [pytest.mark.netns, pytest.mark.browser]

THERAPIST = "dr-chat"
CLIENT_ID = "Pseudonym-CH4T"
# Distinctive words, one outside ASCII: each is searched for afterwards.
HELLO = "Grüße vom Pflaumenbaum-Kontrabass"
ANSWER = "Antwort vom Zitronenfalter-Orchester"
WHILE_AWAY = "Während Sie weg waren: Quittengelee-Posaune"
LINK = "https://example.org/blatt-xylophon"
MESSAGES = (HELLO, ANSWER, WHILE_AWAY, LINK)


@contextlib.contextmanager
def _server(tmp_path: Path) -> Iterator[RunningServer]:
    with running_server(tmp_path, extra_env={"SPRECHZIMMER_LOG_LEVEL": "debug"}) as server:
        server.add_therapist(THERAPIST)
        yield server


async def _send(page: Page, text: str) -> None:
    await page.get_by_test_id("chat-input").fill(text)
    await page.get_by_test_id("chat-send").click(timeout=WAIT_MS)


async def _entries(page: Page) -> list[dict[str, str]]:
    result: list[dict[str, str]] = await page.evaluate(
        """() => [...document.querySelectorAll('[data-testid="chat-log"] li')].map((li) => ({
            from: li.dataset.from, delivered: li.dataset.delivered,
            text: li.querySelector('.chat-text').textContent}))"""
    )
    return result


async def _has_entry(page: Page, text: str, delivered: str = "true") -> None:
    await _until(
        page,
        """([text, delivered]) => [...document.querySelectorAll('[data-testid="chat-log"] li')]
            .some((li) => li.querySelector('.chat-text').textContent === text
                 && li.dataset.delivered === delivered)""",
        [text, delivered],
        f"the chat entry {text!r} (delivered: {delivered})",
    )


async def _unread(page: Page) -> str:
    badge = page.get_by_test_id("chat-unread")
    return "" if await badge.is_hidden() else (await badge.text_content() or "").strip()


def _forms(text: str) -> list[bytes]:
    escaped = json.dumps(text)[1:-1]
    return sorted({form.encode() for form in (text, escaped, text.split()[-1])})


async def test_chat_both_ways_arrives_once_and_leaves_nothing(tmp_path: Path) -> None:
    _need_chromium()
    wires = (Wire(), Wire())
    with _server(tmp_path) as server:
        links = server.create_session(THERAPIST, CLIENT_ID)
        async with launch_chromium(server.ns, tmp_path, contexts=2) as chromium:
            therapist, client = await _enter(
                *chromium.contexts, links["therapist_url"], links["client_url"], wires
            )
            for page in (therapist, client):
                await _connected_p2p(page)
                await page.get_by_test_id("chat-open").wait_for(state="visible", timeout=WAIT_MS)

            # Client to therapist: the therapist's drawer is closed, so it counts.
            await client.get_by_test_id("chat-open").click(timeout=WAIT_MS)
            note = await client.get_by_test_id("chat-note").text_content() or ""
            assert "nirgends gespeichert" in note
            await _send(client, HELLO)
            await _has_entry(client, HELLO)  # acknowledged by the therapist's browser
            await _until(
                therapist,
                "() => document.querySelector('[data-testid=chat-unread]').textContent === '1'",
                what="one unread message",
            )
            assert await therapist.get_by_test_id("chat-panel").is_hidden()
            await therapist.get_by_test_id("chat-open").click(timeout=WAIT_MS)
            await _has_entry(therapist, HELLO)
            assert await _unread(therapist) == ""

            # Therapist to client, with a link that becomes a safe anchor.
            await _send(therapist, f"{ANSWER} {LINK}")
            await _has_entry(client, f"{ANSWER} {LINK}")
            anchor = client.locator('[data-testid="chat-log"] a')
            assert await anchor.get_attribute("href") == LINK
            assert await anchor.get_attribute("rel") == "noopener noreferrer"

            # Too long: refused with a sentence, nothing sent.
            await _send(client, "x" * 1001)
            problem = await client.get_by_test_id("chat-problem").text_content() or ""
            assert "höchstens 1000 Zeichen" in problem

            # The client's page goes (a reload) and waits at the device check: the
            # therapist writes meanwhile; the message waits and arrives once when
            # the client is back with a fresh connection.
            await client.reload(timeout=WAIT_MS)
            await _until(
                therapist,
                "() => window.sprechzimmer.state !== 'in-call'",
                what="the therapist's page to see the client gone",
            )
            await _send(therapist, WHILE_AWAY)
            await _has_entry(therapist, WHILE_AWAY, delivered="false")
            # The reloaded page has no chat of the old page.
            assert HELLO not in (await client.content())
            await _join(client)
            await _connected_p2p(client)
            await _has_entry(therapist, WHILE_AWAY, delivered="true")
            await client.get_by_test_id("chat-open").click(timeout=WAIT_MS)
            await _has_entry(client, WHILE_AWAY)
            # Some time for a second copy to show up if the de-duplication failed.
            await client.wait_for_timeout(1500)
            texts = [e["text"] for e in await _entries(client)]
            assert texts.count(WHILE_AWAY) == 1, texts

            await _hang_up(therapist)
            for page in (therapist, client):
                await _status(page, "ended")
                html = await page.content()
                for text in MESSAGES:
                    assert text not in html, f"{text!r} left in the page"
                assert (
                    await page.evaluate(
                        "document.querySelectorAll('[data-testid=\"chat-log\"] li').length"
                    )
                    == 0
                )
                stored = await page.evaluate(
                    "JSON.stringify([{...localStorage}, {...sessionStorage}])"
                )
                assert not any(text in stored for text in MESSAGES)
        database = _dump_database(server.env["SPRECHZIMMER_DATABASE_URL"])
    log = server.log()

    # The search proves something: the database and log are real, the frames were seen.
    assert CLIENT_ID in database and "joined" in database
    assert "room:" in log
    frames = wires[0].sent + wires[0].received + wires[1].sent + wires[1].received
    assert any('"hello"' in f for f in frames)
    forms = [form for text in MESSAGES for form in _forms(text)]
    for form in forms:
        text = form.decode()
        assert text not in database, f"{text!r} in a table"
        assert text not in log, f"{text!r} in the log"
        assert not any(text in f for f in frames), f"{text!r} went through signaling"
    assert _files_holding(tmp_path, forms) == []
