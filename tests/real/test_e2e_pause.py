"""Issue 15, the privacy pause, end to end: real server, two real Chromium pages.

The therapist pauses: the client's page says "Pausiert seit HH:MM", both pages
stop sending pictures (each holds its camera and microphone), and the therapist's
tap on "Fortsetzen" brings the pictures back on both sides. Then the same from
the client. "Stop" is read from the connection's own counters: the frames one
page sends in a window while paused are a small fraction of those it sends while
running (a disabled track still sends a black frame now and then, which carries
nothing); the receiving page's element counters show frames again afterwards.

Every wait is bounded by ``WAIT_MS`` (scaled by ``SPRECHZIMMER_TEST_TIME_SCALE``).
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from harness.chromium import launch_chromium
from harness.server import TIME_SCALE

from tests.real.test_e2e_call import (
    CLIENT_ID,
    THERAPIST,
    WAIT_MS,
    _frames_advance,
    _need_chromium,
    _server,
    _start_call,
    _until,
)

if TYPE_CHECKING:
    from playwright.async_api import Page

pytestmark = [pytest.mark.netns, pytest.mark.browser]

WINDOW_S = 2.0 * TIME_SCALE
"""How long the frames sent are counted, once running and once paused."""

# The video frames and audio packets this page has sent.
SENT = """async () => {
  const pc = window.sprechzimmer.pc;
  let frames = 0;
  let audio = 0;
  (await pc.getStats()).forEach((r) => {
    if (r.type === 'outbound-rtp' && r.kind === 'video') frames += r.framesSent || 0;
    if (r.type === 'outbound-rtp' && r.kind === 'audio') audio += r.packetsSent || 0;
  });
  return {frames, audio};
}"""

# The video frames that arrived on this page's connection (what the other side sent).
RECEIVED = """async () => {
  let frames = 0;
  (await window.sprechzimmer.pc.getStats()).forEach((r) => {
    if (r.type === 'inbound-rtp' && r.kind === 'video') frames += r.framesReceived || 0;
  });
  return frames;
}"""

# Our own tracks as the page holds them: all disabled while paused.
TRACKS_ENABLED = """() => {
  const v = document.querySelector('[data-testid="local-video"]');
  return v.srcObject.getTracks().map((t) => t.enabled);
}"""


async def _sent_in_window(page: Page) -> tuple[int, int]:
    """Video frames and audio packets (50 a second while sending) sent in one window."""
    before = await page.evaluate(SENT)
    await asyncio.sleep(WINDOW_S)  # a measuring window, not a wait for an event
    after = await page.evaluate(SENT)
    return int(after["frames"] - before["frames"]), int(after["audio"] - before["audio"])


async def _frames_sent(pages: tuple[Page, Page]) -> list[int]:
    return [(await _sent_in_window(p))[0] for p in pages]


async def _banner(page: Page, paused: str) -> str:
    """Wait for the pause sentence of this kind (``self`` or ``peer``) and return it."""
    sel = f'[data-testid="pause-state"][data-paused="{paused}"]:not([hidden])'
    await page.wait_for_selector(sel, state="visible", timeout=WAIT_MS)
    return await page.locator(sel).inner_text()


async def _no_banner(page: Page) -> None:
    await page.wait_for_selector('[data-testid="pause-state"]', state="hidden", timeout=WAIT_MS)


async def _check_pause(pauser: Page, other: Page) -> None:
    running = await _frames_sent((pauser, other))
    assert all(n >= 10 for n in running), running

    await pauser.get_by_test_id("privacy-pause").click(timeout=WAIT_MS)
    own = await _banner(pauser, "self")
    seen = await _banner(other, "peer")
    assert re.search(r"Pausiert seit \d\d:\d\d", seen), seen
    assert re.search(r"Pausiert seit \d\d:\d\d", own), own
    # Both sides hold camera and microphone; the other side cannot switch them back on.
    for page in (pauser, other):
        await _until(page, f"() => ({TRACKS_ENABLED})().every((e) => !e)", what="tracks held")
        assert await page.get_by_test_id("camera").is_disabled()
        assert await page.get_by_test_id("mute").is_disabled()
    assert await other.get_by_test_id("privacy-pause").get_attribute("aria-pressed") == "false"
    assert await pauser.get_by_test_id("privacy-pause").get_attribute("aria-pressed") == "true"
    received_before = [await p.evaluate(RECEIVED) for p in (pauser, other)]
    windows = [await _sent_in_window(p) for p in (pauser, other)]
    paused = [frames for frames, _ in windows]
    # No sound either: a sender without a track sends no audio packets.
    assert all(audio <= 5 for _, audio in windows), windows
    for was, now in zip(running, paused, strict=True):
        assert now * 4 <= was, (running, paused)
    # And what arrives on each side meanwhile: as little (the connection's own
    # count; the element's lags behind a hidden <video>).
    received_after = [await p.evaluate(RECEIVED) for p in (pauser, other)]
    for before, after, was in zip(received_before, received_after, running, strict=True):
        assert (after - before) * 4 <= was, (received_before, received_after, running)
    # Nothing of the other person shows on either screen meanwhile.
    for page in (pauser, other):
        assert not await page.get_by_test_id("remote-video").is_visible()

    await pauser.get_by_test_id("privacy-pause").click(timeout=WAIT_MS)
    for page in (pauser, other):
        await _no_banner(page)
        await _until(page, f"() => ({TRACKS_ENABLED})().every((e) => e)", what="tracks back")
        assert await page.get_by_test_id("camera").is_enabled()
    for page in (pauser, other):
        sample = await _frames_advance(page)
        assert sample["width"] > 0
    again = await _frames_sent((pauser, other))
    assert all(n >= 10 for n in again), again


async def test_privacy_pause_both_ways(tmp_path: Path) -> None:
    """The therapist pauses and resumes, then the client: each time both sides hold."""
    _need_chromium()
    with _server(tmp_path) as server:
        links = server.create_session(THERAPIST, CLIENT_ID)
        async with launch_chromium(server.ns, tmp_path, contexts=2) as chromium:
            therapist, client = await _start_call(*chromium.contexts, links)
            await _check_pause(therapist, client)
            await _check_pause(client, therapist)
