"""The real server: no socket can slow down another session.

A client that is admitted and then never reads its socket (``StalledSocket``)
gets large relayed offers from its therapist until the server's writes to it
back up. Meanwhile another session's call pings and waits for its scheduled
key renewals, and a third session's therapist falls silent and must be timed
out. Everything of the other sessions stays on time, and the stalled socket is
aborted (reset) within the send timeout, and its seat is free after the grace.

Runs ``sprechzimmer serve`` on 127.0.0.1 (no namespace needed: no browser, no
WebRTC); every loop is bounded in count and time.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
import time
from pathlib import Path

from harness.server import TIME_SCALE, loopback_server
from harness.wsclient import Member, StalledSocket, hello

HEARTBEAT_S = 1.0
REKEY_S = 2.0
SEND_TIMEOUT_S = 2.0
RESUME_GRACE_S = 5.0
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
        "SPRECHZIMMER_RESUME_GRACE": str(RESUME_GRACE_S),
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
            for member in (a, b, therapist):
                await member.send({"type": "ping"})
            await a.expect("pong", HEARTBEAT_S + SLACK_S)
            round_trips.append(time.monotonic() - sent)
            rekeys = [at for at, _ in a.arrivals("rekey")]
            if stalled_gone_at is None and stalled.reset_seen():
                stalled_gone_at = time.monotonic()
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

        # The stalled socket was reset within the send timeout of the backlog.
        assert stalled_gone_at is not None, "the stalled connection was never reset"
        assert stalled_gone_at - started <= (flood_done - started) + SEND_TIMEOUT_S + SLACK_S
        stalled.close()

        # Its seat waits for its browser as after any broken line, then it has left.
        async def keep_pinging() -> None:
            for _ in range(int(2 * RESUME_GRACE_S / HEARTBEAT_S) + 10):
                await therapist.send({"type": "ping"})
                await asyncio.sleep(HEARTBEAT_S / 2)

        pinger = asyncio.create_task(keep_pinging())
        left = await therapist.expect("peer-left", RESUME_GRACE_S + 2 * HEARTBEAT_S + SLACK_S)
        pinger.cancel()
        assert left == {"type": "peer-left", "role": "client", "reason": "disconnected", "seat": 1}
        for member in (therapist, a, b):
            await member.close()


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _read_response(sock: socket.socket) -> bytes:
    data = b""
    with contextlib.suppress(TimeoutError, ConnectionResetError):
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    return data


async def test_slow_headers_and_huge_bodies_cost_the_server_nothing(tmp_path: Path) -> None:
    header_timeout = 1.0
    env = {"SPRECHZIMMER_HEADER_TIMEOUT": str(header_timeout)}
    with loopback_server(tmp_path, extra_env=env) as server:
        # Slowloris: a request line, then headers that never end.
        slow = socket.create_connection(("127.0.0.1", server.port), timeout=10 * TIME_SCALE)
        slow.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        started = time.monotonic()
        with contextlib.suppress(ConnectionResetError):
            assert slow.recv(1) == b""  # the server hung up
        assert time.monotonic() - started <= header_timeout + SLACK_S
        slow.close()

        # A login body of 150 MiB is refused before it is read.
        rss_before = _rss_kib(server.process.pid)
        big = socket.create_connection(("127.0.0.1", server.port), timeout=10 * TIME_SCALE)
        big.sendall(
            b"POST /api/v1/login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 157286400\r\n\r\n"
        )
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            for _ in range(16):  # 16 MiB of it, as fast as the server takes it
                big.sendall(b"x" * (1 << 20))
        answer = _read_response(big)
        big.close()
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert _rss_kib(server.process.pid) - rss_before < 32 * 1024

        # Everybody else is served as before.
        ok = socket.create_connection(("127.0.0.1", server.port), timeout=10 * TIME_SCALE)
        ok.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        assert _read_response(ok).startswith(b"HTTP/1.1 200")
        ok.close()
