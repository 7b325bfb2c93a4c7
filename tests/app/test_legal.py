"""The legal pages in-process: public, cookie-free, in their language, the operator's own
text when there is one (escaped), the notice made from the list of stored columns."""

from __future__ import annotations

import html
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from sprechzimmer import datafields, legal, legaltext
from sprechzimmer.app import create_app, security_headers
from sprechzimmer.config import ConfigError, Settings
from sprechzimmer.datafields import LANGS, Lang

from ..conftest import make_settings

STATIC_JS = Path(legal.__file__).with_name("static") / "js"
ALL = [(page, lang) for page in legal.PAGES for lang in LANGS]
FILLED = {
    "terms": "# Anbieter\nPraxis Sonnenschein\n\nEs gilt, was hier steht.",
    "imprint": "# Angaben\nPraxis Sonnenschein\nLindenweg 3\n12345 Beispielstadt",
    "privacy": "# Verantwortlicher\nPraxis Sonnenschein, [Mail](mailto:praxis@example.org)",
}


def _settings(tmp_path: Path, **overrides: object) -> Settings:
    return make_settings(tmp_path, f"sqlite:///{tmp_path / 'legal.sqlite3'}", **overrides)


def _fill(directory: Path, pages: tuple[str, ...] = legal.PAGES) -> Path:
    directory.mkdir(exist_ok=True)
    for page in pages:
        for lang in LANGS:
            (directory / f"{page}.{lang}.md").write_text(
                f"{FILLED[page]}\n\n({lang})", encoding="utf-8"
            )
    return directory


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(_settings(tmp_path))) as c:
        yield c


def _client_with(tmp_path: Path, legal_dir: Path) -> TestClient:
    return TestClient(create_app(_settings(tmp_path, legal_dir=legal_dir)))


def _hrefs(text: str) -> set[str]:
    return {html.unescape(h) for h in re.findall(r'<a [^>]*href="([^"]+)"', text)}


@pytest.mark.parametrize(("page", "lang"), ALL)
def test_each_page_is_public_cookie_free_and_has_the_security_headers(
    client: TestClient, tmp_path: Path, page: legal.Page, lang: Lang
) -> None:
    response = client.get(legal.PATHS[page][lang])
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "set-cookie" not in response.headers
    assert not list(client.cookies)
    for name, value in security_headers(_settings(tmp_path)).items():
        assert response.headers[name] == value, name
    # Nothing that needs a script, nothing from another host.
    assert "<script" not in response.text
    assert not re.search(r'(?:src|href)="(?:https?:)?//', response.text)


@pytest.mark.parametrize(("page", "lang"), ALL)
def test_each_page_is_in_its_language_and_links_its_translation_and_the_others(
    client: TestClient, page: legal.Page, lang: Lang
) -> None:
    text = client.get(legal.PATHS[page][lang]).text
    assert f'<html lang="{lang}">' in text
    assert f"<h1>{html.escape(legal.TITLES[page][lang])}</h1>" in text
    other: Lang = "en" if lang == "de" else "de"
    expected = {legal.PATHS[page][other]} | {legal.PATHS[p][lang] for p in legal.PAGES}
    assert expected <= _hrefs(text)
    assert f'<a href="{legal.PATHS[page][lang]}" data-legal="{page}" aria-current="page">' in text


@pytest.mark.parametrize(("page", "lang"), ALL)
def test_without_operator_files_the_template_shows_with_a_plain_notice(
    client: TestClient, page: legal.Page, lang: Lang
) -> None:
    text = client.get(legal.PATHS[page][lang]).text
    assert 'data-testid="legal-unfilled"' in text
    assert '<mark class="placeholder">' in text
    unfilled = legal.TEXT["unfilled"][lang]
    assert html.escape(unfilled) in text


def test_operator_files_replace_the_templates(tmp_path: Path) -> None:
    with _client_with(tmp_path, _fill(tmp_path / "legal")) as client:
        for page, lang in ALL:
            text = client.get(legal.PATHS[page][lang]).text
            assert "Praxis Sonnenschein" in text and f"({lang})" in text, (page, lang)
            assert "legal-unfilled" not in text and "placeholder" not in text, (page, lang)
        imprint = client.get("/impressum").text
        assert "Praxis Sonnenschein<br>\nLindenweg 3<br>\n12345 Beispielstadt" in imprint
        privacy = client.get("/datenschutz").text
        assert '<a href="mailto:praxis@example.org">Mail</a>' in privacy


def test_html_in_an_operator_file_is_shown_as_text(tmp_path: Path) -> None:
    directory = _fill(tmp_path / "legal")
    (directory / "terms.de.md").write_text(
        '# Regeln <script>alert(1)</script>\n<img src=x onerror="alert(2)">\n'
        "[klick](javascript:alert(3))",
        encoding="utf-8",
    )
    with _client_with(tmp_path, directory) as client:
        text = client.get("/nutzungsbedingungen").text
    assert "<script" not in text and "<img" not in text and 'href="javascript' not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "&lt;img src=x onerror=&quot;alert(2)&quot;&gt;" in text
    assert "[klick](javascript:alert(3))" in text


def test_an_operator_file_with_a_placeholder_left_is_served_with_the_notice(
    tmp_path: Path,
) -> None:
    directory = _fill(tmp_path / "legal")
    (directory / "imprint.en.md").write_text("Practice [[name]]", encoding="utf-8")
    with _client_with(tmp_path, directory) as client:
        text = client.get("/imprint").text
    assert "Practice" in text and 'data-testid="legal-unfilled"' in text


@pytest.mark.parametrize("lang", LANGS)
def test_the_privacy_notice_lists_every_stored_column_and_what_is_never_stored(
    client: TestClient, lang: Lang
) -> None:
    text = client.get(legal.PATHS["privacy"][lang]).text
    cells = re.findall(r"<tr><td><code>([a-z_]+)\.<wbr>([a-z_0-9]+)</code></td>", text)
    cells = [f"{table}.{column}" for table, column in cells]
    assert cells == [c.name for c in datafields.COLUMNS]
    for column in datafields.COLUMNS:
        assert legaltext.inline(column.said(lang).purpose) in text, column.name
    never = datafields.NEVER_STORED.said(lang)
    assert f"<p>{html.escape(never)}</p>" in text
    assert html.escape(datafields.NEVER_HEADING.said(lang)) in text


def test_the_privacy_notice_says_this_deployments_retention(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path,
        metadata_retention_days=60,
        billing_retention_days=731,
        quality_retention_days=0,
    )
    with TestClient(create_app(settings)) as client:
        de = client.get("/datenschutz").text
        en = client.get("/privacy").text
    assert "länger als 60 Tage" in de and "731 Tage nach ihrem Tag" in de
    assert "werden nicht gespeichert" in de
    assert "older than 60 days" in en and "731 days after its day" in en
    assert "none are stored" in en


def test_missing_names_every_file_without_a_legal_dir(tmp_path: Path) -> None:
    assert legal.missing(_settings(tmp_path)) == [
        "terms.de.md",
        "terms.en.md",
        "privacy.de.md",
        "privacy.en.md",
        "imprint.de.md",
        "imprint.en.md",
    ]


def test_missing_names_absent_and_unfilled_files_only(tmp_path: Path) -> None:
    directory = _fill(tmp_path / "legal", pages=("terms", "imprint"))
    (directory / "imprint.en.md").write_text("Practice [[name]]", encoding="utf-8")
    settings = _settings(tmp_path, legal_dir=directory)
    assert legal.missing(settings) == ["privacy.de.md", "privacy.en.md", "imprint.en.md"]
    _fill(directory)
    assert legal.missing(settings) == []


def test_an_oversized_or_undecodable_file_counts_as_missing(tmp_path: Path) -> None:
    directory = _fill(tmp_path / "legal")
    (directory / "terms.de.md").write_bytes(b"x" * (legal.MAX_FILE_BYTES + 1))
    (directory / "terms.en.md").write_bytes(b"\xff\xfe not utf-8 \xc3")
    settings = _settings(tmp_path, legal_dir=directory)
    assert legal.missing(settings) == ["terms.de.md", "terms.en.md"]
    with _client_with(tmp_path, directory) as client:
        text = client.get("/terms").text
    assert 'data-testid="legal-unfilled"' in text and "not utf-8" not in text


def test_the_legal_dir_must_be_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SPRECHZIMMER_LEGAL_DIR"):
        _settings(tmp_path, legal_dir=tmp_path / "nowhere")
    assert _settings(tmp_path, legal_dir="").legal_dir is None


def test_the_browser_footer_uses_the_servers_paths_and_words() -> None:
    """static/js/legallinks.js and i18n.js say what legal.py says."""
    links = (STATIC_JS / "legallinks.js").read_text(encoding="utf-8")
    i18n = (STATIC_JS / "i18n.js").read_text(encoding="utf-8")
    dictionaries = dict(zip(LANGS, i18n.split("\nconst en = {", 1), strict=True))
    for lang in LANGS:
        paths_line = re.search(rf"^\s*{lang}: Object\.freeze\(\{{(.*)\}}\),$", links, re.M)
        assert paths_line, lang
        js_paths = dict(re.findall(r"(\w+): '([^']+)'", paths_line.group(1)))
        assert js_paths == {page: legal.PATHS[page][lang] for page in legal.PAGES}, lang
        words = dict(re.findall(r"'legal\.(\w+)': '([^']+)'", dictionaries[lang]))
        assert {p: words[p] for p in legal.PAGES} == {
            p: legal.LINK_LABELS[p][lang] for p in legal.PAGES
        }, lang
        assert words["nav"] == legal.TEXT["nav"][lang]


def test_the_templates_ship_for_every_page_and_language_and_are_marked_unfilled() -> None:
    for page, lang in ALL:
        text = (legal.TEMPLATES / legal.file_name(page, lang)).read_text(encoding="utf-8")
        assert legaltext.placeholders(text), (page, lang)
    root = Path(legal.__file__).parents[2]
    package_data = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "setuptools"
    ]["package-data"]["sprechzimmer"]
    assert f"{legal.TEMPLATES.name}/*" in package_data
