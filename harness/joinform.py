"""What a test client says before it joins: its name and its consent.

A client's call page asks, on the device check, for the name the person wants
to be addressed by and for a tick on the terms of use and the privacy notice
(``static/js/joinform.js``). Every browser test that joins as a client fills
them in the same way: ``FILL_JOIN_FORM`` sets the input and the box the page
reads when "Beitreten" is pressed (a therapist's page has no form: nothing
happens). A test about the form itself types and clicks as a person does.
"""

from __future__ import annotations

from typing import Any, Protocol

TEST_CLIENT_NAME = "Test Client"
"""The name every test client gives (a test about the name uses its own)."""

FILL_JOIN_FORM = """(name) => {
  const form = document.getElementById('join-form');
  if (!form || form.hidden) return false;
  document.querySelector('[data-testid="client-name"]').value = name;
  document.querySelector('[data-testid="consent"]').checked = true;
  return true;
}"""
"""A function for ``page.evaluate(FILL_JOIN_FORM, name)``: true when the form was there."""


def fill_join_form_expression(name: str = TEST_CLIENT_NAME) -> str:
    """``FILL_JOIN_FORM`` applied to ``name``, as one expression (for DevTools' evaluate)."""
    return f"({FILL_JOIN_FORM})({name!r})"


class _Evaluates(Protocol):
    async def evaluate(self, source: str, arg: Any = None) -> Any: ...


async def fill_join_form(page: _Evaluates, name: str = TEST_CLIENT_NAME) -> bool:
    """Fill a client's form on ``page`` (Playwright or ``harness.engines`` page)."""
    return bool(await page.evaluate(FILL_JOIN_FORM, name))
