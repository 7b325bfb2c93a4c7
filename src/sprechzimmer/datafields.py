"""Every column the database stores, in German and English: content, purpose, how long.

The one list of what sprechzimmer keeps. Three things are made from it, so that
they cannot drift apart: the tables in ``docs/privacy.md`` (a test compares
them with :func:`markdown`), the schema test (every column of the migrated
database is listed here, and nothing else), and the privacy notice the service
serves at ``/datenschutz`` and ``/privacy``.

Adding a column: add one :class:`StoredColumn` below (German and English), then
``python -m sprechzimmer.datafields --update docs/privacy.md`` rewrites the
doc's two tables. This module is pure data and text; it reads no setting and
touches no database.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Lang = Literal["de", "en"]
LANGS: tuple[Lang, ...] = ("de", "en")


@dataclass(frozen=True)
class Said:
    """One column described in one language: the three cells of a table row."""

    content: str
    """What the column holds (backticks mark literal values, as in the doc)."""
    purpose: str
    """Why it is kept."""
    kept: str
    """How long it is kept."""


@dataclass(frozen=True)
class StoredColumn:
    """One column of one table, as ``table.column``, described in both languages."""

    name: str
    de: Said
    en: Said

    @property
    def table(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def column(self) -> str:
        return self.name.split(".", 1)[1]

    def said(self, lang: Lang) -> Said:
        return self.de if lang == "de" else self.en


@dataclass(frozen=True)
class Bilingual:
    """One paragraph in both languages."""

    de: str
    en: str

    def said(self, lang: Lang) -> str:
        return self.de if lang == "de" else self.en


# Keep the order of docs/privacy.md: by table, then as the columns were added.
_LINE_KEPT = Bilingual(
    de="Abrechnungsfrist (Vorgabe 400 Tage ab dem Tag)",
    en="billing retention (default 400 days after the day)",
)
"""How long a billing line is kept (``SPRECHZIMMER_BILLING_RETENTION_DAYS``)."""

COLUMNS: tuple[StoredColumn, ...] = (
    StoredColumn(
        "therapists.id",
        de=Said("laufende Nummer", "interne Verknüpfung", "solange das Konto besteht"),
        en=Said("serial number", "internal reference", "while the account exists"),
    ),
    StoredColumn(
        "therapists.code",
        de=Said("Anmeldekennung der Therapeutin", "Anmeldung", "solange das Konto besteht"),
        en=Said("the therapist's login code", "login", "while the account exists"),
    ),
    StoredColumn(
        "therapists.password_hash",
        de=Said(
            "Argon2id-Hash des Passworts (nie das Passwort)",
            "Anmeldung",
            "solange das Konto besteht",
        ),
        en=Said(
            "Argon2id hash of the password (never the password)",
            "login",
            "while the account exists",
        ),
    ),
    StoredColumn(
        "therapists.api_key_hashes",
        de=Said(
            "SHA-256-Hashes der API-Schlüssel (nie die Schlüssel)",
            "Anbindung der Praxissoftware",
            "bis zum Widerruf der Schlüssel",
        ),
        en=Said(
            "SHA-256 hashes of the API keys (never the keys)",
            "practice software",
            "until the keys are revoked",
        ),
    ),
    StoredColumn(
        "therapists.created_at",
        de=Said("Anlagezeitpunkt (UTC)", "Verwaltung", "solange das Konto besteht"),
        en=Said("created (UTC)", "administration", "while the account exists"),
    ),
    StoredColumn(
        "therapists.disabled",
        de=Said("Konto gesperrt ja/nein", "Verwaltung", "solange das Konto besteht"),
        en=Said("account disabled or not", "administration", "while the account exists"),
    ),
    StoredColumn(
        "therapists.login_generation",
        de=Said(
            "Zähler; Abmelden, neues Passwort oder Sperren erhöhen ihn und beenden damit "
            "jede frühere Anmeldung",
            "Sicherheit der Anmeldung",
            "solange das Konto besteht",
        ),
        en=Said(
            "a counter; logout, a new password or disabling raise it, which ends every "
            "earlier login",
            "login security",
            "while the account exists",
        ),
    ),
    StoredColumn(
        "sessions.id",
        de=Said(
            "zufällige Sitzungskennung (128 bit)",
            "Zuordnung von Links und Ereignissen",
            "Metadatenfrist (Vorgabe 90 Tage)",
        ),
        en=Said(
            "random session id (128 bits)",
            "links and events",
            "metadata retention (default 90 days)",
        ),
    ),
    StoredColumn(
        "sessions.therapist_id",
        de=Said(
            "Verweis auf die Therapeutin", "wessen Sitzung", "Metadatenfrist (Vorgabe 90 Tage)"
        ),
        en=Said("the therapist", "whose session", "metadata retention (default 90 days)"),
    ),
    StoredColumn(
        "sessions.client_id",
        de=Said(
            "Klienten-ID, genau wie eingetippt (ein Pseudonym der Therapeutin)",
            "Abrechnung, Übersicht",
            "Metadatenfrist (Vorgabe 90 Tage)",
        ),
        en=Said(
            "client ID exactly as typed (the therapist's pseudonym)",
            "billing, overview",
            "metadata retention (default 90 days)",
        ),
    ),
    StoredColumn(
        "sessions.created_at",
        de=Said("Anlagezeitpunkt (UTC)", "Übersicht", "Metadatenfrist (Vorgabe 90 Tage)"),
        en=Said("created (UTC)", "overview", "metadata retention (default 90 days)"),
    ),
    StoredColumn(
        "sessions.expires_at",
        de=Said(
            "Ablauf der Einladungslinks (UTC)",
            "Zutritt, Aufbewahrung",
            "Metadatenfrist (Vorgabe 90 Tage)",
        ),
        en=Said(
            "when the invite links expire (UTC)",
            "access, retention",
            "metadata retention (default 90 days)",
        ),
    ),
    StoredColumn(
        "sessions.state",
        de=Said(
            "`open`, `closed` (von der Therapeutin oder dem Therapeuten beendet) oder "
            "`revoked` (Links widerrufen)",
            "Zutritt, Übersicht",
            "Metadatenfrist (Vorgabe 90 Tage)",
        ),
        en=Said(
            "`open`, `closed` (ended by the therapist) or `revoked` (links withdrawn)",
            "access, overview",
            "metadata retention (default 90 days)",
        ),
    ),
    StoredColumn(
        "sessions.seats",
        de=Said(
            "Zahl der Plätze für Klientinnen und Klienten (1 bis 8; 1 im Einzelgespräch)",
            "Einladungslinks, Zutritt",
            "Metadatenfrist (Vorgabe 90 Tage)",
        ),
        en=Said(
            "number of client seats (1 to 8; 1 in a one-to-one session)",
            "invite links, access",
            "metadata retention (default 90 days)",
        ),
    ),
    StoredColumn(
        "tokens.hash",
        de=Said(
            "SHA-256-Hash eines Einladungs-Tokens (nie das Token)", "Zutritt", "bis zum Ablauf"
        ),
        en=Said("SHA-256 of an invite token (never the token)", "access", "until it expires"),
    ),
    StoredColumn(
        "tokens.session_id",
        de=Said("Verweis auf die Sitzung", "Zutritt", "bis zum Ablauf"),
        en=Said("the session", "access", "until it expires"),
    ),
    StoredColumn(
        "tokens.role",
        de=Said("`therapist` oder `client`", "Zutritt", "bis zum Ablauf"),
        en=Said("`therapist` or `client`", "access", "until it expires"),
    ),
    StoredColumn(
        "tokens.expires_at",
        de=Said("Ablauf (UTC)", "Zutritt", "bis zum Ablauf"),
        en=Said("expiry (UTC)", "access", "until it expires"),
    ),
    StoredColumn(
        "tokens.seat",
        de=Said(
            "Platznummer des Links: 0 die Therapeutin, 1 bis 8 ein Klientenplatz",
            "Zutritt",
            "bis zum Ablauf",
        ),
        en=Said(
            "the link's seat number: 0 the therapist, 1 to 8 a client seat",
            "access",
            "until it expires",
        ),
    ),
    StoredColumn(
        "events.id",
        de=Said("laufende Nummer", "Reihenfolge", "Metadatenfrist (Vorgabe 90 Tage)"),
        en=Said("serial number", "order", "metadata retention (default 90 days)"),
    ),
    StoredColumn(
        "events.session_id",
        de=Said("Verweis auf die Sitzung", "Abrechnung", "Metadatenfrist (Vorgabe 90 Tage)"),
        en=Said("the session", "billing", "metadata retention (default 90 days)"),
    ),
    StoredColumn(
        "events.role",
        de=Said("`therapist` oder `client`", "Abrechnung", "Metadatenfrist (Vorgabe 90 Tage)"),
        en=Said("`therapist` or `client`", "billing", "metadata retention (default 90 days)"),
    ),
    StoredColumn(
        "events.kind",
        de=Said(
            "`joined`, `admitted`, `media_connected`, `media_disconnected`, `left`",
            "Abrechnung, Support",
            "Metadatenfrist (Vorgabe 90 Tage)",
        ),
        en=Said(
            "`joined`, `admitted`, `media_connected`, `media_disconnected`, `left`",
            "billing, support",
            "metadata retention (default 90 days)",
        ),
    ),
    StoredColumn(
        "events.at",
        de=Said("Serverzeit (UTC)", "Abrechnung", "Metadatenfrist (Vorgabe 90 Tage)"),
        en=Said("server time (UTC)", "billing", "metadata retention (default 90 days)"),
    ),
    StoredColumn(
        "events.seat",
        de=Said(
            "Platznummer (0 die Therapeutin, 1 bis 8 ein Klientenplatz), kein Name",
            "Abrechnung je Platz",
            "Metadatenfrist (Vorgabe 90 Tage)",
        ),
        en=Said(
            "seat number (0 the therapist, 1 to 8 a client seat), no name",
            "billing per seat",
            "metadata retention (default 90 days)",
        ),
    ),
    StoredColumn(
        "billing_lines.id",
        de=Said("laufende Nummer", "interne Verknüpfung", _LINE_KEPT.de),
        en=Said("serial number", "internal reference", _LINE_KEPT.en),
    ),
    StoredColumn(
        "billing_lines.therapist_id",
        de=Said("Verweis auf die Therapeutin", "wessen Abrechnung", _LINE_KEPT.de),
        en=Said("the therapist", "whose billing", _LINE_KEPT.en),
    ),
    StoredColumn(
        "billing_lines.client_id",
        de=Said("Klienten-ID der gelöschten Sitzung, wie eingetippt", "Abrechnung", _LINE_KEPT.de),
        en=Said("the purged session's client ID, as typed", "billing", _LINE_KEPT.en),
    ),
    StoredColumn(
        "billing_lines.reference",
        de=Said(
            "kurze Sitzungsreferenz der CSV (8 Hex-Zeichen), nicht die Sitzungs-ID",
            "bereits exportierte Zeilen wiedererkennen",
            _LINE_KEPT.de,
        ),
        en=Said(
            "the CSV's short session reference (8 hex characters), not the session id",
            "recognising lines already exported",
            _LINE_KEPT.en,
        ),
    ),
    StoredColumn(
        "billing_lines.day",
        de=Said(
            "Abrechnungstag in der Zeitzone der Praxis, ohne Uhrzeit", "Abrechnung", _LINE_KEPT.de
        ),
        en=Said(
            "billing day in the practice's time zone, no time of day", "billing", _LINE_KEPT.en
        ),
    ),
    StoredColumn(
        "billing_lines.seconds",
        de=Said(
            "abrechenbare Sekunden des Klientenplatzes in diesem Monat", "Abrechnung", _LINE_KEPT.de
        ),
        en=Said("the client seat's billable seconds in that month", "billing", _LINE_KEPT.en),
    ),
    StoredColumn(
        "billing_lines.seat",
        de=Said("abgerechneter Klientenplatz (1 im Einzelgespräch)", "Abrechnung", _LINE_KEPT.de),
        en=Said("the client seat billed (1 in a one-to-one session)", "billing", _LINE_KEPT.en),
    ),
    StoredColumn(
        "quality_samples.call_id",
        de=Said(
            "zufällige Anruf-ID, nirgends mit einer Sitzung verknüpft",
            "Zusammenfassen eines Anrufs",
            "höchstens 90 Tage",
        ),
        en=Said(
            "random call id, tied to no session anywhere", "grouping one call", "at most 90 days"
        ),
    ),
    StoredColumn(
        "quality_samples.bucket",
        de=Said("Beginn der UTC-Stunde", "Zeitreihe", "höchstens 90 Tage"),
        en=Said("start of the UTC hour", "time series", "at most 90 days"),
    ),
    StoredColumn(
        "quality_samples.bitrate_out_kbps",
        de=Said("gesendete Bitrate", "Qualitätssicherung", "höchstens 90 Tage"),
        en=Said("sent bitrate", "quality assurance", "at most 90 days"),
    ),
    StoredColumn(
        "quality_samples.bitrate_in_kbps",
        de=Said("empfangene Bitrate", "Qualitätssicherung", "höchstens 90 Tage"),
        en=Said("received bitrate", "quality assurance", "at most 90 days"),
    ),
    StoredColumn(
        "quality_samples.loss_pct",
        de=Said("Paketverlust", "Qualitätssicherung", "höchstens 90 Tage"),
        en=Said("packet loss", "quality assurance", "at most 90 days"),
    ),
    StoredColumn(
        "quality_samples.rtt_ms",
        de=Said("Umlaufzeit", "Qualitätssicherung", "höchstens 90 Tage"),
        en=Said("round-trip time", "quality assurance", "at most 90 days"),
    ),
    StoredColumn(
        "quality_samples.jitter_ms",
        de=Said("Jitter", "Qualitätssicherung", "höchstens 90 Tage"),
        en=Said("jitter", "quality assurance", "at most 90 days"),
    ),
    StoredColumn(
        "quality_samples.fps",
        de=Said("Bilder je Sekunde", "Qualitätssicherung", "höchstens 90 Tage"),
        en=Said("frames per second", "quality assurance", "at most 90 days"),
    ),
    StoredColumn(
        "quality_samples.height",
        de=Said("Bildhöhe in Pixeln", "Qualitätssicherung", "höchstens 90 Tage"),
        en=Said("picture height in pixels", "quality assurance", "at most 90 days"),
    ),
    StoredColumn(
        "quality_samples.local_candidate",
        de=Said(
            "Verbindungsart (host, srflx, relay …), keine Adresse",
            "Relais-Last",
            "höchstens 90 Tage",
        ),
        en=Said(
            "connection type (host, srflx, relay …), no address", "relay load", "at most 90 days"
        ),
    ),
    StoredColumn(
        "quality_samples.remote_candidate",
        de=Said("Verbindungsart der Gegenseite, keine Adresse", "Relais-Last", "höchstens 90 Tage"),
        en=Said("the other side's connection type, no address", "relay load", "at most 90 days"),
    ),
    StoredColumn(
        "quality_samples.errors",
        de=Said("Fehlercodes, sortiert", "Fehlersuche", "höchstens 90 Tage"),
        en=Said("error codes, sorted", "troubleshooting", "at most 90 days"),
    ),
    StoredColumn(
        "alembic_version.version_num",
        de=Said("Stand des Datenbankschemas", "Migrationen", "dauerhaft"),
        en=Said("schema version", "migrations", "permanent"),
    ),
)

NEVER_STORED = Bilingual(
    de=(
        "IP-Adressen, User-Agents, Namen (außer der Klienten-ID, die die Therapeutin "
        "eintippt; auch nicht der Name, mit dem die Klientin oder der Klient angesprochen "
        "werden möchte: er geht nur durch zum Bildschirm der Therapeutin), Passwörter, "
        "Tokens oder API-Schlüssel im Klartext, Schlüssel der "
        "Ende-zu-Ende-Verschlüsselung, Verifikationscodes, Bild, Ton, Chat, der "
        "Kamera- und Mikrofonzustand. Der Server schreibt keine Zugriffsprotokolle mit "
        "Adressen, und sein Protokoll nennt keine Sitzung (auch keinen Teil ihrer ID): "
        "es sagt, was in einem Raum geschah, nicht in welchem. Das Datenverzeichnis und "
        "jede Datei darin (Datenbank, Schlüssel) sind nur für den Benutzer des Dienstes "
        "lesbar (0700/0600)."
    ),
    en=(
        "IP addresses, user agents, names (other than the client ID the therapist "
        "types; not even the name the client wants to be addressed by: it only passes "
        "through to the therapist's screen), passwords, tokens or API keys in clear, "
        "end-to-end encryption keys, "
        "verification codes, picture, sound, chat, the camera and microphone state. "
        "The server writes no access log with addresses, and its log names no session "
        "(not even part of its id): it says what happened in a room, not in which. The "
        "data directory and every file in it (database, keys) are readable by the "
        "service's user alone (0700/0600)."
    ),
)
"""The first paragraph of the doc's "Nie gespeichert" / "Never stored" section."""

QUALITY_LINKABILITY = Bilingual(
    de=(
        "**Was die Qualitätsdaten verraten können.** Die Stichproben tragen keine "
        "Sitzung, aber eine Stundenangabe. Wer als Betreiber weiß, dass in einer Stunde "
        "nur ein Gespräch lief (etwa aus den Abrechnungsereignissen derselben Stunde), "
        "kann die Stichproben dieser Stunde diesem Gespräch zuordnen und so dessen "
        "Verbindungsqualität und -art (direkt oder über das Relais) sehen, nie aber "
        "Inhalt, Adressen oder Personen."
    ),
    en=(
        "**What the quality data can tell.** The samples carry no session, but an hour. "
        "An operator who knows that only one call ran in a given hour (from the billing "
        "events of that hour, say) can attribute that hour's samples to that call and so "
        "see its connection quality and kind (direct or relayed), never its content, "
        "addresses or people."
    ),
)
"""The second paragraph of that section (``**...**`` marks its lead-in, as in the doc)."""

STORED_HEADING = Bilingual(de="Gespeicherte Daten", en="Stored data")
NEVER_HEADING = Bilingual(de="Nie gespeichert", en="Never stored")
_HEADER = {
    "de": ("Spalte", "Inhalt", "Zweck", "Dauer"),
    "en": ("column", "content", "purpose", "kept"),
}


def tables() -> frozenset[str]:
    """The tables that have at least one column listed."""
    return frozenset(c.table for c in COLUMNS)


def markdown(lang: Lang) -> str:
    """The doc's table of stored columns in ``lang``, exactly as in docs/privacy.md."""
    lines = [
        "| " + " | ".join(_HEADER[lang]) + " |",
        "| --- | --- | --- | --- |",
    ]
    for c in COLUMNS:
        s = c.said(lang)
        lines.append(f"| `{c.name}` | {s.content} | {s.purpose} | {s.kept} |")
    return "\n".join(lines) + "\n"


def table_span(doc: str, lang: Lang) -> tuple[int, int]:
    """Where the table of stored columns in ``lang``'s section of the doc starts and ends.

    The table is the first one after the heading ``### Gespeicherte Daten`` or
    ``### Stored data``; ``ValueError`` when the doc has no such heading or table.
    """
    heading = f"\n### {STORED_HEADING.said(lang)}\n"
    start = doc.index(heading) + len(heading)
    found = re.compile(r"^\|.*\|\n(?:\|.*\|\n)*", re.MULTILINE).search(doc, start)
    if found is None:
        raise ValueError(f"no table after {heading.strip()!r}")
    return found.start(), found.end()


def rerendered(doc: str) -> str:
    """``doc`` with both tables of stored columns replaced by what this module says."""
    for lang in LANGS:
        start, end = table_span(doc, lang)
        doc = doc[:start] + markdown(lang) + doc[end:]
    return doc


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sprechzimmer.datafields",
        description="Print or rewrite the tables of stored columns in docs/privacy.md.",
    )
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--markdown", choices=LANGS, help="print the table in this language")
    group.add_argument("--update", type=Path, metavar="DOC", help="rewrite both tables in DOC")
    args = parser.parse_args(argv)
    if args.markdown:
        sys.stdout.write(markdown(args.markdown))
        return 0
    doc: Path = args.update
    text = doc.read_text(encoding="utf-8")
    new = rerendered(text)
    if new != text:
        doc.write_text(new, encoding="utf-8")
    print(f"{doc}: {'rewritten' if new != text else 'already up to date'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
