"""End to end: the two browsers agree on what the connection can carry.

The topology of ``tests/support/topology.py`` with forwarding on in T (a direct
path between A and B). During a call, a token bucket (``tc tbf``, 300 kbit/s)
on T's veth towards B limits everything that reaches B, so the therapist's
(A's) video to the client must get smaller: A's sender follows the ladder of
``static/js/quality.js`` (its own bandwidth estimate and B's receiver reports
on the ``sprechzimmer-quality`` data channel) while B keeps hearing A. Then
the limit goes and A's video comes back.

Every wait is an upper bound scaled by ``SPRECHZIMMER_TEST_TIME_SCALE``; the
qdisc is removed in a ``finally`` (and goes with the namespace anyway).
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.server import TIME_SCALE
from tests.support.topology import DEV, Topology
from tests.test_e2e_call import FRAMES_MORE_THAN, VIDEO_FRAMES, _frames_advance
from tests.test_e2e_relay import _call, _connected, _world

if TYPE_CHECKING:
    from playwright.async_api import Page

pytestmark = [pytest.mark.netns, pytest.mark.browser]

THERAPIST = "dr-relay"
LIMIT = "300kbit"
LIMIT_KBPS = 300
DEGRADE_S = 30 * TIME_SCALE
"""Upper bound for A's outgoing video to fall under the limit once it is set."""
RECOVER_S = 60 * TIME_SCALE
"""Upper bound for B to see new video frames from A once the limit is gone."""
WINDOW_S = 4.0
"""Interval over which one bitrate is measured (two stats samples of the page)."""
TC_TIMEOUT_S = 10.0

# A's outgoing video bytes and B's received audio, straight from getStats.
SENT_VIDEO_BYTES = """async () => {
  const pc = window.sprechzimmer.pc;
  if (!pc) return null;
  let bytes = 0;
  for (const s of (await pc.getStats()).values()) {
    if (s.type === 'outbound-rtp' && s.kind === 'video') bytes += s.bytesSent || 0;
  }
  return {bytes, at: performance.now()};
}"""

AUDIO_RECEIVED = """async () => {
  const pc = window.sprechzimmer.pc;
  if (!pc) return 0;
  let samples = 0;
  for (const s of (await pc.getStats()).values()) {
    if (s.type === 'inbound-rtp' && s.kind === 'audio') samples += s.totalSamplesReceived || 0;
  }
  return samples;
}"""


@contextlib.contextmanager
def _limited(topo: Topology) -> Iterator[None]:
    """A token bucket on T's veth towards B: egress to B at LIMIT; always removed."""
    dev = f"{DEV['B']}_t"
    tc = ["tc", "qdisc"]
    limit = ["root", "tbf", "rate", LIMIT, "burst", "16kbit", "latency", "400ms"]
    topo.t.run([*tc, "add", "dev", dev, *limit], timeout=TC_TIMEOUT_S, check=True)
    try:
        yield
    finally:
        topo.t.run([*tc, "del", "dev", dev, "root"], timeout=TC_TIMEOUT_S, check=False)


async def _video_kbps(page: Page) -> float:
    """A's outgoing video bitrate over WINDOW_S seconds, kbit/s."""
    first: dict[str, float] = await page.evaluate(SENT_VIDEO_BYTES)
    await asyncio.sleep(WINDOW_S)
    second: dict[str, float] = await page.evaluate(SENT_VIDEO_BYTES)
    seconds = (second["at"] - first["at"]) / 1000
    return (second["bytes"] - first["bytes"]) * 8 / seconds / 1000


async def _quality(page: Page) -> dict[str, Any]:
    value: dict[str, Any] = await page.evaluate("window.sprechzimmer.quality")
    return value


async def _poll(check: Callable[[], Awaitable[bool]], bound_s: float) -> bool:
    """Call ``check`` every half second until it is true or ``bound_s`` has passed."""
    loop = asyncio.get_running_loop()
    end = loop.time() + bound_s
    for _ in range(int(bound_s / 0.5) + 1):
        if await check() or loop.time() > end:
            break
        await asyncio.sleep(0.5)
    return await check()


async def _notice(page: Page) -> str | None:
    notice = page.get_by_test_id("quality-notice")
    return None if await notice.is_hidden() else await notice.text_content()


async def test_limited_link_lowers_video_keeps_audio_and_recovers(tmp_path: Path) -> None:
    async with _world(tmp_path, forwarding=True) as (topo, both):
        links = topo.links(THERAPIST, "K-quality")
        therapist, client = await _call(both, links)
        for page in (therapist, client):
            await _connected(page, "p2p")
            await _frames_advance(page)
        loop = asyncio.get_running_loop()
        # The policy runs on both sides and started at the top of the ladder.
        for page in (therapist, client):

            async def applied(page: Page = page) -> bool:
                return (await _quality(page))["profile"] is not None

            assert await _poll(applied, DEGRADE_S)
        # The limit must bite: A's video first ramps up above it (the
        # estimator starts low), bounded by DEGRADE_S.
        rates_before: list[float] = []

        async def above_limit() -> bool:
            if not rates_before or rates_before[-1] <= LIMIT_KBPS:
                rates_before.append(await _video_kbps(therapist))
            return rates_before[-1] > LIMIT_KBPS

        assert await _poll(above_limit, DEGRADE_S), rates_before
        before = rates_before[-1]
        print(f"A's video before the limit: {before:.0f} kbit/s, {await _quality(therapist)}")

        with _limited(topo):
            started = loop.time()
            audio_before = await client.evaluate(AUDIO_RECEIVED)
            rates: list[float] = []
            while True:
                rates.append(await _video_kbps(therapist))
                if rates[-1] < LIMIT_KBPS or loop.time() - started > DEGRADE_S:
                    break
            took = loop.time() - started
            a_quality = await _quality(therapist)
            print(
                f"A's video under the limit: {[round(r) for r in rates]} kbit/s after {took:.0f} s"
            )
            print(f"A: {a_quality}, B: {await _quality(client)}")
            assert rates[-1] < LIMIT_KBPS, (rates, a_quality)
            assert a_quality["profile"] != "hd", a_quality
            # B keeps hearing A the whole time.
            await asyncio.sleep(WINDOW_S)
            audio_after = await client.evaluate(AUDIO_RECEIVED)
            assert audio_after > audio_before, (audio_before, audio_after)
            # What people see: A's sending is not good any more; if A paused its
            # video, both sides say so.
            indicator = therapist.get_by_test_id("quality-indicator")
            assert await indicator.get_attribute("data-send") in ("fair", "poor")
            if a_quality["profile"] == "audio-only":
                for page in (therapist, client):

                    async def shown(page: Page = page) -> bool:
                        return await _notice(page) is not None

                    assert await _poll(shown, 10 * TIME_SCALE), "notice on both sides"
            limited_frames: dict[str, Any] = await client.evaluate(VIDEO_FRAMES)

        started = loop.time()
        end = started + RECOVER_S
        while loop.time() < end:
            q = await _quality(therapist)
            if q["profile"] not in (None, "audio-only") and await client.evaluate(
                FRAMES_MORE_THAN, limited_frames
            ):
                break
            limited_frames = await client.evaluate(VIDEO_FRAMES)
            await asyncio.sleep(1.0)
        took = loop.time() - started
        after = await _video_kbps(therapist)
        print(
            f"after the limit: video back on B after {took:.0f} s; "
            f"A sends {after:.0f} kbit/s, {await _quality(therapist)}"
        )
        await _frames_advance(client)
        assert (await _quality(therapist))["profile"] != "audio-only"


def test_tc_is_here() -> None:
    """The token bucket needs ``tc`` (iproute2); say so rather than fail obscurely."""
    try:
        subprocess.run(["tc", "-V"], check=True, capture_output=True, timeout=TC_TIMEOUT_S)
    except (OSError, subprocess.CalledProcessError) as err:  # pragma: no cover
        pytest.skip(f"tc not available: {err}")
