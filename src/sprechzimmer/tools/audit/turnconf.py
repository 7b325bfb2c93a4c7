"""A coturn ``turnserver.conf``: parsed, and checked against what the server relies on.

The relay must accept only the short-lived credentials the server mints from the shared
secret, deny every special-purpose peer range (RFC 6890) and run hardened. Pure: the
file's text comes in. A reason may say why the secret is weak, never what it is.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field

from ...config import ENV_PREFIX
from ...turn import Address, denied_ranges
from .results import Check, Status, check

MIN_SECRET = 32


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
