"""The lean WebSocket protocol of ``sprechzimmer serve`` on the wire (RFC 6455).

A real server on loopback and a raw socket that writes the frames by hand, so
that frames no library would send (unmasked, with extension bits, broken
UTF-8, fragmented, oversized) can be tried. The browsers' and the test
clients' ordinary use of the same protocol is covered by every end-to-end test.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import struct
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import pytest
from harness.server import TIME_SCALE, RunningServer, loopback_server

from sprechzimmer.wsprotocol import accept_key, frame

WITHIN = 5 * TIME_SCALE
TEXT, BINARY, CLOSE, PING, PONG = 0x1, 0x2, 0x8, 0x9, 0xA


def test_the_accept_key_of_rfc_6455() -> None:
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_frames_carry_their_length_in_the_shortest_form() -> None:
    assert frame(TEXT, b"hi") == b"\x81\x02hi"
    assert frame(TEXT, b"x" * 200)[:4] == b"\x81\x7e\x00\xc8"
    assert frame(TEXT, b"x" * 70_000)[:10] == b"\x81\x7f" + (70_000).to_bytes(8, "big")


@contextmanager
def _server(tmp_path: Path, **env: str) -> Iterator[RunningServer]:
    with loopback_server(tmp_path, extra_env=env) as server:
        yield server


class Raw:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    def send(self, opcode: int, payload: bytes, *, fin: bool = True, mask: bool = True) -> None:
        first = (0x80 if fin else 0) | opcode
        n = len(payload)
        key = os.urandom(4)
        head = bytes([first])
        bit = 0x80 if mask else 0
        if n < 126:
            head += bytes([bit | n])
        elif n < 1 << 16:
            head += bytes([bit | 126]) + struct.pack("!H", n)
        else:
            head += bytes([bit | 127]) + struct.pack("!Q", n)
        if mask:
            head += key
            payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        self.writer.write(head + payload)

    async def receive(self) -> tuple[int, bytes]:
        async with asyncio.timeout(WITHIN):
            first, second = await self.reader.readexactly(2)
            n = second & 0x7F
            if n == 126:
                n = int.from_bytes(await self.reader.readexactly(2), "big")
            elif n == 127:
                n = int.from_bytes(await self.reader.readexactly(8), "big")
            assert not second & 0x80, "the server never masks"
            return first & 0x0F, await self.reader.readexactly(n)

    async def closed_with(self) -> int:
        """Read until the close frame; its code."""
        while True:
            opcode, payload = await self.receive()
            if opcode == CLOSE:
                return int.from_bytes(payload[:2], "big")


async def _handshake(
    server: RunningServer, *, path: str = "/ws", origin: str | None = None, version: str = "13"
) -> tuple[str, asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    key = base64.b64encode(os.urandom(16)).decode()
    origin = origin or f"http://127.0.0.1:{server.port}"
    writer.write(
        (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: {version}\r\nOrigin: {origin}\r\n\r\n"
        ).encode()
    )
    async with asyncio.timeout(WITHIN):
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
    if head.startswith("HTTP/1.1 101"):
        assert f"Sec-WebSocket-Accept: {accept_key(key)}" in head
    return head, reader, writer


@asynccontextmanager
async def _open(server: RunningServer) -> AsyncIterator[Raw]:
    head, reader, writer = await _handshake(server)
    assert head.startswith("HTTP/1.1 101"), head
    try:
        yield Raw(reader, writer)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


def _hello_error(payload: bytes) -> str:
    message = json.loads(payload)
    assert message["type"] == "error"
    code: str = message["code"]
    return code


async def _refused(server: RunningServer, **how: str) -> tuple[str, bytes]:
    head, reader, writer = await _handshake(server, **how)
    try:
        async with asyncio.timeout(WITHIN):
            return head, await reader.read()
    finally:
        writer.close()
        await writer.wait_closed()


async def test_the_handshake_refuses_what_is_not_our_socket(tmp_path: Path) -> None:
    with _server(tmp_path, SPRECHZIMMER_MAX_PENDING_SOCKETS="1") as server:
        head, _ = await _refused(server, path="/api/v1/me")
        assert head.startswith("HTTP/1.1 404")
        head, _ = await _refused(server, origin="http://evil.example")
        assert head.startswith("HTTP/1.1 403")
        assert "Content-Security-Policy:" in head
        head, _ = await _refused(server, version="8")
        assert head.startswith("HTTP/1.1 426") and "Sec-WebSocket-Version: 13" in head
        async with _open(server):  # the one socket that may wait for its hello
            head, body = await _refused(server)
            assert head.startswith("HTTP/1.1 503"), head
            assert json.loads(body)["error"]["code"] == "server-busy"


@pytest.mark.parametrize(
    ("what", "code"),
    [("unmasked", 1002), ("extension bit", 1002), ("broken utf-8", 1007), ("huge", 1009)],
)
async def test_frames_that_break_the_protocol_close_the_socket(
    tmp_path: Path, what: str, code: int
) -> None:
    with _server(tmp_path) as server:
        async with _open(server) as ws:
            if what == "unmasked":
                ws.send(TEXT, b'{"type":"ping"}', mask=False)
            elif what == "extension bit":
                ws.writer.write(b"\xc1\x80" + os.urandom(4))  # RSV1 set, empty payload
            elif what == "broken utf-8":
                ws.send(TEXT, b"\xff\xfe")
            else:
                ws.writer.write(b"\x81\xff" + struct.pack("!Q", 2 << 20) + os.urandom(4))
            assert await ws.closed_with() == code


async def test_a_message_in_pieces_pings_and_a_close_are_understood(tmp_path: Path) -> None:
    with _server(tmp_path) as server:
        async with _open(server) as ws:
            ws.send(PING, b"are you there")
            assert await ws.receive() == (PONG, b"are you there")
            # A hello in two pieces, with a ping between them: one message, and
            # an answer to it (the session does not exist: refused as such).
            hello = json.dumps(
                {"type": "hello", "protocol": 1, "session": "0" * 32, "token": "A" * 43}
            ).encode()
            ws.send(TEXT, hello[:10], fin=False)
            ws.send(PING, b"")
            ws.send(0x0, hello[10:])
            assert await ws.receive() == (PONG, b"")
            opcode, payload = await ws.receive()
            assert opcode == TEXT and _hello_error(payload) == "forbidden"
            assert await ws.closed_with() == 4003
        async with _open(server) as ws:
            ws.send(CLOSE, (1000).to_bytes(2, "big"))
            assert await ws.closed_with() == 1000
            assert await ws.reader.read() == b""  # and the line ends


async def test_a_binary_frame_is_a_bad_message(tmp_path: Path) -> None:
    with _server(tmp_path) as server:
        async with _open(server) as ws:
            ws.send(BINARY, b"\x00\x01")
            opcode, payload = await ws.receive()
            assert opcode == TEXT and _hello_error(payload) == "bad-message"
            assert await ws.closed_with() == 4000


async def test_a_bye_right_before_the_close_frame_still_counts(tmp_path: Path) -> None:
    """A browser hangs up with ``bye`` and closes at once: both frames often come
    in one read, while the member's earlier message is still being stored."""
    from harness.wsclient import Member, hello

    with _server(tmp_path) as server:
        server.add_therapist()
        session, t_token, c_token = server.invite()
        therapist = await Member.open(server.ws_url, server.port)
        await therapist.send(hello(session, t_token))
        await therapist.expect("welcome", WITHIN)
        async with _open(server) as ws:
            ws.send(TEXT, json.dumps(hello(session, c_token)).encode())
            await therapist.expect("knock", WITHIN)
            await therapist.send({"type": "admit"})
            while json.loads((await ws.receive())[1])["type"] != "admitted":
                pass
            # A billing event (media) and the hang-up, then the close: one write.
            ws.send(TEXT, b'{"type":"media","state":"connected"}')
            ws.send(TEXT, b'{"type":"bye"}')
            ws.send(CLOSE, (1000).to_bytes(2, "big"))
            left = await therapist.expect("peer-left", WITHIN)
            assert left["reason"] == "hangup"
        await therapist.close()
        kinds = [(e["role"], e["kind"]) for e in server.events(session)]
        assert ("client", "left") in kinds and ("client", "media_connected") in kinds, kinds
