"""Our generated coturn config against the real coturn: who may log in, which peers it refuses.

One ``turnserver`` per module runs with ``coturn_config(CoturnOptions(...))`` in
a network namespace of the test's own. The namespace has one veth pair with
the relay's address 10.200.0.1 (and fd00:200::1, so that IPv6 allocations
exist too), a second private address 10.201.0.1 on the same host, and no
route anywhere else: nothing can leave it. The TURN client
(``harness/turnclient.py``) runs inside it and only asks the relay for
allocations, permissions and channel bindings; it never sends data to a peer.

The positive controls (valid login, the relay's own allowed address, a public
peer) show that each refusal comes from the credential check or the deny list,
not from a broken client; the relay's log then names the denied range.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from harness.netns import Netns, netns, netns_available, require_or_skip
from harness.server import TIME_SCALE

from harness import turnclient
from sprechzimmer.turn import CoturnOptions, coturn_config, rest_credentials

pytestmark = [pytest.mark.netns]

RELAY_V4 = "10.200.0.1"
RELAY_V6 = "fd00:200::1"
OTHER_OWN_ADDRESS = "10.201.0.1"
"""Another private address of the TURN host itself: must be refused like any other."""
PORT = 3478
PUBLIC_V4 = "93.184.216.34"
PUBLIC_V6 = "2a00:1450:4001:81c::200e"
"""Public peers for the controls. Only a permission is asked for; the namespace has
no route to them, so not a packet could reach them anyway."""


def ip(ns: Netns, *args: str) -> None:
    subprocess.run(["ip", "-n", ns.name, *args], check=True, capture_output=True, timeout=10)


@dataclass
class Relay:
    ns: Netns
    secret: str
    log_path: Path

    def credentials(self, label: str, ttl: int = 600, secret: str | None = None) -> tuple[str, str]:
        return rest_credentials(secret or self.secret, label, time.time(), ttl)

    def ask(self, username: str, password: str, **kwargs: Any) -> dict[str, Any]:
        return turnclient.ask(
            self.ns, (RELAY_V4, PORT), username, password, timeout=30 * TIME_SCALE, **kwargs
        )

    def login(self, **kwargs: Any) -> dict[str, Any]:
        """Ask with fresh valid credentials; the Allocate must succeed."""
        result = self.ask(*self.credentials(secrets.token_hex(4)), **kwargs)
        assert result["allocate"]["ok"], result
        return result

    def log_shows(self, text: str) -> bool:
        """Whether the relay's log has ``text`` (polled briefly: the log is written async)."""
        deadline = time.monotonic() + 3 * TIME_SCALE
        while time.monotonic() < deadline:
            if text in self.log_path.read_text(errors="replace"):
                return True
            time.sleep(0.05)
        return False


@pytest.fixture(scope="module")
def relay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Relay]:
    reason = netns_available()
    if reason:
        require_or_skip(reason)
    if shutil.which("turnserver") is None:
        require_or_skip("coturn's turnserver is not installed (apt-get install coturn)")
    directory = tmp_path_factory.mktemp("coturn")
    secret = secrets.token_urlsafe(32)
    log_path = directory / "turn.log"
    conf = directory / "turnserver.conf"
    conf.write_text(
        coturn_config(
            CoturnOptions(
                secret=secret,
                listening_ips=(RELAY_V4,),
                relay_ips=(RELAY_V4, RELAY_V6),
                port=PORT,
                tls_port=None,
                min_port=50000,
                max_port=50999,
                log_file=str(log_path),
                pid_file=str(directory / "turn.pid"),
                allowed_peer_ips=(RELAY_V4, RELAY_V6),
            )
        )
    )
    with netns() as ns:
        ip(ns, "link", "add", "v0", "type", "veth", "peer", "name", "v1")
        ip(ns, "addr", "add", f"{RELAY_V4}/24", "dev", "v0")
        ip(ns, "addr", "add", f"{OTHER_OWN_ADDRESS}/24", "dev", "v0")
        ip(ns, "addr", "add", f"{RELAY_V6}/64", "dev", "v0", "nodad")
        for link in ("v0", "v1"):
            ip(ns, "link", "set", link, "up")
        with (directory / "stdout.log").open("w") as out:
            process = ns.popen(
                ["turnserver", "-c", str(conf)], stdout=out, stderr=subprocess.STDOUT
            )
        if not turnclient.wait_ready(ns, (RELAY_V4, PORT), 10 * TIME_SCALE):
            log = log_path.read_text(errors="replace") if log_path.exists() else ""
            pytest.fail(f"coturn did not answer (exit {process.poll()}); its log:\n{log[-3000:]}")
        yield Relay(ns, secret, log_path)
        assert process.poll() is None, "coturn died during the tests"


# --- who may log in -------------------------------------------------------------------


def test_valid_credentials_allocate_and_reach_allowed_peers(relay: Relay) -> None:
    # The positive control for everything below: same client, same relay.
    result = relay.login(
        permissions=[RELAY_V4, PUBLIC_V4], channel_binds=[(RELAY_V4, 50999), (PUBLIC_V4, 3478)]
    )
    assert result["allocate"]["relayed"][0] == RELAY_V4
    for answer in (*result["permissions"].values(), *result["channel_binds"].values()):
        assert answer["ok"], result


def test_ipv6_allocation_reaches_allowed_peers(relay: Relay) -> None:
    result = relay.login(family="ipv6", permissions=[RELAY_V6, PUBLIC_V6])
    assert result["allocate"]["relayed"][0] == RELAY_V6
    assert all(a["ok"] for a in result["permissions"].values()), result


def test_expired_credentials_are_refused(relay: Relay) -> None:
    username, password = relay.credentials("expired", ttl=-60)
    result = relay.ask(username, password)
    assert result["allocate"]["code"] == 401, result
    assert not result["allocate"]["ok"]


def test_forged_credentials_are_refused(relay: Relay) -> None:
    label = secrets.token_hex(4)
    username, forged = relay.credentials(label, secret=secrets.token_urlsafe(32))
    _, genuine = relay.credentials(label)
    assert username == relay.credentials(label)[0] and forged != genuine
    assert relay.ask(username, forged)["allocate"]["code"] == 401
    assert relay.ask(username, genuine)["allocate"]["ok"]  # same name, right secret


# --- which peers it refuses ------------------------------------------------------------


def refusals(result: dict[str, Any]) -> dict[str, int | None]:
    answers = {**result["permissions"], **result["channel_binds"]}
    return {peer: (None if a["ok"] else a["code"]) for peer, a in answers.items()}


def test_loopback_of_the_turn_host_is_refused(relay: Relay) -> None:
    result = relay.login(permissions=["127.0.0.1"], channel_binds=[("127.0.0.1", 8000)])
    assert refusals(result) == {"127.0.0.1": 403, "127.0.0.1:8000": 403}


@pytest.mark.parametrize(
    ("peer", "denied_range"),
    [
        ("192.168.1.10", "192.168.0.0-192.168.255.255"),
        (OTHER_OWN_ADDRESS, "10.0.0.0-10.255.255.255"),
        ("10.200.0.2", "10.0.0.0-10.255.255.255"),  # the relay's own subnet, not its address
        ("172.16.5.5", "172.16.0.0-172.31.255.255"),
        ("100.64.0.1", "100.64.0.0-100.127.255.255"),
        ("169.254.169.254", "169.254.0.0-169.254.255.255"),
    ],
)
def test_private_and_special_peers_are_refused_by_our_deny_list(
    relay: Relay, peer: str, denied_range: str
) -> None:
    result = relay.login(permissions=[peer], channel_binds=[(peer, 5000)])
    assert refusals(result) == {peer: 403, f"{peer}:5000": 403}
    # coturn 4.6 does not refuse private ranges by default: this is our list.
    assert relay.log_shows(f"A peer IP {peer} denied in the range: {denied_range}")


def test_ipv4_mapped_loopback_is_refused(relay: Relay) -> None:
    mapped = "::ffff:127.0.0.1"
    # On an IPv4 allocation coturn checks the peer's family against the relayed
    # address before any IP list: 443 Peer Address Family Mismatch.
    v4 = relay.login(permissions=[mapped], channel_binds=[(mapped, 8000)])
    assert refusals(v4) == {mapped: 443, f"[{mapped}]:8000": 443}
    assert v4["permissions"][mapped]["reason"].startswith("Peer Address Family Mismatch")
    # On an IPv6 allocation (a dual-stack relay) the family matches: only our
    # ::ffff:0:0/96 entry stands between the client and the host's loopback.
    v6 = relay.login(family="ipv6", permissions=[mapped, "::ffff:10.0.0.1", PUBLIC_V6])
    assert refusals(v6) == {mapped: 403, "::ffff:10.0.0.1": 403, PUBLIC_V6: None}
    assert relay.log_shows(f"A peer IP {mapped} denied in the range: ::ffff:0:0-::ffff:ffff:ffff")


def test_ipv6_loopback_and_private_peers_are_refused(relay: Relay) -> None:
    peers = ["::", "::1", "fc00::1", "fe80::1", "::10.0.0.1"]  # "::": coturn itself
    result = relay.login(family="ipv6", permissions=peers)
    assert refusals(result) == dict.fromkeys(peers, 403)


# --- no TCP relaying (RFC 6062) ------------------------------------------------------------


@pytest.mark.parametrize("control", ["udp", "tcp"])
def test_tcp_allocations_are_refused(relay: Relay, control: str) -> None:
    username, password = relay.credentials(secrets.token_hex(4))
    refused = relay.ask(username, password, transport=control, requested_transport="tcp")
    assert refused["allocate"]["code"] == 442, refused  # Unsupported Transport Protocol
    # Control: the same connection type with a UDP allocation works.
    assert relay.ask(username, password, transport=control)["allocate"]["ok"]
