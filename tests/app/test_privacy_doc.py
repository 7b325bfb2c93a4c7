"""docs/privacy.md describes every table and column of the schema, in German and English."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import inspect

from sprechzimmer.store import Store

DOC = Path(__file__).resolve().parents[2] / "docs" / "privacy.md"
ROW = re.compile(r"^\| `([a-z_]+)\.([a-z_0-9]+)` \|", re.MULTILINE)


def documented(section: str) -> set[tuple[str, str]]:
    text = DOC.read_text(encoding="utf-8")
    start = text.index(f"\n## {section}\n")
    end = text.find("\n## ", start + 1)
    return set(ROW.findall(text[start : end if end > 0 else None]))


def test_the_doc_lists_exactly_the_schema(store: Store) -> None:
    inspector = inspect(store.engine)
    actual = {
        (table, column["name"])
        for table in inspector.get_table_names()
        for column in inspector.get_columns(table)
    }
    for section in ("Deutsch", "English"):
        listed = documented(section)
        assert listed - actual == set(), f"{section}: documented but not in the schema"
        assert actual - listed == set(), f"{section}: in the schema but not documented"


def test_every_row_says_why_and_how_long() -> None:
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if ROW.match(line):
            cells = [c.strip() for c in line.strip("|").split("|")]
            assert len(cells) == 4 and all(cells), line
