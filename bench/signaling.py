"""Signaling benchmark: sprechzimmer's signaling server against PeerJS server 1.0.2.

Run from the repository root (needs root for the network namespace, Node and
``make install``, which brings PeerJS server, npm package ``peer``, as a
devDependency)::

    .venv/bin/python -m bench.signaling [--json] [--profile] [--generators N]

One run measures both servers, one after the other, under the same load from
the same load generators (``bench/signaling_load.py``, Python processes on
``websockets`` and uvloop), all inside one private network namespace that is
removed at the end:

* **relay**: ``--pairs`` (50) pairs of WebSocket clients. In each pair the
  first socket keeps ``--in-flight`` (4) ICE candidates under way to the
  second, which sends each one straight back. sprechzimmer: a pair is the
  therapist and the admitted client of one session (``hello``, ``admit``,
  then ``candidate`` messages); PeerJS: two peers exchanging ``CANDIDATE``
  messages with ``dst``. After a warm-up, the measured run lasts
  ``--relay-seconds`` or ``--round-trips`` per pair, whichever ends first.
  Figures: server CPU per relayed message (utime + stime of the server's
  processes from ``/proc/PID/stat`` over the measured run, divided by the
  messages relayed), round trip p50/p99 (first socket -> server -> second ->
  server -> first, load generator included) and messages per second (limited
  by the load generators, so not the server's capacity).
* **idle memory**: ``--idle`` (2,000) idle authenticated connections.
  sprechzimmer: 1,000 sessions with therapist and client, admitted, each
  socket pinging every ``--heartbeat-interval`` s as the browsers do (else
  the server would time them out); PeerJS: 1,000 pairs of peers sending the
  PeerJS client's ``HEARTBEAT`` every 5 s. KiB per connection = (VmRSS with
  the connections - VmRSS before) / connections, from ``/proc/PID/status``,
  after a warm-up of 100 connections opened and closed again.
* **heartbeat** (sprechzimmer only, PeerJS never answers a heartbeat):
  ``--rooms`` (2,000) concurrent admitted sessions, therapist and client each
  (4,000 sockets, the idle ones above and as many more), on one server process
  whose ``SPRECHZIMMER_HEARTBEAT_INTERVAL`` is ``--heartbeat-interval``
  (2 s); every socket pings on that interval, and the ping -> pong round trip
  is sampled for ``--heartbeat-seconds``.

The table puts the figures side by side with their ratio (sprechzimmer /
PeerJS) and the targets of the issue; the targets are printed, never
asserted. It also shows the server CPU that opening the idle connections took
(a sprechzimmer session join: two handshakes, two ``hello`` checked against
the database, ``admit``, billing events). ``--phases relay`` (or ``idle``,
``heartbeat``, comma-separated) runs only some phases. ``--profile`` runs
py-spy (``.venv/bin/pip install py-spy``) on the sprechzimmer server during
the measured relay run and prints the hottest functions (that run's CPU
figure is then disturbed by the sampling and says so).

Both servers run the way they run in production: sprechzimmer as
``sprechzimmer serve`` (uvicorn for HTTP, /ws on its own protocol, no permessage-deflate;
whether uvloop and httptools are in use is read from the server process's
``/proc/PID/maps`` and printed), PeerJS server through
``bench/peerjs_server.js`` on its defaults.

Every load loop is bounded in count and time and stops by itself, the whole
run by ``--max-seconds``; all traffic stays on the namespace's loopback.

``--processes 2`` adds a third run: two ``sprechzimmer serve`` processes of one
deployment (``harness/server.py``'s ``server_processes``: one database,
PostgreSQL over its unix socket where reachable, else SQLite; one secret key;
one public origin) sharing Redis (``SPRECHZIMMER_REDIS_URL``). Without
``--redis URL`` a private redis-server runs inside the namespace (no
snapshots, its own port; the machine's Redis is not reachable from there); a
given URL must be reachable from inside the namespace (its 127.0.0.1 is the
namespace's own loopback: a ``unix://`` socket works), and that Redis's CPU and
memory are then not measured. The sockets are dealt out to the processes
round-robin, so with two processes every session's therapist is on process 1
(which then owns the room) and its client on process 2 (proxied to the owner
over Redis pub/sub): every relayed candidate crosses Redis. The same phases
run against it, and the table puts it between the one-process run (then on
the same kind of database) and PeerJS: server CPU per message summed over the
sprechzimmer processes, per process, Redis's own (``/proc/PID/stat`` of
redis-server) and the sum of both; "Redis adds" is that sum minus the
one-process CPU per message. Idle memory is the RSS growth summed over the
processes, Redis's growth beside it. ``--logs DIR`` keeps the servers' logs
(and redis-server's), which otherwise go with the temporary directory; the
table counts their warnings and errors.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol
from unittest import mock
from urllib.parse import parse_qs, urlsplit, urlunsplit

from harness.netns import STOP_TIMEOUT, Netns, netns
from harness.redis import REDIS_SERVER, PrivateRedis, private_redis
from harness.server import (
    TIME_SCALE,
    RunningServer,
    running_server,
    server_processes,
    stop_process,
    wait_for_port,
)

from bench.runner import Failed, emit, quantile, run_bounded

ROOT = Path(__file__).resolve().parent.parent
PEERJS_LAUNCHER = Path(__file__).resolve().parent / "peerjs_server.js"
PEERJS_PACKAGE = ROOT / "node_modules" / "peer" / "package.json"
PEERJS_VERSION = "1.0.2"
SPRECHZIMMER_PORT = 8765
"""The one process; with ``--processes N`` those N listen on the ports after it."""
PEERJS_PORT = 9000
REDIS_PORT = 6380
"""The private redis-server's, on the namespace's own loopback."""
THERAPIST = "bench"

PHASES = ("idle", "heartbeat", "relay")
"""In this order: idle memory of both, sprechzimmer's heartbeat, then the relay of both."""
TARGETS = {"cpu_ratio": 1.3, "memory_ratio": 2.0, "heartbeat_p99_ms": 50.0}
"""From the issue; printed next to the figures, never asserted."""

WARMUP_GROUPS = 50
"""Groups (two sockets each) opened and closed before the memory baseline."""
WARMUP_ROUND_TRIPS = 100
"""Round trips per pair before the measured relay run."""
SETTLE_SECONDS = 3.0
"""Pause between opening the idle connections and reading the server's RSS."""
QUIET_CPU_SHARE = 0.05
"""A server is quiet when it used less than this share of a core over 0.5 s."""
QUIET_MAX_SECONDS = 15.0
COMMAND_TIMEOUT = 120.0 * TIME_SCALE
"""Seconds any one load generator command may take."""
PROFILE_RATE = 50
"""py-spy samples per second (see ``Profiler.start``)."""
CLK_TCK = os.sysconf("SC_CLK_TCK")


class BenchError(RuntimeError):
    pass


# ---------------------------------------------------------------------------
# The servers' processes, seen through /proc


def _process_tree(pid: int) -> list[int]:
    """``pid`` and every process below it (``ip netns exec`` execs, but check)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo += children.get(current, [])
    return tree


@dataclass
class ServerProcess:
    """One server process (with any children it has) whose CPU and memory are read."""

    name: str
    pid: int

    def pids(self) -> list[int]:
        return _process_tree(self.pid)

    def cpu_split(self) -> tuple[float, float]:
        """(user, system) CPU seconds so far."""
        user = system = 0
        for pid in self.pids():
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                user += int(fields[11])  # utime
                system += int(fields[12])  # stime
        return user / CLK_TCK, system / CLK_TCK

    def cpu_seconds(self) -> float:
        return sum(self.cpu_split())

    def rss_kib(self) -> int:
        total = 0
        for pid in self.pids():
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        return total

    def loaded(self, *names: str) -> dict[str, bool]:
        """Whether a shared object whose path contains each name is mapped."""
        try:
            maps = Path(f"/proc/{self.pid}/maps").read_text()
        except OSError:
            return dict.fromkeys(names, False)
        return {name: f"/{name}/" in maps for name in names}


def cpu_of(processes: Sequence[ServerProcess]) -> float:
    return sum(p.cpu_seconds() for p in processes)


def system_cpu_of(processes: Sequence[ServerProcess]) -> float:
    return sum(p.cpu_split()[1] for p in processes)


def rss_of(processes: Sequence[ServerProcess]) -> int:
    return sum(p.rss_kib() for p in processes)


async def wait_quiet(processes: Sequence[ServerProcess]) -> None:
    """Wait (bounded) until the servers have finished what the last phase left them."""
    end = time.monotonic() + QUIET_MAX_SECONDS
    while time.monotonic() < end:
        before = cpu_of(processes)
        await asyncio.sleep(0.5)
        if cpu_of(processes) - before < QUIET_CPU_SHARE * 0.5:
            return


def raise_fd_limit(needed: int) -> None:
    """Let this process and its children (servers, load generators) open ``needed`` files."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise BenchError(f"the hard limit on open files is {hard}, the benchmark needs {needed}")
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# ---------------------------------------------------------------------------
# Load generator processes


@dataclass
class LoadGenerator:
    process: asyncio.subprocess.Process
    process_info: ServerProcess

    async def call(self, command: dict[str, Any]) -> Any:
        """Send one command, wait (at most ``COMMAND_TIMEOUT``) for its answer."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(command).encode() + b"\n")
        await self.process.stdin.drain()
        try:
            line = await asyncio.wait_for(self.process.stdout.readline(), COMMAND_TIMEOUT)
        except TimeoutError:
            what = f"load generator: {command['cmd']} took over {COMMAND_TIMEOUT:.0f} s"
            raise BenchError(what) from None
        if not line:
            raise BenchError(f"load generator ended during {command['cmd']} (see its log)")
        answer = json.loads(line)
        if "error" in answer:
            raise BenchError(f"load generator: {command['cmd']}: {answer['error']}")
        return answer


class LoadGenerators:
    """``count`` load generator processes inside ``ns``; commands go to all at once."""

    def __init__(self, members: list[LoadGenerator]) -> None:
        self.members = members

    @property
    def processes(self) -> list[ServerProcess]:
        return [m.process_info for m in self.members]

    async def each(self, commands: Sequence[dict[str, Any]]) -> list[Any]:
        """One command per load generator, all under way at the same time."""
        return list(
            await asyncio.gather(*(m.call(c) for m, c in zip(self.members, commands, strict=True)))
        )

    async def all(self, command: dict[str, Any]) -> list[Any]:
        return await self.each([command] * len(self.members))

    def split(self, items: Sequence[Any]) -> list[list[Any]]:
        """``items`` dealt out to the load generators in turn."""
        n = len(self.members)
        return [list(items[i::n]) for i in range(n)]


@contextlib.asynccontextmanager
async def load_generators(
    ns: Netns, count: int, max_seconds: float, log_dir: Path
) -> AsyncIterator[LoadGenerators]:
    members: list[LoadGenerator] = []
    logs = []
    try:
        for i in range(count):
            log = (log_dir / f"load-{i}.log").open("w")
            logs.append(log)
            argv = [sys.executable, "-m", "bench.signaling_load", "--max-seconds", f"{max_seconds}"]
            process = await asyncio.create_subprocess_exec(
                *ns.exec_argv(argv),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                cwd=ROOT,
                limit=1 << 26,
                start_new_session=True,
            )
            members.append(LoadGenerator(process, ServerProcess(f"load-{i}", process.pid)))
        yield LoadGenerators(members)
    finally:
        for m in members:
            with contextlib.suppress(Exception):
                assert m.process.stdin is not None
                m.process.stdin.write(b'{"cmd":"exit"}\n')
                m.process.stdin.close()
        for m in members:
            try:
                await asyncio.wait_for(m.process.wait(), STOP_TIMEOUT * 2)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(m.process.pid, signal.SIGKILL)
                await m.process.wait()
        for log in logs:
            log.close()


# ---------------------------------------------------------------------------
# The two servers as the load generators see them


class Side(Protocol):
    """What the phases need from a server under test."""

    name: str
    processes: list[ServerProcess]
    backplane: list[ServerProcess]
    """Redis, measured apart from ``processes`` (empty: none, or one not measured)."""
    shared: bool
    """Whether the server processes share Redis (measured or not)."""

    async def groups(self, count: int) -> list[dict[str, Any]]:
        """``count`` fresh groups of two sockets (a session, or a pair of peers)."""
        ...


@dataclass
class SprechzimmerSide:
    """One or more ``sprechzimmer serve`` processes sharing one database.

    The sockets are dealt out to ``urls`` round-robin, each session's therapist
    first, then its client: with two processes every therapist is on the first
    (which owns the room, as the first to join) and every client on the second
    (proxied to the owner over the backplane), so the two ends of every pair
    are on different processes; with one, both are on it.
    """

    urls: list[str]
    origin: str
    database_url: str
    data_dir: str
    processes: list[ServerProcess]
    ping_interval: float
    """The sockets' heartbeat, from ``welcome`` on (the server's heartbeat interval)."""
    name: str = "sprechzimmer"
    secret_key: str = ""
    backplane: list[ServerProcess] = field(default_factory=list)
    shared: bool = False
    _made: int = 0

    def url_of(self, session: int, role: int) -> str:
        """The server URL of a session's therapist (role 0) or client (role 1)."""
        return self.urls[(2 * session + role) % len(self.urls)]

    def _create_sessions(self, count: int) -> list[dict[str, str]]:
        from sprechzimmer.config import load_settings
        from sprechzimmer.sessions import create_session
        from sprechzimmer.store import Store

        keys = {"secret_key": self.secret_key} if self.secret_key else {}
        settings = load_settings(
            database_url=self.database_url, data_dir=self.data_dir, public_url=self.origin, **keys
        )
        store = Store.from_url(self.database_url)
        try:
            therapist = store.therapist_by_code(THERAPIST)
            if therapist is None:
                raise BenchError(f"no therapist {THERAPIST!r} in the benchmark's database")
            now = dt.datetime.now(dt.UTC)
            sessions = []
            for i in range(count):
                invite = create_session(store, settings, therapist.id, f"B-{self._made + i}", now)
                sessions.append({"therapist": invite.therapist_url, "client": invite.client_url})
            self._made += count
            return sessions
        finally:
            store.close()

    async def groups(self, count: int) -> list[dict[str, Any]]:
        first = self._made
        sessions = await asyncio.to_thread(self._create_sessions, count)
        groups = []
        for i, invite in enumerate(sessions, start=first):
            ends = {}
            for k, role in enumerate(("therapist", "client")):
                fragment = parse_qs(invite[role].split("#", 1)[1])
                hello = {
                    "type": "hello",
                    "session": fragment["s"][0],
                    "token": fragment["t"][0],
                    "role": role,
                    "protocol": 1,
                }
                if role == "client":
                    hello |= {"name": f"Klientin {i}", "consent": True}
                ends[role] = {
                    "url": self.url_of(i, k),
                    "origin": self.origin,
                    "hello": hello,
                    "ping_interval": self.ping_interval,
                }
            groups.append({"kind": "sprechzimmer", **ends})
        return groups


@dataclass
class PeerJsSide:
    url: str
    processes: list[ServerProcess]
    name: str = "peerjs"
    backplane: list[ServerProcess] = field(default_factory=list)
    shared: bool = False
    _made: int = 0

    async def groups(self, count: int) -> list[dict[str, Any]]:
        groups = []
        for i in range(self._made, self._made + count):
            peers = [
                {"url": f"{self.url}?key=peerjs&id={end}{i}&token=t{i}", "id": f"{end}{i}"}
                for end in ("a", "b")
            ]
            groups.append({"kind": "peerjs", "peers": peers})
        self._made += count
        return groups


# ---------------------------------------------------------------------------
# Figures


@dataclass
class Relay:
    pairs: int
    in_flight: int
    messages: int
    lost: int
    seconds: float
    server_cpu_s: float
    server_system_cpu_s: float
    """The kernel's part of ``server_cpu_s`` (socket reads and writes, loopback TCP)."""
    load_cpu_s: float
    rtt_samples: int
    rtt_p50_ms: float
    rtt_p99_ms: float
    profiled: bool
    process_cpu_s: list[float] = field(default_factory=list)
    """Each server process's part of ``server_cpu_s``, in the side's order."""
    shared: bool = False
    """Whether the server processes shared Redis."""
    backplane_cpu_s: float | None = None
    """Redis's CPU over the same run (None: no Redis, or one not measured)."""

    def _per_message(self, cpu_s: float | None) -> float | None:
        if cpu_s is None:
            return None
        return cpu_s * 1e6 / self.messages if self.messages else float("nan")

    @property
    def cpu_us_per_message(self) -> float:
        return self.server_cpu_s * 1e6 / self.messages if self.messages else float("nan")

    @property
    def process_us_per_message(self) -> list[float | None]:
        return [self._per_message(cpu) for cpu in self.process_cpu_s]

    @property
    def backplane_us_per_message(self) -> float | None:
        return self._per_message(self.backplane_cpu_s)

    @property
    def total_us_per_message(self) -> float | None:
        """Server and Redis CPU per message (None where Redis was not measured)."""
        if not self.shared:
            return self.cpu_us_per_message
        if self.backplane_cpu_s is None:
            return None
        return self._per_message(self.server_cpu_s + self.backplane_cpu_s)

    @property
    def messages_per_s(self) -> float:
        return self.messages / self.seconds if self.seconds else float("nan")


@dataclass
class Memory:
    connections: int
    rss_before_kib: int
    rss_after_kib: int
    join_ms_max: float
    open_seconds: float
    open_cpu_s: float
    """Server CPU while the connections were opened (handshakes, authentication, joins)."""
    process_rss_kib: list[tuple[int, int]] = field(default_factory=list)
    """Each server process's VmRSS (before, after), in the side's order."""
    backplane_rss_before_kib: int | None = None
    """Redis's VmRSS, where measured."""
    backplane_rss_after_kib: int | None = None
    backplane_open_cpu_s: float | None = None
    """Redis's CPU while the connections were opened."""

    @property
    def kib_per_connection(self) -> float:
        return (self.rss_after_kib - self.rss_before_kib) / self.connections

    @property
    def join_cpu_ms(self) -> float:
        """Server CPU per two sockets opened: one sprechzimmer session, or two PeerJS peers."""
        return self.open_cpu_s * 2000 / self.connections

    @property
    def backplane_kib_per_connection(self) -> float | None:
        if self.backplane_rss_before_kib is None or self.backplane_rss_after_kib is None:
            return None
        return (self.backplane_rss_after_kib - self.backplane_rss_before_kib) / self.connections

    @property
    def backplane_join_cpu_ms(self) -> float | None:
        if self.backplane_open_cpu_s is None:
            return None
        return self.backplane_open_cpu_s * 2000 / self.connections


@dataclass
class Heartbeat:
    rooms: int
    sockets: int
    interval_s: float
    seconds: float
    pings: int
    lost: int
    closed: int
    server_cpu_s: float
    rtt_p50_ms: float
    rtt_p99_ms: float
    rtt_max_ms: float
    backplane_cpu_s: float | None = None


@dataclass
class ServerResults:
    name: str
    relay: Relay | None = None
    memory: Memory | None = None
    heartbeat: Heartbeat | None = None


@dataclass
class Results:
    generators: int
    sprechzimmer: ServerResults
    peerjs: ServerResults
    processes: ServerResults | None = None
    """The ``--processes N`` run (N > 1), sharing Redis."""
    deployment: dict[str, Any] = field(default_factory=dict)
    """With ``--processes N``: processes, database, Redis, what the servers' logs said."""
    about: dict[str, Any] = field(default_factory=dict)
    """Versions, and whether the sprechzimmer server loaded uvloop and httptools."""
    profile: list[tuple[str, float, float]] | None = None
    """(function, self share, inclusive share) of the sprechzimmer server's samples."""
    profile_samples: int = 0


# ---------------------------------------------------------------------------
# The phases


def _say(progress: bool, text: str) -> None:
    if progress:
        print(text, file=sys.stderr, flush=True)


@dataclass
class Opened:
    sockets: int
    join_ms_median: float
    """Of one load generator's joins (the first one's), for orientation."""
    join_ms_max: float
    """Over all joins: first connect to the last ``admitted`` (sprechzimmer) or ``OPEN``."""
    seconds: float
    server_cpu_s: float
    backplane_cpu_s: float | None


def _backplane_cpu(side: Side) -> float | None:
    """Redis's CPU seconds so far, where it is measured."""
    return cpu_of(side.backplane) if side.backplane else None


def _since(now: float | None, before: float | None) -> float | None:
    return None if now is None or before is None else now - before


def _everything(side: Side) -> list[ServerProcess]:
    """The server's processes and its Redis: all that must be quiet before a measurement."""
    return [*side.processes, *side.backplane]


def _joined(side: Side, answers: list[Any], groups: int) -> None:
    failed = sum(a["failed"] for a in answers)
    if failed:
        errors = [e for a in answers for e in a["errors"]]
        raise BenchError(f"{side.name}: {failed} of {groups} groups failed to join: {errors[:3]}")


async def _open_idle(side: Side, gens: LoadGenerators, groups: int, ping_interval: float) -> Opened:
    parts = gens.split(await side.groups(groups))
    started, cpu_before = time.monotonic(), cpu_of(side.processes)
    backplane_before = _backplane_cpu(side)
    answers = await gens.each(
        [{"cmd": "open", "groups": part, "ping_interval": ping_interval} for part in parts]
    )
    _joined(side, answers, groups)
    return Opened(
        sockets=sum(a["opened"] for a in answers),
        join_ms_median=answers[0]["join_ms_median"],
        join_ms_max=max(a["join_ms_max"] for a in answers),
        seconds=time.monotonic() - started,
        server_cpu_s=cpu_of(side.processes) - cpu_before,
        backplane_cpu_s=_since(_backplane_cpu(side), backplane_before),
    )


async def memory_phase(
    side: Side, gens: LoadGenerators, connections: int, ping_interval: float, progress: bool
) -> Memory:
    """Open ``connections`` idle sockets and leave them open; -> the server's RSS growth."""
    await _open_idle(side, gens, WARMUP_GROUPS, ping_interval)
    await gens.all({"cmd": "close_idle"})
    await wait_quiet(_everything(side))
    each_before = [p.rss_kib() for p in side.processes]
    backplane_before = rss_of(side.backplane) if side.backplane else None
    opened = await _open_idle(side, gens, connections // 2, ping_interval)
    await asyncio.sleep(SETTLE_SECONDS)
    each_after = [p.rss_kib() for p in side.processes]
    backplane_after = rss_of(side.backplane) if side.backplane else None
    memory = Memory(
        opened.sockets,
        sum(each_before),
        sum(each_after),
        opened.join_ms_max,
        opened.seconds,
        opened.server_cpu_s,
        process_rss_kib=list(zip(each_before, each_after, strict=True)),
        backplane_rss_before_kib=backplane_before,
        backplane_rss_after_kib=backplane_after,
        backplane_open_cpu_s=opened.backplane_cpu_s,
    )
    redis = ""
    if memory.backplane_kib_per_connection is not None:
        redis = (
            f"; Redis RSS {backplane_before} -> {backplane_after} KiB, "
            f"{memory.backplane_kib_per_connection:.1f} KiB each"
        )
    _say(
        progress,
        f"{side.name}: {opened.sockets} idle connections in {opened.seconds:.1f} s (join median "
        f"{opened.join_ms_median:.0f} ms, max {opened.join_ms_max:.0f} ms, server CPU "
        f"{memory.join_cpu_ms:.1f} ms per two sockets), "
        f"RSS {memory.rss_before_kib} -> {memory.rss_after_kib} KiB, "
        f"{memory.kib_per_connection:.1f} KiB each{redis}",
    )
    return memory


async def heartbeat_phase(
    side: Side,
    gens: LoadGenerators,
    open_sockets: int,
    rooms: int,
    interval: float,
    seconds: float,
    progress: bool,
) -> Heartbeat:
    """Grow the idle sessions to ``rooms``, then sample their ping -> pong round trips."""
    sockets = open_sockets
    if rooms * 2 > sockets:
        more = await _open_idle(side, gens, rooms - sockets // 2, interval)
        sockets += more.sockets
        _say(
            progress,
            f"{side.name}: {more.sockets} more in {more.seconds:.1f} s (join median "
            f"{more.join_ms_median:.0f} ms, max {more.join_ms_max:.0f} ms)",
        )
    # Let every socket's ping schedule reach its steady rhythm first.
    await asyncio.sleep(interval)
    cpu_before = cpu_of(side.processes)
    backplane_before = _backplane_cpu(side)
    started = time.monotonic()
    answers = await gens.all({"cmd": "sample", "seconds": seconds})
    elapsed = time.monotonic() - started
    cpu = cpu_of(side.processes) - cpu_before
    backplane_cpu = _since(_backplane_cpu(side), backplane_before)
    rtts = [r for a in answers for r in a["rtts_ms"]]
    beat = Heartbeat(
        rooms=sockets // 2,
        sockets=sockets,
        interval_s=interval,
        seconds=elapsed,
        pings=sum(a["pings"] for a in answers),
        lost=sum(a["lost"] for a in answers),
        closed=sum(a["closed"] for a in answers),
        server_cpu_s=cpu,
        rtt_p50_ms=quantile(rtts, 0.5),
        rtt_p99_ms=quantile(rtts, 0.99),
        rtt_max_ms=max(rtts, default=float("nan")),
        backplane_cpu_s=backplane_cpu,
    )
    _say(
        progress,
        f"{side.name}: heartbeat of {beat.sockets} sockets in {beat.rooms} rooms: "
        f"p50 {beat.rtt_p50_ms:.2f} ms, p99 {beat.rtt_p99_ms:.2f} ms, {beat.lost} lost",
    )
    return beat


async def relay_phase(
    side: Side,
    gens: LoadGenerators,
    args: argparse.Namespace,
    progress: bool,
    profiler: Profiler | None = None,
) -> Relay:
    groups = await side.groups(args.pairs)
    answers = await gens.each([{"cmd": "relay_open", "pairs": part} for part in gens.split(groups)])
    _joined(side, answers, args.pairs)
    warmup = {"cmd": "relay", "in_flight": args.in_flight, "seconds": 10, "record": False}
    await gens.all({**warmup, "round_trips": WARMUP_ROUND_TRIPS})
    await wait_quiet(_everything(side))
    run = {
        "cmd": "relay",
        "in_flight": args.in_flight,
        "round_trips": args.round_trips,
        "seconds": args.relay_seconds,
    }
    if profiler is not None:
        profiler.start(args.relay_seconds)
    each_before, load_before = [p.cpu_seconds() for p in side.processes], cpu_of(gens.processes)
    system_before = system_cpu_of(side.processes)
    backplane_before = _backplane_cpu(side)
    answers = await gens.all(run)
    each = [p.cpu_seconds() - b for p, b in zip(side.processes, each_before, strict=True)]
    cpu = sum(each)
    system = system_cpu_of(side.processes) - system_before
    backplane_cpu = _since(_backplane_cpu(side), backplane_before)
    load_cpu = cpu_of(gens.processes) - load_before
    await gens.all({"cmd": "relay_close"})
    rtts = [r for a in answers for r in a["rtts_ms"]]
    relay = Relay(
        pairs=args.pairs,
        in_flight=args.in_flight,
        messages=sum(a["messages"] for a in answers),
        lost=sum(a["lost"] for a in answers),
        seconds=max(a["seconds"] for a in answers),
        server_cpu_s=cpu,
        server_system_cpu_s=system,
        load_cpu_s=load_cpu,
        rtt_samples=len(rtts),
        rtt_p50_ms=quantile(rtts, 0.5),
        rtt_p99_ms=quantile(rtts, 0.99),
        profiled=profiler is not None,
        process_cpu_s=each,
        shared=side.shared,
        backplane_cpu_s=backplane_cpu,
    )
    redis = ""
    if relay.backplane_us_per_message is not None:
        redis = f" + {relay.backplane_us_per_message:.1f} µs Redis"
    _say(
        progress,
        f"{side.name}: relayed {relay.messages} messages in {relay.seconds:.1f} s, "
        f"{relay.cpu_us_per_message:.1f} µs server CPU each{redis}, "
        f"rtt p50 {relay.rtt_p50_ms:.2f} ms p99 {relay.rtt_p99_ms:.2f} ms",
    )
    return relay


# ---------------------------------------------------------------------------
# Profiling the sprechzimmer server (py-spy)


class Profiler:
    """py-spy on one process for one measured run; the top functions afterwards."""

    def __init__(self, pid: int, out: Path) -> None:
        self.pid = pid
        self.out = out
        self.process: subprocess.Popen[bytes] | None = None

    @staticmethod
    def executable() -> str | None:
        beside = Path(sys.executable).parent / "py-spy"
        return str(beside) if beside.exists() else shutil.which("py-spy")

    def start(self, seconds: float) -> None:
        exe = self.executable()
        assert exe is not None
        argv = [exe, "record", "--pid", str(self.pid), "--duration", f"{max(1, int(seconds))}"]
        # py-spy stops every thread of the server (~40 with the thread pool's) for
        # each sample: at 200 Hz that slowed the server down 50-fold here, at 50 Hz
        # it adds some 10-20 % CPU. --nonblocking instead tears the stacks of running
        # Python code, and the frames that sit in a system call then weigh 2-3 times more.
        argv += ["--rate", str(PROFILE_RATE), "--format", "raw", "--output", str(self.out)]
        self.process = subprocess.Popen(
            argv,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def finish(self) -> tuple[list[tuple[str, float, float]], int]:
        if self.process is None:
            return [], 0
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if not self.out.exists():
            raise BenchError("py-spy wrote no profile")
        return top_functions(self.out.read_text())


def _frame_name(frame: str) -> str:
    """``func (path/to/mod.py:123)`` -> ``func (mod.py)``."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    parts = path.split("/")
    short = "/".join(parts[-2:]) if len(parts) > 1 else path
    return f"{name} ({short})"


IDLE_LEAVES = ("Condition.wait (threading.py)", "_worker (futures/thread.py)")
"""Frames where the thread pool's threads wait; py-spy does not always drop them."""


def top_functions(raw: str, count: int = 20) -> tuple[list[tuple[str, float, float]], int]:
    """py-spy's raw (collapsed) stacks -> (function, self share, inclusive share), hottest first.

    Stacks of threads that wait (``IDLE_LEAVES``) are left out.
    """
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack or not n.isdigit():
            continue
        samples = int(n)
        frames = [_frame_name(f) for f in stack.split(";") if "(" in f]
        if not frames or frames[-1] in IDLE_LEAVES:
            continue
        total += samples
        own[frames[-1]] += samples
        for name in set(frames):
            inclusive[name] += samples
    if not total:
        return [], 0
    rows = [(name, n / total, inclusive[name] / total) for name, n in own.most_common(count)]
    return rows, total


# ---------------------------------------------------------------------------
# Starting the servers


@contextlib.contextmanager
def peerjs_server(ns: Netns, directory: Path, port: int) -> Iterator[ServerProcess]:
    node = shutil.which("node")
    if node is None:
        raise BenchError("node is not installed")
    if not PEERJS_PACKAGE.exists():
        raise BenchError("PeerJS server (npm package peer) is missing: run `make install`")
    version = json.loads(PEERJS_PACKAGE.read_text())["version"]
    if version != PEERJS_VERSION:
        raise BenchError(f"node_modules has peer {version}, the benchmark wants {PEERJS_VERSION}")
    with (directory / "peerjs.log").open("w") as log:
        process = ns.popen(
            [node, str(PEERJS_LAUNCHER), str(port)], stdout=log, stderr=subprocess.STDOUT, cwd=ROOT
        )
        try:
            wait_for_port(ns, port, timeout=20 * TIME_SCALE)
            yield ServerProcess("peerjs", process.pid)
        finally:
            stop_process(ns, process)


SERVER_ENV = {
    # The load is far beyond what a browser sends: the per-socket rate limit
    # and the cap on sockets not yet signed in would measure themselves.
    "SPRECHZIMMER_RATE_MESSAGES": "10000",
    "SPRECHZIMMER_RATE_BURST": "100000",
    "SPRECHZIMMER_MAX_PENDING_SOCKETS": "100000",
}
REDIS_CHECK_TIMEOUT = 15.0
"""Seconds a given ``--redis`` URL may take to answer PING from inside the namespace."""


@dataclass
class Deployment:
    """The sprechzimmer server process(es) of one run, and their Redis if they share one."""

    side: SprechzimmerSide
    servers: list[RunningServer]
    log_dir: Path
    redis: PrivateRedis | None = None
    redis_url: str = ""

    @property
    def database(self) -> str:
        url = self.side.database_url
        return "PostgreSQL" if url.startswith("postgresql") else "SQLite"

    def check_running(self) -> None:
        for i, server in enumerate(self.servers, start=1):
            if server.process.poll() is not None:
                which = "server" if len(self.servers) == 1 else f"server process {i}"
                raise BenchError(f"the sprechzimmer {which} ended during the benchmark")
        if self.redis is not None:
            process = self.redis.process
            if process is None or process.poll() is not None:
                raise BenchError("the private redis-server ended during the benchmark")


def _side(
    servers: list[RunningServer],
    heartbeat_interval: float,
    name: str,
    backplane: Sequence[ServerProcess] = (),
    shared: bool = False,
) -> SprechzimmerSide:
    env = servers[0].env
    return SprechzimmerSide(
        urls=[server.ws_url for server in servers],
        origin=env["SPRECHZIMMER_PUBLIC_URL"],
        database_url=env["SPRECHZIMMER_DATABASE_URL"],
        data_dir=env["SPRECHZIMMER_DATA_DIR"],
        processes=[
            ServerProcess(
                "sprechzimmer" if len(servers) == 1 else f"sprechzimmer-{i}", s.process.pid
            )
            for i, s in enumerate(servers, start=1)
        ],
        ping_interval=heartbeat_interval,
        name=name,
        secret_key=env.get("SPRECHZIMMER_SECRET_KEY", ""),
        backplane=list(backplane),
        shared=shared,
    )


@contextlib.contextmanager
def sprechzimmer_server(
    ns: Netns, directory: Path, heartbeat_interval: float
) -> Iterator[Deployment]:
    """One ``sprechzimmer serve``, as ``running_server`` starts it (SQLite, unless
    ``SPRECHZIMMER_TEST_E2E_POSTGRES=1``): the run without ``--processes``."""
    env = {"SPRECHZIMMER_HEARTBEAT_INTERVAL": f"{heartbeat_interval:g}", **SERVER_ENV}
    with running_server(directory, port=SPRECHZIMMER_PORT, extra_env=env, ns=ns) as server:
        server.add_therapist(THERAPIST)
        yield Deployment(_side([server], heartbeat_interval, "sprechzimmer"), [server], directory)


@contextlib.contextmanager
def sprechzimmer_deployment(
    ns: Netns,
    directory: Path,
    heartbeat_interval: float,
    count: int,
    first_port: int,
    redis_url: str | None = None,
) -> Iterator[Deployment]:
    """``count`` processes of one deployment (``server_processes``), on ports from
    ``first_port``, in ``directory`` (their logs: ``server-<i>.log``).

    With ``count`` > 1 they share Redis: ``redis_url``, or without it a private
    redis-server started here inside ``ns`` (``directory/redis``; a given URL the
    caller checked with ``check_redis``). With 1 it is
    the baseline of ``--processes``: no Redis, on the same kind of database
    (``server_processes`` takes PostgreSQL, where reachable, for several
    processes; here for one as well).
    """
    directory.mkdir(parents=True, exist_ok=True)
    env = {"SPRECHZIMMER_HEARTBEAT_INTERVAL": f"{heartbeat_interval:g}", **SERVER_ENV}
    with contextlib.ExitStack() as stack:
        redis: PrivateRedis | None = None
        if count > 1:
            if redis_url is None:
                redis = stack.enter_context(_private_redis(directory / "redis", ns))
                redis_url = redis.url
            env["SPRECHZIMMER_REDIS_URL"] = redis_url
        ports = [first_port + i for i in range(count)]
        with mock.patch.dict(os.environ, {"SPRECHZIMMER_TEST_E2E_POSTGRES": "1"}):
            servers = stack.enter_context(
                server_processes(directory, count, extra_env=env, ns=ns, ports=ports)
            )
        servers[0].add_therapist(THERAPIST)
        backplane = []
        if redis is not None and redis.process is not None:
            backplane = [ServerProcess("redis", redis.process.pid)]
        name = "sprechzimmer" if count == 1 else f"sprechzimmer x{count}"
        side = _side(servers, heartbeat_interval, name, backplane, shared=count > 1)
        yield Deployment(side, servers, directory, redis, redis_url or "")


@contextlib.contextmanager
def _private_redis(directory: Path, ns: Netns) -> Iterator[PrivateRedis]:
    if not Path(REDIS_SERVER).exists() or shutil.which("redis-cli") is None:
        raise BenchError(
            f"--processes without --redis needs redis-server ({REDIS_SERVER}) and redis-cli "
            "(apt-get install redis-server), or a --redis URL"
        )
    try:
        with private_redis(directory, ns, REDIS_PORT) as redis:
            yield redis
    except RuntimeError as error:
        raise BenchError(f"private redis-server: {error}") from None


def redacted(url: str) -> str:
    """``url`` without a password in it, for printing."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit(parts._replace(netloc=user + host))


def check_redis(ns: Netns, url: str) -> None:
    """Fail early unless ``url`` answers PING from inside the namespace, where the servers run."""
    probe = (
        "import sys, redis\n"
        "redis.Redis.from_url(sys.argv[1], socket_connect_timeout=2, socket_timeout=2).ping()\n"
    )
    try:
        done = ns.run(
            [sys.executable, "-c", probe, url],
            timeout=REDIS_CHECK_TIMEOUT,
            capture_output=True,
            text=True,
        )
    except subprocess.TimeoutExpired:
        done = None
    if done is None or done.returncode != 0:
        said = done.stderr.strip().splitlines()[-1:] if done is not None else ["no answer"]
        raise BenchError(
            f"Redis at {redacted(url)} does not answer from inside the benchmark's network "
            f"namespace ({'; '.join(said)}); its 127.0.0.1 is the namespace's own loopback: "
            "use a unix:// socket, or leave --redis out for a private redis-server"
        )


LOG_LEVELS = re.compile(r"\s(WARNING|ERROR|CRITICAL)\s")
REDIS_ROUTINE = (
    "Redis is starting",
    "Redis version=",
    "Configuration loaded",
    "Server initialized",
    "User requested shutdown",
    "Redis is now ready to exit",
    # About background saves and replication, which the private redis-server never does.
    "Memory overcommit must be enabled",
)
"""redis-server's lines at warning level (``#``) that every start and stop writes."""


def log_issues(directory: Path) -> dict[str, dict[str, Any]]:
    """Warnings and errors in the server logs under ``directory`` (and redis-server's
    warnings, its ``#`` lines but the routine ones): per log, counts and the first lines."""
    issues: dict[str, dict[str, Any]] = {}
    for path in sorted(directory.rglob("*.log")):
        name = str(path.relative_to(directory))
        if name.startswith("load-") or name == "peerjs.log":
            continue
        counts: Counter[str] = Counter()
        first: list[str] = []
        for line in path.read_text(errors="replace").splitlines():
            if path.name == "redis.log":
                routine = any(text in line for text in REDIS_ROUTINE)
                level = "WARNING" if " # " in line and not routine else None
            elif line.startswith("Traceback"):
                level = "ERROR"
            else:
                found = LOG_LEVELS.search(line)
                level = found.group(1) if found else None
            if level is None:
                continue
            counts[level] += 1
            if len(first) < 3:
                first.append(line[:200])
        if counts:
            issues[name] = {"counts": dict(counts), "first": first}
    return issues


def keep_logs(directory: Path, to: Path) -> None:
    """Copy every log under ``directory`` to ``to``, keeping the subdirectories."""
    for path in directory.rglob("*.log"):
        target = to / path.relative_to(directory)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)


def _redis_version() -> str:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        done = subprocess.run(
            [REDIS_SERVER, "--version"], capture_output=True, text=True, timeout=10
        )
        for word in done.stdout.split():
            if word.startswith("v="):
                return word[2:]
    return "?"


def _versions() -> dict[str, Any]:
    from importlib.metadata import version

    import sprechzimmer

    node = subprocess.run(["node", "--version"], capture_output=True, text=True, timeout=10)
    ws_package = ROOT / "node_modules" / "ws" / "package.json"
    return {
        "sprechzimmer": sprechzimmer.__version__,
        "uvicorn": version("uvicorn"),
        "python": sys.version.split()[0],
        "websockets": version("websockets"),
        "node": node.stdout.strip(),
        "ws": json.loads(ws_package.read_text())["version"] if ws_package.exists() else "?",
    }


# ---------------------------------------------------------------------------
# The whole benchmark


async def sprechzimmer_phases(
    deployment: Deployment,
    gens: LoadGenerators,
    args: argparse.Namespace,
    slot: ServerResults,
    results: Results,
    directory: Path,
    profile: bool,
) -> None:
    """The phases against one sprechzimmer deployment; its figures go to ``slot``."""
    progress = not args.quiet
    phases = set(args.phases)
    sz = deployment.side
    main = sz.processes[0]
    if "idle" in phases:
        slot.memory = await memory_phase(sz, gens, args.idle, args.heartbeat_interval, progress)
    if "heartbeat" in phases:
        memory = slot.memory
        slot.heartbeat = await heartbeat_phase(
            sz,
            gens,
            memory.connections if memory else 0,
            args.rooms,
            args.heartbeat_interval,
            args.heartbeat_seconds,
            progress,
        )
    if phases & {"idle", "heartbeat"}:
        await gens.all({"cmd": "close_idle"})
        await wait_quiet(_everything(sz))
    if "relay" in phases:
        profiler = None
        if profile:
            profiler = Profiler(main.pid, directory / "profile.txt")
        slot.relay = await relay_phase(sz, gens, args, progress, profiler)
        if profiler is not None:
            results.profile, results.profile_samples = profiler.finish()
            if args.profile_out:
                shutil.copy(directory / "profile.txt", args.profile_out)
    deployment.check_running()


async def bench(args: argparse.Namespace, directory: Path) -> Results:
    try:
        return await _bench(args, directory)
    except BenchError as error:
        if args.processes > 1:  # the runner shows only a single process's server.log
            raise BenchError(f"{error}\n{_log_tails(directory)}") from None
        raise
    finally:
        if args.logs:
            keep_logs(directory, args.logs)


def _log_tails(directory: Path, chars: int = 1500) -> str:
    tails = []
    for path in sorted(directory.glob("*/server-*.log")) + sorted(directory.glob("*/*/redis.log")):
        text = path.read_text(errors="replace")[-chars:]
        tails.append(f"{path.relative_to(directory)} (end):\n{text}")
    return "\n".join(tails)


async def _bench(args: argparse.Namespace, directory: Path) -> Results:
    progress = not args.quiet
    phases = set(args.phases)
    several = args.processes > 1
    results = Results(
        generators=args.generators,
        sprechzimmer=ServerResults("sprechzimmer"),
        peerjs=ServerResults("peerjs"),
    )
    results.about = _versions()
    with netns() as ns:
        if several and args.redis:
            check_redis(ns, args.redis)  # before the runs that do not need it
        async with load_generators(ns, args.generators, args.max_seconds, directory) as gens:
            with peerjs_server(ns, directory, PEERJS_PORT) as process:
                side = PeerJsSide(f"ws://127.0.0.1:{PEERJS_PORT}/peerjs", [process])
                _say(progress, f"peerjs: server pid {process.pid}")
                if "idle" in phases:
                    results.peerjs.memory = await memory_phase(
                        side, gens, args.idle, args.heartbeat_interval, progress
                    )
                    await gens.all({"cmd": "close_idle"})
                    await wait_quiet(side.processes)
                if "relay" in phases:
                    results.peerjs.relay = await relay_phase(side, gens, args, progress)

            if several:
                # The baseline on the same kind of database as the processes below.
                one = sprechzimmer_deployment(
                    ns, directory / "one", args.heartbeat_interval, 1, SPRECHZIMMER_PORT
                )
            else:
                one = sprechzimmer_server(ns, directory, args.heartbeat_interval)
            with one as deployment:
                main = deployment.side.processes[0]
                results.about |= main.loaded("uvloop", "httptools")
                database = f" ({deployment.database})" if several else ""
                _say(progress, f"sprechzimmer: server pid {main.pid}{database}")
                await sprechzimmer_phases(
                    deployment, gens, args, results.sprechzimmer, results, directory, args.profile
                )
            if not several:
                return results

            results.processes = ServerResults(f"sprechzimmer x{args.processes}")
            with sprechzimmer_deployment(
                ns,
                directory / "processes",
                args.heartbeat_interval,
                args.processes,
                SPRECHZIMMER_PORT + 1,
                args.redis,
            ) as deployment:
                sz = deployment.side
                pids = ", ".join(str(p.pid) for p in sz.processes)
                redis = (
                    f"private redis-server pid {sz.backplane[0].pid}"
                    if sz.backplane
                    else f"Redis {redacted(deployment.redis_url)}"
                )
                _say(progress, f"{sz.name}: server pids {pids}, {redis} ({deployment.database})")
                results.deployment = {
                    "processes": args.processes,
                    "database": deployment.database,
                    "redis": (
                        f"private redis-server {_redis_version()} in the namespace"
                        if deployment.redis is not None
                        else redacted(deployment.redis_url)
                    ),
                    "redis_measured": bool(sz.backplane),
                }
                await sprechzimmer_phases(
                    deployment, gens, args, results.processes, results, directory, False
                )
            results.deployment["logs"] = log_issues(directory)
    return results


# ---------------------------------------------------------------------------
# Report


def _relay_figures(r: Relay | None) -> dict[str, Any] | None:
    if r is None:
        return None
    return {
        **asdict(r),
        "cpu_us_per_message": r.cpu_us_per_message,
        "messages_per_s": r.messages_per_s,
        "load_generator_cores": r.load_cpu_s / r.seconds,
        "server_cores": r.server_cpu_s / r.seconds,
        "system_us_per_message": r.server_system_cpu_s * 1e6 / r.messages if r.messages else None,
        "process_us_per_message": r.process_us_per_message,
        "backplane_us_per_message": r.backplane_us_per_message,
        "total_us_per_message": r.total_us_per_message,
        "backplane_cores": (
            r.backplane_cpu_s / r.seconds if r.backplane_cpu_s is not None and r.seconds else None
        ),
    }


def _memory_figures(m: Memory | None) -> dict[str, Any] | None:
    if m is None:
        return None
    return {
        **asdict(m),
        "kib_per_connection": m.kib_per_connection,
        "join_cpu_ms": m.join_cpu_ms,
        "process_kib_per_connection": [
            (after - before) / m.connections for before, after in m.process_rss_kib
        ],
        "backplane_kib_per_connection": m.backplane_kib_per_connection,
        "backplane_join_cpu_ms": m.backplane_join_cpu_ms,
    }


def _get(figures: dict[str, Any] | None, name: str) -> Any:
    return None if figures is None else figures[name]


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or not b:
        return None
    return a / b


def _difference(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


RATIOS = {
    "cpu_per_message": ("relay", "cpu_us_per_message"),
    "rtt_p50": ("relay", "rtt_p50_ms"),
    "rtt_p99": ("relay", "rtt_p99_ms"),
    "messages_per_s": ("relay", "messages_per_s"),
    "memory_per_connection": ("memory", "kib_per_connection"),
    "join_cpu": ("memory", "join_cpu_ms"),
}
"""Ratios the table shows: name -> (phase, figure)."""
RATIOS_WITH_REDIS = {
    **RATIOS,
    "total_cpu_per_message": ("relay", "total_us_per_message"),
    "heartbeat_p50": ("heartbeat", "rtt_p50_ms"),
    "heartbeat_p99": ("heartbeat", "rtt_p99_ms"),
}
"""With ``--processes``: also server + Redis CPU, and the heartbeats of both sprechzimmer runs."""


def _ratios(
    a: dict[str, Any], b: dict[str, Any], which: dict[str, tuple[str, str]]
) -> dict[str, float | None]:
    return {
        name: _ratio(_get(a.get(phase), value), _get(b.get(phase), value))
        for name, (phase, value) in which.items()
    }


def report(results: Results) -> dict[str, Any]:
    sz, pj = results.sprechzimmer, results.peerjs
    figures: dict[str, Any] = {
        "generators": results.generators,
        "about": results.about,
        "sprechzimmer": {
            "relay": _relay_figures(sz.relay),
            "memory": _memory_figures(sz.memory),
            "heartbeat": asdict(sz.heartbeat) if sz.heartbeat else None,
        },
        "peerjs": {"relay": _relay_figures(pj.relay), "memory": _memory_figures(pj.memory)},
        "targets": TARGETS,
        "profile": results.profile,
        "profile_samples": results.profile_samples,
    }
    figures["ratio"] = _ratios(figures["sprechzimmer"], figures["peerjs"], RATIOS)
    mp = results.processes
    if mp is not None:
        several: dict[str, Any] = {
            **results.deployment,
            "relay": _relay_figures(mp.relay),
            "memory": _memory_figures(mp.memory),
            "heartbeat": asdict(mp.heartbeat) if mp.heartbeat else None,
        }
        figures["processes"] = several
        one = figures["sprechzimmer"]
        # Against the one-process run and against PeerJS.
        several["ratio"] = _ratios(several, one, RATIOS_WITH_REDIS)
        several["ratio_peerjs"] = _ratios(several, figures["peerjs"], RATIOS_WITH_REDIS)
        several["redis_adds_us_per_message"] = _difference(
            _get(several["relay"], "total_us_per_message"),
            _get(one["relay"], "cpu_us_per_message"),
        )
    return figures


def _cell(value: float | None, digits: int = 1) -> str:
    if value is None or value != value:  # None or NaN
        return "-"
    return f"{value:,.{digits}f}"


@dataclass
class Row:
    """One line of the table: the figure of each column, the ratios, the target."""

    name: str
    one: str
    peerjs: str = "-"
    ratio: str = ""
    target: str = ""
    several: str = "-"
    """The ``--processes`` run's figure."""
    several_ratios: tuple[str, str] = ("", "")
    """That run / PeerJS and that run / the one-process run."""
    only_several: bool = False
    """A line only the table with ``--processes`` has."""


def _rows(figures: dict[str, Any]) -> list[Row]:
    sz, pj, ratio, t = (
        figures["sprechzimmer"],
        figures["peerjs"],
        figures["ratio"],
        figures["targets"],
    )
    mp = figures.get("processes") or {}
    mpr, mpm, mpb = mp.get("relay"), mp.get("memory"), mp.get("heartbeat")
    vs_pj, vs_one = mp.get("ratio_peerjs", {}), mp.get("ratio", {})

    def several(figure: dict[str, Any] | None, name: str, digits: int = 1) -> dict[str, Any]:
        """The ``--processes`` run's cell of one figure."""
        return {"several": _cell(_get(figure, name), digits)}

    def ratios(name: str) -> dict[str, Any]:
        return {"several_ratios": (_cell(vs_pj.get(name), 2), _cell(vs_one.get(name), 2))}

    rows: list[Row] = []
    szr, pjr = sz["relay"], pj["relay"]
    if szr and pjr:
        owner_proxy = ["therapists, room owner", "clients, proxied"]
        process_rows = [
            Row(
                f"relay:   process {i} ({owner_proxy[i - 1] if i <= 2 else 'both'})",
                "",
                "",
                several=_cell(us),
                only_several=True,
            )
            for i, us in enumerate(_get(mpr, "process_us_per_message") or [], start=1)
        ]
        rows += [
            Row(
                f"relay ({szr['pairs']} pairs x {szr['in_flight']}): server CPU µs / msg",
                _cell(szr["cpu_us_per_message"]),
                _cell(pjr["cpu_us_per_message"]),
                _cell(ratio["cpu_per_message"], 2),
                f"≤ {t['cpu_ratio']}× PeerJS",
                **several(mpr, "cpu_us_per_message"),
                **ratios("cpu_per_message"),
            ),
            Row(
                "relay:   of which in the kernel (stime)",
                _cell(szr["system_us_per_message"]),
                _cell(pjr["system_us_per_message"]),
                **several(mpr, "system_us_per_message"),
            ),
            *process_rows,
            Row(
                "relay: Redis (redis-server) CPU µs / msg",
                "",
                "",
                **several(mpr, "backplane_us_per_message"),
                only_several=True,
            ),
            Row(
                "relay: server + Redis CPU µs / msg",
                _cell(szr["total_us_per_message"]),
                _cell(pjr["total_us_per_message"]),
                _cell(ratio["cpu_per_message"], 2),
                **several(mpr, "total_us_per_message"),
                **ratios("total_cpu_per_message"),
                only_several=True,
            ),
            Row(
                "relay: Redis adds µs / msg (vs 1 process)",
                "",
                "",
                several=_cell(mp.get("redis_adds_us_per_message")),
                only_several=True,
            ),
            Row(
                "relay: round trip p50 ms",
                _cell(szr["rtt_p50_ms"], 2),
                _cell(pjr["rtt_p50_ms"], 2),
                _cell(ratio["rtt_p50"], 2),
                **several(mpr, "rtt_p50_ms", 2),
                **ratios("rtt_p50"),
            ),
            Row(
                "relay: round trip p99 ms",
                _cell(szr["rtt_p99_ms"], 2),
                _cell(pjr["rtt_p99_ms"], 2),
                _cell(ratio["rtt_p99"], 2),
                **several(mpr, "rtt_p99_ms", 2),
                **ratios("rtt_p99"),
            ),
            Row(
                "relay: messages / s",
                _cell(szr["messages_per_s"], 0),
                _cell(pjr["messages_per_s"], 0),
                _cell(ratio["messages_per_s"], 2),
                "(not the server's capacity)",
                **several(mpr, "messages_per_s", 0),
                **ratios("messages_per_s"),
            ),
            Row(
                "relay: cores used, server / load generators",
                f"{szr['server_cores']:.2f} / {szr['load_generator_cores']:.2f}",
                f"{pjr['server_cores']:.2f} / {pjr['load_generator_cores']:.2f}",
                several=(
                    f"{mpr['server_cores']:.2f} / {mpr['load_generator_cores']:.2f}" if mpr else "-"
                ),
            ),
            Row(
                "relay: cores used by Redis",
                "",
                "",
                **several(mpr, "backplane_cores", 2),
                only_several=True,
            ),
        ]
    szm, pjm = sz["memory"], pj["memory"]
    if szm and pjm:
        process_rows = [
            Row(
                f"idle:   of which process {i}",
                "",
                "",
                several=_cell(kib),
                only_several=True,
            )
            for i, kib in enumerate(_get(mpm, "process_kib_per_connection") or [], start=1)
        ]
        rows += [
            Row(
                f"idle: KiB per connection ({szm['connections']:,})",
                _cell(szm["kib_per_connection"]),
                _cell(pjm["kib_per_connection"]),
                _cell(ratio["memory_per_connection"], 2),
                f"≤ {t['memory_ratio']:g}× PeerJS",
                **several(mpm, "kib_per_connection"),
                **ratios("memory_per_connection"),
            ),
            *process_rows,
            Row(
                "idle: Redis RSS growth, KiB per connection",
                "",
                "",
                **several(mpm, "backplane_kib_per_connection", 2),
                only_several=True,
            ),
            Row(
                "idle: opening, server CPU ms / 2 sockets",
                _cell(szm["join_cpu_ms"], 2),
                _cell(pjm["join_cpu_ms"], 2),
                _cell(ratio["join_cpu"], 2),
                "(a session join / 2 peers)",
                **several(mpm, "join_cpu_ms", 2),
                **ratios("join_cpu"),
            ),
            Row(
                "idle: opening, Redis CPU ms / 2 sockets",
                "",
                "",
                **several(mpm, "backplane_join_cpu_ms", 2),
                only_several=True,
            ),
        ]
    beat = sz["heartbeat"]
    if beat:
        rows += [
            Row(
                f"heartbeat ({beat['rooms']:,} rooms): ping→pong p50 ms",
                _cell(beat["rtt_p50_ms"], 2),
                **several(mpb, "rtt_p50_ms", 2),
                several_ratios=("", _cell(vs_one.get("heartbeat_p50"), 2)),
            ),
            Row(
                "heartbeat: ping→pong p99 ms",
                _cell(beat["rtt_p99_ms"], 2),
                target=f"≤ {t['heartbeat_p99_ms']:g} ms",
                **several(mpb, "rtt_p99_ms", 2),
                several_ratios=("", _cell(vs_one.get("heartbeat_p99"), 2)),
            ),
        ]
    return rows


def print_table(figures: dict[str, Any]) -> None:
    sz, pj, about = figures["sprechzimmer"], figures["peerjs"], figures["about"]
    mp: dict[str, Any] = figures.get("processes") or {}
    loop = "uvloop" if about.get("uvloop") else "asyncio's own loop"
    http = "httptools" if about.get("httptools") else "h11"
    print(
        f"signaling: sprechzimmer {about['sprechzimmer']} (`sprechzimmer serve`: uvicorn "
        f"{about['uvicorn']}, /ws on wsprotocol.py, {loop}, {http}, no permessage-deflate, "
        f"Python {about['python']}) vs PeerJS server {PEERJS_VERSION} (Node {about['node']}, "
        f"ws {about['ws']})"
    )
    print(
        f"load: {figures['generators']} Python load generators (websockets "
        f"{about['websockets']}, uvloop) in one private network namespace"
    )
    rows = _rows(figures)
    if not mp:
        print(f"{'':46} {'sprechzimmer':>13} {'PeerJS':>13} {'ratio':>6}  target")
        for row in rows:
            if not row.only_several:
                print(f"{row.name:46} {row.one:>13} {row.peerjs:>13} {row.ratio:>6}  {row.target}")
    else:
        n = mp["processes"]
        print(
            f"sprechzimmer on 1 process, and on {n} processes sharing Redis ({mp['redis']}); "
            f"database {mp['database']} for both; each session's therapist on process 1 "
            f"(owns the room), its client on process 2 (proxied over Redis pub/sub)"
        )
        several = f"{n} processes"
        print(
            f"{'':46} {'1 process':>13} {several:>13} {'PeerJS':>13} {'1p/PJ':>6} "
            f"{f'{n}p/PJ':>6} {f'{n}p/1p':>6}  target"
        )
        for row in rows:
            to_peerjs, to_one = row.several_ratios
            print(
                f"{row.name:46} {row.one:>13} {row.several:>13} {row.peerjs:>13} "
                f"{row.ratio:>6} {to_peerjs:>6} {to_one:>6}  {row.target}"
            )
    szr, pjr = sz["relay"], pj["relay"]
    mpr = mp.get("relay")
    if szr and pjr:
        if mpr:
            print(
                f"relay: {szr['messages']:,} / {mpr['messages']:,} / {pjr['messages']:,} "
                f"messages relayed (1 process / {mp['processes']} processes / PeerJS) in "
                f"{szr['seconds']:.1f} / {mpr['seconds']:.1f} / {pjr['seconds']:.1f} s, "
                f"{szr['lost']} / {mpr['lost']} / {pjr['lost']} lost; round trip = first "
                f"socket -> server -> second -> server -> first, load generator included"
            )
        else:
            print(
                f"relay: {szr['messages']:,} / {pjr['messages']:,} messages relayed in "
                f"{szr['seconds']:.1f} / {pjr['seconds']:.1f} s, {szr['lost']} / {pjr['lost']} "
                f"lost; round trip = first socket -> server -> second -> server -> first, "
                f"load generator included"
            )
        if mpr:
            print(
                f"relay, {mp['processes']} processes: server CPU summed over the sprechzimmer "
                f'processes; Redis from /proc/PID/stat of redis-server; "Redis adds" = '
                f"server + Redis ({mp['processes']} processes) - server (1 process)"
            )
    szm, pjm = sz["memory"], pj["memory"]
    if szm and pjm:
        print(
            f"idle: sprechzimmer {szm['connections'] // 2:,} admitted sessions x (therapist + "
            f"client), each socket pinging on the heartbeat interval; PeerJS "
            f"{pjm['connections']:,} peers, HEARTBEAT every 5 s; RSS "
            f"{szm['rss_before_kib']:,} -> {szm['rss_after_kib']:,} KiB / "
            f"{pjm['rss_before_kib']:,} -> {pjm['rss_after_kib']:,} KiB; opened in "
            f"{szm['open_seconds']:.1f} / {pjm['open_seconds']:.1f} s (slowest join "
            f"{szm['join_ms_max']:.0f} / {pjm['join_ms_max']:.0f} ms)"
        )
    mpm = mp.get("memory")
    if mpm:
        each = ", ".join(f"{a:,} -> {b:,}" for a, b in mpm["process_rss_kib"])
        redis = ""
        if mpm["backplane_rss_before_kib"] is not None:
            redis = (
                f"; Redis RSS {mpm['backplane_rss_before_kib']:,} -> "
                f"{mpm['backplane_rss_after_kib']:,} KiB"
            )
        print(
            f"idle, {mp['processes']} processes: RSS {each} KiB (summed: "
            f"{mpm['rss_before_kib']:,} -> {mpm['rss_after_kib']:,}){redis}; opened in "
            f"{mpm['open_seconds']:.1f} s (slowest join {mpm['join_ms_max']:.0f} ms)"
        )
    beat = sz["heartbeat"]
    if beat:
        print(
            f"heartbeat: {beat['sockets']:,} sockets pinging every {beat['interval_s']:g} s "
            f"(SPRECHZIMMER_HEARTBEAT_INTERVAL), {beat['pings']:,} pings over "
            f"{beat['seconds']:.1f} s, {beat['lost']} unanswered, {beat['closed']} closed by "
            f"the server, max {beat['rtt_max_ms']:.1f} ms, server "
            f"{beat['server_cpu_s'] / beat['seconds']:.2f} cores"
        )
    mpb = mp.get("heartbeat")
    if mpb:
        redis = ""
        if mpb["backplane_cpu_s"] is not None:
            redis = f", Redis {mpb['backplane_cpu_s'] / mpb['seconds']:.2f} cores"
        print(
            f"heartbeat, {mp['processes']} processes: {mpb['sockets']:,} sockets, "
            f"{mpb['pings']:,} pings over {mpb['seconds']:.1f} s, {mpb['lost']} unanswered, "
            f"{mpb['closed']} closed by the server, max {mpb['rtt_max_ms']:.1f} ms, servers "
            f"{mpb['server_cpu_s'] / mpb['seconds']:.2f} cores{redis}"
        )
    if mp:
        if not mp["redis_measured"]:
            print(
                f"(Redis {mp['redis']} was given with --redis: its CPU and memory are not measured)"
            )
        logs = mp.get("logs") or {}
        if logs:
            for name, found in logs.items():
                counts = ", ".join(f"{n} {level}" for level, n in sorted(found["counts"].items()))
                print(f"log {name}: {counts}; first: {found['first'][0]}")
        else:
            print("logs: no warnings or errors from the sprechzimmer processes or redis-server")
    if szr and szr["profiled"]:
        print("(the sprechzimmer relay run was profiled: its figures include py-spy's effect)")
    if figures["profile"]:
        print(
            f"\npy-spy on the sprechzimmer server, measured relay run "
            f"({figures['profile_samples']:,} samples): self %, inclusive %, function"
        )
        for name, own, inclusive in figures["profile"]:
            print(f"{own * 100:6.1f} {inclusive * 100:6.1f}  {name}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.signaling",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--pairs", type=int, default=50, help="relay pairs (default 50)")
    parser.add_argument("--in-flight", type=int, default=4, help="messages under way per pair")
    parser.add_argument(
        "--relay-seconds", type=float, default=8.0, help="bound on the measured relay run"
    )
    parser.add_argument(
        "--round-trips", type=int, default=20_000, help="bound on round trips per pair"
    )
    parser.add_argument("--idle", type=int, default=2000, help="idle connections (even)")
    parser.add_argument("--rooms", type=int, default=2000, help="rooms in the heartbeat phase")
    parser.add_argument(
        "--heartbeat-interval",
        type=float,
        default=2.0,
        help="SPRECHZIMMER_HEARTBEAT_INTERVAL and the sockets' ping interval (s)",
    )
    parser.add_argument(
        "--heartbeat-seconds", type=float, default=12.0, help="heartbeat sampling period"
    )
    parser.add_argument(
        "--generators", type=int, default=2, help="load generator processes (default 2)"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="py-spy the (one-process) sprechzimmer server's relay run",
    )
    parser.add_argument("--profile-out", type=Path, help="keep py-spy's raw stacks here")
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="also run this many sprechzimmer processes sharing Redis (default 1: no such run)",
    )
    parser.add_argument(
        "--redis",
        metavar="URL",
        help="the Redis those processes share, reachable from inside the namespace "
        "(default: a private redis-server started there)",
    )
    parser.add_argument(
        "--logs", metavar="DIR", type=Path, help="keep the servers' logs in DIR at the end"
    )
    parser.add_argument(
        "--phases",
        type=lambda text: text.split(","),
        default=list(PHASES),
        help=f"comma-separated, of {', '.join(PHASES)} (default: all)",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--max-seconds",
        type=float,
        help="bound on the whole benchmark (default 300, with --processes 600)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    args = parser.parse_args(argv)
    for name in ("pairs", "in_flight", "round_trips", "idle", "rooms", "generators"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    unknown = set(args.phases) - set(PHASES)
    if unknown:
        parser.error(f"unknown phase {', '.join(sorted(unknown))}; known: {', '.join(PHASES)}")
    if args.idle % 2 or args.idle < 2:
        parser.error("--idle must be even (connections come in twos)")
    if args.processes < 1:
        parser.error("--processes must be at least 1")
    if args.redis and args.processes < 2:
        parser.error("--redis is for --processes 2 or more")
    if args.max_seconds is None:
        args.max_seconds = 600.0 if args.processes > 1 else 300.0
    if args.profile and Profiler.executable() is None:
        parser.error("--profile needs py-spy (.venv/bin/pip install py-spy)")
    try:
        raise_fd_limit(2 * max(args.idle, 2 * args.rooms) + 1024)
    except BenchError as error:
        print(f"cannot run the benchmark: {error}", file=sys.stderr)
        return 2
    try:
        results = run_bounded(
            lambda tmp: bench(args, tmp),
            max_seconds=args.max_seconds,
            prefix="sz-bench-signaling-",
            errors=(BenchError,),
            needs_chromium=False,
        )
    except Failed as failed:
        return failed.code
    return emit(report(results), args.json, print_table)


if __name__ == "__main__":
    sys.exit(main())
