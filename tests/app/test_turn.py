"""The TURN relay's pure parts: REST credentials, the coturn config, the region rule.

No sockets and no coturn here (see ``test_turn_coturn.py`` for the real relay):
credentials are checked against coturn's formula, the generated config is
parsed back (the denied ranges with ``ipaddress``), and the settings rules are
checked through ``load_settings`` and the ``turn-config`` command.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sprechzimmer.config import ConfigError, load_settings
from sprechzimmer.protocol import Role
from sprechzimmer.turn import (
    EU_EEA_REGIONS,
    CoturnOptions,
    IcePolicy,
    IceServerSpec,
    coturn_config,
    denied_ranges,
    regions_beyond_eu,
    rest_credentials,
)

SECRET = "0123456789abcdef0123456789abcdef-turn"
NOW = 1_750_000_000.0
TURN = IceServerSpec(("turn:turn.example.de:3478?transport=udp",), region="DE", auth="rest")
SESSION = "5f3c1a2b4d6e8f90a1b2c3d4e5f60718"

MUST_BE_DENIED = [
    "127.0.0.1",
    "10.1.2.3",
    "172.16.5.5",
    "192.168.1.1",
    "100.64.0.1",
    "169.254.169.254",
    "0.0.0.0",  # noqa: S104 (a peer address here, nothing binds to it)
    "224.0.0.1",
    "255.255.255.255",
    "::1",
    "fc00::1",
    "fe80::1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
]
PUBLIC = ["93.184.216.34", "8.8.8.8", "2a00:1450:4001:81c::200e"]


def coturn_formula(secret: str, username: str) -> str:
    """coturn's check of a REST login (``use-auth-secret``), written out independently."""
    mac = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return base64.b64encode(mac).decode()


def config_values(text: str) -> dict[str, list[str]]:
    """``turnserver.conf`` as option -> values (flags get the value ``""``)."""
    values: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, value = line.partition("=")
        values.setdefault(name, []).append(value)
    return values


Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parsed_denied(text: str) -> list[tuple[Address, Address]]:
    pairs = []
    for value in config_values(text)["denied-peer-ip"]:
        first, _, last = value.partition("-")
        pairs.append((ipaddress.ip_address(first), ipaddress.ip_address(last or first)))
    return pairs


def covered(ranges: list[tuple[Address, Address]], address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return any(
        first.version == ip.version and int(first) <= int(ip) <= int(last) for first, last in ranges
    )


# --- credentials ----------------------------------------------------------------


def test_rest_credentials_follow_coturns_formula() -> None:
    username, password = rest_credentials(SECRET, "label", NOW, ttl=600)
    assert username == f"{int(NOW) + 600}:label"
    assert password == coturn_formula(SECRET, username)
    assert password != coturn_formula(SECRET + "x", username)


def test_each_session_and_role_gets_its_own_label_and_no_session_id() -> None:
    policy = IcePolicy(servers=(TURN,), secret=SECRET, ttl=3600)
    other_session = "00112233445566778899aabbccddeeff"
    seen = {}
    for session in (SESSION, other_session):
        for role in Role:
            (info,) = policy.servers_for(session, role, NOW)
            assert info.urls == list(TURN.urls)
            assert info.username is not None and info.credential is not None
            expiry, _, label = info.username.partition(":")
            assert int(expiry) == int(NOW) + 3600
            assert info.credential == coturn_formula(SECRET, info.username)
            assert session not in info.username and session[:8] not in info.username
            seen[(session, role)] = label
    assert len(set(seen.values())) == 4, seen


def test_stun_and_static_servers_carry_no_minted_credentials() -> None:
    stun = IceServerSpec(("stun:stun.example.de:3478",), region="DE")
    static = IceServerSpec(
        ("turn:t.example.de",), region="DE", auth="static", username="u", credential="c"
    )
    policy = IcePolicy(servers=(stun, static), secret=SECRET)
    first, second = policy.servers_for(SESSION, Role.CLIENT, NOW)
    assert (first.username, first.credential) == (None, None)
    assert (second.username, second.credential) == ("u", "c")
    assert not IcePolicy(servers=(stun,)).has_turn and policy.has_turn


# --- the coturn configuration -----------------------------------------------------


def test_config_is_hardened() -> None:
    text = coturn_config(
        CoturnOptions(
            secret=SECRET,
            listening_ips=("198.51.100.7",),
            relay_ips=("198.51.100.7",),
            tls_port=443,
            cert="/etc/letsencrypt/live/turn/fullchain.pem",
            pkey="/etc/letsencrypt/live/turn/privkey.pem",
            user_quota=7,
            total_quota=700,
            max_bps=123_456,
        )
    )
    values = config_values(text)
    for flag in (
        "use-auth-secret",
        "no-cli",
        "no-software-attribute",
        "no-multicast-peers",
        "no-tcp-relay",
        "no-tlsv1",
        "no-tlsv1_1",
        "fingerprint",
    ):
        assert values.get(flag) == [""], flag
    assert values["static-auth-secret"] == [SECRET]
    assert values["tls-listening-port"] == ["443"]
    assert values["cert"] == ["/etc/letsencrypt/live/turn/fullchain.pem"]
    assert values["pkey"] == ["/etc/letsencrypt/live/turn/privkey.pem"]
    assert values["user-quota"] == ["7"] and values["total-quota"] == ["700"]
    assert values["max-bps"] == ["123456"]
    assert values["listening-ip"] == ["198.51.100.7"] and values["relay-ip"] == ["198.51.100.7"]
    assert "no-tls" not in values  # TLS asked for: must not be switched off again
    assert "allow-loopback-peers" not in values and "allowed-peer-ip" not in values


def test_config_without_tls_switches_tls_off() -> None:
    values = config_values(coturn_config(CoturnOptions(secret=SECRET, tls_port=None)))
    assert "tls-listening-port" not in values and "cert" not in values
    assert values["no-tls"] == [""] and values["no-dtls"] == [""]


@pytest.mark.parametrize("address", MUST_BE_DENIED)
def test_denied_ranges_cover_special_purpose_address(address: str) -> None:
    ranges = parsed_denied(coturn_config(CoturnOptions(secret=SECRET)))
    assert covered(ranges, address)


@pytest.mark.parametrize("address", PUBLIC)
def test_denied_ranges_leave_public_addresses_alone(address: str) -> None:
    ranges = parsed_denied(coturn_config(CoturnOptions(secret=SECRET)))
    assert not covered(ranges, address)


def test_no_ipv6_range_starts_at_the_all_zero_address() -> None:
    # coturn 4.6 reads a range starting at "::" as unbounded below and orders
    # IPv4 before IPv6, so "::-::ffff:ffff" denied every IPv4 peer and "::-::"
    # every peer at all (seen against the real coturn in test_turn_coturn.py).
    for first, last in denied_ranges():
        assert int(first) <= int(last)
        assert not (first.version == 6 and int(first) == 0), (first, last)


def test_allowed_peer_ips_are_written_as_exceptions() -> None:
    values = config_values(
        coturn_config(CoturnOptions(secret=SECRET, allowed_peer_ips=("10.0.0.5",)))
    )
    assert values["allowed-peer-ip"] == ["10.0.0.5"]


# --- settings: regions, secrets, relay-only -----------------------------------------


def _server(url: str, region: str = "DE", **extra: str) -> dict[str, object]:
    return {"urls": [url], "region": region, **extra}


def test_a_server_outside_the_allowed_regions_stops_start_up() -> None:
    url = "turn:turn.example.com:3478"
    with pytest.raises(ConfigError) as error:
        load_settings(ice_servers=[_server(url, "US")])
    message = str(error.value)
    assert message.startswith("SPRECHZIMMER_ICE_SERVERS is invalid: ")
    assert url in message
    assert "allowed regions (the EU and EEA states)" in message and "\n" not in message


def test_the_default_regions_are_the_eu_and_eea_and_refuse_switzerland() -> None:
    """KBV Anlage 31b: servers only in the EU. CH is neither EU nor EEA: only by setting."""
    assert load_settings().allowed_regions[:2] == ["DE", "AT"]
    assert set(load_settings().allowed_regions) == set(EU_EEA_REGIONS)
    assert len(EU_EEA_REGIONS) == 30  # 27 EU member states, IS, LI, NO
    load_settings(ice_servers=[_server("turn:turn.example.fr:3478", "FR")])
    load_settings(ice_servers=[_server("turn:turn.example.no:3478", "NO")])
    swiss = "turn:turn.example.ch:3478"
    with pytest.raises(ConfigError, match=re.escape(swiss)):
        load_settings(ice_servers=[_server(swiss, "CH")])
    allowed = [*EU_EEA_REGIONS, "CH"]
    assert load_settings(ice_servers=[_server(swiss, "CH")], allowed_regions=allowed)
    assert regions_beyond_eu(allowed) == ["CH"]
    assert regions_beyond_eu(EU_EEA_REGIONS) == []


def test_a_server_in_an_allowed_region_passes() -> None:
    settings = load_settings(ice_servers=[_server("stun:stun.example.de:3478", "de")])
    assert settings.ice_servers[0].region == "de"


def test_allowed_regions_can_be_set() -> None:
    url = "turn:turn.example.ch:3478"
    load_settings(ice_servers=[_server(url, "CH")], allowed_regions=["CH"])
    with pytest.raises(ConfigError, match="SPRECHZIMMER_ICE_SERVERS"):
        load_settings(ice_servers=[_server(url, "CH")])
    with pytest.raises(ConfigError, match=re.escape("turn:turn.example.de")):
        load_settings(ice_servers=[_server("turn:turn.example.de", "DE")], allowed_regions=["CH"])


def test_the_declared_region_is_believed_but_the_scheme_is_checked() -> None:
    # Where a host really stands cannot be checked from here: the operator's
    # declaration is what counts. What a URL is, can.
    load_settings(ice_servers=[_server("stun:stun.l.google.com:19302", "DE")])
    for url in ("https://turn.example.de/", "turn.example.de:3478", "turn:"):
        with pytest.raises(ConfigError) as error:
            load_settings(ice_servers=[_server(url)])
        message = str(error.value)
        assert message.startswith("SPRECHZIMMER_ICE_SERVERS is invalid: ")
        assert "stun:, turn: or turns:" in message


def test_rest_auth_needs_a_long_turn_secret() -> None:
    server = _server("turn:turn.example.de:3478", auth="rest")
    for secret in ("", "x" * 31):
        with pytest.raises(ConfigError) as error:
            load_settings(ice_servers=[server], turn_secret=secret)
        message = str(error.value)
        assert message.startswith("SPRECHZIMMER_TURN_SECRET is invalid: ")
        assert "at least 32 characters" in message
        assert secret == "" or secret not in message  # never echo a secret
    assert load_settings(ice_servers=[server], turn_secret="x" * 32).turn_secret == "x" * 32


def test_relay_only_needs_a_turn_server() -> None:
    for servers in ([], [_server("stun:stun.example.de:3478")]):
        with pytest.raises(ConfigError) as error:
            load_settings(relay_only=True, ice_servers=servers)
        assert str(error.value).startswith("SPRECHZIMMER_RELAY_ONLY is invalid: ")
        assert "TURN server" in str(error.value)
    assert load_settings(relay_only=True, embedded_turn=True).relay_only
    static = _server("turns:turn.example.de:443", auth="static", username="u", credential="c")
    assert load_settings(relay_only=True, ice_servers=[static]).relay_only


# --- `sprechzimmer turn-config` ---------------------------------------------------


def turn_config(tmp_path: Path, *args: str, secret: str = "") -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "SPRECHZIMMER_DATA_DIR": str(tmp_path)}
    if secret:
        env["SPRECHZIMMER_TURN_SECRET"] = secret
    return subprocess.run(
        [sys.executable, "-m", "sprechzimmer", "turn-config", *args],
        env=env,
        cwd=tmp_path,  # no .env of the developer's checkout
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_turn_config_refuses_without_a_secret(tmp_path: Path) -> None:
    for secret in ("", "short"):
        done = turn_config(tmp_path, secret=secret)
        assert done.returncode == 1 and done.stdout == ""
        (line,) = done.stderr.strip().splitlines()
        assert line.startswith("sprechzimmer: set SPRECHZIMMER_TURN_SECRET (at least 32")
        assert line.endswith(".")


def test_turn_config_prints_the_hardened_config(tmp_path: Path) -> None:
    done = turn_config(tmp_path, secret=SECRET)
    assert done.returncode == 0, done.stderr
    values = config_values(done.stdout)
    assert values["static-auth-secret"] == [SECRET] and values["use-auth-secret"] == [""]
    assert values["tls-listening-port"] == ["5349"]
    assert covered(parsed_denied(done.stdout), "169.254.169.254")
    assert not covered(parsed_denied(done.stdout), "93.184.216.34")


def test_turn_config_honours_its_options(tmp_path: Path) -> None:
    done = turn_config(
        tmp_path,
        "--cert",
        "/etc/turn/chain.pem",
        "--pkey",
        "/etc/turn/key.pem",
        "--tls-port",
        "443",
        "--allowed-peer-ip",
        "10.0.0.5",
        "--allowed-peer-ip",
        "10.0.0.6",
        "--external-ip",
        "198.51.100.7",
        secret=SECRET,
    )
    assert done.returncode == 0, done.stderr
    values = config_values(done.stdout)
    assert values["cert"] == ["/etc/turn/chain.pem"] and values["pkey"] == ["/etc/turn/key.pem"]
    assert values["tls-listening-port"] == ["443"]
    assert values["allowed-peer-ip"] == ["10.0.0.5", "10.0.0.6"]
    assert values["external-ip"] == ["198.51.100.7"]
