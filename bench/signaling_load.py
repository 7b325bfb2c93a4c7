"""The load generator of ``bench.signaling``: WebSocket clients of both servers.

``bench.signaling`` starts one or more of these inside the benchmark's own
network namespace (``python -m bench.signaling_load``) and drives them with one
JSON command per line on stdin; each command gets one JSON line back on stdout,
and nothing else is ever written there (diagnostics go to stderr). It speaks
sprechzimmer's protocol (``docs/protocol.md``: ``hello``, ``admit``,
``candidate``, ``ping``, ``bye``) and PeerJS server's (``OPEN``,
``CANDIDATE`` with ``dst``, ``HEARTBEAT``), with the same message pattern for
both, so that the servers, not the clients, make the difference.

Commands (``cmd``) and their answers:

* ``open`` ``groups`` ``ping_interval``: connect idle groups (a sprechzimmer
  session: therapist and client, admitted; a PeerJS pair: two peers) and keep
  each socket alive the way its browser client would (sprechzimmer ``ping``
  every ``ping_interval`` s, PeerJS ``HEARTBEAT`` every 5 s) -> ``opened``,
  ``failed``, ``errors``.
* ``sample`` ``seconds``: record ping -> pong round trips of the idle
  sprechzimmer sockets for that long -> ``rtts_ms``, ``pings``, ``lost``,
  ``closed``.
* ``close_idle``: ``bye`` (sprechzimmer) and close every idle socket.
* ``relay_open`` ``pairs``: connect relay pairs (sprechzimmer: admitted).
* ``relay`` ``in_flight`` ``round_trips`` ``seconds``: each pair's first
  socket keeps ``in_flight`` candidates under way; the second echoes each one
  back; ends after ``round_trips`` per pair or ``seconds``, whichever comes
  first, then waits (bounded) for the ones still under way -> ``messages``
  (relayed through the server), ``rtts_ms``, ``lost``, ``seconds``.
* ``relay_close``, ``exit``.

Every wait is bounded, and the process ends by itself after ``--max-seconds``
or when stdin closes. Clients offer no compression and send no WebSocket-level
pings, so the only traffic is the protocol's own.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

CANDIDATE = {
    "candidate": "candidate:1 1 udp 2122260223 10.0.0.1 54321 typ host",
    "sdpMid": "0",
    "sdpMLineIndex": 0,
}
"""The ICE candidate both protocols carry (an address that is never contacted)."""
SPRECHZIMMER_CANDIDATE = json.dumps({"type": "candidate", **CANDIDATE}, separators=(",", ":"))
PING = '{"type":"ping"}'
BYE = '{"type":"bye"}'
PEERJS_HEARTBEAT_INTERVAL = 5.0
"""The PeerJS browser client's default ``pingInterval``."""
STEP_TIMEOUT = 15.0
"""Seconds any single handshake step (connect, welcome, admitted) may take."""
SAMPLE_GRACE = 1.0
"""Seconds after a heartbeat sample within which the pongs of its last pings count."""
DRAIN_TIMEOUT = 5.0
"""Seconds a relay run waits for its last messages after it stopped sending."""
CONNECT_CONCURRENCY = 50
"""Handshakes under way at once per load generator (stays under the listen backlog)."""
MAX_MESSAGE = 1 << 20


def peerjs_candidate(dst: str, connection_id: str) -> str:
    """A CANDIDATE as the PeerJS browser client sends it: the candidate inside ``payload``."""
    message = {
        "type": "CANDIDATE",
        "payload": {"candidate": CANDIDATE, "type": "media", "connectionId": connection_id},
        "dst": dst,
    }
    return json.dumps(message, separators=(",", ":"))


async def _open(endpoint: dict[str, Any]) -> ClientConnection:
    return await connect(
        endpoint["url"],
        origin=endpoint.get("origin"),
        compression=None,
        ping_interval=None,
        max_size=MAX_MESSAGE,
        open_timeout=STEP_TIMEOUT,
        close_timeout=2,
    )


async def _expect(ws: ClientConnection, kind: str, field_name: str = "type") -> dict[str, Any]:
    """Read messages until one of type ``kind`` arrives (bounded); return it."""
    async with asyncio.timeout(STEP_TIMEOUT):
        while True:
            message: dict[str, Any] = json.loads(await ws.recv())
            if message.get(field_name) == kind:
                return message
            if message.get("type") in ("error", "ERROR", "ID-TAKEN"):
                raise RuntimeError(f"server refused: {message}")


async def _close(ws: ClientConnection, farewell: str | None = None) -> None:
    with contextlib.suppress(ConnectionClosed, OSError, TimeoutError):
        if farewell is not None:
            await ws.send(farewell)
        await ws.close()


# ---------------------------------------------------------------------------
# Joining: the handshake of each protocol


@dataclass
class Sock:
    ws: ClientConnection
    kind: str
    """``sprechzimmer`` or ``peerjs``."""
    farewell: str | None = None
    """Sent before closing (``bye``)."""


async def _beat(ws: ClientConnection, interval: float) -> None:
    """Ping every ``interval`` s, as a browser does from ``welcome`` on, whatever else waits."""
    with contextlib.suppress(ConnectionClosed):
        while True:
            await asyncio.sleep(interval)
            await ws.send(PING)


async def join_sprechzimmer(therapist: dict[str, Any], client: dict[str, Any]) -> list[Sock]:
    """Therapist and client of one session, the client admitted (``docs/protocol.md``).

    Each socket pings from its ``welcome`` on (a busy server may take longer to
    admit than the 3 heartbeats after which it treats a silent member as gone).
    """
    interval = float(therapist["ping_interval"])
    beats: list[asyncio.Task[None]] = []
    opened: list[ClientConnection] = []
    try:
        t = await _open(therapist)
        opened.append(t)
        await t.send(json.dumps(therapist["hello"]))
        await _expect(t, "welcome")
        beats.append(asyncio.create_task(_beat(t, interval)))
        c = await _open(client)
        opened.append(c)
        await c.send(json.dumps(client["hello"]))
        await _expect(c, "welcome")
        beats.append(asyncio.create_task(_beat(c, interval)))
        await _expect(t, "knock")
        await t.send('{"type":"admit"}')
        await asyncio.gather(_expect(t, "admitted"), _expect(c, "admitted"))
    except BaseException:
        for ws in opened:
            await _close(ws)
        raise
    finally:
        for beat in beats:
            beat.cancel()
    # The client's bye ends its admission, so the server forgets the room at once.
    return [Sock(c, "sprechzimmer", BYE), Sock(t, "sprechzimmer", BYE)]


async def join_peerjs(peers: list[dict[str, Any]]) -> list[Sock]:
    socks: list[Sock] = []
    try:
        for peer in peers:
            ws = await _open(peer)
            socks.append(Sock(ws, "peerjs"))
            await _expect(ws, "OPEN")
    except BaseException:
        for s in socks:
            await _close(s.ws)
        raise
    return socks


async def join(group: dict[str, Any]) -> list[Sock]:
    if group["kind"] == "sprechzimmer":
        return await join_sprechzimmer(group["therapist"], group["client"])
    return await join_peerjs(group["peers"])


@dataclass
class Joined:
    failed: int
    errors: list[str]
    """The first few errors."""
    ms: list[float]
    """How long each successful join took (first connect to last ``admitted``/``OPEN``)."""

    def answer(self) -> dict[str, Any]:
        ordered = sorted(self.ms)
        return {
            "failed": self.failed,
            "errors": self.errors[:5],
            "join_ms_median": ordered[len(ordered) // 2] if ordered else None,
            "join_ms_max": ordered[-1] if ordered else None,
        }


async def join_all(
    groups: list[dict[str, Any]], opened: Callable[[dict[str, Any], list[Sock]], None]
) -> Joined:
    """Join every group, a bounded number at once, handing each one's sockets to ``opened``."""
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    result = Joined(0, [], [])

    async def one(group: dict[str, Any]) -> None:
        async with gate:
            start = time.perf_counter()
            try:
                socks = await join(group)
            except Exception as error:
                result.failed += 1
                result.errors.append(f"{type(error).__name__}: {error}")
                return
            result.ms.append((time.perf_counter() - start) * 1000)
        opened(group, socks)

    await asyncio.gather(*(one(g) for g in groups))
    return result


# ---------------------------------------------------------------------------
# Idle sockets with their heartbeats


@dataclass
class Idle:
    sock: Sock
    interval: float
    pending: deque[tuple[float, bool]] = field(default_factory=deque)
    """Pings awaiting their pong: (sent at, sent while sampling)."""
    task: asyncio.Task[None] | None = None
    closed_by_server: bool = False


class IdleSet:
    """Idle sockets that keep themselves alive; ping -> pong times on request."""

    def __init__(self) -> None:
        self.members: list[Idle] = []
        self.sampling = False
        self.rtts: list[float] = []
        self.pings = 0
        self.answered = 0

    def add(self, socks: list[Sock], ping_interval: float) -> None:
        for sock in socks:
            interval = ping_interval if sock.kind == "sprechzimmer" else PEERJS_HEARTBEAT_INTERVAL
            idle = Idle(sock, interval)
            idle.task = asyncio.create_task(self._keep_alive(idle))
            self.members.append(idle)

    async def _keep_alive(self, idle: Idle) -> None:
        ws = idle.sock.ws
        reader = asyncio.create_task(self._read(idle))
        beat = PING if idle.sock.kind == "sprechzimmer" else '{"type":"HEARTBEAT"}'
        try:
            # A random phase, as browsers that joined at different times have.
            await asyncio.sleep(random.uniform(0, idle.interval))
            while not reader.done():
                sampled = self.sampling
                idle.pending.append((time.perf_counter(), sampled))
                if sampled:
                    self.pings += 1
                await ws.send(beat)
                if idle.sock.kind == "peerjs":
                    idle.pending.clear()  # PeerJS never answers a heartbeat
                await asyncio.sleep(idle.interval)
        except ConnectionClosed:
            idle.closed_by_server = True
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader

    async def _read(self, idle: Idle) -> None:
        try:
            async for text in idle.sock.ws:
                if '"pong"' in text and idle.pending:
                    sent, sampled = idle.pending.popleft()
                    if sampled:
                        self.rtts.append((time.perf_counter() - sent) * 1000)
                        self.answered += 1
        except ConnectionClosed:
            pass
        idle.closed_by_server = True

    async def sample(self, seconds: float) -> dict[str, Any]:
        self.rtts, self.pings, self.answered = [], 0, 0
        self.sampling = True
        await asyncio.sleep(seconds)
        self.sampling = False
        # The pongs of the last pings count when they come within a moment.
        await asyncio.sleep(SAMPLE_GRACE)
        closed = sum(1 for m in self.members if m.closed_by_server)
        return {
            "rtts_ms": [round(r, 3) for r in self.rtts],
            "pings": self.pings,
            "lost": max(0, self.pings - self.answered),
            "closed": closed,
        }

    async def close(self) -> int:
        for m in self.members:
            if m.task is not None:
                m.task.cancel()
        await asyncio.gather(*(m.task for m in self.members if m.task), return_exceptions=True)
        # Farewells in joining order: each session's client says bye before its therapist.
        await asyncio.gather(*(_close(m.sock.ws, m.sock.farewell) for m in self.members))
        count = len(self.members)
        self.members.clear()
        return count


# ---------------------------------------------------------------------------
# Relay pairs


@dataclass
class Pair:
    a: Sock
    b: Sock
    a_says: str
    b_says: str
    rtts: list[float] = field(default_factory=list)


def _is_candidate(text: str | bytes) -> bool:
    # Both servers send text frames only; a candidate is the only message with this word.
    return isinstance(text, str) and ('"candidate"' in text or '"CANDIDATE"' in text)


async def _echo(pair: Pair, counter: list[int]) -> None:
    """The second socket sends every candidate it gets back to the first."""
    b, reply = pair.b.ws, pair.b_says
    async for text in b:
        if _is_candidate(text):
            await b.send(reply)
            counter[0] += 1


async def relay_pair(
    pair: Pair, in_flight: int, round_trips: int, deadline: float, record: bool
) -> tuple[int, int]:
    """One pair's run; -> (messages relayed, messages lost)."""
    a, say = pair.a.ws, pair.a_says
    echoed = [0]
    echo = asyncio.create_task(_echo(pair, echoed))
    under_way: deque[float] = deque()
    sent = 0
    lost = 0
    clock = time.perf_counter
    try:
        async with asyncio.timeout(max(0.0, deadline - time.monotonic()) + DRAIN_TIMEOUT):
            for _ in range(min(in_flight, round_trips)):
                under_way.append(clock())
                await a.send(say)
                sent += 1
            while under_way:
                text = await a.recv()
                if not _is_candidate(text):
                    continue
                rtt = clock() - under_way.popleft()
                if record:
                    pair.rtts.append(rtt * 1000)
                if sent < round_trips and time.monotonic() < deadline:
                    under_way.append(clock())
                    await a.send(say)
                    sent += 1
    except TimeoutError:
        lost = len(under_way)
    finally:
        echo.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
            await echo
    return sent + echoed[0], lost


class RelaySet:
    def __init__(self) -> None:
        self.pairs: list[Pair] = []

    async def open(self, pairs: list[dict[str, Any]]) -> Joined:
        def opened(spec: dict[str, Any], socks: list[Sock]) -> None:
            if spec["kind"] == "sprechzimmer":
                client, therapist = socks  # join_sprechzimmer's order
                a, b = therapist, client
                a_says = b_says = SPRECHZIMMER_CANDIDATE
            else:
                a, b = socks
                first, second = spec["peers"]
                a_says = peerjs_candidate(second["id"], f"mc_{first['id']}")
                b_says = peerjs_candidate(first["id"], f"mc_{first['id']}")
            self.pairs.append(Pair(a, b, a_says, b_says))

        return await join_all(pairs, opened)

    async def run(
        self, in_flight: int, round_trips: int, seconds: float, record: bool
    ) -> dict[str, Any]:
        for pair in self.pairs:
            pair.rtts.clear()
        start = time.monotonic()
        results = await asyncio.gather(
            *(relay_pair(p, in_flight, round_trips, start + seconds, record) for p in self.pairs)
        )
        elapsed = time.monotonic() - start
        rtts = [round(r, 3) for p in self.pairs for r in p.rtts]
        return {
            "messages": sum(m for m, _ in results),
            "lost": sum(lost for _, lost in results),
            "seconds": elapsed,
            "rtts_ms": rtts if record else [],
        }

    async def close(self) -> int:
        farewells = []
        for p in self.pairs:
            # sprechzimmer: the client (b) ends its admission first.
            farewells.append(_close(p.b.ws, p.b.farewell))
            farewells.append(_close(p.a.ws, p.a.farewell))
        await asyncio.gather(*farewells)
        count = len(self.pairs)
        self.pairs.clear()
        return count


# ---------------------------------------------------------------------------
# The command loop


class Generator:
    def __init__(self) -> None:
        self.idle = IdleSet()
        self.relay = RelaySet()

    async def handle(self, command: dict[str, Any]) -> dict[str, Any]:
        match command["cmd"]:
            case "open":
                interval = float(command["ping_interval"])
                before = len(self.idle.members)
                joined = await join_all(
                    command["groups"], lambda _group, socks: self.idle.add(socks, interval)
                )
                return {"opened": len(self.idle.members) - before, **joined.answer()}
            case "sample":
                return await self.idle.sample(float(command["seconds"]))
            case "close_idle":
                return {"closed": await self.idle.close()}
            case "relay_open":
                joined = await self.relay.open(command["pairs"])
                return {"pairs": len(self.relay.pairs), **joined.answer()}
            case "relay":
                return await self.relay.run(
                    int(command["in_flight"]),
                    int(command["round_trips"]),
                    float(command["seconds"]),
                    bool(command.get("record", True)),
                )
            case "relay_close":
                return {"closed": await self.relay.close()}
        raise ValueError(f"unknown command {command['cmd']!r}")

    async def close(self) -> None:
        await self.idle.close()
        await self.relay.close()


def _answer(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
    sys.stdout.flush()


async def serve_commands() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 26)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    generator = Generator()
    try:
        while line := await reader.readline():
            command = json.loads(line)
            if command["cmd"] == "exit":
                break
            try:
                _answer(await generator.handle(command))
            except Exception as error:  # reported to the coordinator, which stops the run
                _answer({"error": f"{type(error).__name__}: {error}"})
    finally:
        await generator.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.signaling_load", description=__doc__)
    parser.add_argument("--max-seconds", type=float, required=True, help="end by itself then")
    args = parser.parse_args(argv)
    try:
        import uvloop  # the same event loop as the server, where installed
    except ImportError:
        run: Callable[[Any], Any] = asyncio.run
    else:
        run = uvloop.run
    try:
        run(asyncio.wait_for(serve_commands(), args.max_seconds))
    except TimeoutError:
        print(f"load generator: stopped after {args.max_seconds:.0f} s", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
