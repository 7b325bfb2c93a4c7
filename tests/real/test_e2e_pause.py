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

# The video frames this page has sent, and the level of its microphone as sent.
SENT = """async () => {
  const pc = window.sprechzimmer.pc;
  let frames = 0;
  let level = null;
  (await pc.getStats()).forEach((r) => {
    if (r.type === 'outbound-rtp' && r.kind === 'video') frames += r.framesSent || 0;
    if (r.type === 'media-source' && r.kind === 'audio') level = r.audioLevel ?? null;
  });
  return {frames, level};
}"""

# Our own tracks as the page holds them: all disabled while paused.
TRACKS_ENABLED = """() => {
  const v = document.querySelector('[data-testid="local-video"]');
  return v.srcObject.getTracks().map((t) => t.enabled);
}"""


async def _sent_in_window(page: Page) -> int:
    before = await page.evaluate(SENT)
    await asyncio.sleep(WINDOW_S)  # a measuring window, not a wait for an event
    after = await page.evaluate(SENT)
    return int(after["frames"] - before["frames"])


async def _banner(page: Page, paused: str) -> str:
    """Wait for the pause sentence of this kind (``self`` or ``peer``) and return it."""
    sel = f'[data-testid="pause-state"][data-paused="{paused}"]:not([hidden])'
    await page.wait_for_selector(sel, state="visible", timeout=WAIT_MS)
    return await page.locator(sel).inner_text()


async def _no_banner(page: Page) -> None:
    await page.wait_for_selector('[data-testid="pause-state"]', state="hidden", timeout=WAIT_MS)


async def _check_pause(pauser: Page, other: Page) -> None:
    running = [await _sent_in_window(p) for p in (pauser, other)]
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
    paused = [await _sent_in_window(p) for p in (pauser, other)]
    for was, now in zip(running, paused, strict=True):
        assert now * 4 <= was, (running, paused)
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
    again = [await _sent_in_window(p) for p in (pauser, other)]
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
