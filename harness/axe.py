"""axe-core (npm ``axe-core``, a dev dependency) run inside a real page.

The script is read from ``node_modules`` (``make install`` runs ``npm ci``) and
added to the page as a script tag, so the page's context needs ``bypass_csp``
(the service's Content-Security-Policy rightly allows only its own scripts).
Only the WCAG 2.0, 2.1 and 2.2 rules of levels A and AA run; a result is the
list of violations, each with its rule, impact, summary and the elements hit.

Nothing here decides what fails: the test does (issue 12: any ``serious`` or
``critical`` violation).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.async_api import Page

AXE_JS = Path(__file__).resolve().parent.parent / "node_modules" / "axe-core" / "axe.min.js"
WCAG_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa")
SEVERE = frozenset({"serious", "critical"})
"""The impacts that issue 12 allows none of."""

# One run over the whole document; results carry only the violations, and of
# each element its selector and axe's one-line account of what is wrong.
_RUN = """async (tags) => {
  const result = await window.axe.run(document, {
    runOnly: {type: 'tag', values: tags},
    resultTypes: ['violations'],
  });
  const ran = result.passes.length + result.violations.length
    + result.incomplete.length + result.inapplicable.length;
  const violations = result.violations.map((v) => ({
    rule: v.id,
    impact: v.impact,
    help: v.help,
    nodes: v.nodes.map((n) => ({
      target: n.target.map((t) => Array.isArray(t) ? t.join(' >>> ') : String(t)).join(' '),
      summary: (n.failureSummary || '').replace(/\\s+/g, ' ').trim(),
      html: (n.html.split('>')[0] + '>').replace(/\\s+/g, ' ').slice(0, 160),
    })),
  }));
  return {ran, violations};
}"""


@dataclass(frozen=True)
class Node:
    target: str
    """axe's CSS selector of the element."""
    summary: str
    """axe's account of what is wrong with it, on one line."""
    html: str
    """The element's opening tag (to tell apart elements of one selector; no text,
    so that one finding in two languages stays one)."""


@dataclass(frozen=True)
class Violation:
    rule: str
    impact: str | None
    help: str
    nodes: tuple[Node, ...]


def axe_available() -> str | None:
    """None if axe-core is installed in node_modules, else the reason why not."""
    if not AXE_JS.is_file():
        return f"axe-core is not installed at {AXE_JS} (make install runs npm ci)"
    return None


async def run_axe(page: Page) -> list[Violation]:
    """Run the WCAG A/AA rules of axe-core over ``page`` as it is now."""
    if not await page.evaluate("() => typeof window.axe === 'object'"):
        await page.add_script_tag(path=str(AXE_JS))
    result: dict[str, Any] = await page.evaluate(_RUN, list(WCAG_TAGS))
    if not result["ran"]:
        raise RuntimeError(f"axe-core ran no rule at all on {page.url}")
    raw: list[dict[str, Any]] = result["violations"]
    return [
        Violation(
            rule=v["rule"],
            impact=v["impact"],
            help=v["help"],
            nodes=tuple(Node(n["target"], n["summary"], n["html"]) for n in v["nodes"]),
        )
        for v in raw
    ]
