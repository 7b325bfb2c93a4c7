"""Issue 15, screen sharing, end to end: real server, two real Chromium pages.

From each role in turn: "Bildschirm teilen" puts the screen (Chromium's fake
capture, ``screen:...``) on the video sender in the camera's place; the other
page says whose screen it sees and keeps decoding frames; every frame the
sharer's connection sent went through its encrypting transform (the worker's
counters catch up with the RTP statistics, nothing passed in clear); the
quality policy spends the rung on resolution (scale 1, a content frame rate).
Then "Freigabe beenden" in the browser's own bar (the capture ends and the
track fires ``ended``, as Chromium does) ends it on both pages, and the camera
is back on the sender.

Chromium's fake screen shows the same picture as its fake camera, so "the
screen is what goes out" is read from the sender (its track) and from the
statistics, not from the picture.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from harness.chromium import launch_chromium

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
from tests.real.test_e2e_transforms import WIRE, WORKER_CAUGHT_UP

if TYPE_CHECKING:
    from playwright.async_api import Page

pytestmark = [pytest.mark.netns, pytest.mark.browser]

# The video sender as the page has it: its track and the encoding the quality loop set.
SENDER = """() => {
  const pc = window.sprechzimmer.pc;
  const s = pc.getSenders().find((x) => x.track && x.track.kind === 'video');
  if (!s) return null;
  const e = s.getParameters().encodings[0] || {};
  return {label: s.track.label, hint: s.track.contentHint, live: s.track.readyState === 'live',
    scale: e.scaleResolutionDownBy ?? null, fps: e.maxFramerate ?? null};
}"""

# What the browser does when the person presses "stop sharing" in its own bar:
# the capture stops and the track fires `ended` (track.stop() alone fires nothing).
BROWSER_BAR_STOP = """() => {
  const s = window.sprechzimmer.pc.getSenders().find((x) => x.track && x.track.kind === 'video');
  const track = s.track;
  track.stop();
  track.dispatchEvent(new Event('ended'));
  return track.label;
}"""

SHARING_SENDER = (
    "() => { const s = ("
    + SENDER
    + ")(); return s && s.label.startsWith('screen') && s.live ? s : null; }"
)
CAMERA_SENDER = (
    "() => { const s = ("
    + SENDER
    + ")(); return s && !s.label.startsWith('screen') && s.live ? s : null; }"
)
# The quality loop applied the content profile (sendladder.js forContent): full resolution.
CONTENT_PROFILE = (
    "() => { const s = ("
    + SENDER
    + ")(); return s && s.scale === 1 && s.fps !== null && s.fps <= 15 ? s : null; }"
)
COUNTERS = "async () => await window.sprechzimmer.e2ee.counters()"


async def _state(page: Page, sharing: str) -> str:
    """The words over the video of this kind (``self`` or ``peer``)."""
    sel = f'[data-testid="screen-state"][data-sharing="{sharing}"]'
    await page.wait_for_selector(sel, state="visible", timeout=WAIT_MS)
    return await page.locator(sel).inner_text()


async def _every_sent_frame_encrypted(page: Page) -> dict[str, Any]:
    """Every frame the page's connection has sent so far went through its encrypting transform."""
    wire: dict[str, Any] = await page.evaluate(WIRE)
    await _until(page, WORKER_CAUGHT_UP, wire, "the worker to have seen every frame sent")
    counters: dict[str, Any] = await page.evaluate(COUNTERS)
    assert counters["passthrough"] == 0, counters
    return wire


async def _check_share(sharer: Page, viewer: Page) -> None:
    button = sharer.get_by_test_id("screen-share")
    assert await button.is_visible()
    assert await button.get_attribute("aria-pressed") == "false"
    await _until(sharer, CAMERA_SENDER, what="the camera on the sender")
    before: dict[str, Any] = await sharer.evaluate(WIRE)

    await button.click(timeout=WAIT_MS)
    await _until(sharer, SHARING_SENDER, what="the screen on the sender")
    shared = await sharer.evaluate(SENDER)
    assert shared["hint"] == "detail", shared
    assert await button.get_attribute("aria-pressed") == "true"
    assert "Sie teilen Ihren Bildschirm" in await _state(sharer, "self")
    assert "Bildschirm Ihres Gegenübers" in await _state(viewer, "peer")
    assert await viewer.get_by_test_id("screen-share").get_attribute("aria-pressed") == "false"
    # Detail before motion: the quality loop's next step applies the content profile.
    await _until(sharer, CONTENT_PROFILE, what="the content profile on the sender")

    # The shared frames arrive and are decoded; each one left through the transform.
    await _frames_advance(viewer)
    wire = await _every_sent_frame_encrypted(sharer)
    assert wire["sent"]["video"] > before["sent"]["video"], (before, wire)

    # The browser's own "stop sharing": ended on both pages, the camera back.
    label = await sharer.evaluate(BROWSER_BAR_STOP)
    assert label.startswith("screen"), label
    await sharer.wait_for_selector('[data-testid="screen-state"]', state="hidden", timeout=WAIT_MS)
    await viewer.wait_for_selector('[data-testid="screen-state"]', state="hidden", timeout=WAIT_MS)
    assert await button.get_attribute("aria-pressed") == "false"
    assert await viewer.locator(".stage").first.get_attribute("data-screen") == "false"
    await _until(sharer, CAMERA_SENDER, what="the camera back on the sender")
    await _frames_advance(viewer)
    await _every_sent_frame_encrypted(sharer)


async def test_screen_share_from_each_role(tmp_path: Path) -> None:
    """The therapist shares and stops from the browser's bar, then the client."""
    _need_chromium()
    with _server(tmp_path) as server:
        links = server.create_session(THERAPIST, CLIENT_ID)
        async with launch_chromium(server.ns, tmp_path, contexts=2) as chromium:
            therapist, client = await _start_call(*chromium.contexts, links)
            await _check_share(therapist, client)
            await _check_share(client, therapist)


async def test_a_phone_without_screen_capture_has_no_button(tmp_path: Path) -> None:
    """Where the browser cannot share a screen (phones: no getDisplayMedia): no button."""
    _need_chromium()
    with _server(tmp_path) as server:
        links = server.create_session(THERAPIST, CLIENT_ID)
        async with launch_chromium(server.ns, tmp_path, contexts=2) as chromium:
            for context in chromium.contexts:
                await context.add_init_script("delete MediaDevices.prototype.getDisplayMedia;")
            therapist, client = await _start_call(*chromium.contexts, links)
            for page in (therapist, client):
                assert await page.evaluate("typeof navigator.mediaDevices.getDisplayMedia") == (
                    "undefined"
                )
                assert await page.get_by_test_id("privacy-pause").is_visible()
                assert await page.get_by_test_id("screen-share").is_hidden()
