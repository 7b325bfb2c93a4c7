"""The audit's unit of result: one ``Check`` per report line, PASS, WARN or FAIL with a reason.

``TITLES`` is the one place where a check's id gets its heading (German, then English);
``check()`` looks the heading up by the id's first word, so ``headers /call`` is titled
like ``headers``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Status(enum.StrEnum):
    PASS = "PASS"  # noqa: S105 (a result, not a password)
    WARN = "WARN"
    FAIL = "FAIL"


@dataclass(frozen=True)
class Check:
    """One line of the report."""

    id: str
    """Stable name, e.g. ``turn-secret`` or ``headers /call``."""
    title: str
    """German heading with the English one in parentheses."""
    status: Status
    reason: str
    """One sentence, in English."""


TITLES = {
    "settings": "Konfiguration (settings)",
    "tls": "Transportverschlüsselung (TLS)",
    "headers": "Sicherheits-Header (security headers)",
    "turn-auth": "TURN-Anmeldung (TURN authentication)",
    "turn-secret": "TURN-Geheimnis (TURN secret strength)",
    "turn-secret-match": "TURN-Geheimnis abgeglichen (TURN secret matches server)",
    "turn-denied-peers": "TURN gesperrte Adressbereiche (TURN denied peer ranges)",
    "turn-hardening": "TURN-Härtung (TURN hardening)",
    "ice-regions": "ICE-Server in erlaubten Regionen (ICE servers in allowed regions)",
    "ice-regions-eu": "Nur Regionen in EU und EWR erlaubt (only EU and EEA regions allowed)",
    "ice-public-stun": "Keine öffentlichen STUN-Server (no public STUN servers)",
    "retention": "Speicherfrist Qualitätsdaten (quality data retention)",
    "e2ee": "Ende-zu-Ende-Verschlüsselung Pflicht (E2EE required)",
    "third-party": "Keine Drittanbieter im Client (no third-party hosts in the client)",
    "database": "Datenbank-Schema (database schema)",
    "sfu-modules": "SFU: nur VideoRoom und HTTP (SFU modules)",
    "sfu-api": "SFU: Schnittstellen nur lokal und geschützt (SFU APIs)",
    "sfu-rooms": "SFU: Räume nur mit Schlüssel, keine Aufzeichnung (SFU rooms, no recording)",
    "sfu-privacy": "SFU: keine Dritten, keine Adressen im Log (SFU third parties and logs)",
    "sfu-live": "SFU: laufende Instanz (running SFU)",
}


def check(id_: str, status: Status, reason: str) -> Check:
    return Check(id_, TITLES[id_.split(" ", 1)[0]], status, reason)
