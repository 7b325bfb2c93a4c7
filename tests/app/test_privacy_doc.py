"""One list of stored columns (``sprechzimmer.datafields``): the schema, the doc and it agree.

The module lists every table and column of the migrated schema, in German and
English; docs/privacy.md shows exactly the tables and the "never stored"
paragraphs the module renders (``python -m sprechzimmer.datafields --update
docs/privacy.md`` re-renders the tables).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import inspect

from sprechzimmer import datafields
from sprechzimmer.datafields import COLUMNS, LANGS, Lang
from sprechzimmer.store import Store

DOC = Path(__file__).resolve().parents[2] / "docs" / "privacy.md"


def _doc() -> str:
    return DOC.read_text(encoding="utf-8")


def test_the_module_lists_exactly_the_schema(store: Store) -> None:
    inspector = inspect(store.engine)
    actual = {
        f"{table}.{column['name']}"
        for table in inspector.get_table_names()
        for column in inspector.get_columns(table)
    }
    listed = [c.name for c in COLUMNS]
    assert len(listed) == len(set(listed)), "a column is listed twice"
    assert set(listed) - actual == set(), "listed but not in the schema"
    assert actual - set(listed) == set(), "in the schema but not listed in datafields.py"


def test_every_column_says_what_why_and_how_long_in_both_languages() -> None:
    for column in COLUMNS:
        assert re.fullmatch(r"[a-z_]+\.[a-z_0-9]+", column.name), column.name
        for lang in LANGS:
            said = column.said(lang)
            cells = (said.content, said.purpose, said.kept)
            assert all(cell.strip() for cell in cells), (column.name, lang)
            # A pipe would split the doc's table row.
            assert not any("|" in cell or "\n" in cell for cell in cells), (column.name, lang)


@pytest.mark.parametrize("lang", LANGS)
def test_the_doc_tables_are_what_the_module_renders(lang: Lang) -> None:
    doc = _doc()
    start, end = datafields.table_span(doc, lang)
    assert doc[start:end] == datafields.markdown(lang), (
        "docs/privacy.md differs from sprechzimmer/datafields.py; "
        "run: python -m sprechzimmer.datafields --update docs/privacy.md"
    )


@pytest.mark.parametrize("lang", LANGS)
def test_the_doc_says_what_is_never_stored_as_the_module_does(lang: Lang) -> None:
    doc = _doc()
    heading = f"\n### {datafields.NEVER_HEADING.said(lang)}\n"
    section = doc[doc.index(heading) + len(heading) :]
    section = section[: section.index("\n### ")]
    paragraphs = [" ".join(p.split()) for p in section.strip().split("\n\n")]
    assert paragraphs[:2] == [
        datafields.NEVER_STORED.said(lang),
        datafields.QUALITY_LINKABILITY.said(lang),
    ]


def test_rerendering_replaces_only_the_tables() -> None:
    doc = _doc()
    table = datafields.markdown("en")
    stale = doc.replace(table, table.replace("while the account exists", "forever", 1))
    assert stale != doc
    assert datafields.rerendered(stale) == doc


def test_the_command_prints_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert datafields.main(["--markdown", "de"]) == 0
    out = capsys.readouterr().out
    assert out == datafields.markdown("de")
    assert out.startswith("| Spalte | Inhalt | Zweck | Dauer |\n")
