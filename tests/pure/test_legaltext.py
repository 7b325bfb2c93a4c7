"""The legal pages' text format: blocks, inline marks, and that nothing escapes escaping."""

from __future__ import annotations

import pytest

from sprechzimmer.legaltext import Heading, Items, Paragraph, parse, placeholders, to_html


def test_blocks_headings_paragraphs_with_line_breaks_and_lists() -> None:
    text = "# Anbieter\nPraxis Beispiel\nWeg 1\n\n- eins\n  weiter\n- zwei\nDanach\n\n#### vier"
    assert parse(text) == [
        Heading(1, "Anbieter"),
        Paragraph(("Praxis Beispiel", "Weg 1")),
        Items(("eins weiter", "zwei")),
        Paragraph(("Danach",)),
        Paragraph(("#### vier",)),
    ]
    assert to_html("# A\n## B\nx\ny\n\n- i") == (
        "<h2>A</h2>\n<h3>B</h3>\n<p>x<br>\ny</p>\n<ul>\n<li>i</li>\n</ul>\n"
    )


def test_windows_line_ends_read_as_plain_ones() -> None:
    assert parse("# A\r\nx\r\ny\r\n") == parse("# A\nx\ny\n")


def test_html_in_the_text_is_shown_as_text() -> None:
    out = to_html('<script>alert("x")</script>\n# <img src=x onerror=alert(1)>\n- a & b')
    assert "<script" not in out and "<img" not in out
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in out
    assert "&lt;img src=x onerror=alert(1)&gt;" in out
    assert "a &amp; b" in out


@pytest.mark.parametrize(
    ("target", "rel"),
    [
        ("https://www.bfdi.bund.de/", ' rel="noopener noreferrer"'),
        ("mailto:praxis@example.org", ""),
        ("tel:+49-30-123456", ""),
        ("/datenschutz", ""),
    ],
)
def test_safe_links_become_links(target: str, rel: str) -> None:
    assert to_html(f"[hier]({target})") == f'<p><a href="{target}"{rel}>hier</a></p>\n'


@pytest.mark.parametrize(
    "target",
    [
        "javascript:alert(1)",
        "data:text/html,x",
        "http://example.org",
        "//evil.example/x",
        'https://x.org/"onmouseover="alert(1)',
        "vbscript:x",
    ],
)
def test_other_links_stay_text(target: str) -> None:
    out = to_html(f"[klick]({target})")
    assert "<a" not in out and "klick" in out


def test_bold_code_and_placeholders() -> None:
    assert to_html("**Stand.** `sz_session` [[Name]]") == (
        '<p><strong>Stand.</strong> <code>sz_session</code> <mark class="placeholder">'
        "[[Name]]</mark></p>\n"
    )
    assert (
        to_html("[[<b>x</b>]]")
        == '<p><mark class="placeholder">[[&lt;b&gt;x&lt;/b&gt;]]</mark></p>\n'
    )


def test_placeholders_are_found_and_a_filled_text_has_none() -> None:
    assert placeholders("Name: [[Name]]\n[[Ort]] und [x](https://a.de)") == ["Name", "Ort"]
    assert placeholders("Praxis Beispiel, [Datenschutz](/datenschutz)") == []


def test_an_empty_text_is_empty() -> None:
    assert to_html("") == "" and to_html("\n \n") == ""
