"""Browsers that cannot agree on media: said to both people, never looped.

A test switch (``sessionStorage['sz-debug-sdp'] = 'corrupt-codecs'``, see
``negotiation-debug.js``) makes the therapist's page spoil the codec list of
every description it sends, as a browser with a broken codec list would: the
client's Chromium refuses the offer. Without the work of issue 13 both pages
restarted ICE again and again and said nothing but "not connected yet".
Now, within 15 s of the admission, both pages show the same plain sentence
(what happened, what to try), the connection and its recovery end (no more
restarts, no new connection), and the anonymous error code reaches the
quality store.
"""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import pytest
from harness.chromium import chromium_available, launch_chromium
from harness.netns import netns_available, require_or_skip
from harness.server import TIME_SCALE, running_server

from tests.real.test_e2e_call import _admit, _join, _open, _status, _until

pytestmark = [pytest.mark.netns, pytest.mark.browser]

THERAPIST = "dr-negotiation"
SAID_WITHIN_S = 15.0
"""The issue's bound: from the admission to the message on both pages."""
QUIET_S = 6.0
"""How long the pages are watched afterwards for a retry that must not come."""

CORRUPT_CODECS = "try { sessionStorage.setItem('sz-debug-sdp', 'corrupt-codecs'); } catch (e) {}"

# What the page shows and whether anything still tries: the status line (its
# text in the page's language, compared with the dictionary's own sentence),
# the restarts and connections made so far, and whether a connection is open.
SHOWN = """async () => {
  const { t } = await import('/static/js/i18n.js');
  const status = document.querySelector('[data-testid="call-status"]');
  const h = window.sprechzimmer;
  return {
    status: status.dataset.status,
    text: status.textContent.trim(),
    expected: t('call.incompatible'),
    restarts: h.restarts,
    connections: h.peerConnections,
    open: h.pc !== null && h.pc !== undefined,
  };
}"""
INCOMPATIBLE_SHOWN = f"""async () => {{
  const s = await ({SHOWN})();
  return s.status === 'error' && s.text.includes(s.expected);
}}"""


def _need() -> None:
    for reason in (netns_available(), chromium_available()):
        if reason:
            require_or_skip(reason)


METRICS_TOKEN = "n" * 32
METRICS = f"""async () => {{
  const r = await fetch('/metrics', {{headers: {{Authorization: 'Bearer {METRICS_TOKEN}'}}}});
  return await r.text();
}}"""


def _reported(metrics: str, code: str) -> int:
    """How often ``code`` came in quality summaries, by the server's own counter."""
    found = re.search(rf'^sprechzimmer_quality_errors_total{{code="{code}"}} (\d+)$', metrics, re.M)
    assert found, f"no counter for {code}"
    return int(found.group(1))


async def test_refused_offer_is_said_on_both_pages_and_not_retried(tmp_path: Path) -> None:
    _need()
    with running_server(
        tmp_path, extra_env={"SPRECHZIMMER_METRICS_TOKEN": METRICS_TOKEN}
    ) as server:
        server.add_therapist(THERAPIST)
        links = server.create_session(THERAPIST, "K-negotiation")
        async with launch_chromium(server.ns, tmp_path, contexts=2) as chromium:
            therapist_ctx, client_ctx = chromium.contexts
            await therapist_ctx.add_init_script(CORRUPT_CODECS)
            therapist = await _open(therapist_ctx, links["therapist_url"])
            await _join(therapist)
            await _status(therapist, "waiting")
            client = await _open(client_ctx, links["client_url"])
            await _join(client)
            await _status(client, "waiting")

            await _admit(therapist)
            admitted_at = time.monotonic()
            pages = {"therapist": therapist, "client": client}
            for page in pages.values():
                await _until(page, INCOMPATIBLE_SHOWN, what="the sentence about the browsers")
            said_after = time.monotonic() - admitted_at
            assert said_after <= SAID_WITHIN_S * TIME_SCALE, said_after

            # Nothing tries again: no restart, no new connection, none open.
            before = {role: await page.evaluate(SHOWN) for role, page in pages.items()}
            await asyncio.sleep(QUIET_S)
            for role, page in pages.items():
                after = await page.evaluate(SHOWN)
                assert not after["open"], (role, after)
                assert after["restarts"] == before[role]["restarts"] == 0, (role, before, after)
                assert after["connections"] == before[role]["connections"] == 1, (role, after)
                assert after["status"] == "error", (role, after)
                # Hanging up stays at hand.
                assert await page.get_by_test_id("hangup").is_enabled()

            # The anonymous code: the refusing browser's summary, counted by the server.
            assert _reported(await client.evaluate(METRICS), "sdp-refused") == 1
