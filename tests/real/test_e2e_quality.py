"""End to end: the two browsers agree on what the connection can carry.

The topology of ``harness/topology.py`` with forwarding on in T (a direct
path between A and B). During a call, a token bucket (``tc tbf``, 300 kbit/s)
on T's veth towards B limits everything that reaches B, so the therapist's
(A's) video to the client must get smaller: A's sender follows the ladder of
``static/js/quality.js`` (its own bandwidth estimate and B's receiver reports
on the ``sprechzimmer-quality`` data channel) while B keeps hearing A. Then
the bucket goes down to 100 kbit/s, below what the lowest video rung needs:
A pauses its video and both sides show the notice, B still hears A. Then the
limit goes, A's timed tries bring the video back and it climbs to ``sd``.

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
from harness.server import TIME_SCALE
from harness.topology import DEV, Topology

from tests.real.test_e2e_call import FRAMES_MORE_THAN, VIDEO_FRAMES, _frames_advance
from tests.real.test_e2e_relay import _call, _connected, _world

if TYPE_CHECKING:
    from playwright.async_api import Page

pytestmark = [pytest.mark.netns, pytest.mark.browser]

THERAPIST = "dr-relay"
LIMIT = "300kbit"
LIMIT_KBPS = 300
WEAK = "100kbit"
"""Below what ``minimal`` needs (VIDEO_FLOOR_KBPS, 120 kbit/s, plus ~40 kbit/s of
audio): the sender must pause its video, and both sides show the notice."""
DEGRADE_S = 30 * TIME_SCALE
"""Upper bound, once LIMIT is set, for A's outgoing video to be under LIMIT
while A's policy has left ``hd``. Two mechanisms get there, in no fixed order:
the browser's congestion control cuts the encoder within a second or so, the
policy steps down after DOWN_AFTER (2) bad samples 2 s apart, later when the
machine is busy and its ticks slip."""
AUDIO_ONLY_S = 30 * TIME_SCALE
"""Upper bound for A to pause its video (audio-only) once the link is at WEAK."""
NOTICE_S = 10 * TIME_SCALE
"""Upper bound for the notice to show on both sides once A is audio-only."""
RECOVER_S = 90 * TIME_SCALE
"""Upper bound, once the limit is gone, for A to leave audio-only, B to decode
new video frames and both notices to go: A's next timed try (quality.js) comes
after at most PROBE_MAX (40) samples of 2 s, plus its PROBE_GRACE (3)."""
CLIMB_S = 45 * TIME_SCALE
"""Upper bound, after video is back, for A to reach ``sd`` (or ``hd``): at most
two more timed tries of PROBE_AFTER (5) + PROBE_GRACE (3) samples of 2 s."""
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
def _limited(topo: Topology) -> Iterator[Callable[[str], None]]:
    """A token bucket on T's veth towards B at LIMIT; yields a function that
    sets another rate. Always removed."""
    dev = f"{DEV['B']}_t"
    tc = ["tc", "qdisc"]

    def tbf(rate: str) -> list[str]:
        return ["root", "tbf", "rate", rate, "burst", "16kbit", "latency", "400ms"]

    def change(rate: str) -> None:
        topo.t.run([*tc, "change", "dev", dev, *tbf(rate)], timeout=TC_TIMEOUT_S, check=True)

    topo.t.run([*tc, "add", "dev", dev, *tbf(LIMIT)], timeout=TC_TIMEOUT_S, check=True)
    try:
        yield change
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

        with _limited(topo) as set_rate:
            started = loop.time()
            audio_before = await client.evaluate(AUDIO_RECEIVED)
            # One wait for both promises, each sample holding the rate of one
            # window and the profile at its end: the rate often falls under
            # the limit before the policy has stepped down (see DEGRADE_S), so
            # reading the profile at the first low rate raced the two.
            lowered: list[tuple[float, float, str | None]] = []

            def degraded(_at: float, rate: float, profile: str | None) -> bool:
                return rate < LIMIT_KBPS and profile != "hd"

            async def degrades() -> bool:
                if not lowered or not degraded(*lowered[-1]):
                    rate = await _video_kbps(therapist)
                    profile = (await _quality(therapist))["profile"]
                    lowered.append((loop.time() - started, rate, profile))
                return degraded(*lowered[-1])

            done = await _poll(degrades, DEGRADE_S)
            a_quality = await _quality(therapist)
            print(
                f"{LIMIT}: (s, A's video kbit/s, A's profile) "
                f"{[(round(at), round(r), p) for at, r, p in lowered]}, "
                f"{'done' if done else 'not done'} (bound {DEGRADE_S:.0f} s)"
            )
            print(f"A: {a_quality}, B: {await _quality(client)}")
            assert done, (lowered, a_quality)
            # B keeps hearing A the whole time.
            await asyncio.sleep(WINDOW_S)
            audio_after = await client.evaluate(AUDIO_RECEIVED)
            assert audio_after > audio_before, (audio_before, audio_after)
            # The page shows the new profile before setParameters resolves and
            # the indicator only after: a moment, but one to wait for.
            indicator = therapist.get_by_test_id("quality-indicator")

            async def not_good() -> bool:
                return await indicator.get_attribute("data-send") in ("fair", "poor")

            assert await _poll(not_good, NOTICE_S), await _quality(therapist)

            # Below the video floor: A pauses its video, both sides say so,
            # and B still hears A.
            set_rate(WEAK)
            started = loop.time()

            async def audio_only() -> bool:
                return (await _quality(therapist))["profile"] == "audio-only"

            assert await _poll(audio_only, AUDIO_ONLY_S), await _quality(therapist)
            took = loop.time() - started
            print(f"{WEAK}: A audio-only after {took:.0f} s (bound {AUDIO_ONLY_S:.0f} s)")
            notices: list[str | None] = []

            async def both_shown() -> bool:
                notices[:] = [await _notice(page) for page in (therapist, client)]
                return all(notices)

            assert await _poll(both_shown, NOTICE_S), notices
            print(f"notices: {notices}")
            for text in notices:
                assert text is not None
                assert "Video angehalten: Die Verbindung ist zu schwach." in text
            assert await indicator.get_attribute("data-send") == "poor"
            audio_before = await client.evaluate(AUDIO_RECEIVED)
            weak_rate = await _video_kbps(therapist)
            audio_after = await client.evaluate(AUDIO_RECEIVED)
            print(
                f"{WEAK}: A's video {weak_rate:.0f} kbit/s; "
                f"B's audio samples +{audio_after - audio_before}"
            )
            assert audio_after > audio_before, (audio_before, audio_after)
            limited_frames: dict[str, Any] = await client.evaluate(VIDEO_FRAMES)

        # The limit is gone: A's next try brings the video back.
        started = loop.time()
        end = started + RECOVER_S
        back = False
        while loop.time() < end:
            q = await _quality(therapist)
            if q["profile"] not in (None, "audio-only") and await client.evaluate(
                FRAMES_MORE_THAN, limited_frames
            ):
                back = True
                break
            limited_frames = await client.evaluate(VIDEO_FRAMES)
            await asyncio.sleep(1.0)
        took = loop.time() - started
        print(
            f"after the limit: video back on B after {took:.0f} s (bound {RECOVER_S:.0f} s), "
            f"{await _quality(therapist)}"
        )
        assert back, await _quality(therapist)
        await _frames_advance(client)
        for page in (therapist, client):

            async def hidden(page: Page = page) -> bool:
                return await _notice(page) is None

            assert await _poll(hidden, NOTICE_S), "notice gone on both sides"

        started = loop.time()

        async def climbed() -> bool:
            return (await _quality(therapist))["profile"] in ("sd", "hd")

        assert await _poll(climbed, CLIMB_S), await _quality(therapist)
        took = loop.time() - started
        after = await _video_kbps(therapist)
        print(
            f"A at {(await _quality(therapist))['profile']} {took:.0f} s later "
            f"(bound {CLIMB_S:.0f} s), sends {after:.0f} kbit/s"
        )


def test_tc_is_here() -> None:
    """The token bucket needs ``tc`` (iproute2); say so rather than fail obscurely."""
    try:
        subprocess.run(["tc", "-V"], check=True, capture_output=True, timeout=TC_TIMEOUT_S)
    except (OSError, subprocess.CalledProcessError) as err:  # pragma: no cover
        pytest.skip(f"tc not available: {err}")
