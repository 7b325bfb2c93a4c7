"""The error table of docs/protocol.md and errors.py say the same, and close
codes come from that one table (``errors.close_code``), pure."""

from __future__ import annotations

import re
from pathlib import Path

from sprechzimmer import errors
from sprechzimmer.errors import SprechzimmerError, close_code

DOC = Path(__file__).parents[2] / "docs/protocol.md"
ROW = re.compile(r"^\| `([a-z-]+)` \| (yes|no|—) \| ([^|]+) \|", re.MULTILINE)


def _all_errors() -> dict[str, type[SprechzimmerError]]:
    found: dict[str, type[SprechzimmerError]] = {}
    todo: list[type[SprechzimmerError]] = [SprechzimmerError]
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        found.setdefault(cls.code, cls)
    return found


def test_every_documented_error_closes_with_its_documented_code() -> None:
    text = DOC.read_text()
    section = text[text.index("## Errors and close codes") :]
    section = section[: section.index("\n## ", 1)]
    table = ROW.findall(section)
    assert len(table) >= 10, table
    classes = _all_errors()
    for code, fatal, closing in table:
        cls = classes[code]
        error = cls("test")
        if fatal == "yes":
            assert error.fatal and close_code(error) == int(closing), code
        elif fatal == "no":
            assert not error.fatal, code


def test_a_normal_close_and_an_error_without_a_code() -> None:
    assert close_code(None) == 1000
    assert close_code(errors.InvalidLogin()) == 1011  # a user error never closes a socket itself
    assert close_code(errors.Replaced()) == errors.Replaced.close_code


I18N = Path(__file__).parents[2] / "src/sprechzimmer/static/js/i18n.js"


def _i18n(key: str) -> tuple[str, str]:
    """(de, en) of one key of i18n.js, its two dictionaries in that order."""
    found = re.findall(rf"^  '{re.escape(key)}': '((?:[^'\\]|\\.)*)',$", I18N.read_text(), re.M)
    assert len(found) == 2, key
    de, en = (text.replace("\\'", "'") for text in found)
    return de, en


def test_the_link_errors_say_what_the_page_says() -> None:
    """The page shows its own sentence for these codes (the link check and the call
    page's error state); the server's answer says the same, in both languages."""
    for error, key in (
        (errors.LinkInvalid(), "error.linkInvalid"),
        (errors.LinkExpired(), "error.linkExpired"),
        (errors.LinkRevoked(), "error.linkRevoked"),
        (errors.Occupied(client_link=True), "error.occupied"),
    ):
        assert _i18n(key) == (error.say().de, error.say().en), key
