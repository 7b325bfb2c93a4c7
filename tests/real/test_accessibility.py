"""Issue 12, acceptance: axe-core finds no serious or critical violation in any page state.

The walker (``harness/callstates.py``) takes the real pages through every state
of both roles (login, dashboard, device check, waiting room, knocking, the call,
camera off, hang-up, the ends, a dead link), on a laptop and on a phone screen.
In each state axe-core's WCAG 2.0/2.1/2.2 A and AA rules run in light and in
dark mode, in German and in English (switched with the page's own switch).

Every violation of impact ``serious`` or ``critical`` is collected; the test
fails once and lists each with its rule, the element (axe's selector), axe's
summary and where it was seen. axe-core comes from ``npm ci``: without it the
test skips on a laptop and fails in CI (``SPRECHZIMMER_REQUIRE_ALL=1``).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest
from harness.axe import SEVERE, axe_available, run_axe
from harness.callstates import (
    DEVICES,
    LANGS,
    SCHEMES,
    Device,
    Seen,
    complete,
    serving,
    switch_lang,
    switch_scheme,
    walk,
)
from harness.chromium import chromium_available
from harness.netns import netns_available, require_or_skip

pytestmark = [pytest.mark.netns, pytest.mark.browser]

Finding = tuple[str, str, str, str, str]
"""(rule, impact, target, element's markup, summary)"""
Where = tuple[str, str, str, str]
"""(device, lang, scheme, state)"""


def _report(found: dict[Finding, list[Where]]) -> str:
    lines = [f"{len(found)} serious or critical axe-core violation(s):"]
    for (rule, impact, target, html, summary), where in sorted(found.items()):
        by_view: dict[str, list[str]] = defaultdict(list)
        for device, lang, scheme, state in where:
            if state not in by_view[f"{device}/{lang}/{scheme}"]:
                by_view[f"{device}/{lang}/{scheme}"].append(state)
        lines.append(f"- {rule} [{impact}] {target} {html}: {summary}")
        lines.extend(f"    {view}: {', '.join(states)}" for view, states in by_view.items())
    return "\n".join(lines)


@pytest.mark.parametrize("device", DEVICES, ids=[d.name for d in DEVICES])
async def test_no_serious_violation_in_any_state(tmp_path: Path, device: Device) -> None:
    """Acceptance (issue 12): axe-core, every state, light and dark, both languages."""
    for reason in (netns_available(), chromium_available(), axe_available()):
        if reason is not None:
            require_or_skip(reason)
    found: dict[Finding, list[Where]] = defaultdict(list)
    runs = 0

    async def audit(seen: Seen) -> None:
        nonlocal runs
        for lang in (seen.lang, *(x for x in LANGS if x != seen.lang)):
            await switch_lang(seen.page, lang)
            for scheme in SCHEMES:
                await switch_scheme(seen.page, scheme)
                runs += 1
                for v in await run_axe(seen.page):
                    if v.impact not in SEVERE:
                        continue
                    for node in v.nodes:
                        found[(v.rule, v.impact, node.target, node.html, node.summary)].append(
                            (seen.device.name, lang, scheme, seen.state.name)
                        )

    async with serving(tmp_path) as served:
        visited = await walk(served, audit, device=device, lang="de", bypass_csp=True)
    assert complete(visited), visited
    assert runs == len(visited) * len(LANGS) * len(SCHEMES)
    if found:
        pytest.fail(_report(found), pytrace=False)
