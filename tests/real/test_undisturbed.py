"""An undisturbed consultation (issue 14; KBV Anlage 31b: no signal tones of other
callers): while the therapist is in a call, a client knocking in another session
makes no sound and no notification on any of the therapist's pages.

One therapist browser context holds what a therapist really has open: the
dashboard, the call page of the running consultation (in front), and the call
page of the next session, waiting for its client (in the background). Every
chime (``sound.js`` makes each note with ``createOscillator``) and every browser
notification of those pages is counted by an init script; pages other than the
consultation's are made to look like background tabs, where notifications show.

The test first shows that a knock with no call running does ring and notify
(so the counting works and the test can fail), then that two knocks during the
call do neither, on all three pages, though the banner and the knocking state
still show them, and that the chime comes back once the call has ended.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from harness.chromium import launch_chromium

from tests.real.test_e2e_call import (
    THERAPIST,
    WAIT_MS,
    _fragment,
    _hang_up,
    _join,
    _login_and_create_session,
    _need_chromium,
    _open,
    _server,
    _start_call,
    _status,
    _until,
)
from tests.real.test_e2e_dashboard import KNOCK

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, Page

pytestmark = [pytest.mark.netns, pytest.mark.browser]

# Counts chime notes and notifications on every page of the therapist's context.
# The consultation's page (its session id in the link) stays in front; every
# other page says it is a background tab, as it would be during a call.
ALERT_WATCH = """(() => {
  const front = %s;
  window.__alerts = {tones: 0, notes: 0};
  const oscillator = AudioContext.prototype.createOscillator;
  AudioContext.prototype.createOscillator = function () {
    window.__alerts.tones += 1;
    return oscillator.call(this);
  };
  class CountedNotification {
    static permission = 'granted';
    static requestPermission() { return Promise.resolve('granted'); }
    constructor() { window.__alerts.notes += 1; }
    addEventListener() {}
    close() {}
  }
  window.Notification = CountedNotification;
  try { localStorage.setItem('sprechzimmer.notify', 'on'); } catch {}
  if (!location.hash.includes(front)) {
    Object.defineProperty(Document.prototype, 'hidden', {get: () => true, configurable: true});
    Object.defineProperty(Document.prototype, 'visibilityState',
      {get: () => 'hidden', configurable: true});
    Document.prototype.hasFocus = () => false;
  }
})()"""

ALERTS = "() => window.__alerts"


async def _knock(context: BrowserContext, origin: str, client_url: str) -> Page:
    """A client knocks with a plain WebSocket (only the knock matters here)."""
    page = await _open(context, f"{origin}/")
    fragment = _fragment(client_url)
    await page.evaluate(KNOCK, [fragment["s"], fragment["t"]])
    return page


async def _alerts(pages: dict[str, Page]) -> dict[str, dict[str, int]]:
    return {name: await page.evaluate(ALERTS) for name, page in pages.items()}


async def test_no_sound_or_notification_of_another_session_during_a_call(
    tmp_path: Path,
) -> None:
    _need_chromium()
    with _server(tmp_path) as server:
        consultation = await asyncio.to_thread(server.create_session, THERAPIST, "Pseudonym-RUHE-A")
        next_one = await asyncio.to_thread(server.create_session, THERAPIST, "Pseudonym-RUHE-B")
        other = await asyncio.to_thread(server.create_session, THERAPIST, "Pseudonym-RUHE-C")
        front = _fragment(consultation["therapist_url"])["s"]
        async with launch_chromium(server.ns, tmp_path, contexts=2) as chromium:
            therapist_ctx, client_ctx = chromium.contexts
            await therapist_ctx.add_init_script(ALERT_WATCH % json.dumps(front))
            dashboard, early_url = await _login_and_create_session(
                therapist_ctx, server.base_url, "Pseudonym-RUHE-D"
            )
            banner = dashboard.get_by_test_id("waiting-banner")

            # No call yet: a knock rings and notifies (the counting works).
            early = await _knock(client_ctx, server.base_url, early_url)
            await banner.wait_for(state="visible", timeout=WAIT_MS)
            await _until(
                dashboard,
                "() => window.__alerts.tones >= 2 && window.__alerts.notes >= 1",
                what="the chime and the notification of a knock with no call running",
            )
            await early.close()
            await banner.wait_for(state="hidden", timeout=WAIT_MS)

            # The next session's page waits for its client, in the background.
            waiting = await _open(therapist_ctx, next_one["therapist_url"])
            await _join(waiting)
            await _status(waiting, "waiting")
            # The consultation: both pages in a call, video both ways.
            therapist, client = await _start_call(therapist_ctx, client_ctx, consultation)
            row = dashboard.locator(f'tr[data-session-id="{front}"]')
            await row.locator(".badge-in-call").wait_for(state="visible", timeout=WAIT_MS)
            pages = {"dashboard": dashboard, "next session": waiting, "consultation": therapist}
            before = await _alerts(pages)

            # Two clients knock during the call: one at the page that waits for
            # it, one seen only by the dashboard. Both show; neither rings.
            await _knock(client_ctx, server.base_url, next_one["client_url"])
            await _knock(client_ctx, server.base_url, other["client_url"])
            await _status(waiting, "knocking")
            await _until(
                dashboard,
                "() => document.title.startsWith('(2)')",
                what="the dashboard to show both waiting clients",
            )
            assert await banner.is_visible()
            assert await _alerts(pages) == before, "a knock disturbed the consultation"
            assert await client.evaluate("window.sprechzimmer.state") == "in-call"

            # The consultation ends: a new knock rings again.
            await _hang_up(therapist)
            await row.locator(".badge-in-call").wait_for(state="detached", timeout=WAIT_MS)
            await _knock(client_ctx, server.base_url, early_url)
            await _until(
                dashboard,
                "(tones) => window.__alerts.tones > tones",
                before["dashboard"]["tones"],
                what="the chime again once the call has ended",
            )
