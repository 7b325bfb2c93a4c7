"""End to end: one call, two server processes, Redis, and nginx from the docs.

Two ``sprechzimmer serve`` processes share one database and one Redis behind
nginx run with the configuration printed in ``docs/operations.md`` (no
stickiness). Two Chromium pages hold a call (frame encryption on, keys renewed
every few seconds) with their signaling sockets on different processes. One
process is killed (SIGKILL): the remote video keeps advancing, both pages are
signaling again on the other process within 2 s, keys are renewed again with
equal codes. The killed process is started again, then the other one is
stopped gracefully (SIGTERM): the same once more. The same peer connection
carries the call to the end, hang-up ends it on both sides, and the events
table has every event once, with no gap and no duplicate. A second test does
the same across a restart of Redis.

Every wait is an upper bound scaled by ``SPRECHZIMMER_TEST_TIME_SCALE``.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from harness.chromium import ChromiumSession, launch_chromium
from harness.netns import Netns, netns
from harness.nginx import running_nginx
from harness.redis import PrivateRedis, private_redis
from harness.server import TIME_SCALE, RunningServer, server_processes

from tests.real.test_e2e_call import (
    _frames_advance,
    _hang_up,
    _need_chromium,
    _start_call,
    _status,
    _until,
)
from tests.real.test_e2e_e2ee import _active, _e2ee, _same_sas
from tests.real.test_e2e_restart import (
    SAME_PC,
    SIGNALING_OPEN,
    TAG_PC,
    _frames_keep_coming,
    every_event_once,
)

if TYPE_CHECKING:
    from playwright.async_api import Page

THERAPIST = "dr-e2e"
PORTS = [8001, 8002]
LB_PORT = 8080
REDIS_PORT = 6390
REKEY_S = 4
BACK_WITHIN_S = 2.0 * TIME_SCALE
"""The acceptance bound: both pages signaling again on the other process this soon."""
METRICS_TOKEN = "m" * 32


def _connections(ns: Netns, server: RunningServer) -> int:
    """Open signaling sockets of one process, from its own /metrics."""
    probe = (
        "import urllib.request\n"
        f"r = urllib.request.Request('http://127.0.0.1:{server.port}/metrics',"
        f" headers={{'Authorization': 'Bearer {METRICS_TOKEN}'}})\n"
        "print(urllib.request.urlopen(r, timeout=5).read().decode())\n"
    )
    done = ns.run([sys.executable, "-c", probe], timeout=20, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    for line in done.stdout.splitlines():
        if line.startswith("sprechzimmer_signaling_connections "):
            return int(float(line.split()[1]))
    raise AssertionError("no connection count in /metrics")


async def _move(
    stop: RunningServer, how: signal.Signals, pages: tuple[Page, Page]
) -> tuple[float, list[int]]:
    """Stop one process while the call runs: how long until both pages signal again."""
    epochs = [(await _e2ee(page))["epoch"] for page in pages]
    stop.kill(how)
    stopped = time.monotonic()
    for page in pages:
        await _until(page, SIGNALING_OPEN, what="signaling open on the other process")
    back = time.monotonic() - stopped
    await _frames_keep_coming(pages, 2.0)
    return back, epochs


async def _renewed_after(pages: tuple[Page, Page], epochs: list[int]) -> None:
    for page, epoch in zip(pages, epochs, strict=True):
        await _until(
            page,
            f"() => window.sprechzimmer.e2ee.epoch > {epoch}"
            " && window.sprechzimmer.e2ee.state === 'active'",
            what="a key renewal after the move",
        )
    await _same_sas(*pages)


@dataclass
class TwoProcesses:
    ns: Netns
    redis: PrivateRedis
    servers: list[RunningServer]


@contextlib.contextmanager
def _two_processes(tmp_path: Path) -> Iterator[TwoProcesses]:
    """Two processes, a private Redis and nginx from the docs, in a namespace."""
    with (
        netns() as ns,
        private_redis(tmp_path, ns, REDIS_PORT) as redis,
        server_processes(
            tmp_path,
            2,
            ns=ns,
            ports=PORTS,
            public_url=f"http://127.0.0.1:{LB_PORT}",
            extra_env={
                "SPRECHZIMMER_REDIS_URL": redis.url,
                "SPRECHZIMMER_REKEY_INTERVAL": str(REKEY_S),
                "SPRECHZIMMER_METRICS_TOKEN": METRICS_TOKEN,
            },
        ) as servers,
        running_nginx(tmp_path, ns, PORTS, LB_PORT),
    ):
        servers[0].add_therapist(THERAPIST)
        yield TwoProcesses(ns, redis, servers)


async def _call_on_both(
    setup: TwoProcesses, chromium: ChromiumSession, client_id: str
) -> tuple[dict[str, str], tuple[Page, Page], list[int]]:
    """A call whose two sockets are on different processes; the pages tagged."""
    links = setup.servers[0].create_session(THERAPIST, client_id)
    pages = await _start_call(*chromium.contexts, links)
    for page in pages:
        await _active(page)
        assert await page.evaluate(TAG_PC)
    await _same_sas(*pages)
    made = [await page.evaluate("window.sprechzimmer.peerConnections") for page in pages]
    # least_conn puts the two long-lived sockets on different processes.
    assert [_connections(setup.ns, s) for s in setup.servers] == [1, 1]
    return links, pages, made


async def _same_call_ends(pages: tuple[Page, Page], made: list[int]) -> None:
    """The peer connection of the start carries the call; hang-up ends it on both sides."""
    for page, before in zip(pages, made, strict=True):
        assert await page.evaluate(SAME_PC), "the peer connection was replaced"
        assert await page.evaluate("window.sprechzimmer.peerConnections") == before
        await _frames_advance(page)
    await _hang_up(pages[0])
    for page in pages:
        await _status(page, "ended")


@pytest.mark.netns
@pytest.mark.browser
async def test_a_call_across_two_processes_outlives_a_sigkill_and_a_sigterm(
    tmp_path: Path,
) -> None:
    _need_chromium()
    with _two_processes(tmp_path) as setup:
        first, second = setup.servers
        async with launch_chromium(setup.ns, tmp_path, contexts=2) as chromium:
            links, pages, made = await _call_on_both(setup, chromium, "Pseudonym-2PRC")

            back_kill, epochs = await _move(first, signal.SIGKILL, pages)
            assert _connections(setup.ns, second) == 2
            await _renewed_after(pages, epochs)

            first.start()
            back_term, epochs = await _move(second, signal.SIGTERM, pages)
            assert _connections(setup.ns, first) == 2
            await _renewed_after(pages, epochs)
            print(f"both back {back_kill:.2f} s after SIGKILL, {back_term:.2f} s after SIGTERM")
            assert back_kill <= BACK_WITHIN_S
            assert back_term <= BACK_WITHIN_S
            await _same_call_ends(pages, made)
        every_event_once(first, links["session_id"])


@pytest.mark.netns
@pytest.mark.browser
async def test_a_call_across_two_processes_outlives_a_redis_restart(tmp_path: Path) -> None:
    """Redis killed mid-call: the media goes on; the page whose socket was proxied
    is told to come back and keeps trying (refused with server-busy while Redis is
    away) without ending the call; once Redis is back both pages signal again,
    keys are renewed, and billing saw nothing of it."""
    _need_chromium()
    with _two_processes(tmp_path) as setup:
        async with launch_chromium(setup.ns, tmp_path, contexts=2) as chromium:
            links, pages, made = await _call_on_both(setup, chromium, "Pseudonym-R3DS")
            epochs = [(await _e2ee(page))["epoch"] for page in pages]
            setup.redis.kill()
            await _frames_keep_coming(pages, 4.0)
            for page in pages:
                assert await page.evaluate("window.sprechzimmer.state") == "in-call"
            setup.redis.start()
            started = time.monotonic()
            for page in pages:
                await _until(page, SIGNALING_OPEN, what="signaling open after Redis is back")
                await _until(page, "() => window.sprechzimmer.serverAway === false")
            print(f"both pages signaling {time.monotonic() - started:.2f} s after Redis started")
            await _renewed_after(pages, epochs)
            await _same_call_ends(pages, made)
        every_event_once(setup.servers[0], links["session_id"])
