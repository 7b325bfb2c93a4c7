"""The public legal pages: terms of use, privacy notice, imprint, in German and English.

KBV Anlage 31b asks a video service to publish its terms of use in German,
readable without login; a privacy notice and an imprint belong next to them.
Each page is served at a fixed path per language (:data:`PATHS`), rendered on
the server (no script needed to read it), without login and without a cookie.

What the operator must say (who they are, their address, their terms) comes
from their own files in ``SPRECHZIMMER_LEGAL_DIR`` (``terms.de.md``,
``imprint.en.md``, ``privacy.de.md``, ...; format: :mod:`sprechzimmer.legaltext`).
A file that is not there, or still holds a ``[[placeholder]]``, is replaced by
the shipped template and the page says plainly that the operator has not filled
it in yet; :func:`missing` names those files for ``sprechzimmer audit``.

The privacy notice adds to the operator's part (the controller's details) the
list of stored columns from :mod:`sprechzimmer.datafields`, the one list the
doc and the schema test use, so that the notice cannot drift from the schema.

This module never puts a file path or a setting's value on a page, and never
puts anything from a file on a page unescaped.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from fastapi import Request
from fastapi.responses import HTMLResponse

from . import datafields, legaltext
from .config import Settings
from .datafields import LANGS, Lang

log = logging.getLogger(__name__)

Page = Literal["terms", "privacy", "imprint"]
PAGES: tuple[Page, ...] = ("terms", "privacy", "imprint")

PATHS: dict[Page, dict[Lang, str]] = {
    "terms": {"de": "/nutzungsbedingungen", "en": "/terms"},
    "privacy": {"de": "/datenschutz", "en": "/privacy"},
    "imprint": {"de": "/impressum", "en": "/imprint"},
}
"""Fixed: other pages, the browser's footer (``static/js/legallinks.js``) and
operators' own texts link to them."""

TITLES: dict[Page, dict[Lang, str]] = {
    "terms": {"de": "Nutzungsbedingungen", "en": "Terms of use"},
    "privacy": {"de": "Datenschutzerklärung", "en": "Privacy notice"},
    "imprint": {"de": "Impressum", "en": "Imprint"},
}

LINK_LABELS: dict[Page, dict[Lang, str]] = {
    "terms": {"de": "Nutzungsbedingungen", "en": "Terms of use"},
    "privacy": {"de": "Datenschutz", "en": "Privacy"},
    "imprint": {"de": "Impressum", "en": "Imprint"},
}
"""The footer's words; the browser's footer has the same ones as ``legal.*`` keys in
``static/js/i18n.js`` (a test compares them)."""

TEMPLATES = Path(__file__).with_name("legal_templates")
MAX_FILE_BYTES = 256 * 1024
"""An operator's file larger than this is not served (a legal page is a few kB)."""

OTHER: dict[Lang, Lang] = {"de": "en", "en": "de"}
LANG_NAMES: dict[Lang, str] = {"de": "Deutsch", "en": "English"}

# The pages' own sentences; ``**...**`` and backticks as in the text format.
TEXT: dict[str, dict[Lang, str]] = {
    "app": {"de": "Sprechzimmer", "en": "Sprechzimmer"},
    "nav": {"de": "Rechtliches", "en": "Legal"},
    "unfilled": {
        "de": (
            "Der Betreiber dieses Dienstes hat diese Angaben noch nicht ausgefüllt. "
            "Der folgende Text ist eine Vorlage; markierte Stellen fehlen noch."
        ),
        "en": (
            "The operator of this service has not filled in this information yet. "
            "The text below is a template; the marked parts are still missing."
        ),
    },
    "stored": {
        "de": "Welche Daten dieser Dienst speichert",
        "en": "What data this service stores",
    },
    "stored_intro": {
        "de": (
            "Der Dienst speichert nur die folgenden Daten, Spalte für Spalte seiner "
            "Datenbank. Bild und Ton gehen Ende-zu-Ende-verschlüsselt direkt zwischen den "
            "beiden Browsern oder über das Relais des Dienstes, das nur verschlüsselte "
            "Pakete sieht; sie werden nie aufgezeichnet."
        ),
        "en": (
            "The service stores only the data below, column by column of its database. "
            "Picture and sound travel end-to-end encrypted straight between the two "
            "browsers or through the service's relay, which sees only encrypted packets; "
            "they are never recorded."
        ),
    },
    "retention": {
        "de": (
            "**Fristen hier.** Eine Sitzung wird mit ihren Verbindungsereignissen "
            "gelöscht, wenn ihre Links abgelaufen sind und ihr letztes Ereignis länger "
            "als {metadata} Tage zurückliegt; von einer weiter genutzten Sitzung gehen "
            "die älteren Ereignisse monatsweise. Für die Abrechnung bleibt je Monat eine "
            "Zeile (Tag ohne Uhrzeit, Minuten, Klienten-ID, Kurzreferenz), gelöscht "
            "{billing} Tage nach ihrem Tag. Qualitätsdaten: {quality}."
        ),
        "en": (
            "**Retention here.** A session is deleted with its connection events once "
            "its links have expired and its last event is older than {metadata} days; of "
            "a session still in use, the older events go month by month. For billing, "
            "one line per month stays (day without time, minutes, "
            "client ID, short reference), deleted {billing} days after its day. Quality "
            "data: {quality}."
        ),
    },
    "quality_days": {"de": "höchstens {days} Tage", "en": "at most {days} days"},
    "quality_none": {"de": "werden nicht gespeichert", "en": "none are stored"},
    "cookies_heading": {"de": "Cookies", "en": "Cookies"},
    "cookies": {
        "de": (
            "Klientinnen und Klienten bekommen keine Cookies, und diese Seiten setzen "
            "keine. Nur Therapeutinnen und Therapeuten bekommen beim Anmelden zwei "
            "technisch notwendige Cookies (`sz_session`: die Anmeldung; `sz_device`: "
            "dieser Browser hat sich schon einmal angemeldet). Es gibt keine Analyse, "
            "keine Werbung und keine Inhalte anderer Anbieter."
        ),
        "en": (
            "Clients get no cookies, and these pages set none. Only therapists get two "
            "technically necessary cookies when they log in (`sz_session`: the login; "
            "`sz_device`: this browser has logged in before). There is no analytics, no "
            "advertising and no content from other providers."
        ),
    },
    "columns_caption": {"de": "Gespeicherte Daten", "en": "Stored data"},
}


def file_name(page: Page, lang: Lang) -> str:
    """The operator's file for ``page`` in ``lang`` (and the template's name)."""
    return f"{page}.{lang}.md"


@dataclass(frozen=True)
class Source:
    """The text a page shows, and whether it is the operator's, filled in."""

    text: str
    filled_in: bool
    """False: the template, or the operator's file with a placeholder left."""


def _operator_text(settings: Settings, name: str) -> str | None:
    if settings.legal_dir is None:
        return None
    path = settings.legal_dir / name
    try:
        if not path.is_file():
            return None
        if path.stat().st_size > MAX_FILE_BYTES:
            log.warning("legal text %s is larger than %d bytes; not served", name, MAX_FILE_BYTES)
            return None
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        log.warning("legal text %s cannot be read (%s); the template is served", name, error)
        return None


def source(settings: Settings, page: Page, lang: Lang) -> Source:
    """The operator's text for ``page`` in ``lang``, or the template."""
    name = file_name(page, lang)
    text = _operator_text(settings, name)
    if text is None:
        return Source((TEMPLATES / name).read_text(encoding="utf-8"), filled_in=False)
    return Source(text, filled_in=not legaltext.placeholders(text))


def missing(settings: Settings) -> list[str]:
    """The files in ``SPRECHZIMMER_LEGAL_DIR`` the operator has yet to supply or fill in.

    One file name per page and language (``terms.de.md``, ``privacy.en.md``, ...)
    that is absent, unreadable, larger than :data:`MAX_FILE_BYTES`, or still holds
    a ``[[placeholder]]``; in the order of :data:`PAGES`, German first. Empty: all
    six pages show the operator's own text. ``privacy`` is the controller's part
    of the privacy notice (who, data protection officer, authority).
    """
    return [
        file_name(page, lang)
        for page in PAGES
        for lang in LANGS
        if not source(settings, page, lang).filled_in
    ]


def _t(key: str, lang: Lang) -> str:
    return TEXT[key][lang]


def _columns_table(lang: Lang) -> str:
    header = {
        "de": ("Spalte", "Inhalt", "Zweck", "Dauer"),
        "en": ("Column", "Content", "Purpose", "Kept"),
    }
    rows = [
        "<tr>"
        # A phone breaks the name after the table's name, not inside a word.
        f"<td><code>{html.escape(c.table)}.<wbr>{html.escape(c.column)}</code></td>"
        f"<td>{legaltext.inline(c.said(lang).content)}</td>"
        f"<td>{legaltext.inline(c.said(lang).purpose)}</td>"
        f"<td>{legaltext.inline(c.said(lang).kept)}</td>"
        "</tr>"
        for c in datafields.COLUMNS
    ]
    return (
        '<div class="table-wrap">\n<table class="stored-data">\n'
        f"<caption>{html.escape(_t('columns_caption', lang))}</caption>\n"
        "<thead><tr>"
        + "".join(f'<th scope="col">{html.escape(h)}</th>' for h in header[lang])
        + "</tr></thead>\n<tbody>\n"
        + "\n".join(rows)
        + "\n</tbody>\n</table>\n</div>\n"
    )


def privacy_facts(settings: Settings, lang: Lang) -> str:
    """The part of the privacy notice the service itself knows: what it stores, for how
    long here, what it never stores, cookies. HTML."""
    days = settings.quality_retention_days
    quality = _t("quality_days", lang).format(days=days) if days > 0 else _t("quality_none", lang)
    retention = _t("retention", lang).format(
        metadata=settings.metadata_retention_days,
        billing=settings.billing_retention_days,
        quality=quality,
    )
    parts = [
        f"<h2>{html.escape(_t('stored', lang))}</h2>",
        f"<p>{legaltext.inline(_t('stored_intro', lang))}</p>",
        _columns_table(lang),
        f"<p>{legaltext.inline(retention)}</p>",
        f"<h2>{html.escape(datafields.NEVER_HEADING.said(lang))}</h2>",
        f"<p>{legaltext.inline(datafields.NEVER_STORED.said(lang))}</p>",
        f"<p>{legaltext.inline(datafields.QUALITY_LINKABILITY.said(lang))}</p>",
        f"<h2>{html.escape(_t('cookies_heading', lang))}</h2>",
        f"<p>{legaltext.inline(_t('cookies', lang))}</p>",
    ]
    return "\n".join(parts) + "\n"


def footer(lang: Lang, current: Page | None = None) -> str:
    """The footer that links the three pages in ``lang`` (the same as the static pages')."""
    links = []
    for page in PAGES:
        here = ' aria-current="page"' if page == current else ""
        links.append(
            f'<a href="{PATHS[page][lang]}" data-legal="{page}"{here}>'
            f"{html.escape(LINK_LABELS[page][lang])}</a>"
        )
    return (
        f'<footer class="legal-footer">\n<nav aria-label="{html.escape(_t("nav", lang))}">\n'
        + "\n".join(links)
        + "\n</nav>\n</footer>\n"
    )


def render_page(settings: Settings, page: Page, lang: Lang) -> str:
    """The whole HTML document of ``page`` in ``lang``."""
    other = OTHER[lang]
    src = source(settings, page, lang)
    title = TITLES[page][lang]
    body = [f"<h1>{html.escape(title)}</h1>"]
    if not src.filled_in:
        body.append(
            f'<p class="notice warning" data-testid="legal-unfilled">'
            f"{html.escape(_t('unfilled', lang))}</p>"
        )
    body.append(legaltext.to_html(src.text))
    if page == "privacy":
        body.append(privacy_facts(settings, lang))
    return (
        "<!doctype html>\n"
        f'<html lang="{lang}">\n<head>\n'
        '<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="referrer" content="no-referrer">\n'
        f"<title>{html.escape(title)} – {html.escape(_t('app', lang))}</title>\n"
        '<link rel="icon" href="/static/img/icon.svg" type="image/svg+xml">\n'
        '<link rel="stylesheet" href="/static/css/app.css">\n'
        '</head>\n<body class="page-legal">\n'
        '<header class="topbar">\n'
        f'<span class="brand">{html.escape(_t("app", lang))}</span>\n'
        f'<a class="lang-link" href="{PATHS[page][other]}" hreflang="{other}" lang="{other}"'
        f' data-testid="legal-other-lang">{LANG_NAMES[other]}</a>\n'
        "</header>\n"
        '<main class="legal">\n'
        + "\n".join(body)
        + "</main>\n"
        + footer(lang, page)
        + "</body>\n</html>\n"
    )


def endpoint(page: Page, lang: Lang) -> Callable[..., HTMLResponse]:
    """The route for one page. Synchronous on purpose: it reads a small file, and
    FastAPI runs it in its thread pool."""

    def serve(request: Request) -> HTMLResponse:
        settings: Settings = request.app.state.settings
        return HTMLResponse(
            render_page(settings, page, lang), headers={"Cache-Control": "no-cache"}
        )

    return serve
