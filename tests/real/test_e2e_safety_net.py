"""The client's safety net for a dropped line, in real Chromium (issue 15): a phone
number and a whereabouts typed at the room check reach the therapist's page only over
the browsers' own data channel, show there only when the client's page has been silent
for 5 s (here: all UDP in the test's namespace dropped for 8 s, signaling over TCP
stays) and go at a hang-up; nothing of them reaches the server. A chat message written
into the cut arrives once when the line is back.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness.chromium import launch_chromium
from harness.server import RunningServer, running_server

from tests.real.test_e2e_call import WAIT_MS, _connected_p2p, _hang_up, _need_chromium, _status
from tests.real.test_e2e_client_name import _files_holding
from tests.real.test_e2e_e2ee import Wire, _dump_database, _enter

pytestmark = [pytest.mark.netns, pytest.mark.browser]

THERAPIST = "dr-safety"
CLIENT_ID = "Pseudonym-S4FE"
PHONE = "0171 9988776655"
PLACE = "Gartenlaube Holunderweg 7"
CUT_S = 8
DURING_CUT = "Geschrieben im Funkloch"
NFT_TABLE = "sz_safety_cut"
# All UDP inside the namespace (the browsers' media and data channel over loopback)
# dropped; the WebSocket (TCP) to the server stays.
DROP_UDP = f"""table inet {NFT_TABLE} {{
    chain input {{ type filter hook input priority 0; policy accept; meta l4proto udp drop; }}
}}
"""


@contextlib.contextmanager
def _server(tmp_path: Path) -> Iterator[RunningServer]:
    with running_server(tmp_path, extra_env={"SPRECHZIMMER_LOG_LEVEL": "debug"}) as server:
        server.add_therapist(THERAPIST)
        yield server


@contextlib.contextmanager
def _udp_cut(server: RunningServer) -> Iterator[None]:
    server.ns.run(["nft", "-f", "-"], timeout=10, input=DROP_UDP, text=True, check=True)
    try:
        yield
    finally:
        server.ns.run(["nft", "delete", "table", "inet", NFT_TABLE], timeout=10, check=True)


async def test_the_safety_net_shows_after_a_cut_and_goes_at_a_hang_up(tmp_path: Path) -> None:
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
            # The fields are in the client's room check, not in the therapist's.
            await client.get_by_test_id("safety-phone").fill(PHONE)
            await client.get_by_test_id("safety-location").fill(PLACE)
            assert await therapist.get_by_test_id("safety-phone").count() == 0
            # Arrived, but not shown while the call runs.
            await client.wait_for_timeout(1000)
            net = therapist.get_by_test_id("safety-net")
            assert await net.is_hidden()

            with _udp_cut(server):
                # A chat message written into the cut arrives once when the line is back.
                await therapist.get_by_test_id("chat-open").click(timeout=WAIT_MS)
                await therapist.get_by_test_id("chat-input").fill(DURING_CUT)
                await therapist.get_by_test_id("chat-send").click(timeout=WAIT_MS)
                await net.wait_for(state="visible", timeout=CUT_S * 1000)
                text = await net.text_content() or ""
            assert f"Rufen Sie an: {PHONE}" in text
            assert f"Aufenthaltsort: {PLACE}" in text
            # The line back: hidden again.
            for page in (therapist, client):
                await _connected_p2p(page)
            await net.wait_for(state="hidden", timeout=WAIT_MS)
            await client.get_by_test_id("chat-open").click(timeout=WAIT_MS)
            await client.locator(".chat-text", has_text=DURING_CUT).wait_for(timeout=WAIT_MS)
            await client.wait_for_timeout(1000)
            assert await client.locator(".chat-text", has_text=DURING_CUT).count() == 1

            # The client hangs up as usual: the details go with it, and a silence
            # longer than the threshold shows nothing.
            await _hang_up(client)
            await _status(client, "ended")
            await _status(therapist, "waiting")
            await therapist.wait_for_timeout(6000)
            assert await net.is_hidden()
            for page in (therapist, client):
                html = await page.content()
                assert PHONE not in html and PLACE not in html
        database = _dump_database(server.env["SPRECHZIMMER_DATABASE_URL"])
    log = server.log()
    frames = wires[0].sent + wires[0].received + wires[1].sent + wires[1].received
    assert CLIENT_ID in database and "room:" in log and frames
    for text in (PHONE, PLACE, PLACE.split()[-2]):
        assert text not in database and text not in log
        assert not any(text in f for f in frames), f"{text!r} went through signaling"
    assert _files_holding(tmp_path, [PHONE.encode(), PLACE.encode()]) == []
