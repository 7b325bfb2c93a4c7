"""A firewall topology for relay tests: two browsers that can reach the server but not each other.

Three network namespaces of the test's own::

    A (therapist browser)  10.231.1.2 ──veth── 10.231.1.1 ┐
                                                          T (server + coturn)
    B (client browser)     10.231.2.2 ──veth── 10.231.2.1 ┘

A and B each have a default route via T. With forwarding off in T (the
default here), a packet from A to B reaches T and is dropped there: A and B
reach every address of T (local delivery needs no forwarding) but never each
other, so a call can only work through the TURN relay in T. With
``forwarding=True`` (or ``set_forwarding(True)`` at any time) T routes between
them and a direct (P2P) path exists.

In T run coturn (listening on both T addresses, relaying on 10.231.1.1 only,
with that address as the one allowed exception from the denied private
ranges, TURN over TLS on 5349 with a throw-away self-signed certificate) and
``sprechzimmer serve`` (bound on both T addresses). The therapist opens the
service at ``http://10.231.1.1:PORT`` (its ``SPRECHZIMMER_PUBLIC_URL``), the
client at ``http://10.231.2.1:PORT`` (in ``SPRECHZIMMER_ALLOWED_ORIGINS``).
Neither is a secure context for ``getUserMedia``, so the browsers get
``--unsafely-treat-insecure-origin-as-secure`` for exactly these two origins
(``chromium_args``), and ``--ignore-certificate-errors`` so that Chromium
accepts the relay's self-signed TLS certificate.

IPv6 is off in all three namespaces (no link-local candidates to muddy what a
browser learns). Everything stops and is removed on exit, also on failure:
the browsers (``browsers``), the server, coturn, the namespaces (and with them
the veth links and the nftables rules).

Helpers: ``drop_udp`` (nftables in A or B: all UDP but loopback dropped, both
directions, so TURN works only over TCP or TLS, which is all it needs),
``cut_link`` (a side's veth down for some seconds, then up again, routes
restored).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from sprechzimmer.turn import CoturnOptions, coturn_config

from .chromium import launch_chromium
from .netns import IP, STOP_TIMEOUT, Netns, netns
from .server import TIME_SCALE, RunningServer, running_server, wait_for_port

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext

Side = Literal["A", "B"]
End = Literal["own", "relay"]

NET = {"A": "10.231.1", "B": "10.231.2"}
T_ADDR = {"A": "10.231.1.1", "B": "10.231.2.1"}
"""T's address as each side sees it."""
ADDR = {"A": "10.231.1.2", "B": "10.231.2.2"}
"""The browser's own address in each side's namespace."""
RELAY_IP = T_ADDR["A"]
"""Where coturn relays from; both browsers reach it (B through its default route)."""
DEV = {"A": "vA", "B": "vB"}
"""The veth end inside A or B; its peer in T is named ``<dev>_t``."""
SERVER_PORT = 8765
TURN_PORT = 3478
TURNS_PORT = 5349
COMMAND_TIMEOUT = 10.0
NFT_TABLE = "sz_udp_drop"


def _run(argv: list[str], *, stdin: str | None = None) -> None:
    done = subprocess.run(
        argv, input=stdin, capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {done.stderr.strip()}")


def _origin(address: str, port: int) -> str:
    return f"http://{address}:{port}"


@dataclass
class Coturn:
    process: subprocess.Popen[Any]
    config_path: Path
    log_path: Path
    tls: bool

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


@dataclass
class Topology:
    a: Netns
    b: Netns
    t: Netns
    directory: Path
    server: RunningServer
    turn: Coturn
    secret: str
    port: int
    relay_only: bool
    ice_servers: list[dict[str, Any]] = field(default_factory=list)

    def ns(self, side: Side) -> Netns:
        return self.a if side == "A" else self.b

    def origin(self, side: Side) -> str:
        """The service's origin as the browser in ``side`` opens it."""
        return _origin(T_ADDR[side], self.port)

    @property
    def tls(self) -> bool:
        return self.turn.tls

    @property
    def chromium_args(self) -> tuple[str, ...]:
        origins = ",".join(self.origin(side) for side in ("A", "B"))
        return (
            f"--unsafely-treat-insecure-origin-as-secure={origins}",
            "--ignore-certificate-errors",
        )

    def url_for(self, url: str, side: Side) -> str:
        """An invite link (made with the public URL) as the browser in ``side`` opens it."""
        parts = urlsplit(url)
        return urlunsplit(parts._replace(netloc=f"{T_ADDR[side]}:{self.port}"))

    def links(self, therapist: str, client_id: str) -> dict[str, str]:
        """A new session; the therapist's link for A and the client's link for B."""
        made = self.server.create_session(therapist, client_id)
        return {
            **made,
            "therapist_url": self.url_for(made["therapist_url"], "A"),
            "client_url": self.url_for(made["client_url"], "B"),
        }

    # --- the network ---------------------------------------------------------------

    def set_forwarding(self, on: bool) -> None:
        """T routes between A and B (a direct path exists) or not (relay only)."""
        _run(self.t.exec_argv(["sysctl", "-q", "-w", f"net.ipv4.ip_forward={1 if on else 0}"]))

    def forwarding(self) -> bool:
        path = "/proc/sys/net/ipv4/ip_forward"
        done = self.t.run(["cat", path], timeout=COMMAND_TIMEOUT, capture_output=True, text=True)
        return str(done.stdout).strip() == "1"

    def drop_udp_rules(self, side: Side) -> None:
        """Drop every UDP packet in and out of ``side`` (loopback aside).

        TURN over TCP (3478) and TLS (5349) need nothing but TCP to T, which stays
        open, as do the page and its WebSocket; the relay itself relays over UDP
        inside T, where nothing is filtered.
        """
        rules = f"""table inet {NFT_TABLE} {{
    chain input {{
        type filter hook input priority 0; policy accept;
        iifname "lo" accept
        meta l4proto udp counter drop
    }}
    chain output {{
        type filter hook output priority 0; policy accept;
        oifname "lo" accept
        meta l4proto udp counter drop
    }}
}}
"""
        _run(self.ns(side).exec_argv(["nft", "-f", "-"]), stdin=rules)

    def allow_udp(self, side: Side) -> None:
        _run(self.ns(side).exec_argv(["nft", "delete", "table", "inet", NFT_TABLE]))

    def udp_drop_counters(self, side: Side) -> str:
        """The rules with their counters (how many UDP packets were dropped)."""
        done = self.ns(side).run(
            ["nft", "list", "table", "inet", NFT_TABLE],
            timeout=COMMAND_TIMEOUT,
            capture_output=True,
            text=True,
        )
        return str(done.stdout)

    @contextlib.contextmanager
    def drop_udp(self, side: Side) -> Iterator[None]:
        self.drop_udp_rules(side)
        try:
            yield
        finally:
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                self.allow_udp(side)

    def reach(self, side: Side, address: str, port: int, timeout: float = 2.0) -> str:
        """From ``side``, a TCP connect to ``address:port``: open, refused or unreachable.

        ``refused`` means the packet got there (nothing listens on that port);
        ``unreachable`` that it was dropped on the way (timeout, no route).
        """
        probe = (
            "import socket,sys\n"
            "try:\n"
            f"    socket.create_connection(({address!r},{port}),timeout={timeout}).close()\n"
            "    print('open')\n"
            "except ConnectionRefusedError:\n"
            "    print('refused')\n"
            "except OSError:\n"
            "    print('unreachable')\n"
        )
        done = self.ns(side).run(
            [sys.executable, "-c", probe], timeout=timeout + 10, capture_output=True, text=True
        )
        return str(done.stdout).strip()

    def _dev(self, side: Side, end: End) -> tuple[str, str]:
        """(namespace name, device) of ``side``'s veth end: its own, or its peer in T."""
        if end == "own":
            return self.ns(side).name, DEV[side]
        return self.t.name, f"{DEV[side]}_t"

    def link_down(self, side: Side, end: End = "own") -> None:
        name, dev = self._dev(side, end)
        _run([IP, "-n", name, "link", "set", "dev", dev, "down"])

    def link_up(self, side: Side, end: End = "own") -> None:
        name, dev = self._dev(side, end)
        _run([IP, "-n", name, "link", "set", "dev", dev, "up"])
        # Taking a link down removes the routes through it; put the default back.
        ns = self.ns(side).name
        _run([IP, "-n", ns, "route", "replace", "default", "via", T_ADDR[side]])

    async def cut_link(self, side: Side, seconds: float, end: End = "own") -> None:
        """``side``'s link down for ``seconds``, then up again (always up again).

        ``end="own"`` takes down the interface inside ``side`` (its browser sees
        its network go away and come back); ``end="relay"`` the other end, in T
        (the browser's interface stays up: a silent outage on the way).
        """
        self.link_down(side, end)
        try:
            await asyncio.sleep(seconds)
        finally:
            self.link_up(side, end)


# --- building it ---------------------------------------------------------------------


def _sysctl(ns: Netns, *settings: str) -> None:
    for setting in settings:
        _run(ns.exec_argv(["sysctl", "-q", "-w", setting]))


def _link(side: Side, a: Netns, t: Netns) -> None:
    dev = DEV[side]
    peer = ["peer", "name", f"{dev}_t", "netns", t.name]
    _run([IP, "link", "add", dev, "netns", a.name, "type", "veth", *peer])
    _run([IP, "-n", a.name, "addr", "add", f"{ADDR[side]}/24", "dev", dev])
    _run([IP, "-n", t.name, "addr", "add", f"{T_ADDR[side]}/24", "dev", f"{dev}_t"])
    _run([IP, "-n", a.name, "link", "set", "dev", dev, "up"])
    _run([IP, "-n", t.name, "link", "set", "dev", f"{dev}_t", "up"])
    _run([IP, "-n", a.name, "route", "add", "default", "via", T_ADDR[side]])


def _self_signed(directory: Path) -> tuple[Path, Path] | None:
    """A throw-away certificate for T's addresses; None if openssl cannot make one."""
    cert, key = directory / "turn-cert.pem", directory / "turn-key.pem"
    sans = ",".join(f"IP:{address}" for address in T_ADDR.values())
    try:
        _run(
            [
                "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
                "-subj", "/CN=sprechzimmer-test-relay", "-addext", f"subjectAltName={sans}",
                "-keyout", str(key), "-out", str(cert),
            ]
        )  # fmt: skip
    except (OSError, RuntimeError, subprocess.TimeoutExpired):
        return None
    key.chmod(0o600)
    return cert, key


@contextlib.contextmanager
def _coturn(t: Netns, directory: Path, secret: str, tls: bool) -> Iterator[Coturn]:
    pair = _self_signed(directory) if tls else None
    log_path = directory / "turn.log"
    options = CoturnOptions(
        secret=secret,
        listening_ips=tuple(T_ADDR.values()),
        relay_ips=(RELAY_IP,),
        allowed_peer_ips=(RELAY_IP,),
        port=TURN_PORT,
        tls_port=TURNS_PORT if pair else None,
        cert=str(pair[0]) if pair else None,
        pkey=str(pair[1]) if pair else None,
        log_file=str(log_path),
        pid_file=str(directory / "turnserver.pid"),
    )
    config_path = directory / "turnserver.conf"
    config_path.write_text(coturn_config(options))
    config_path.chmod(0o600)
    process = t.popen(
        ["turnserver", "-c", str(config_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(t, TURN_PORT, timeout=10 * TIME_SCALE, host=RELAY_IP)
        if pair:
            wait_for_port(t, TURNS_PORT, timeout=10 * TIME_SCALE, host=RELAY_IP)
        yield Coturn(process, config_path, log_path, tls=pair is not None)
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=STOP_TIMEOUT)


def ice_servers(tls: bool) -> list[dict[str, Any]]:
    urls = [
        f"turn:{RELAY_IP}:{TURN_PORT}?transport=udp",
        f"turn:{RELAY_IP}:{TURN_PORT}?transport=tcp",
    ]
    if tls:
        urls.append(f"turns:{RELAY_IP}:{TURNS_PORT}?transport=tcp")
    return [{"urls": urls, "region": "DE", "auth": "rest"}]


@contextlib.contextmanager
def topology(
    directory: Path,
    *,
    forwarding: bool = False,
    relay_only: bool = False,
    tls: bool = True,
    port: int = SERVER_PORT,
    extra_env: dict[str, str] | None = None,
) -> Iterator[Topology]:
    """Build A, B, T with coturn and the server in T; tear everything down on exit."""
    directory.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(32)
    with contextlib.ExitStack() as stack:
        a = stack.enter_context(netns())
        b = stack.enter_context(netns())
        t = stack.enter_context(netns())
        for ns in (a, b, t):
            _sysctl(ns, "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
        _link("A", a, t)
        _link("B", b, t)
        _sysctl(t, f"net.ipv4.ip_forward={1 if forwarding else 0}")
        turn = stack.enter_context(_coturn(t, directory, secret, tls))
        servers = ice_servers(turn.tls)
        env = {
            "SPRECHZIMMER_PUBLIC_URL": _origin(T_ADDR["A"], port),
            "SPRECHZIMMER_ALLOWED_ORIGINS": json.dumps([_origin(T_ADDR["B"], port)]),
            "SPRECHZIMMER_ICE_SERVERS": json.dumps(servers),
            "SPRECHZIMMER_TURN_SECRET": secret,
            "SPRECHZIMMER_RELAY_ONLY": "1" if relay_only else "0",
            **(extra_env or {}),
        }
        server = stack.enter_context(
            running_server(directory, port=port, extra_env=env, ns=t, host="0.0.0.0")  # noqa: S104
        )
        yield Topology(
            a=a,
            b=b,
            t=t,
            directory=directory,
            server=server,
            turn=turn,
            secret=secret,
            port=port,
            relay_only=relay_only,
            ice_servers=servers,
        )


@dataclass
class Browsers:
    """Chromium in A (the therapist's) and in B (the client's), one context each."""

    therapist: BrowserContext
    client: BrowserContext


@contextlib.asynccontextmanager
async def browsers(topo: Topology) -> AsyncIterator[Browsers]:
    """One Chromium in A and one in B, both told the service's origins are secure."""
    async with (
        launch_chromium(topo.a, topo.directory, extra_args=topo.chromium_args) as in_a,
        launch_chromium(topo.b, topo.directory, extra_args=topo.chromium_args) as in_b,
    ):
        yield Browsers(therapist=in_a.contexts[0], client=in_b.contexts[0])


def diagnostics(topo: Topology) -> str:
    """The end of the server's and coturn's logs, for a failure message."""
    return (
        f"--- server log (end) ---\n{topo.server.log()[-3000:]}\n"
        f"--- coturn log (end) ---\n{topo.turn.log()[-3000:]}"
    )


if __name__ == "__main__":  # a smoke check: build, show, tear down
    import tempfile

    with tempfile.TemporaryDirectory(prefix="sz-topo-") as tmp, topology(Path(tmp)) as topo:
        pairs: tuple[tuple[Side, Side], ...] = (("A", "B"), ("B", "A"))
        for side, other in pairs:
            print(
                side,
                "-> server",
                topo.reach(side, T_ADDR[side], topo.port),
                "-> relay",
                topo.reach(side, RELAY_IP, TURN_PORT),
                "-> other side",
                topo.reach(side, ADDR[other], 9),
            )
        topo.set_forwarding(True)
        print("forwarding on: A -> B", topo.reach("A", ADDR["B"], 9))
        print("TLS relay:", topo.tls)
