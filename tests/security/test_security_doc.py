"""docs/security.md names a test for each defence: every name it gives must exist.

A defence whose test was renamed or removed would otherwise still be claimed.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).parents[2]
DOC = ROOT / "docs/security.md"
# `security/test_x.py`, `app/test_x.py::name`, `::name` (same file as the one before), `test_x*`.
REFERENCE = re.compile(r"`((?:\w+/)?test_\w+\.py)?(?:::(test_\w+\*?))?`")


def _tests_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name.startswith("test_")
    }


def test_every_test_the_security_doc_names_exists() -> None:
    text = DOC.read_text()
    current: Path | None = None
    named = 0
    for match in REFERENCE.finditer(text):
        file, name = match.groups()
        if file:
            current = ROOT / "tests" / file
            assert current.is_file(), f"docs/security.md names {file}, which does not exist"
        if name:
            assert current is not None, f"{name} is named before any file"
            tests = _tests_in(current)
            found = (
                any(t.startswith(name[:-1]) for t in tests) if name.endswith("*") else name in tests
            )
            assert found, f"docs/security.md names {current.name}::{name}, which does not exist"
            named += 1
    assert named >= 20, named  # the doc lists a test for each defence


def test_every_security_test_file_is_in_the_doc() -> None:
    text = DOC.read_text()
    for path in sorted((ROOT / "tests/security").glob("test_*.py")):
        if path.name != Path(__file__).name:
            assert f"security/{path.name}" in text, f"docs/security.md does not mention {path.name}"
