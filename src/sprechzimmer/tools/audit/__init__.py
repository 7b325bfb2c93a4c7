"""``sprechzimmer audit``: a pass/fail report on a deployment, for its data protection officer.

It reads the same settings as the server (environment / ``.env``), optionally a
``turnserver.conf``, fetches the running service's pages, scripts and API
schema, and inspects the live database schema. Each check is one named line:
PASS, WARN or FAIL with one sentence why. Any FAIL makes the exit code 1
(``--strict``: any WARN too).

Decisions an auditor should know:

- A plain ``http://`` public URL fails, unless its host is a loopback address:
  that is a WARN, because such a service is reachable from the same machine
  only (a demo or a test), and a report on it must not pass as a production one
  under ``--strict``.
- "Third-party host" is any host other than the public URL's origin (and, for
  WebSockets, its ws/wss twin). XML namespace names (``http://www.w3.org/2000/svg``)
  are identifiers, never fetched, and are ignored.
- The allowed database schema is the model metadata in ``store.py`` plus
  Alembic's own ``alembic_version`` table; missing tables are a WARN (the schema
  is not migrated yet), extra ones a FAIL.

Pure checks take values and return ``Check``s; the network (``Fetch``), the
database and the clock live at the edges, so tests can run the whole audit
in-process. This module never prints a secret or the database URL.
"""

from __future__ import annotations

import argparse
import datetime as dt
import enum
import hmac
import http.client
import ipaddress
import json
import re
import ssl
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from ...config import ENV_PREFIX, ConfigError, Settings, load_settings
from ...quality import MAX_RETENTION_DAYS
from ...turn import Address, denied_ranges, regions_outside

FETCH_TIMEOUT = 10.0
"""Seconds one request to the service may take."""
MAX_BODY = 5 << 20
"""Bytes read of one response at most."""
MAX_FILES = 200
"""Files fetched at most while following a client's references (a loop guard)."""
MIN_SECRET = 32
MIN_HSTS_SECONDS = 180 * 24 * 3600
HEADER_PATHS = ("/", "/call", "/api/v1/openapi.json")
PAGES = ("/", "/dashboard", "/call")

# --- results ------------------------------------------------------------------


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
    "ice-public-stun": "Keine öffentlichen STUN-Server (no public STUN servers)",
    "retention": "Speicherfrist Qualitätsdaten (quality data retention)",
    "e2ee": "Ende-zu-Ende-Verschlüsselung Pflicht (E2EE required)",
    "third-party": "Keine Drittanbieter im Client (no third-party hosts in the client)",
    "database": "Datenbank-Schema (database schema)",
}


def check(id_: str, status: Status, reason: str) -> Check:
    return Check(id_, TITLES[id_.split(" ", 1)[0]], status, reason)


# --- TLS --------------------------------------------------------------------


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_tls(url: str) -> Check:
    parts = urlsplit(url)
    if parts.scheme == "https":
        return check("tls", Status.PASS, f"The service is reached over HTTPS ({parts.netloc}).")
    if parts.scheme == "http" and _is_loopback(parts.hostname or ""):
        return check(
            "tls",
            Status.WARN,
            f"{url} is plain HTTP on a loopback address: fine for a demo on this machine, "
            f"never for clients; put the service behind TLS for real use.",
        )
    return check(
        "tls",
        Status.FAIL,
        f"{url} is not HTTPS: logins, invite links and signaling would cross the network "
        f"in clear; set {ENV_PREFIX}PUBLIC_URL to an https:// URL behind a TLS proxy.",
    )


# --- security headers -----------------------------------------------------------


def parse_csp(value: str) -> dict[str, list[str]]:
    """Directives of a Content-Security-Policy, lower-case names; the first of a repeat wins."""
    out: dict[str, list[str]] = {}
    for part in value.split(";"):
        tokens = part.split()
        if tokens:
            out.setdefault(tokens[0].lower(), tokens[1:])
    return out


def csp_problems(value: str | None) -> list[str]:
    if not value:
        return ["no Content-Security-Policy"]
    csp = parse_csp(value)
    problems = []
    default = csp.get("default-src")
    if default is None or not default or any(t not in ("'self'", "'none'") for t in default):
        problems.append("CSP default-src is not 'self'")
    for name in ("object-src", "base-uri", "frame-ancestors"):
        if csp.get(name) != ["'none'"]:
            problems.append(f"CSP {name} is not 'none'")
    script = csp.get("script-src", default or [])
    for bad in ("'unsafe-inline'", "'unsafe-eval'"):
        if bad in (t.lower() for t in script):
            problems.append(f"CSP script-src allows {bad}")
    if any(t == "*" or t.endswith(":") for t in script):
        problems.append("CSP script-src allows any host or scheme")
    return problems


def _allowlist(policy: str, feature: str) -> list[str] | None:
    """A feature's allowlist in a Permissions-Policy header, or None if absent."""
    for item in policy.split(","):
        name, _, value = item.strip().partition("=")
        if name.strip().lower() == feature:
            value = value.strip()
            if value == "*":
                return ["*"]
            return value.strip("()").split()
    return None


def header_problems(headers: Mapping[str, str], https: bool) -> list[str]:
    """What is missing or weak in one response's headers (names compared case-blind)."""
    h = {k.lower(): v for k, v in headers.items()}
    problems = csp_problems(h.get("content-security-policy"))
    if h.get("referrer-policy", "").strip().lower() != "no-referrer":
        problems.append("Referrer-Policy is not no-referrer")
    if h.get("x-content-type-options", "").strip().lower() != "nosniff":
        problems.append("X-Content-Type-Options is not nosniff")
    policy = h.get("permissions-policy")
    if policy is None:
        problems.append("no Permissions-Policy")
    else:
        for feature in ("camera", "microphone"):
            allowed = _allowlist(policy, feature)
            if allowed is None or any(a != "self" for a in allowed):
                problems.append(f"Permissions-Policy does not limit {feature} to self")
    if https:
        hsts = h.get("strict-transport-security")
        match = re.search(r"max-age\s*=\s*\"?(\d+)", hsts or "", re.IGNORECASE)
        if match is None:
            problems.append("no Strict-Transport-Security on HTTPS")
        elif int(match.group(1)) < MIN_HSTS_SECONDS:
            problems.append("Strict-Transport-Security max-age is below 180 days")
    return problems


def check_headers(path: str, headers: Mapping[str, str], https: bool) -> Check:
    problems = header_problems(headers, https)
    if problems:
        return check(f"headers {path}", Status.FAIL, f"{path}: {'; '.join(problems)}.")
    return check(
        f"headers {path}",
        Status.PASS,
        f"{path} sends a strict CSP, Referrer-Policy, Permissions-Policy"
        f"{' and HSTS' if https else ''}.",
    )


# --- the TURN relay's configuration --------------------------------------------------


@dataclass
class TurnConf:
    """A ``turnserver.conf``: options without a value, and every value of each option."""

    flags: set[str] = field(default_factory=set)
    values: dict[str, list[str]] = field(default_factory=dict)

    def first(self, name: str) -> str | None:
        found = self.values.get(name)
        return found[0] if found else None


def parse_turn_config(text: str) -> TurnConf:
    conf = TurnConf()
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, value = line.partition("=")
        if not sep:
            name, _, value = line.partition(" ")
        name, value = name.strip().lstrip("-").lower(), value.strip().strip('"')
        if value:
            conf.values.setdefault(name, []).append(value)
        else:
            conf.flags.add(name)
    return conf


COMMON_SECRETS = (
    "secret",
    "password",
    "passwort",
    "changeme",
    "default",
    "example",
    "coturn",
    "turnserver",
    "sprechzimmer",
    "qwerty",
    "123456",
    "letmein",
    "geheim",
)


def secret_problem(secret: str) -> str | None:
    """Why ``secret`` is weak, or None."""
    if len(secret) < MIN_SECRET:
        return f"it has {len(secret)} characters, fewer than {MIN_SECRET}"
    lowered = secret.lower()
    for word in COMMON_SECRETS:
        if word in lowered:
            return f"it contains the common word {word!r}"
    if len(set(secret)) < 10:
        return "it uses fewer than 10 different characters"
    return None


def _range(value: str) -> tuple[Address, Address] | None:
    """A ``denied-peer-ip`` value (address, ``first-last`` or CIDR) as (first, last)."""
    try:
        if "/" in value:
            net = ipaddress.ip_network(value, strict=False)
            return net.network_address, net.broadcast_address
        first, _, last = value.partition("-")
        a = ipaddress.ip_address(first.strip())
        b = ipaddress.ip_address(last.strip()) if last else a
    except ValueError:
        return None
    return (a, b) if a.version == b.version and int(a) <= int(b) else None


def _covered(needed: tuple[Address, Address], have: Iterable[tuple[Address, Address]]) -> bool:
    """Whether the union of ``have`` covers the whole range ``needed``."""
    start, end = int(needed[0]), int(needed[1])
    for first, last in sorted(
        ((int(a), int(b)) for a, b in have if a.version == needed[0].version)
    ):
        if first > start:
            return False
        if last >= start:
            start = last + 1
            if start > end:
                return True
    return start > end


def check_denied_peers(conf: TurnConf) -> Check:
    problems = []
    have = []
    for value in conf.values.get("denied-peer-ip", []):
        parsed = _range(value)
        if parsed is None:
            problems.append(f"{value!r} is not an address range")
            continue
        first, last = parsed
        if first.version == 6 and int(first) == 0 and int(last) != 0:
            # coturn reads a range from "::" as unbounded below: every IPv4 peer too.
            problems.append(f"{value} starts at '::', which coturn reads as denying all IPv4")
        have.append(parsed)
    missing = [f"{a}-{b}" for a, b in denied_ranges() if not _covered((a, b), have)]
    if missing:
        problems.append("not denied: " + ", ".join(missing))
    for value in conf.values.get("allowed-peer-ip", []):
        parsed = _range(value)
        if parsed is None or any(
            ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_unspecified
            for ip in parsed
        ):
            problems.append(f"allowed-peer-ip {value} opens loopback, link-local or multicast")
    if "allow-loopback-peers" in conf.flags:
        problems.append("allow-loopback-peers is set")
    if problems:
        return check("turn-denied-peers", Status.FAIL, "; ".join(problems) + ".")
    return check(
        "turn-denied-peers",
        Status.PASS,
        f"Every special-purpose range (RFC 6890, {len(denied_ranges())} ranges) is denied "
        f"as a peer.",
    )


REQUIRED_FLAGS = (
    "no-cli",
    "no-multicast-peers",
    "no-tcp-relay",
    "no-software-attribute",
    "fingerprint",
)
FORBIDDEN_OPTIONS = ("no-auth", "cli-password", "web-admin", "allow-loopback-peers", "lt-cred-mech")


def check_turn_config(text: str, server_secret: str | None) -> list[Check]:
    """The relay's configuration; ``server_secret`` None when the settings did not load."""
    conf = parse_turn_config(text)
    out = []
    secret = conf.first("static-auth-secret")
    static_users = conf.values.get("user", [])
    if "use-auth-secret" not in conf.flags:
        out.append(
            check(
                "turn-auth",
                Status.FAIL,
                "use-auth-secret is missing: credentials are not minted per participant.",
            )
        )
    elif static_users:
        out.append(
            check(
                "turn-auth", Status.FAIL, f"{len(static_users)} static user(s) besides the secret."
            )
        )
    else:
        out.append(
            check(
                "turn-auth",
                Status.PASS,
                "Only short-lived credentials minted by the server are accepted.",
            )
        )
    if secret is None:
        out.append(check("turn-secret", Status.FAIL, "static-auth-secret is not set."))
    else:
        problem = secret_problem(secret)
        out.append(
            check("turn-secret", Status.FAIL, f"static-auth-secret is weak: {problem}.")
            if problem
            else check(
                "turn-secret",
                Status.PASS,
                f"static-auth-secret has at least {MIN_SECRET} "
                "varied characters and no common word.",
            )
        )
    if server_secret is None:
        pass  # the settings did not load; that line is in the report already
    elif not server_secret or secret is None:
        out.append(
            check(
                "turn-secret-match",
                Status.WARN,
                f"Not compared: {ENV_PREFIX}TURN_SECRET or static-auth-secret is not set.",
            )
        )
    elif hmac.compare_digest(secret.encode(), server_secret.encode()):
        out.append(
            check(
                "turn-secret-match",
                Status.PASS,
                f"static-auth-secret equals {ENV_PREFIX}TURN_SECRET.",
            )
        )
    else:
        out.append(
            check(
                "turn-secret-match",
                Status.FAIL,
                f"static-auth-secret differs from {ENV_PREFIX}TURN_SECRET: "
                f"the relay would refuse every participant.",
            )
        )
    out.append(check_denied_peers(conf))
    problems = [f"{flag} is missing" for flag in REQUIRED_FLAGS if flag not in conf.flags]
    problems += [
        f"{name} is set" for name in FORBIDDEN_OPTIONS if name in conf.flags or name in conf.values
    ]
    if "no-tls" not in conf.flags and (conf.first("tls-listening-port") or "cert" in conf.values):
        problems += [f"{f} is missing" for f in ("no-tlsv1", "no-tlsv1_1") if f not in conf.flags]
    for name in ("user-quota", "total-quota"):
        value = conf.first(name)
        if value is None or not value.isdigit() or int(value) == 0:
            problems.append(f"{name} is not limited")
    if problems:
        out.append(check("turn-hardening", Status.FAIL, "; ".join(problems) + "."))
    else:
        out.append(
            check(
                "turn-hardening",
                Status.PASS,
                "UDP relaying only, no CLI, no multicast, quotas per user and in total.",
            )
        )
    return out


# --- ICE servers, retention, E2EE ------------------------------------------------------

PUBLIC_STUN_SUFFIXES = (
    "google.com",
    "googleapis.com",
    "cloudflare.com",
    "twilio.com",
    "mozilla.com",
    "stunprotocol.org",
    "ekiga.net",
    "nextcloud.com",
    "sipgate.net",
    "voipbuster.com",
    "xten.com",
    "schlund.de",
    "1und1.de",
    "l.google.com",
    "freeswitch.org",
    "voip.blackberry.com",
    "metered.ca",
    "xirsys.com",
    "expressturn.com",
)


def _ice_host(url: str) -> str:
    # stun:host:port?transport=udp has the host in the path
    rest = url.split(":", 1)[1].split("?", 1)[0]
    if rest.startswith("["):
        return rest[1:].split("]", 1)[0].lower()
    return rest.rsplit(":", 1)[0].lower() if rest.count(":") == 1 else rest.lower()


def check_ice(settings: Settings) -> list[Check]:
    servers = settings.ice_policy().servers
    allowed = ", ".join(settings.allowed_regions)
    outside = regions_outside(servers, settings.allowed_regions)
    if outside:
        regions = check(
            "ice-regions",
            Status.FAIL,
            f"{', '.join(outside)} stands outside the allowed regions ({allowed}).",
        )
    elif servers:
        where = ", ".join(sorted({s.region.upper() for s in servers}))
        regions = check(
            "ice-regions",
            Status.PASS,
            f"{len(servers)} STUN/TURN server(s), all in {where} (allowed: {allowed}).",
        )
    else:
        relay = " besides the embedded relay" if settings.embedded_turn else ""
        regions = check(
            "ice-regions",
            Status.PASS,
            f"No STUN/TURN server is configured{relay}, so none can stand elsewhere.",
        )
    public = [
        url
        for s in servers
        for url in s.urls
        if any(
            _ice_host(url) == suffix or _ice_host(url).endswith("." + suffix)
            for suffix in PUBLIC_STUN_SUFFIXES
        )
    ]
    if public:
        stun = check(
            "ice-public-stun",
            Status.FAIL,
            f"{', '.join(public)} is a public server run by a third party, who learns "
            f"every participant's address.",
        )
    else:
        stun = check(
            "ice-public-stun",
            Status.PASS,
            "No STUN/TURN server of a known public provider is configured.",
        )
    return [regions, stun]


def check_retention(days: int) -> Check:
    if days > MAX_RETENTION_DAYS or days < 0:
        return check(
            "retention",
            Status.FAIL,
            f"Quality samples are kept {days} days, more than the allowed {MAX_RETENTION_DAYS}.",
        )
    if days == 0:
        return check("retention", Status.PASS, "No quality samples are kept (0 days).")
    return check(
        "retention",
        Status.PASS,
        f"Anonymous quality samples are deleted after {days} days (at most {MAX_RETENTION_DAYS}).",
    )


def check_e2ee(required: bool) -> Check:
    if required:
        return check(
            "e2ee",
            Status.PASS,
            "A call whose browsers cannot encrypt frames end to end does not go on.",
        )
    return check(
        "e2ee",
        Status.FAIL,
        f"{ENV_PREFIX}E2EE_REQUIRED is off: calls may run protected by DTLS-SRTP only, "
        f"readable by whoever controls the signaling server.",
    )


# --- the served client -------------------------------------------------------------


@dataclass(frozen=True)
class Fetched:
    status: int
    headers: dict[str, str]
    """Lower-case names."""
    body: bytes


Fetch = Callable[[str], Fetched]
"""GET an absolute URL; raise ``OSError`` when the service cannot be reached."""


def http_fetch(url: str) -> Fetched:
    """GET without proxies and without following redirects (a redirect is reported as is)."""
    parts = urlsplit(url)
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(
            parts.netloc, timeout=FETCH_TIMEOUT, context=ssl.create_default_context()
        )
    else:
        conn = http.client.HTTPConnection(parts.netloc, timeout=FETCH_TIMEOUT)
    try:
        path = parts.path or "/"
        conn.request("GET", path + (f"?{parts.query}" if parts.query else ""))
        response = conn.getresponse()
        body = response.read(MAX_BODY)
        headers = {k.lower(): v for k, v in response.getheaders()}
        return Fetched(response.status, headers, body)
    finally:
        conn.close()


# XML namespace names are identifiers, never fetched.
XML_NAMESPACES = frozenset(
    {
        "http://www.w3.org/2000/svg",
        "http://www.w3.org/1999/xhtml",
        "http://www.w3.org/1999/xlink",
        "http://www.w3.org/XML/1998/namespace",
        "http://www.w3.org/2000/xmlns/",
    }
)
_ABSOLUTE = re.compile(r"""\b(?:https?|wss?|ftp)://[^\s"'`<>()\\]+""", re.IGNORECASE)
_HTML_REF = re.compile(
    r"""\b(?:src|href|action|poster|data|formaction|srcset)\s*=\s*["']([^"']+)["']""",
    re.IGNORECASE,
)
_CSS_REF = re.compile(r"""url\(\s*["']?([^"')]+)["']?\s*\)|@import\s+["']([^"']+)["']""")
_JS_REF = re.compile(
    r"""(?:\bfrom\s*|\bimport\s*\(?\s*|new\s+URL\(\s*)["']([^"'\n]+)["']""",
)


def references(content_type: str, path: str, text: str) -> list[str]:
    """What a file makes the browser fetch: attributes, CSS urls, module specifiers."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "text/html" or path.endswith(".html") or path in PAGES:
        refs = [m.group(1).strip() for m in _HTML_REF.finditer(text)]
        refs = [part.split()[0] for ref in refs for part in ref.split(",") if part.strip()]
        return refs + [a or b for a, b in _CSS_REF.findall(text)]
    if "css" in kind or path.endswith(".css"):
        return [a or b for a, b in _CSS_REF.findall(text)]
    if "javascript" in kind or path.endswith((".js", ".mjs")):
        return _JS_REF.findall(text)
    return []


def _foreign(url: str, own: set[str]) -> str | None:
    """The foreign host of an absolute or protocol-relative URL, or None if ours/relative."""
    if url in XML_NAMESPACES:
        return None
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "mailto", "tel", "javascript", "about"):
        return None
    if not parts.netloc:
        return None
    return None if parts.netloc.lower() in own else parts.netloc.lower()


def crawl(base: str, fetch: Fetch) -> tuple[dict[str, Fetched], list[str], list[str]]:
    """Fetch the pages and everything they reference on our origin, recursively.

    Returns (fetched by path, "host (in path)" findings, fetch errors).
    """
    origin = urlsplit(base)
    own = {origin.netloc.lower()}
    fetched: dict[str, Fetched] = {}
    findings: list[str] = []
    errors: list[str] = []
    queue = list(PAGES)
    while queue and len(fetched) < MAX_FILES:
        path = queue.pop(0)
        if path in fetched:
            continue
        try:
            got = fetch(urljoin(base + "/", path.lstrip("/")) if path != "/" else base + "/")
        except OSError as error:
            errors.append(f"{path}: {type(error).__name__}")
            continue
        fetched[path] = got
        if got.status != 200:
            errors.append(f"{path}: HTTP {got.status}")
            continue
        text = got.body.decode("utf-8", errors="replace")
        for url in _ABSOLUTE.findall(text):
            host = _foreign(url.rstrip(".,;"), own)
            if host is not None:
                findings.append(f"{host} (in {path})")
        for ref in references(got.headers.get("content-type", ""), path, text):
            host = _foreign(ref, own)
            if host is not None:
                findings.append(f"{host} (in {path})")
                continue
            target = urlsplit(urljoin(base + path, ref))
            if (
                target.scheme in ("http", "https")
                and target.netloc.lower() in own
                and target.path.startswith("/static/")
                and target.path not in fetched
            ):
                queue.append(target.path)
    return fetched, sorted(set(findings)), errors


def check_endpoints(base: str, fetch: Fetch) -> list[Check]:
    base = base.rstrip("/")
    https = base.startswith("https://")
    out = []
    for path in HEADER_PATHS:
        try:
            got = fetch(base + path)
        except OSError as error:
            out.append(
                check(
                    f"headers {path}",
                    Status.FAIL,
                    f"{base}{path} cannot be reached ({type(error).__name__}).",
                )
            )
            continue
        if got.status != 200:
            out.append(check(f"headers {path}", Status.FAIL, f"{path} answered HTTP {got.status}."))
        else:
            out.append(check_headers(path, got.headers, https))
    fetched, findings, errors = crawl(base, fetch)
    if findings:
        out.append(
            check(
                "third-party",
                Status.FAIL,
                f"The client references other hosts: {', '.join(findings)}.",
            )
        )
    elif errors:
        out.append(
            check("third-party", Status.FAIL, f"Could not fetch all files: {', '.join(errors)}.")
        )
    else:
        out.append(
            check(
                "third-party",
                Status.PASS,
                f"{len(fetched)} pages, scripts and styles reference no host but "
                f"{urlsplit(base).netloc}.",
            )
        )
    return out


# --- the database ------------------------------------------------------------------


def allowed_schema() -> dict[str, set[str]]:
    from ...store import Base

    schema = {name: {c.name for c in table.columns} for name, table in Base.metadata.tables.items()}
    schema["alembic_version"] = {"version_num"}
    return schema


def compare_schema(live: Mapping[str, set[str]], allowed: Mapping[str, set[str]]) -> Check:
    extra = sorted(
        f"{t}.{c}" if t in allowed else f"table {t}"
        for t in live
        for c in (live[t] - allowed[t] if t in allowed else {""})
    )
    extra = [e.rstrip(".") for e in extra]
    if extra:
        return check(
            "database",
            Status.FAIL,
            f"The database holds what the documented schema does not: {', '.join(extra)}.",
        )
    missing = sorted(set(allowed) - set(live) - {"alembic_version"})
    if missing:
        return check(
            "database",
            Status.WARN,
            f"Tables {', '.join(missing)} are missing; run `sprechzimmer db upgrade`.",
        )
    return check(
        "database",
        Status.PASS,
        f"{len(live)} tables, no column beyond the documented schema (store.py).",
    )


def live_schema(url: str) -> dict[str, set[str]]:
    """Tables and columns of the database at ``url``; never creates one."""
    from sqlalchemy import create_engine, inspect

    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if not path or path == ":memory:" or not Path(path.split("?", 1)[0]).exists():
            raise FileNotFoundError("the SQLite database file does not exist")
    engine = create_engine(url)
    try:
        inspector = inspect(engine)
        return {
            table: {c["name"] for c in inspector.get_columns(table)}
            for table in inspector.get_table_names()
        }
    finally:
        engine.dispose()


def check_database(url: str) -> Check:
    try:
        live = live_schema(url)
    except Exception as error:  # any failure to read it is the report's line
        return check(
            "database",
            Status.FAIL,
            f"The database cannot be inspected ({type(error).__name__}).",
        )
    return compare_schema(live, allowed_schema())


# --- the whole audit -------------------------------------------------------------

# A setting the server refuses to start with is the failure of the check it belongs to.
_CONFIG_CHECKS = {
    "ICE_SERVERS": "ice-regions",
    "ALLOWED_REGIONS": "ice-regions",
    "QUALITY_RETENTION_DAYS": "retention",
    "TURN_SECRET": "turn-secret-match",
    "E2EE_REQUIRED": "e2ee",
    "PUBLIC_URL": "tls",
}


def config_failure(error: ConfigError) -> Check:
    message = str(error)
    name = message.split(" ", 1)[0].removeprefix(ENV_PREFIX)
    return check(_CONFIG_CHECKS.get(name, "settings"), Status.FAIL, message)


def run_audit(
    settings: Settings | ConfigError,
    *,
    url: str | None,
    turn_config: str | None,
    fetch: Fetch = http_fetch,
    database: bool = True,
) -> list[Check]:
    """Every check, in report order."""
    out: list[Check] = []
    if isinstance(settings, ConfigError):
        out.append(config_failure(settings))
        loaded = None
    else:
        loaded = settings
        url = url or settings.public_url
    if url:
        out.append(check_tls(url))
        out += check_endpoints(url, fetch)
    else:
        out.append(
            check("tls", Status.FAIL, "No --url given and the settings did not load: not checked.")
        )
    if turn_config is not None:
        out += check_turn_config(turn_config, None if loaded is None else loaded.turn_secret)
    if loaded is not None:
        out += check_ice(loaded)
        out.append(check_retention(loaded.quality_retention_days))
        out.append(check_e2ee(loaded.e2ee_required))
        if database:
            out.append(check_database(loaded.effective_database_url))
    return out


def render_text(checks: Sequence[Check], url: str | None, now: dt.datetime) -> str:
    counts = {s: sum(c.status is s for c in checks) for s in Status}
    passed = counts[Status.FAIL] == 0
    width = max(len(c.id) for c in checks) if checks else 10
    lines = [
        "sprechzimmer — Datenschutz-Prüfbericht (data protection audit report)",
        f"Dienst (service): {url or '-'}",
        f"Zeitpunkt (time): {now.astimezone(dt.UTC).isoformat(timespec='seconds')}",
        "",
        f"{'Ergebnis':<8}  {'Prüfung (check)':<{width}}  Begründung (reason)",
        f"{'(result)':<8}  {'':<{width}}",
        "-" * 100,
    ]
    for c in checks:
        lines.append(f"{c.status.value:<8}  {c.id:<{width}}  {c.title}")
        lines.append(f"{'':<8}  {'':<{width}}  {c.reason}")
    lines += [
        "-" * 100,
        f"Gesamt (total): {counts[Status.PASS]} PASS, {counts[Status.WARN]} WARN, "
        f"{counts[Status.FAIL]} FAIL — "
        + ("bestanden (passed)" if passed else "nicht bestanden (failed)"),
    ]
    return "\n".join(lines) + "\n"


def render_json(checks: Sequence[Check], url: str | None, now: dt.datetime) -> str:
    return json.dumps(
        {
            "url": url,
            "checked_at": now.astimezone(dt.UTC).isoformat(timespec="seconds"),
            "passed": all(c.status is not Status.FAIL for c in checks),
            "checks": [
                {"id": c.id, "title": c.title, "status": c.status.value, "reason": c.reason}
                for c in checks
            ],
        },
        ensure_ascii=False,
        indent=2,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sprechzimmer audit",
        description="Check this deployment's settings, its running service, its TURN "
        "configuration and its database, and print a pass/fail report.",
    )
    parser.add_argument(
        "--url", help=f"the running service (default: {ENV_PREFIX}PUBLIC_URL)", metavar="URL"
    )
    parser.add_argument(
        "--turn-config", type=Path, metavar="PATH", help="a turnserver.conf to check"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--strict", action="store_true", help="a WARN fails the audit too")
    parser.add_argument(
        "--no-database", action="store_true", help="do not inspect the database schema"
    )
    return parser


def main(argv: Sequence[str] | None = None, *, fetch: Fetch = http_fetch) -> int:
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    turn_config = None
    if args.turn_config is not None:
        try:
            turn_config = args.turn_config.read_text()
        except OSError as error:
            print(f"sprechzimmer audit: cannot read {args.turn_config}: {error}.", file=sys.stderr)
            return 2
    settings: Settings | ConfigError
    try:
        settings = load_settings()
    except ConfigError as error:
        settings = error
    checks = run_audit(
        settings,
        url=args.url,
        turn_config=turn_config,
        fetch=fetch,
        database=not args.no_database,
    )
    url = args.url or (None if isinstance(settings, ConfigError) else settings.public_url)
    now = dt.datetime.now(dt.UTC)
    print(render_json(checks, url, now) if args.json else render_text(checks, url, now), end="")
    if args.json:
        print()
    failing = {Status.FAIL, Status.WARN} if args.strict else {Status.FAIL}
    return 1 if any(c.status in failing for c in checks) else 0
