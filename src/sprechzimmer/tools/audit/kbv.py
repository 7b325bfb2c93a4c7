"""``sprechzimmer audit --kbv``: the report an operator hands to a certifier.

A practice may bill video consultations only through a service that meets
Anlage 31b BMV-Ä (for dentists Anlage 16 BMV-Z, worded almost the same) and is
certified for it; whoever runs a self-hosted sprechzimmer is that service's
provider. This module turns the deployment's live configuration and the
technical audit's results into that report, in German: each requirement (our
paraphrase, not the agreement's wording), how this deployment meets it, the
test in this repository that proves the behaviour, and whether the
configuration meets it. Then the relay's technical and organisational measures
(TOMs), the crypto profile measured against BSI TR-02102, and a skeleton of the
record of processing activities (Art. 30 GDPR) filled with what the software
stores (``datafields``).

Pure: ``requirements`` takes ``Facts`` (read from the settings by ``facts``, the
edge) and the technical checks; the renderers take the time as ``now``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from ...config import ENV_PREFIX, ConfigError, Settings
from ...quality import MAX_RETENTION_DAYS
from ...turn import EU_EEA_REGIONS, describe_regions, regions_beyond_eu, regions_outside
from .results import Check, Status

METADATA_MAX_DAYS = 90
"""KBV: all metadata deleted after three months at the latest; 90 days is the
shortest three months can be, so a deployment that keeps 90 days meets it in
every quarter."""
LINK_MAX_DAYS = 31
"""An invitation link may be valid for one month at most."""

VERDICT = {Status.PASS: "erfüllt", Status.WARN: "prüfen", Status.FAIL: "nicht erfüllt"}


@dataclass(frozen=True)
class Facts:
    """What the configuration decides for the requirements, read once (``facts``)."""

    settings_error: str | None = None
    """The settings did not load (the server would not start): this sentence says why."""
    settings_error_setting: str | None = None
    """The setting the error is about, without the prefix (``ALLOWED_REGIONS``)."""
    token_ttl_days: float = 1.0
    e2ee_required: bool = True
    relay_only: bool = False
    allowed_regions: tuple[str, ...] = EU_EEA_REGIONS
    server_regions: tuple[str, ...] = ()
    servers_outside: tuple[str, ...] = ()
    embedded_turn: bool = False
    turn_ttl_hours: float = 3.0
    metadata_retention_days: int = 90
    quality_retention_days: int = 90
    billing_retention_days: int = 400
    client_name_required: bool = True
    legal_missing: tuple[str, ...] = ()


@dataclass(frozen=True)
class Requirement:
    """One requirement of Anlage 31b and how this deployment meets it."""

    id: str
    requirement: str
    """The requirement, paraphrased in German."""
    status: Status
    how: str
    """How this deployment meets it (or why not), in German, from its live configuration."""
    proof: tuple[str, ...]
    """Tests in this repository that show the behaviour (``path::name``)."""


def regions_de(allowed: Sequence[str]) -> str:
    """The allowed regions for a German sentence."""
    described = describe_regions(list(allowed))
    return (
        "die Staaten der EU und des EWR"
        if described == describe_regions(EU_EEA_REGIONS)
        else described
    )


def facts(settings: Settings | ConfigError, legal_missing: Sequence[str]) -> Facts:
    """Read what the requirements depend on from the loaded settings (the edge)."""
    if isinstance(settings, ConfigError):
        message = str(settings)
        name = message.split(" ", 1)[0].removeprefix(ENV_PREFIX)
        return Facts(settings_error=message, settings_error_setting=name)
    servers = settings.ice_policy().servers
    return Facts(
        token_ttl_days=settings.token_ttl / 86400,
        e2ee_required=settings.e2ee_required,
        relay_only=settings.relay_only,
        allowed_regions=tuple(r.upper() for r in settings.allowed_regions),
        server_regions=tuple(sorted({s.region.upper() for s in servers})),
        servers_outside=tuple(regions_outside(servers, settings.allowed_regions)),
        embedded_turn=settings.embedded_turn,
        turn_ttl_hours=settings.turn_ttl / 3600,
        metadata_retention_days=settings.metadata_retention_days,
        quality_retention_days=settings.quality_retention_days,
        billing_retention_days=settings.billing_retention_days,
        client_name_required=settings.client_name == "required",
        legal_missing=tuple(legal_missing),
    )


def _unreadable(f: Facts) -> str | None:
    """Why the settings could not be read, if so: then no requirement that depends on them
    can be judged, and each of them fails with this sentence."""
    return f.settings_error


def _req(
    id_: str, requirement: str, ok: Status, how: str, proof: Sequence[str], error: str | None
) -> Requirement:
    if error is not None:
        return Requirement(
            id_,
            requirement,
            Status.FAIL,
            f"Die Konfiguration lädt nicht, der Dienst startet so nicht: {error}",
            tuple(proof),
        )
    return Requirement(id_, requirement, ok, how, tuple(proof))


def requirements(f: Facts, checks: Sequence[Check]) -> list[Requirement]:
    """Each requirement of Anlage 31b with this deployment's answer, in the agreement's order."""
    by_id = {c.id: c for c in checks}
    out: list[Requirement] = []

    link_ok = f.token_ttl_days <= LINK_MAX_DAYS
    out.append(
        _req(
            "zugang",
            "Patientinnen und Patienten nehmen ohne Registrierung teil; der Zugang führt nur "
            "zur einladenden Praxis; ein Einladungslink gilt höchstens einen Monat.",
            Status.PASS if link_ok else Status.FAIL,
            f"Die Klientin oder der Klient braucht nur den Link (kein Konto); er öffnet nur "
            f"die eine Sitzung der einladenden Therapeutin und gilt {f.token_ttl_days:g} Tag(e) "
            f"({ENV_PREFIX}TOKEN_TTL; höchstens {LINK_MAX_DAYS} Tage).",
            (
                "tests/app/test_signaling.py::test_expired_token_is_forbidden",
                "tests/real/test_e2e_call.py::test_copied_client_link_cannot_join_a_running_call",
                "tests/real/test_audit.py::test_kbv_fails_naming_the_requirement",
            ),
            _unreadable(f),
        )
    )
    e2ee = (
        "Jede Verbindung ist mit DTLS-SRTP verschlüsselt, dazu jedes Bild und jeder Ton mit "
        "SFrame (AES-128-GCM) unter Schlüsseln, die nur die beiden Browser aushandeln "
        "(Abschnitt 3); der Server sieht und speichert keine Inhalte, es gibt keinen "
        "Programmpfad, der Medien aufzeichnet."
    )
    out.append(
        _req(
            "e2ee",
            "Inhalte sind Ende-zu-Ende verschlüsselt (nach BSI TR-02102); der Anbieter kann sie "
            "weder einsehen noch speichern; keine Aufzeichnung.",
            Status.PASS if f.e2ee_required else Status.FAIL,
            e2ee
            + (
                ""
                if f.e2ee_required
                else f" ABER {ENV_PREFIX}E2EE_REQUIRED ist aus: ein Gespräch darf ohne "
                f"Bildverschlüsselung weiterlaufen."
            ),
            (
                "tests/real/test_e2e_e2ee.py::test_no_key_material_or_code_reaches_the_server",
                "tests/real/test_e2e_e2ee.py::test_receiver_without_the_key_decodes_nothing",
                "tests/real/test_e2e_transforms.py::test_full_call_on_each_path",
            ),
            _unreadable(f),
        )
    )
    relay = (
        "Alle Medien laufen über das Relay (relay_only), damit keine Seite die Adresse der "
        "anderen erfährt."
        if f.relay_only
        else "Die Browser verbinden sich direkt (Peer-to-Peer), wo das Netz es erlaubt; nur "
        "sonst über das eigene TURN-Relay."
    )
    out.append(
        _req(
            "p2p",
            "Peer-to-Peer, wo möglich; ein zentraler Server (Relay) nur mit dokumentierten "
            "technischen und organisatorischen Maßnahmen.",
            Status.PASS,
            relay + " Die Maßnahmen für das Relay stehen in Abschnitt 2.",
            (
                "tests/real/test_e2e_call.py::test_chromium_to_chromium_call",
                "tests/real/test_e2e_relay.py::"
                "test_call_goes_through_the_relay_when_browsers_cannot_reach_each_other",
                "tests/real/test_audit.py::test_hardened_configuration_passes",
            ),
            _unreadable(f),
        )
    )
    out.append(
        _req(
            "qualitaet",
            "Bild- und Tonqualität passen sich der Verbindung an; die Beteiligten entscheiden, "
            "ob sie fortfahren.",
            Status.PASS,
            "Die Browser senken Auflösung und Bildrate bei schwacher Verbindung bis zu „nur "
            "Ton“ und heben sie wieder an; beide Seiten sehen die Verbindungsqualität und "
            "können jederzeit auflegen.",
            (
                "tests/real/test_e2e_quality.py::"
                "test_limited_link_lowers_video_keeps_audio_and_recovers",
            ),
            None,
        )
    )
    out.append(
        _req(
            "klarname",
            "Der Klarname der Patientin oder des Patienten ist für die Praxis erkennbar.",
            Status.PASS if f.client_name_required else Status.FAIL,
            "Die Klientin oder der Klient gibt vor dem Beitreten den Namen ein, mit dem sie "
            "angesprochen werden möchte; er erscheint nur auf dem Bildschirm der Therapeutin "
            "(Wartezimmer und Gespräch) und wird nirgends gespeichert."
            + (
                ""
                if f.client_name_required
                else f" ABER {ENV_PREFIX}CLIENT_NAME=optional: der Name darf fehlen."
            ),
            (
                "tests/real/test_e2e_client_name.py::"
                "test_the_clients_name_shows_to_the_therapist_and_nothing_keeps_it",
                "tests/app/test_signaling.py::"
                "test_the_name_reaches_the_therapist_and_no_log_record_nor_table",
            ),
            _unreadable(f),
        )
    )
    beyond = regions_beyond_eu(f.allowed_regions)
    where = ", ".join(f.server_regions) if f.server_regions else "keiner konfiguriert"
    embedded = " und das eingebaute Relay auf diesem Server" if f.embedded_turn else ""
    if f.servers_outside:
        eu_status, eu_how = (
            Status.FAIL,
            f"{', '.join(f.servers_outside)} steht außerhalb der erlaubten Regionen.",
        )
    elif beyond:
        eu_status, eu_how = (
            Status.FAIL,
            f"{ENV_PREFIX}ALLOWED_REGIONS erlaubt {', '.join(beyond)} außerhalb von EU und "
            f"EWR; Anlage 31b lässt Server nur in der EU zu.",
        )
    else:
        eu_status, eu_how = (
            Status.PASS,
            f"Erlaubte Regionen: {regions_de(f.allowed_regions)}, alle in EU oder EWR; "
            f"STUN/TURN-Server: {where}"
            f"{embedded}. Der Browser spricht mit keinem anderen Host als dem Dienst selbst.",
        )
    eu_error = _unreadable(f)
    if eu_error is not None and f.settings_error_setting in ("ICE_SERVERS", "ALLOWED_REGIONS"):
        eu_error += " Anlage 31b lässt Server nur in der EU zu."
    out.append(
        _req(
            "eu-server",
            "Der Dienst nutzt nur Server in der EU.",
            eu_status,
            eu_how,
            (
                "tests/app/test_turn.py::"
                "test_the_default_regions_are_the_eu_and_eea_and_refuse_switzerland",
                "tests/real/test_audit.py::test_allowing_switzerland_warns_with_the_kbv_rule",
            ),
            eu_error,
        )
    )
    too_long = [
        f"{name} {days} Tage"
        for name, days in (
            ("Verbindungsereignisse und Sitzungen", f.metadata_retention_days),
            ("Qualitätsdaten", f.quality_retention_days),
        )
        if days > METADATA_MAX_DAYS
    ]
    out.append(
        _req(
            "metadaten",
            "Alle Metadaten werden spätestens nach drei Monaten gelöscht.",
            Status.FAIL if too_long else Status.PASS,
            (
                "Zu lange aufbewahrt: " + ", ".join(too_long) + f" (höchstens {METADATA_MAX_DAYS})."
                if too_long
                else f"Sitzungen und Verbindungsereignisse nach {f.metadata_retention_days} "
                f"Tagen, anonyme Qualitätsdaten nach {f.quality_retention_days} Tagen gelöscht "
                f"(automatisch, stündlich). Für die Abrechnung bleibt danach nur eine "
                f"Abrechnungszeile je Sitzung ({f.billing_retention_days} Tage)."
            ),
            (
                "tests/app/test_retention.py::"
                "test_default_purge_deletes_events_after_90_days_and_keeps_the_months_minutes",
                "tests/app/test_retention.py::"
                "test_an_upgraded_database_is_converted_by_the_first_purge",
            ),
            _unreadable(f),
        )
    )
    third_party = by_id.get("third-party")
    legal_status = Status.FAIL if f.legal_missing else Status.PASS
    legal_how = (
        "Es fehlen die eigenen Texte des Betreibers: " + ", ".join(f.legal_missing) + "."
        if f.legal_missing
        else "Nutzungsbedingungen, Datenschutzerklärung und Impressum sind auf Deutsch (und "
        "Englisch) ohne Anmeldung abrufbar und von jeder Seite verlinkt."
    )
    if third_party is not None and third_party.status is Status.FAIL:
        legal_status = Status.FAIL
        legal_how += f" Die Prüfung auf Inhalte Dritter ist nicht bestanden: {third_party.reason}"
    else:
        legal_how += " Keine Werbung, keine Inhalte Dritter."
    out.append(
        _req(
            "nutzungsbedingungen",
            "Die Nutzungsbedingungen sind vollständig auf Deutsch und ohne Anmeldung online "
            "abrufbar; keine Werbung.",
            legal_status,
            legal_how,
            (
                "tests/app/test_legal.py::"
                "test_each_page_is_public_cookie_free_and_has_the_security_headers",
                "tests/real/test_audit.py::test_the_real_client_is_crawled_completely",
            ),
            _unreadable(f),
        )
    )
    out.append(
        _req(
            "ungestoert",
            "Die Sprechstunde verläuft ungestört, z. B. ohne Signaltöne weiterer Anrufer.",
            Status.PASS,
            "Während eines Gesprächs klingelt und benachrichtigt keine andere Sitzung (weder "
            "die Übersicht noch eine andere Gesprächsseite); ein Anklopfen zeigt sich nur "
            "still in der Übersicht.",
            (
                "tests/real/test_undisturbed.py::"
                "test_no_sound_or_notification_of_another_session_during_a_call",
            ),
            None,
        )
    )
    out.append(
        _req(
            "vorstellung",
            "Zu Beginn werden alle Anwesenden auf beiden Seiten vorgestellt.",
            Status.PASS,
            "Zu Beginn jedes Gesprächs sehen beide Seiten „Sind Sie ungestört? Stellen Sie "
            "bitte alle Anwesenden vor.“; die Therapeutin hakt es ab.",
            (
                "tests/real/test_e2e_client_name.py::"
                "test_the_clients_name_shows_to_the_therapist_and_nothing_keeps_it",
            ),
            None,
        )
    )
    out.append(
        _req(
            "einwilligung",
            "Die Patientin oder der Patient willigt in die Datenverarbeitung ein (die Praxis "
            "holt die Einwilligung ein).",
            Status.PASS,
            "Vor dem Beitreten bestätigt die Klientin oder der Klient Nutzungsbedingungen und "
            "Datenschutzerklärung; ohne diese Bestätigung lässt der Server niemanden ins "
            "Wartezimmer. Gespeichert wird darüber nichts.",
            (
                "tests/app/test_signaling.py::"
                "test_a_client_hello_without_consent_or_name_is_refused_with_a_sentence",
                "tests/real/test_e2e_client_name.py::"
                "test_the_clients_name_shows_to_the_therapist_and_nothing_keeps_it",
            ),
            None,
        )
    )
    return out


# --- the report ---------------------------------------------------------------------------


def relay_measures(f: Facts) -> list[str]:
    """The technical and organisational measures for the TURN relay (TOMs), as sentences."""
    return [
        "Zweck: Das Relay (coturn) leitet nur dann Medien weiter, wenn die beiden Browser "
        "sich nicht direkt erreichen; es sieht nur verschlüsselte Pakete (DTLS-SRTP, darin "
        "SFrame), nie Schlüssel, nie Inhalte.",
        f"Zugang: nur mit Zugangsdaten, die der Server für ein zugelassenes Gespräch "
        f"ausstellt (TURN-REST-API, HMAC mit einem geheimen Schlüssel, {f.turn_ttl_hours:g} "
        f"Stunden gültig); kein statisches Konto.",
        "Weiterleitung nur an öffentliche Adressen: private, Loopback- und andere "
        "Sonderbereiche (RFC 6890) sind als Ziel gesperrt; kein TCP-Relay, kein Multicast, "
        "keine Admin-Konsole (no-cli).",
        "Transport: TURN über UDP und TCP, dazu über TLS 1.2 oder neuer (no-tlsv1, "
        "no-tlsv1_1) für Netze, die nur HTTPS-artigen Verkehr erlauben.",
        "Begrenzung: Anzahl der Zuteilungen je Zugang und insgesamt sowie Bandbreite je "
        "Sitzung sind gedeckelt (user-quota, total-quota, max-bps).",
        "Standort: "
        + (
            f"STUN/TURN-Server in {', '.join(f.server_regions)}"
            if f.server_regions
            else "kein externer STUN/TURN-Server"
        )
        + (", eingebautes Relay auf diesem Server" if f.embedded_turn else "")
        + "; `sprechzimmer audit --turn-config` prüft die Härtung der turnserver.conf.",
        "Protokoll: coturn schreibt kein Gesprächsprotokoll mit Inhalten; seine Logdatei "
        "gehört zu den Betriebsdaten des Betreibers und ist wie diese zu schützen und "
        "spätestens nach drei Monaten zu löschen (logrotate).",
        "Organisatorisch (Betreiber): Zugriff auf den Relay-Server nur für benannte "
        "Administratoren, Sicherheitsupdates zeitnah, das TURN-Geheimnis nur auf Server und "
        "Relay, Wechsel bei Verdacht auf Kompromittierung.",
    ]


CRYPTO_PROFILE: tuple[tuple[str, str, str], ...] = (
    (
        "Bild und Ton (Ende zu Ende)",
        "SFrame (RFC 9605), Cipher-Suite AES_128_GCM_SHA256_128: AES-128 im GCM-Modus, "
        "128-bit-Tag; Schlüsselableitung HKDF-SHA-256",
        "Teil 1: AES-128 mit GCM, SHA-256 und HKDF empfohlen",
    ),
    (
        "Schlüsselvereinbarung",
        "ephemeres ECDH auf P-256 (secp256r1) je Schlüsselwechsel (etwa alle 10 Minuten), "
        "gebunden an die DTLS-Fingerabdrücke beider Seiten; Schlüssel nur in den Browsern",
        "Teil 1: ECDH auf P-256 (mind. 250 bit) empfohlen",
    ),
    (
        "Prüfcode (SAS)",
        "aus dem Transkript der ersten Schlüsselvereinbarung mit HKDF-SHA-256 abgeleitet, "
        "auf beiden Bildschirmen gleich",
        "Schutz gegen einen Angreifer in der Mitte",
    ),
    (
        "Transport der Medien",
        "DTLS-SRTP der Browser (DTLS 1.2, ECDHE, AES-GCM oder AES-CM mit HMAC-SHA1); "
        "Schlüssel aus dem DTLS-Handshake",
        "Teil 2: DTLS 1.2 mit ECDHE und AES-GCM; die Ende-zu-Ende-Schicht trägt den "
        "Schutz der Inhalte unabhängig davon",
    ),
    (
        "Webseite, Anmeldung und Signalisierung",
        "HTTPS und WSS über den TLS-Terminator des Betreibers (TLS 1.2/1.3, HSTS); "
        "Passwörter mit Argon2id, Tokens nur als SHA-256-Hash gespeichert",
        "Teil 2: TLS 1.2 mit ECDHE-Suiten oder TLS 1.3; `sprechzimmer audit` prüft TLS und Header",
    ),
    (
        "TURN über TLS",
        "coturn mit TLS 1.2 oder neuer (no-tlsv1, no-tlsv1_1), Zertifikat des Betreibers",
        "Teil 2: TLS 1.2 oder 1.3",
    ),
)


def _fields_of_processing() -> list[str]:
    """The stored columns with their purpose and duration, from the one field list."""
    from ... import datafields

    return [
        f"{c.name} ({c.de.content}; Zweck: {c.de.purpose}; Dauer: {c.de.kept})"
        for c in datafields.COLUMNS
    ]


def record_of_processing(f: Facts) -> list[tuple[str, str | list[str]]]:
    """A skeleton of the record of processing activities (Art. 30 GDPR), filled where the
    software knows; ``[...]`` marks what only the operator can say."""
    return [
        ("Verantwortlicher", "[Name und Anschrift des Betreibers, Vertretung]"),
        ("Datenschutzbeauftragte(r)", "[Kontakt]"),
        (
            "Bezeichnung und Zweck",
            "Videosprechstunde (sprechzimmer): Wartezimmer, Zulassung und Verbindungsaufbau "
            "zwischen Praxis und Klientin oder Klient; Abrechnung der Gesprächsminuten; "
            "Betrieb (anonyme Qualitätsdaten).",
        ),
        (
            "Rechtsgrundlage",
            "Art. 9 Abs. 2 lit. a und h DSGVO mit der Einwilligung der Klientin oder des "
            "Klienten (von der Praxis eingeholt); Art. 28 DSGVO (Auftragsverarbeitung für die "
            "Praxis) [vom Betreiber zu prüfen]",
        ),
        (
            "Betroffene Personen",
            "Therapeutinnen und Therapeuten (Konto); Klientinnen und Klienten (nur unter der "
            "Klienten-ID der Praxis, einem Pseudonym)",
        ),
        ("Gespeicherte Daten", _fields_of_processing()),
        (
            "Nie gespeichert",
            "Bild, Ton und Inhalte; Schlüssel; der Name, den die Klientin oder der Klient "
            "eingibt; IP-Adressen, User-Agents, Tokens im Klartext.",
        ),
        ("Empfänger", "keine; keine Weitergabe an Dritte"),
        (
            "Übermittlung in Drittländer",
            f"keine (Server nur in: {regions_de(f.allowed_regions)})",
        ),
        (
            "Löschfristen",
            f"Einladungslinks mit Ablauf (höchstens {LINK_MAX_DAYS} Tage); Sitzungen und "
            f"Verbindungsereignisse {f.metadata_retention_days} Tage; Abrechnungszeilen "
            f"{f.billing_retention_days} Tage; Qualitätsdaten {f.quality_retention_days} Tage "
            f"(höchstens {MAX_RETENTION_DAYS}).",
        ),
        ("Technische und organisatorische Maßnahmen", "siehe Abschnitte 2 und 3"),
    ]


def render_kbv_text(
    reqs: Sequence[Requirement],
    f: Facts,
    checks: Sequence[Check],
    url: str | None,
    now: dt.datetime,
) -> str:
    """The German report: requirements, relay TOMs, crypto profile, record of processing,
    then the technical checks it relied on."""
    met = sum(r.status is Status.PASS for r in reqs)
    failed = [r for r in reqs if r.status is Status.FAIL]
    lines = [
        "sprechzimmer — Nachweis zu Anlage 31b BMV-Ä (Videodienst)",
        f"Dienst: {url or '-'}",
        f"Erstellt: {now.astimezone(dt.UTC).isoformat(timespec='seconds')}",
        "",
        "Dieser Bericht liest die Konfiguration dieser Installation, wie sie jetzt ist. Die "
        "Anforderungen sind sinngemäß wiedergegeben; maßgeblich ist der Text der Anlage.",
        "",
        "1. Anforderungen",
        "",
    ]
    for number, r in enumerate(reqs, 1):
        lines.append(f"1.{number} [{VERDICT[r.status]}] {r.requirement}")
        lines.append(f"     Umsetzung: {r.how}")
        for proof in r.proof:
            lines.append(f"     Nachweis: {proof}")
        lines.append("")
    lines.append(
        f"Ergebnis: {met} von {len(reqs)} Anforderungen erfüllt"
        + (
            " — nicht erfüllt: " + ", ".join(r.id for r in failed)
            if failed
            else " — die Konfiguration erfüllt alle."
        )
    )
    lines += ["", "2. Technische und organisatorische Maßnahmen für das Relay (TURN)", ""]
    lines += [f"- {m}" for m in relay_measures(f)]
    lines += ["", "3. Kryptoprofil (gemessen an BSI TR-02102)", ""]
    for what, used, rule in CRYPTO_PROFILE:
        lines += [f"- {what}: {used}.", f"  TR-02102: {rule}."]
    lines += ["", "4. Verzeichnis von Verarbeitungstätigkeiten (Skelett, Art. 30 DSGVO)", ""]
    for heading, text in record_of_processing(f):
        if isinstance(text, list):
            lines.append(f"- {heading}:")
            lines += [f"  - {item}" for item in text]
        else:
            lines.append(f"- {heading}: {text}")
    lines += ["", "5. Technische Prüfung (sprechzimmer audit)", ""]
    for c in checks:
        lines.append(f"- {c.status.value} {c.id}: {c.reason}")
    return "\n".join(lines) + "\n"


def render_kbv_json(
    reqs: Sequence[Requirement],
    f: Facts,
    checks: Sequence[Check],
    url: str | None,
    now: dt.datetime,
) -> str:
    return json.dumps(
        {
            "url": url,
            "checked_at": now.astimezone(dt.UTC).isoformat(timespec="seconds"),
            "passed": all(r.status is not Status.FAIL for r in reqs)
            and all(c.status is not Status.FAIL for c in checks),
            "requirements": [
                {
                    "id": r.id,
                    "requirement": r.requirement,
                    "status": r.status.value,
                    "verdict": VERDICT[r.status],
                    "how": r.how,
                    "proof": list(r.proof),
                }
                for r in reqs
            ],
            "relay_measures": relay_measures(f),
            "crypto_profile": [{"what": w, "used": u, "tr_02102": t} for w, u, t in CRYPTO_PROFILE],
            "record_of_processing": dict(record_of_processing(f)),
            "facts": asdict(f),
            "checks": [
                {"id": c.id, "title": c.title, "status": c.status.value, "reason": c.reason}
                for c in checks
            ],
        },
        ensure_ascii=False,
        indent=2,
    )
