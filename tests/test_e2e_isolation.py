"""The real server: no socket can slow down another session.

A client that is admitted and then never reads its socket (``StalledSocket``)
gets large relayed offers from its therapist until the server's writes to it
back up. Meanwhile another session's call pings and waits for its scheduled
key renewals, and a third session's therapist falls silent and must be timed
out. Everything of the other sessions stays on time, and the stalled socket is
let go within the send timeout.

Runs ``sprechzimmer serve`` on 127.0.0.1 (no namespace needed: no browser, no
WebRTC); every loop is bounded in count and time.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path

from tests.support.server import TIME_SCALE, loopback_server
from tests.support.wsclient import Member, StalledSocket, hello

HEARTBEAT_S = 1.0
REKEY_S = 2.0
SEND_TIMEOUT_S = 2.0
SILENT_AFTER_S = 3 * HEARTBEAT_S
"""The server's bound for a member that sends nothing (three heartbeat intervals)."""
SLACK_S = 1.5 * TIME_SCALE
"""What 'on time' allows beyond each bound on a loaded 2-core machine."""
OFFER = "v=0\r\n" + "a=x-padding:" + "x" * 50_000
OFFERS = 120
"""About 6 MB for the stalled socket: more than the TCP buffers hold."""


async def _admitted_pair(
    server_url: str, port: int, session: str, t_token: str, c_token: str
) -> tuple[Member, Member]:
    therapist = await Member.open(server_url, port)
    await therapist.send(hello(session, t_token))
    await therapist.expect("welcome", 5)
    client = await Member.open(server_url, port)
    await client.send(hello(session, c_token))
    await client.expect("waiting", 5)
    await therapist.expect("knock", 5)
    await therapist.send({"type": "admit"})
    await therapist.expect("admitted", 5)
    await client.expect("admitted", 5)
    return therapist, client


async def test_a_socket_that_never_reads_stalls_no_other_session(tmp_path: Path) -> None:
    env = {
        "SPRECHZIMMER_HEARTBEAT_INTERVAL": str(HEARTBEAT_S),
        "SPRECHZIMMER_REKEY_INTERVAL": str(REKEY_S),
        "SPRECHZIMMER_SEND_TIMEOUT": str(SEND_TIMEOUT_S),
        # This test is about a reader that stalls, not about a sender that floods.
        "SPRECHZIMMER_RATE_BURST": "1000",
    }
    with loopback_server(tmp_path, extra_env=env) as server:
        server.add_therapist()
        url, port = server.ws_url, server.port
        stall_session, stall_t, stall_c = server.invite(client_id="K-stall")
        call_session, call_t, call_c = server.invite(client_id="K-call")
        silent_session, silent_t, _ = server.invite(client_id="K-silent")

        # Session 1: an admitted client that never reads.
        therapist = await Member.open(url, port)
        await therapist.send(hello(stall_session, stall_t))
        await therapist.expect("welcome", 5)
        stalled = StalledSocket(url, port)
        stalled.send(hello(stall_session, stall_c))
        await therapist.expect("knock", 5)
        await therapist.send({"type": "admit"})
        await therapist.expect("admitted", 5)

        # Session 2: a running call, both sides polite.
        a, b = await _admitted_pair(url, port, call_session, call_t, call_c)
        # Session 3: a therapist who says hello and then nothing.
        silent = await Member.open(url, port)
        await silent.send(hello(silent_session, silent_t))
        await silent.expect("welcome", 5)
        silent_since = time.monotonic()

        async def flood() -> float:
            for _ in range(OFFERS):
                await therapist.send({"type": "offer", "sdp": OFFER})
            return time.monotonic()

        flood_task = asyncio.create_task(flood())
        started = time.monotonic()
        round_trips: list[float] = []
        rekeys: list[float] = []
        stalled_gone_at: float | None = None
        # Bounded: the stalled socket must be gone well within this.
        deadline = started + 6 * REKEY_S + SEND_TIMEOUT_S + 10 * TIME_SCALE
        while time.monotonic() < deadline and (stalled_gone_at is None or len(rekeys) < 4):
            sent = time.monotonic()
            await a.send({"type": "ping"})
            await b.send({"type": "ping"})
            await a.expect("pong", HEARTBEAT_S + SLACK_S)
            round_trips.append(time.monotonic() - sent)
            rekeys = [at for at, _ in a.arrivals("rekey")]
            gone = [at for at, m in therapist.arrivals("peer-left") if m["role"] == "client"]
            stalled_gone_at = gone[0] if gone else None
            await asyncio.sleep(0.2)
        flood_done = await asyncio.wait_for(flood_task, 30 * TIME_SCALE)

        # The silent therapist was timed out on time although session 1 stalled.
        code = await silent.wait_closed(SILENT_AFTER_S + 2 * HEARTBEAT_S + SLACK_S)
        assert code == 4408
        assert silent.closed_at is not None
        assert silent.closed_at - silent_since <= SILENT_AFTER_S + HEARTBEAT_S + SLACK_S

        # The running call's pongs and key renewals stayed on time.
        assert round_trips and max(round_trips) < SLACK_S, round_trips
        assert len(rekeys) >= 4, rekeys
        gaps = [later - earlier for earlier, later in itertools.pairwise(rekeys)]
        assert max(gaps) <= REKEY_S + SLACK_S, gaps

        # The stalled socket was let go within the send timeout of the backlog.
        assert stalled_gone_at is not None, "the stalled client was never let go"
        assert stalled_gone_at - started <= (flood_done - started) + SEND_TIMEOUT_S + SLACK_S
        await asyncio.sleep(0.5)
        assert stalled.reset_by_server(), "the stalled connection is still open"
        stalled.close()
        for member in (therapist, a, b):
            await member.close()
