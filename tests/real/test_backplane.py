"""Several server processes, one Redis: any process serves any participant.

Real ``sprechzimmer serve`` processes on this machine's loopback, one private
Redis of the test's own (so the test may kill it), one database (PostgreSQL
when it answers, as a deployment of several processes would use). The clients
are plain signaling sockets: what matters here is where the room lives and
that nobody's seat, billing or messages are lost when a process or Redis goes.
The browsers' side of the same (frames that keep coming) is in
``test_e2e_processes.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from harness.netns import HostNetwork
from harness.redis import PrivateRedis, private_redis
from harness.server import TIME_SCALE, RunningServer, free_port, server_processes
from harness.wsclient import CLIENT_NAME, Member, hello

from ..helpers import token_of

WITHIN = 5 * TIME_SCALE
BACK_WITHIN = 2.0 * TIME_SCALE
"""The acceptance bound: a participant of a dead process is seated again this soon."""
SERVICE_RESTART = 1012


@dataclass
class Deployment:
    servers: list[RunningServer]
    redis: PrivateRedis
    origin_port: int

    def events(self, session: str) -> list[tuple[str, str]]:
        return [(e["role"], e["kind"]) for e in self.servers[0].events(session)]


@contextlib.contextmanager
def _deployment(tmp_path: Path, count: int = 2, **env: str) -> Iterator[Deployment]:
    host = HostNetwork()
    try:
        with private_redis(tmp_path, host, free_port()) as redis:
            extra = {"SPRECHZIMMER_REDIS_URL": redis.url, **env}
            with server_processes(tmp_path, count, extra_env=extra) as servers:
                servers[0].add_therapist()
                yield Deployment(servers, redis, servers[0].port)
    finally:
        host.stop_all()


@dataclass
class Seat:
    member: Member
    token: str
    ticket: str
    session: str


async def _seat(d: Deployment, server: RunningServer, session: str, token: str) -> Seat:
    member = await Member.open(server.ws_url, d.origin_port)
    await member.send(hello(session, token))
    welcome = await member.expect("welcome", WITHIN)
    return Seat(member, token, welcome["resume"], session)


async def _back(d: Deployment, server: RunningServer, seat: Seat) -> Seat:
    """The same browser comes back with its ticket (mid-call: epoch 1)."""
    member = await Member.open(server.ws_url, d.origin_port)
    await member.send(hello(seat.session, seat.token, resume=seat.ticket, epoch=1))
    welcome = await member.expect("welcome", WITHIN)
    assert welcome["resumed"] is True, welcome
    return Seat(member, seat.token, welcome["resume"], seat.session)


@contextlib.asynccontextmanager
async def _call(d: Deployment, t_at: int, c_at: int) -> AsyncIterator[tuple[Seat, Seat]]:
    """An admitted call: therapist on process ``t_at``, client on ``c_at``."""
    session, t_token, c_token = d.servers[0].invite()
    therapist = await _seat(d, d.servers[t_at], session, t_token)
    client = await _seat(d, d.servers[c_at], session, c_token)
    knock = await therapist.member.expect("knock", WITHIN)
    # The client's name came along, across processes when they differ (pub/sub, in flight).
    assert knock["name"] == CLIENT_NAME and knock["consent"] is True, knock
    await therapist.member.send({"type": "admit"})
    await client.member.expect("admitted", WITHIN)
    for seat in (therapist, client):
        await seat.member.send({"type": "media", "state": "connected"})
    await _relays(therapist, client)
    try:
        yield therapist, client
    finally:
        for seat in (therapist, client):
            await seat.member.close()


async def _relays(therapist: Seat, client: Seat) -> None:
    """An offer each way arrives, and each side's ping is answered."""
    await therapist.member.send({"type": "offer", "sdp": "v=0\r\nt"})
    assert (await client.member.expect("offer", WITHIN))["sdp"] == "v=0\r\nt"
    await client.member.send({"type": "answer", "sdp": "v=0\r\nc"})
    assert (await therapist.member.expect("answer", WITHIN))["sdp"] == "v=0\r\nc"
    for seat in (therapist, client):
        await seat.member.send({"type": "ping"})
        await seat.member.expect("pong", WITHIN)


def _only_the_call(events: list[tuple[str, str]]) -> None:
    """Billing saw one join, one admission and one media start: no outage on record."""
    assert sorted(events) == sorted(
        [
            ("therapist", "joined"),
            ("client", "joined"),
            ("client", "admitted"),
            ("therapist", "media_connected"),
            ("client", "media_connected"),
        ]
    ), events


async def test_members_on_two_processes_hold_one_call(tmp_path: Path) -> None:
    with _deployment(tmp_path, SPRECHZIMMER_REKEY_INTERVAL="2") as d:
        async with _call(d, 0, 1) as (therapist, client):
            # Key renewals reach both, whichever process their socket is on.
            first = [await s.member.expect("rekey", WITHIN) for s in (therapist, client)]
            assert first[0]["epoch"] == first[1]["epoch"]
            await therapist.member.send({"type": "leave"})
            await client.member.expect("peer-left", WITHIN)
        assert ("therapist", "left") in d.events(therapist.session)


async def test_a_dead_owner_moves_its_room_and_nobody_is_on_record_as_gone(
    tmp_path: Path,
) -> None:
    """SIGKILL of the process that owns the room (the therapist's): the client's
    socket on the other process is told to come back (1012), both come back there
    with their tickets, silently, within the bound; the call relays again."""
    with _deployment(tmp_path) as d:
        a, b = d.servers
        async with _call(d, 0, 1) as (therapist, client):
            a.kill(signal.SIGKILL)
            killed = time.monotonic()
            assert await client.member.wait_closed(WITHIN) == SERVICE_RESTART
            therapist = await _back(d, b, therapist)
            client = await _back(d, b, client)
            back = time.monotonic() - killed
            await _relays(therapist, client)
            print(f"both seated on the other process {back:.2f} s after the SIGKILL")
            assert back <= BACK_WITHIN
            _only_the_call(d.events(therapist.session))


async def test_a_dead_proxy_costs_its_member_only_a_reconnect(tmp_path: Path) -> None:
    with _deployment(tmp_path) as d:
        a, b = d.servers
        async with _call(d, 0, 1) as (therapist, client):
            b.kill(signal.SIGKILL)
            await client.member.wait_closed(WITHIN)
            client = await _back(d, a, client)
            await _relays(therapist, client)
            _only_the_call(d.events(therapist.session))


async def test_a_graceful_stop_sends_its_sockets_elsewhere(tmp_path: Path) -> None:
    """SIGTERM of the owner: its socket hears 1001, the other process's socket is
    told to come back, and both are seated on the process that stays."""
    with _deployment(tmp_path) as d:
        a, b = d.servers
        async with _call(d, 0, 1) as (therapist, client):
            a.kill(signal.SIGTERM)
            assert await therapist.member.wait_closed(WITHIN) == 1001
            assert await client.member.wait_closed(WITHIN) in (1001, SERVICE_RESTART)
            therapist = await _back(d, b, therapist)
            client = await _back(d, b, client)
            await _relays(therapist, client)
            _only_the_call(d.events(therapist.session))


async def test_a_redis_restart_ends_no_call(tmp_path: Path) -> None:
    """Redis killed mid-call: the room goes on in its owner (its own member keeps
    its heartbeat); the proxied member is told to come back and is refused with
    1013 while Redis is away; once Redis is back it is seated again, silently."""
    with _deployment(tmp_path) as d:
        b = d.servers[1]
        async with _call(d, 0, 1) as (therapist, client):
            d.redis.kill()
            assert await client.member.wait_closed(WITHIN) == SERVICE_RESTART
            await therapist.member.send({"type": "ping"})
            await therapist.member.expect("pong", WITHIN)
            away = await Member.open(b.ws_url, d.origin_port)
            await away.send(hello(client.session, client.token, resume=client.ticket, epoch=1))
            assert (await away.expect("error", WITHIN))["code"] == "server-busy"
            assert await away.wait_closed(WITHIN) == 1013

            d.redis.start()
            restarted = time.monotonic()
            while True:  # the browser's reconnect: bounded, every 0.25 s
                again = await Member.open(b.ws_url, d.origin_port)
                await again.send(hello(client.session, client.token, resume=client.ticket, epoch=1))
                _, first = await asyncio.wait_for(again.inbox.get(), WITHIN)
                if first["type"] == "welcome":
                    assert first["resumed"] is True, first
                    client = Seat(again, client.token, first["resume"], client.session)
                    break
                assert first["code"] == "server-busy", first
                await again.close()
                assert time.monotonic() - restarted < WITHIN, "not back after Redis"
                await asyncio.sleep(0.25)
            print(f"seated again {time.monotonic() - restarted:.2f} s after Redis started")
            await _relays(therapist, client)
            _only_the_call(d.events(therapist.session))


@pytest.mark.parametrize("role_at", [(0, 1), (1, 0)])
async def test_the_dashboard_of_any_process_sees_the_waiting_client(
    tmp_path: Path, role_at: tuple[int, int]
) -> None:
    import httpx2 as httpx

    with _deployment(tmp_path) as d:
        session, t_token, c_token = d.servers[0].invite()
        therapist = await _seat(d, d.servers[role_at[0]], session, t_token)
        client = await _seat(d, d.servers[role_at[1]], session, c_token)
        await therapist.member.expect("knock", WITHIN)
        for server in d.servers:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as http:
                login = await http.post(
                    "/api/v1/login",
                    json={"code": "dr-test", "password": "correct horse battery"},
                    headers={"Origin": f"http://127.0.0.1:{d.origin_port}"},
                )
                assert login.status_code == 200, login.text
                listed = (await http.get("/api/v1/sessions")).json()["sessions"]
                mine = next(s for s in listed if s["session_id"] == session)
                assert mine["waiting"] is True, (server.port, mine)
        for seat in (therapist, client):
            await seat.member.close()


async def test_redis_holds_only_expiring_leases_and_statuses(tmp_path: Path) -> None:
    """What docs/privacy.md promises of Redis: two kinds of keys, each expiring
    within 16 s, with no client ID, client's name, token or address in a key or a value."""
    with _deployment(tmp_path) as d:
        async with _call(d, 0, 1) as (therapist, client):
            keys = d.redis.cli("--scan").split()
            assert sorted(keys) == sorted(
                [f"sz:room:{therapist.session}", f"sz:status:{therapist.session}"]
            ), keys
            assert d.redis.cli("GET", f"sz:status:{therapist.session}").strip() == "c"
            owner = d.redis.cli("GET", f"sz:room:{therapist.session}").strip()
            assert len(owner) == 12 and int(owner, 16) >= 0
            await asyncio.sleep(3)  # past a renewal
            for key in keys:
                ttl = int(d.redis.cli("PTTL", key))
                assert 0 < ttl <= 16_000, (key, ttl)
            everything = " ".join(keys + [d.redis.cli("GET", k) for k in keys])
            for secret in ("K-1", CLIENT_NAME, therapist.token, client.token, "127.0.0.1"):
                assert secret not in everything


async def test_a_group_on_two_processes_is_routed_by_seat_and_survives_its_owner(
    tmp_path: Path,
) -> None:
    """Issue 16: a group of the therapist and two clients, spread over two processes.
    Each knock names its seat, messages reach the seat they name across processes,
    and when the process that owns the room is killed every member takes its own
    seat back on the other one, silently; the routing by seat holds there too."""
    with _deployment(tmp_path, SPRECHZIMMER_GROUP_SESSIONS="true") as d:
        a, b = d.servers
        created = json.loads(
            a.admin(
                "session", "create", "--therapist", "dr-test", "--client-id", "G",
                "--seats", "2", "--json",
            )
        )  # fmt: skip
        session, t_token = token_of(created["therapist_url"])
        tokens = [token_of(url)[1] for url in created["client_urls"]]
        therapist = await _seat(d, a, session, t_token)
        clients = [await _seat(d, (b, a)[i], session, tokens[i]) for i in range(2)]
        knocks = [await therapist.member.expect("knock", WITHIN) for _ in range(2)]
        assert sorted(k["seat"] for k in knocks) == [1, 2]
        await therapist.member.send({"type": "admit"})
        for seat, member in enumerate((therapist, *clients)):
            admitted = await member.member.expect("admitted", WITHIN)
            assert sorted(p["seat"] for p in admitted["peers"]) == [
                s for s in range(3) if s != seat
            ]
            assert admitted["media_path"] == "mesh"

        async def routed() -> None:
            # Seat 1 (on b) to seat 2 (on a) and back.
            for source, to in ((1, 2), (2, 1)):
                offer = {"type": "offer", "sdp": f"v=0\r\n{source}", "to": to}
                await clients[source - 1].member.send(offer)
                got = await clients[to - 1].member.expect("offer", WITHIN)
                assert (got["sdp"], got["from_seat"]) == (f"v=0\r\n{source}", source)
            await therapist.member.send({"type": "offer", "sdp": "v=0\r\nt", "to": 1})
            got = await clients[0].member.expect("offer", WITHIN)
            assert (got["sdp"], got["from"], got["from_seat"]) == ("v=0\r\nt", "therapist", 0)

        await routed()
        a.kill(signal.SIGKILL)
        assert await clients[0].member.wait_closed(WITHIN) == SERVICE_RESTART
        therapist = await _back(d, b, therapist)
        clients = [await _back(d, b, c) for c in clients]
        await routed()
        joins = [kind for role, kind in d.events(session) if kind == "joined"]
        assert len(joins) == 3  # nobody rejoined on record: each seat was taken back
        for member in (therapist, *clients):
            await member.member.close()
