"""Issue 12, acceptance: the call controls are in reach without scrolling, in every state.

At 1280×800 (a laptop) and at 390×844 (a phone: touch, device scale 2), for
both roles and both languages, in every state of the call page where media
flows (``Kind.CALL``), mute, camera, hang-up and the verification code (once the
page has a code) must be shown, lie fully inside the viewport while the page is
scrolled to the top, and be the topmost element at their centre (not covered).
In the states around the call (``Kind.SETUP``: device check, waiting, knocking,
the other person has left) the same holds for each of those controls that the
page shows, and the knocking therapist's admit button must be in reach. And every
control's label reads whole: no word of it broken across lines (issue 15 put
five or six controls in the phone's row).

One server and one browser for everything: the walker (``harness/callstates.py``)
takes one session per screen through all states, and the language is changed
with the page's own switch in each state, not by a new call. The test collects
every problem of every state and fails once, listing them all.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from harness.callstates import (
    DEVICES,
    LANGS,
    STATES,
    THERAPIST_KNOCKING,
    Kind,
    Seen,
    complete,
    serving,
    switch_lang,
    walk,
)
from harness.chromium import chromium_available
from harness.netns import netns_available, require_or_skip

pytestmark = [pytest.mark.netns, pytest.mark.browser]

CONTROLS = ("mute", "camera", "hangup")
"""Shown and in reach whenever media flows."""
ALSO_WHEN_SHOWN = ("sas", "verify", "admit")
"""In reach whenever the page shows them (the code: whenever it has text)."""

# Where each element is, as the page lays it out: the first shown element of the
# test id (or the first at all), its box in CSS pixels of the viewport, and what
# is drawn at its centre.
MEASURE = """(ids) => {
  const shown = (el) => el.checkVisibility({checkOpacity: true, visibilityProperty: true});
  const items = {};
  for (const id of ids) {
    const all = [...document.querySelectorAll(`[data-testid="${id}"]`)];
    const el = all.find(shown) || all[0];
    if (!el) { items[id] = null; continue; }
    const r = el.getBoundingClientRect();
    const top = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    const cover = top && !(top === el || el.contains(top))
      ? top.tagName.toLowerCase() + (top.id ? '#' + top.id : '')
        + (top.className && typeof top.className === 'string'
           ? '.' + top.className.trim().split(/\\s+/).join('.') : '')
      : null;
    items[id] = {
      shown: shown(el) && r.width > 0 && r.height > 0,
      text: (el.textContent || '').trim(),
      left: r.left, top: r.top, right: r.right, bottom: r.bottom,
      cover,
    };
  }
  const s = document.scrollingElement;
  return {
    items,
    scrollTop: s ? s.scrollTop : 0,
    scrollHeight: s ? s.scrollHeight : 0,
    status: document.querySelector('[data-testid="call-status"]')?.dataset.status ?? null,
  };
}"""


@dataclass(frozen=True)
class Problem:
    device: str
    lang: str
    state: str
    what: str

    def __str__(self) -> str:
        return f"{self.device} {self.lang} {self.state}: {self.what}"


def _box(item: dict[str, Any]) -> str:
    return f"x {item['left']:.0f}..{item['right']:.0f}, y {item['top']:.0f}..{item['bottom']:.0f}"


# The words of the call controls' labels that the layout breaks across lines
# ("Stum|mscha|lten" on a phone with too many controls in one row): a word is one
# range of its text node; more than one line box for it is a break inside it.
BROKEN_WORDS = """() => {
  const shown = (el) => el.checkVisibility({checkOpacity: true, visibilityProperty: true});
  const broken = [];
  for (const label of document.querySelectorAll('.controls button.control .control-label')) {
    if (!shown(label)) continue;
    for (const node of label.childNodes) {
      if (node.nodeType !== Node.TEXT_NODE) continue;
      for (const m of node.textContent.matchAll(/\\S+/g)) {
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
        if (lines.size > 1) broken.push(m[0]);
      }
    }
  }
  return broken;
}"""


def _problems_in(seen: Seen, lang: str, measured: dict[str, Any]) -> list[str]:
    """What is out of reach in one state, in one language (empty: all in reach)."""
    width, height = seen.device.width, seen.device.height
    kind = seen.state.kind
    items: dict[str, dict[str, Any] | None] = measured["items"]
    found: list[str] = []
    if measured["scrollTop"] != 0:
        found.append(f"page scrolled by {measured['scrollTop']} px")
    required = set(CONTROLS) if kind is Kind.CALL else set()
    if seen.state == THERAPIST_KNOCKING:
        required.add("admit")
    for testid in (*CONTROLS, *ALSO_WHEN_SHOWN):
        item = items[testid]
        must = testid in required or (
            testid == "sas" and item is not None and bool(item["text"]) and kind is Kind.CALL
        )
        if item is None or not item["shown"]:
            if must:
                found.append(f"{testid} not shown")
            continue
        if testid == "sas" and not item["text"]:
            continue  # an empty code box is no code yet
        inside = (
            item["left"] >= 0
            and item["top"] >= 0
            and item["right"] <= width
            and item["bottom"] <= height
        )
        if not inside:
            found.append(
                f"{testid} outside the {width}×{height} viewport ({_box(item)}; "
                f"page height {measured['scrollHeight']})"
            )
        elif item["cover"]:
            found.append(f"{testid} covered by {item['cover']} ({_box(item)})")
    return found


async def test_controls_in_reach_in_every_state(tmp_path: Path) -> None:
    """Acceptance (issue 12): mute, camera, hang-up and the code in the viewport, unscrolled."""
    for reason in (netns_available(), chromium_available()):
        if reason is not None:
            require_or_skip(reason)
    problems: list[Problem] = []
    checked: list[tuple[str, str, str]] = []

    async def check(seen: Seen) -> None:
        if seen.state.kind not in (Kind.CALL, Kind.SETUP):
            return
        for lang in (seen.lang, *(x for x in LANGS if x != seen.lang)):
            await switch_lang(seen.page, lang)
            measured = await seen.page.evaluate(MEASURE, [*CONTROLS, *ALSO_WHEN_SHOWN])
            checked.append((seen.device.name, lang, seen.state.name))
            problems.extend(
                Problem(seen.device.name, lang, seen.state.name, what)
                for what in _problems_in(seen, lang, measured)
            )
            # Every label reads whole: no word of it broken across lines.
            problems.extend(
                Problem(seen.device.name, lang, seen.state.name, f"label word {w!r} broken")
                for w in await seen.page.evaluate(BROKEN_WORDS)
            )

    wanted: list[tuple[str, str, str]] = []
    async with serving(tmp_path) as served:
        for device in DEVICES:
            visited = await walk(served, check, device=device, lang="de")
            assert complete(visited), visited
            wanted.extend(
                (device.name, lang, s.name)
                for s in STATES
                if s.name in visited and s.kind in (Kind.CALL, Kind.SETUP)
                for lang in LANGS
            )
    assert sorted(checked) == sorted(wanted)
    if problems:
        pytest.fail(
            f"{len(problems)} control(s) out of reach:\n" + "\n".join(str(p) for p in problems),
            pytrace=False,
        )
