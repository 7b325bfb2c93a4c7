"""Our own TURN relay: short-lived credentials, the hardened coturn config, the region rule.

The server holds coturn's shared secret (``use-auth-secret``, the TURN REST
API) and mints for each participant of a starting call a username
``<expiry>:<label>`` and the password ``base64(HMAC-SHA1(secret, username))``;
coturn accepts it only until the expiry, which is ``turn_ttl`` from now at the
most and never later than the participant's own admission (its invite link and
its session) ends. The label is an HMAC of session, role and time, so coturn's
logs cannot be linked to a session without the secret. Nothing long-lived ever
reaches a browser, and nobody outside a call gets credentials at all: before
that a browser learns only which relay URLs exist (``relay_urls``).

Everything here but ``EmbeddedTurn`` is pure: time is passed in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import logging
import math
import secrets
import shutil
import signal
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from .protocol import IceServerInfo, Role

log = logging.getLogger(__name__)

# Every special-purpose range a relay must never reach (RFC 6890 and its
# updates), so that nobody can use our relay to probe the operator's networks.
DENIED_V4 = (
    "0.0.0.0/8",  # "this network"
    "10.0.0.0/8",  # private
    "100.64.0.0/10",  # shared address space (carrier-grade NAT)
    "127.0.0.0/8",  # loopback
    "169.254.0.0/16",  # link-local (and cloud metadata services)
    "172.16.0.0/12",  # private
    "192.0.0.0/24",  # IETF protocol assignments
    "192.0.2.0/24",  # documentation
    "192.88.99.0/24",  # 6to4 relay anycast
    "192.168.0.0/16",  # private
    "198.18.0.0/15",  # benchmarking
    "198.51.100.0/24",  # documentation
    "203.0.113.0/24",  # documentation
    "224.0.0.0/4",  # multicast
    "240.0.0.0/4",  # reserved, and 255.255.255.255 broadcast
)
DENIED_V6 = (
    "::/128",  # unspecified
    "::1/128",  # loopback
    "::/96",  # IPv4-compatible (deprecated)
    "::ffff:0:0/96",  # IPv4-mapped: ::ffff:127.0.0.1 is loopback in disguise
    "64:ff9b::/96",  # NAT64: could reach private IPv4 through a translator
    "64:ff9b:1::/48",  # local-use NAT64
    "100::/64",  # discard-only
    "2001::/23",  # IETF protocol assignments (incl. Teredo)
    "2001:db8::/32",  # documentation
    "2002::/16",  # 6to4: could reach private IPv4
    "fc00::/7",  # unique local
    "fe80::/10",  # link-local
    "ff00::/8",  # multicast
)


Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def denied_ranges() -> list[tuple[Address, Address]]:
    """The denied networks as (first, last) address pairs, as coturn wants them.

    coturn 4.6 (``ioa_addr_in_range``) reads a range that starts at the all-zero
    address as having no lower bound, and orders addresses of different families
    by family alone (IPv4 before IPv6). So ``::-::ffff:ffff`` would deny every
    IPv4 peer and ``::-::`` every peer at all. IPv6 ranges therefore start at
    ``::1`` at the lowest; ``::`` itself coturn refuses on its own, like loopback.
    """
    out: list[tuple[Address, Address]] = []
    for cidr in (*DENIED_V4, *DENIED_V6):
        net = ipaddress.ip_network(cidr)
        first, last = net.network_address, net.broadcast_address
        if first.version == 6 and int(first) == 0:
            if int(last) == 0:
                continue  # "::" alone: cannot be written to coturn without denying all
            first = ipaddress.IPv6Address(1)
        out.append((first, last))
    return out


def is_denied(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return any(ip in ipaddress.ip_network(c) for c in (*DENIED_V4, *DENIED_V6))


# --- credentials --------------------------------------------------------------


def rest_credentials(secret: str, label: str, now: float, ttl: int) -> tuple[str, str]:
    """TURN REST API username and password, valid until ``now + ttl``."""
    return rest_credentials_until(secret, label, int(now) + ttl)


def rest_credentials_until(secret: str, label: str, expiry: int) -> tuple[str, str]:
    """TURN REST API username and password, valid until ``expiry`` (Unix seconds)."""
    username = f"{expiry}:{label}"
    mac = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(mac).decode()


@dataclass(frozen=True)
class IceServerSpec:
    """One configured STUN/TURN server, as the operator declared it."""

    urls: tuple[str, ...]
    region: str
    auth: str = "none"
    """``none`` (STUN), ``rest`` (TURN with the shared secret), ``static``."""
    username: str | None = None
    credential: str | None = None

    @property
    def is_turn(self) -> bool:
        return any(_is_turn_url(u) for u in self.urls)

    @property
    def stun_urls(self) -> list[str]:
        return [u for u in self.urls if u.lower().startswith(("stun:", "stuns:"))]


def _is_turn_url(url: str) -> bool:
    return url.lower().startswith(("turn:", "turns:"))


@dataclass(frozen=True)
class IceOffer:
    """What a room may know of the ICE servers: no secret, no credential.

    The room decides *who* gets relay credentials and until when (an
    ``IceGrant``); the hub mints them at the edge (``IcePolicy.granted``), so
    the pure room never holds the TURN secret."""

    public: tuple[IceServerInfo, ...] = ()
    """The STUN URLs: what a member outside a call may know."""
    relay_urls: tuple[str, ...] = ()
    """The TURN URLs offered, without credentials: enough for a page to know
    whether relay-only or compatibility mode could work, not to use the relay."""
    relay_only: bool = False

    def public_servers(self) -> list[IceServerInfo]:
        return list(self.public)


@dataclass(frozen=True, slots=True)
class IceGrant:
    """A member of a starting call may have relay credentials until ``valid_until``."""

    session_id: str
    role: Role
    now: float
    valid_until: float


@dataclass(frozen=True)
class IcePolicy:
    """The ICE servers with the TURN secret: the hub's, which mints credentials
    for what a room granted. Pure: time is passed in."""

    servers: tuple[IceServerSpec, ...] = ()
    secret: str = ""
    ttl: int = 3 * 3600
    relay_only: bool = False

    def servers_for(
        self, session_id: str, role: Role, now: float, *, valid_until: float = math.inf
    ) -> list[IceServerInfo]:
        """The servers for one member's call, TURN with credentials of its own.

        They expire ``ttl`` seconds from now, and never after ``valid_until``
        (the member's admission: its link and its session): a leaked link
        must not buy relay time beyond its own life. A member whose admission
        ends now or earlier gets no TURN credentials, only the STUN URLs.
        """
        expiry = int(now) + self.ttl
        if valid_until < expiry:
            expiry = math.floor(valid_until)
        if expiry <= now:
            return self.public_servers()
        out = []
        for spec in self.servers:
            if spec.auth == "rest":
                label = hmac.new(
                    self.secret.encode(),
                    f"{session_id}:{role.value}:{int(now)}".encode(),
                    hashlib.sha256,
                ).hexdigest()[:16]
                username, credential = rest_credentials_until(self.secret, label, expiry)
                out.append(IceServerInfo(list(spec.urls), username, credential))
            elif spec.auth == "static":
                out.append(IceServerInfo(list(spec.urls), spec.username, spec.credential))
            else:
                out.append(IceServerInfo(list(spec.urls)))
        return out

    def granted(self, grant: IceGrant) -> list[IceServerInfo]:
        """The servers a room's grant stands for, with credentials of its own."""
        return self.servers_for(
            grant.session_id, grant.role, grant.now, valid_until=grant.valid_until
        )

    def public_servers(self) -> list[IceServerInfo]:
        """What a member outside a call may know of the servers: their STUN URLs.

        No credentials and no TURN URL (a browser refuses a TURN URL without
        credentials), so nothing here opens the relay."""
        return [IceServerInfo(urls) for s in self.servers if (urls := s.stun_urls)]

    def relay_urls(self) -> list[str]:
        """The TURN URLs offered, without credentials: enough for a page to know
        whether relay-only or compatibility mode could work, not to use the relay."""
        return [u for s in self.servers for u in s.urls if _is_turn_url(u)]

    def offer(self) -> IceOffer:
        """What the rooms may know: everything but the secret."""
        return IceOffer(tuple(self.public_servers()), tuple(self.relay_urls()), self.relay_only)

    @property
    def has_turn(self) -> bool:
        return any(s.is_turn for s in self.servers)


def check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("stun", "stuns", "turn", "turns") or not parts.path:
        raise ValueError(f"{url!r} is not a stun:, turn: or turns: URL")


EU_EEA_REGIONS: tuple[str, ...] = (
    # German-speaking first: where this service is mostly run.
    "DE", "AT",
    # The other member states of the EU ...
    "BE", "BG", "CY", "CZ", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE",
    "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
    # ... and of the EEA beyond it (the GDPR applies there too).
    "IS", "LI", "NO",
)  # fmt: skip
"""ISO 3166 codes of the EU and EEA states: the default regions for STUN/TURN servers.

KBV Anlage 31b to the BMV-Ä asks that the servers of a certified video
service stand only in the EU; the EEA states are bound by the GDPR alike.
Switzerland (``CH``) is neither EU nor EEA: an operator may allow it, and
the audit then warns.
"""


def regions_beyond_eu(allowed: Iterable[str]) -> list[str]:
    """The allowed regions that are neither EU nor EEA (upper case, in the given order)."""
    return [r.upper() for r in allowed if r.upper() not in EU_EEA_REGIONS]


def describe_regions(allowed: Sequence[str]) -> str:
    """The allowed regions for a sentence: their codes, or "the EU and EEA states" for those."""
    upper = [r.upper() for r in allowed]
    if sorted(upper) == sorted(EU_EEA_REGIONS):
        return "the EU and EEA states"
    return ", ".join(upper)


def regions_outside(servers: Iterable[IceServerSpec], allowed: Sequence[str]) -> list[str]:
    """URLs of servers whose declared region is not allowed (empty: all fine)."""
    allowed_upper = {a.upper() for a in allowed}
    return [u for s in servers if s.region.upper() not in allowed_upper for u in s.urls]


# --- the coturn configuration -------------------------------------------------


@dataclass(frozen=True)
class CoturnOptions:
    secret: str
    realm: str = "sprechzimmer"
    listening_ips: tuple[str, ...] = ()
    relay_ips: tuple[str, ...] = ()
    external_ip: str | None = None
    port: int = 3478
    tls_port: int | None = 5349
    cert: str | None = None
    pkey: str | None = None
    min_port: int = 49152
    max_port: int = 65535
    user_quota: int = 12
    total_quota: int = 1200
    max_bps: int = 3_000_000
    bps_capacity: int = 0
    log_file: str = "/var/log/turnserver/turn.log"
    pid_file: str | None = None
    allowed_peer_ips: tuple[str, ...] = field(default=())
    """Exceptions from the denied ranges, e.g. the relay's own private address
    behind NAT, so that two relay candidates of this server can reach each other."""


def coturn_config(o: CoturnOptions) -> str:
    """A complete, hardened ``turnserver.conf``."""
    lines = [
        "# turnserver.conf generated by `sprechzimmer turn-config`. Hardened for one job:",
        "# relaying encrypted WebRTC media between the two browsers of a consultation.",
        "",
        "# Only the sprechzimmer server can mint credentials (TURN REST API).",
        "use-auth-secret",
        f"static-auth-secret={o.secret}",
        f"realm={o.realm}",
        "fingerprint",
        "stale-nonce=600",
        "",
        "# Where it listens and relays.",
        f"listening-port={o.port}",
    ]
    lines += [f"listening-ip={ip}" for ip in o.listening_ips]
    lines += [f"relay-ip={ip}" for ip in o.relay_ips]
    if o.external_ip:
        lines.append(f"external-ip={o.external_ip}")
    lines += [f"min-port={o.min_port}", f"max-port={o.max_port}", ""]
    if o.tls_port is not None:
        lines += [
            "# TURN over TLS, for networks that allow nothing but HTTPS-like traffic.",
            f"tls-listening-port={o.tls_port}",
            f"cert={o.cert or '/etc/ssl/certs/turn.pem'}",
            f"pkey={o.pkey or '/etc/ssl/private/turn.key'}",
            "no-tlsv1",
            "no-tlsv1_1",
            "no-dtls",
            "",
        ]
    else:
        lines += ["no-tls", "no-dtls", ""]
    lines += [
        "# Limits: per user, in total, and bandwidth per session.",
        f"user-quota={o.user_quota}",
        f"total-quota={o.total_quota}",
        f"max-bps={o.max_bps}",
        f"bps-capacity={o.bps_capacity}",
        "",
        "# Nothing but relaying UDP media to public peers.",
        "no-tcp-relay",
        "no-multicast-peers",
        "no-cli",
        "no-software-attribute",
        "no-rfc5780",
        "no-stun-backward-compatibility",
        "response-origin-only-with-rfc5780",
        "",
        "# Special-purpose ranges (RFC 6890): never a peer.",
    ]
    lines += [f"denied-peer-ip={first}-{last}" for first, last in denied_ranges()]
    if o.allowed_peer_ips:
        lines += ["", "# Exceptions: this relay's own addresses."]
        lines += [f"allowed-peer-ip={ip}" for ip in o.allowed_peer_ips]
    lines += ["", f"log-file={o.log_file}", "simple-log", "no-stdout-log"]
    if o.pid_file:
        lines.append(f"pidfile={o.pid_file}")
    return "\n".join(lines) + "\n"


def new_secret() -> str:
    return secrets.token_urlsafe(32)


# --- an embedded coturn, for a single machine -----------------------------------


class EmbeddedTurn:
    """Runs a local ``turnserver`` with a generated secret for the server's lifetime."""

    def __init__(self, directory: Path, host: str, port: int, realm: str) -> None:
        self.directory = directory
        self.host = host
        self.port = port
        self.realm = realm
        self.process: subprocess.Popen[bytes] | None = None
        self.secret = self._secret()

    @staticmethod
    def available() -> bool:
        return shutil.which("turnserver") is not None

    def _secret(self) -> str:
        path = self.directory / "turn-secret"
        if not path.exists():
            self.directory.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(new_secret())
        return path.read_text().strip()

    @property
    def spec(self) -> IceServerSpec:
        return IceServerSpec(
            urls=(
                f"turn:{self.host}:{self.port}?transport=udp",
                f"turn:{self.host}:{self.port}?transport=tcp",
            ),
            region="local",
            auth="rest",
        )

    def config(self) -> str:
        return coturn_config(
            CoturnOptions(
                secret=self.secret,
                realm=self.realm,
                listening_ips=(self.host,),
                relay_ips=(self.host,),
                port=self.port,
                tls_port=None,
                log_file=str(self.directory / "turn.log"),
                # Two relay candidates of this relay must reach each other; never
                # loopback, though: that would open the host's local services.
                allowed_peer_ips=(
                    (self.host,)
                    if is_denied(self.host) and not ipaddress.ip_address(self.host).is_loopback
                    else ()
                ),
            )
        )

    def start(self) -> None:
        conf = self.directory / "turnserver.conf"
        conf.write_text(self.config())
        conf.chmod(0o600)
        self.process = subprocess.Popen(
            ["turnserver", "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        log.info("embedded TURN relay started on port %d", self.port)

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        self.process = None
