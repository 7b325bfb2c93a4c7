"""A minimal TURN client (RFC 5766/8656) for tests: Allocate, CreatePermission, ChannelBind.

It speaks just enough TURN to ask a real coturn the questions our tests care
about (does it accept these credentials? does it let us reach that peer?) and
reports coturn's answer as a STUN error code, or success. It never sends a
byte to a peer: CreatePermission and ChannelBind only install state on the
relay. STUN encoding is aioice's (used as a library); the TURN exchange on
top of it is ours.

Every wait is bounded: a UDP request is sent at most ``RETRANSMITS + 1`` times
with a doubling timeout, a TCP or TLS request waits ``timeout`` seconds once.

Run as a program (inside a test's network namespace) it prints one JSON
object, so a test in the root namespace can read the result::

    python harness/turnclient.py --server 10.200.0.1:3478 \\
        --username 1700000000:x --password ... --permission 192.168.1.10
"""

from __future__ import annotations

import argparse
import hashlib
import json
import socket
import ssl
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aioice import stun

if TYPE_CHECKING:
    from .netns import Netns

UDP = 17
TCP = 6
RTO = 0.25
"""First UDP retransmission timeout in seconds; doubled on each retry."""
RETRANSMITS = 4
FIRST_CHANNEL = 0x4000
IPV4 = 0x01
IPV6 = 0x02
REQUESTED_ADDRESS_FAMILY = 0x0017
Address = tuple[str, int]


@dataclass
class Answer:
    """coturn's answer to one request."""

    ok: bool
    """A success response (with valid MESSAGE-INTEGRITY where one was expected)."""
    code: int | None = None
    """The STUN error code of an error response; None on success or timeout."""
    reason: str = ""
    """The error's reason phrase, or ``timeout`` when nothing came back."""
    relayed: Address | None = None
    """XOR-RELAYED-ADDRESS of a successful Allocate."""


@dataclass
class Report:
    """What the command-line program prints."""

    allocate: Answer
    permissions: dict[str, Answer] = field(default_factory=dict)
    channel_binds: dict[str, Answer] = field(default_factory=dict)


def long_term_key(username: str, realm: str, password: str) -> bytes:
    """The long-term credential key of RFC 5389 section 15.4: MD5(user:realm:pass)."""
    return hashlib.md5(f"{username}:{realm}:{password}".encode(), usedforsecurity=False).digest()


class TurnClient:
    """One control connection to a TURN server, used strictly in request/response turns."""

    def __init__(
        self,
        server: Address,
        username: str,
        password: str,
        *,
        transport: str = "udp",
        timeout: float = 3.0,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.server = server
        self.username = username
        self.password = password
        self.transport = transport
        self.timeout = timeout
        self.realm: str | None = None
        self.nonce: bytes | None = None
        self._buffer = b""
        if transport == "udp":
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sock.connect(server)
        elif transport in ("tcp", "tls"):
            raw = socket.create_connection(server, timeout=timeout)
            if transport == "tls":
                context = tls_context or ssl.create_default_context()
                raw = context.wrap_socket(raw, server_hostname=server[0])
            self.sock = raw
        else:
            raise ValueError(f"unknown transport {transport!r}")

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> TurnClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- TURN requests -----------------------------------------------------------

    def allocate(
        self, requested_transport: int = UDP, family: int = IPV4, lifetime: int = 60
    ) -> Answer:
        """Allocate a relayed address; answers the 401 challenge once with our credentials."""
        attrs: dict[str, Any] = {"REQUESTED-TRANSPORT": requested_transport << 24}
        attrs["LIFETIME"] = lifetime
        raw = (
            b""
            if family == IPV4
            else _attribute(REQUESTED_ADDRESS_FAMILY, bytes([family, 0, 0, 0]))
        )
        first = self._transact(stun.Method.ALLOCATE, dict(attrs), authenticate=False, raw=raw)
        if first is None:
            return Answer(False, None, "timeout")
        if first.message_class == stun.Class.RESPONSE:
            return self._answer(first)  # a server without authentication: not ours
        if first.error_code != 401 or "REALM" not in first.attributes:
            return self._answer(first)
        self.realm = first.attributes["REALM"]
        self.nonce = first.attributes.get("NONCE")
        return self._authenticated(stun.Method.ALLOCATE, attrs, raw)

    def create_permission(self, peer_ip: str) -> Answer:
        return self._authenticated(
            stun.Method.CREATE_PERMISSION, {"XOR-PEER-ADDRESS": (peer_ip, 0)}
        )

    def channel_bind(self, peer_ip: str, port: int, channel: int = FIRST_CHANNEL) -> Answer:
        return self._authenticated(
            stun.Method.CHANNEL_BIND,
            {"CHANNEL-NUMBER": channel, "XOR-PEER-ADDRESS": (peer_ip, port)},
        )

    def release(self) -> Answer:
        """Refresh with LIFETIME 0: frees the allocation at once."""
        return self._authenticated(stun.Method.REFRESH, {"LIFETIME": 0})

    # --- the exchange --------------------------------------------------------------

    def _authenticated(
        self, method: stun.Method, attrs: dict[str, Any], raw: bytes = b""
    ) -> Answer:
        if self.realm is None:
            return Answer(False, None, "no realm: allocate first")
        response = self._transact(method, dict(attrs), authenticate=True, raw=raw)
        if response is not None and response.error_code == 438 and "NONCE" in response.attributes:
            self.nonce = response.attributes["NONCE"]  # stale nonce: one retry with the new one
            response = self._transact(method, dict(attrs), authenticate=True, raw=raw)
        if response is None:
            return Answer(False, None, "timeout")
        return self._answer(response, check_integrity=True)

    def _answer(self, response: stun.Message, check_integrity: bool = False) -> Answer:
        if response.message_class == stun.Class.ERROR:
            code, reason = response.attributes.get("ERROR-CODE", (0, "no ERROR-CODE"))
            return Answer(False, code, reason.rstrip("\x00"))  # coturn pads the phrase
        if check_integrity and self.realm is not None:
            key = long_term_key(self.username, self.realm, self.password)
            if not response.check_message_integrity(key):
                return Answer(False, None, "success response without valid MESSAGE-INTEGRITY")
        return Answer(True, relayed=response.attributes.get("XOR-RELAYED-ADDRESS"))

    def _transact(
        self,
        method: stun.Method,
        attrs: dict[str, Any],
        *,
        authenticate: bool,
        raw: bytes = b"",
    ) -> stun.Message | None:
        request = stun.Message(method, stun.Class.REQUEST, attributes=attrs)
        key = None
        if authenticate:
            assert self.realm is not None
            request.attributes["USERNAME"] = self.username
            request.attributes["REALM"] = self.realm
            if self.nonce is not None:
                request.attributes["NONCE"] = self.nonce
            key = long_term_key(self.username, self.realm, self.password)
        data = _encode(request, raw, key)
        if self.transport == "udp":
            return self._transact_udp(data, request.transaction_id)
        return self._transact_stream(data, request.transaction_id)

    def _transact_udp(self, data: bytes, transaction_id: bytes) -> stun.Message | None:
        wait = RTO
        for _ in range(RETRANSMITS + 1):
            self.sock.send(data)
            deadline = time.monotonic() + wait
            while (left := deadline - time.monotonic()) > 0:
                self.sock.settimeout(left)
                try:
                    packet = self.sock.recv(65535)
                except TimeoutError:
                    break
                except ConnectionRefusedError:
                    return None  # ICMP port unreachable: nobody listens
                message = _parse(packet)
                if message is not None and message.transaction_id == transaction_id:
                    return message
            wait *= 2
        return None

    def _transact_stream(self, data: bytes, transaction_id: bytes) -> stun.Message | None:
        self.sock.sendall(data)
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            frame = self._read_frame(deadline)
            if frame is None:
                return None
            message = _parse(frame)
            if message is not None and message.transaction_id == transaction_id:
                return message
        return None

    def _read_frame(self, deadline: float) -> bytes | None:
        """One STUN message from the stream (RFC 5389 section 7.2.2: no extra framing)."""
        while True:
            if len(self._buffer) >= stun.HEADER_LENGTH:
                length = stun.HEADER_LENGTH + int.from_bytes(self._buffer[2:4], "big")
                if len(self._buffer) >= length:
                    frame, self._buffer = self._buffer[:length], self._buffer[length:]
                    return frame
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65535)
            except (TimeoutError, OSError):
                return None
            if not chunk:
                return None  # the server closed the connection
            self._buffer += chunk


def _attribute(kind: int, value: bytes) -> bytes:
    return kind.to_bytes(2, "big") + len(value).to_bytes(2, "big") + value


def _encode(message: stun.Message, raw: bytes, key: bytes | None) -> bytes:
    """``message`` plus ``raw`` attributes aioice does not know, then integrity and fingerprint.

    aioice encodes only the attributes it has names for; REQUESTED-ADDRESS-FAMILY
    (RFC 6156) is not among them, so it is appended here as bytes, before
    MESSAGE-INTEGRITY and FINGERPRINT are computed with aioice's own helpers.
    """
    data = bytes(message) + raw
    if key is not None:
        data += _attribute(0x0008, stun.message_integrity(data, key))
    fingerprint = stun.message_fingerprint(data).to_bytes(4, "big")
    data += _attribute(0x8028, fingerprint)
    return stun.set_body_length(data, len(data) - stun.HEADER_LENGTH)


def _parse(packet: bytes) -> stun.Message | None:
    try:
        return stun.parse_message(packet)
    except ValueError:
        return None  # ChannelData, or a method aioice does not know


def binding_answered(server: Address, attempts_timeout: float) -> bool:
    """True once a STUN Binding request over UDP is answered (the relay is up)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.connect(server)
        deadline = time.monotonic() + attempts_timeout
        while time.monotonic() < deadline:
            request = stun.Message(stun.Method.BINDING, stun.Class.REQUEST)
            try:
                sock.send(bytes(request))
                sock.settimeout(0.2)
                message = _parse(sock.recv(65535))
            except (TimeoutError, ConnectionRefusedError):
                time.sleep(0.05)
                continue
            if message is not None and message.transaction_id == request.transaction_id:
                return True
        return False
    finally:
        sock.close()


# --- the program, and running it inside a namespace --------------------------------


def ask(
    ns: Netns,
    server: Address,
    username: str = "",
    password: str = "",
    *,
    permissions: Sequence[str] = (),
    channel_binds: Sequence[Address] = (),
    family: str = "ipv4",
    transport: str = "udp",
    requested_transport: str = "udp",
    timeout: float = 30.0,
) -> dict[str, Any]:
    """Run this client inside ``ns`` against ``server``; its JSON report as a dict."""
    argv = [sys.executable, str(Path(__file__).resolve()), "--server", _join(server)]
    argv += ["--username", username, "--password", password, "--family", family]
    argv += ["--transport", transport, "--requested-transport", requested_transport]
    for ip in permissions:
        argv += ["--permission", ip]
    for peer in channel_binds:
        argv += ["--channel-bind", _join(peer)]
    return _run(ns, argv, timeout)


def wait_ready(ns: Netns, server: Address, timeout: float) -> bool:
    """True once the relay at ``server`` answers STUN inside ``ns`` (bounded by ``timeout``)."""
    argv = [sys.executable, str(Path(__file__).resolve()), "--server", _join(server)]
    result = _run(ns, [*argv, "--wait-ready", str(timeout)], timeout + 10)
    return bool(result["ready"])


def _run(ns: Netns, argv: list[str], timeout: float) -> dict[str, Any]:
    done = ns.run(argv, timeout=timeout, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"the TURN client failed: {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _join(address: Address) -> str:
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _address(text: str) -> Address:
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


def run(args: argparse.Namespace) -> dict[str, Any]:
    server = _address(args.server)
    if args.wait_ready is not None:
        return {"ready": binding_answered(server, args.wait_ready)}
    context = None
    if args.transport == "tls":
        context = ssl.create_default_context(cafile=args.cafile)
        context.check_hostname = False  # the test's self-signed certificate names no IP
    with TurnClient(
        server,
        args.username,
        args.password,
        transport=args.transport,
        timeout=args.timeout,
        tls_context=context,
    ) as client:
        requested = TCP if args.requested_transport == "tcp" else UDP
        family = IPV6 if args.family == "ipv6" else IPV4
        report = Report(client.allocate(requested, family))
        if report.allocate.ok:
            for ip in args.permission:
                report.permissions[ip] = client.create_permission(ip)
            for channel, target in enumerate(args.channel_bind, start=FIRST_CHANNEL):
                ip, port = _address(target)
                report.channel_binds[target] = client.channel_bind(ip, port, channel)
            client.release()
    return asdict(report)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--server", required=True, help="HOST:PORT of the TURN server")
    parser.add_argument("--username", default="")
    parser.add_argument("--password", default="")
    parser.add_argument("--transport", choices=("udp", "tcp", "tls"), default="udp")
    parser.add_argument("--requested-transport", choices=("udp", "tcp"), default="udp")
    parser.add_argument("--family", choices=("ipv4", "ipv6"), default="ipv4")
    parser.add_argument("--cafile", help="certificate to trust for --transport tls")
    parser.add_argument("--timeout", type=float, default=3.0, help="seconds, TCP/TLS")
    parser.add_argument("--permission", action="append", default=[], metavar="IP")
    parser.add_argument("--channel-bind", action="append", default=[], metavar="IP:PORT")
    parser.add_argument(
        "--wait-ready", type=float, metavar="SECONDS", help="only wait for a Binding answer"
    )
    print(json.dumps(run(parser.parse_args(argv))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
