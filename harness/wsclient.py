"""Signaling clients for tests against a real server: a polite one and one that never reads.

``Member`` reads every frame into a queue with its arrival time, so a test can
ask what came and when. ``StalledSocket`` speaks just enough WebSocket to say
hello and then never reads again, with a tiny receive buffer, so that the
server's writes to it back up: the attack of a client that does not read.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.client import ClientProtocol
from websockets.exceptions import ConnectionClosed
from websockets.uri import parse_uri

ORIGIN_OF = "http://127.0.0.1:{port}"


CLIENT_NAME = "Test Client"
"""The name every test client gives in its hello (a therapist's server ignores it)."""


def hello(session: str, token: str, **extra: object) -> dict[str, object]:
    """A hello as a call page sends it: with a name and the client's consent (a
    therapist's ``hello`` may carry both, the server ignores them); ``None`` in
    ``extra`` leaves a field out."""
    message: dict[str, object] = {
        "type": "hello",
        "protocol": 1,
        "session": session,
        "token": token,
        "name": CLIENT_NAME,
        "consent": True,
        **extra,
    }
    return {key: value for key, value in message.items() if value is not None}


@dataclass
class Member:
    ws: ClientConnection
    inbox: asyncio.Queue[tuple[float, dict[str, Any]]] = field(default_factory=asyncio.Queue)
    seen: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    """Every message with its arrival time, also those ``expect`` skipped."""
    closed_code: int | None = None
    closed_at: float | None = None
    _reader: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, url: str, port: int) -> Member:
        ws = await connect(url, origin=ORIGIN_OF.format(port=port), compression=None)  # type: ignore[arg-type]
        member = cls(ws)
        member._reader = asyncio.create_task(member._read())
        return member

    async def _read(self) -> None:
        try:
            async for frame in self.ws:
                arrival = (time.monotonic(), json.loads(frame))
                self.seen.append(arrival)
                self.inbox.put_nowait(arrival)
        except ConnectionClosed:
            pass
        self.closed_at = time.monotonic()
        self.closed_code = self.ws.close_code

    def arrivals(self, kind: str) -> list[tuple[float, dict[str, Any]]]:
        return [(at, m) for at, m in self.seen if m["type"] == kind]

    async def send(self, message: dict[str, object]) -> None:
        await self.ws.send(json.dumps(message))

    async def expect(self, kind: str, within: float) -> dict[str, Any]:
        """The next message of type ``kind``, skipping others; fail after ``within`` s."""
        async with asyncio.timeout(within):
            while True:
                _, message = await self.inbox.get()
                if message["type"] == kind:
                    return message

    async def wait_closed(self, within: float) -> int | None:
        assert self._reader is not None
        async with asyncio.timeout(within):
            await asyncio.shield(self._reader)
        return self.closed_code

    async def close(self) -> None:
        await self.ws.close()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._reader, 5)


class StalledSocket:
    """A WebSocket client that completes the handshake, sends, and never reads again."""

    RECEIVE_BUFFER = 4096

    def __init__(self, url: str, port: int) -> None:
        self._reset = False
        self.protocol = ClientProtocol(parse_uri(url), origin=ORIGIN_OF.format(port=port))  # type: ignore[arg-type]
        self.sock = socket.socket()
        # Small before connect, so the TCP window stays small: the server's
        # writes back up after a few KiB instead of megabytes.
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.RECEIVE_BUFFER)
        self.sock.settimeout(5)
        self.sock.connect(("127.0.0.1", port))
        self.protocol.send_request(self.protocol.connect())
        self._flush()
        response = b""
        while b"\r\n\r\n" not in response:
            chunk = self.sock.recv(1)  # byte by byte: read nothing past the handshake
            if not chunk:
                raise ConnectionError("server closed during the handshake")
            response += chunk
        self.protocol.receive_data(response)
        if self.protocol.handshake_exc is not None:
            raise self.protocol.handshake_exc

    def _flush(self) -> None:
        for data in self.protocol.data_to_send():
            self.sock.sendall(data)

    def send(self, message: dict[str, object]) -> None:
        self.protocol.send_text(json.dumps(message).encode())
        self._flush()

    def reset_seen(self) -> bool:
        """Whether the server has reset the connection, without reading a byte of it
        (reading would relieve the backlog the test builds up)."""
        if not self._reset:
            self._reset = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) in (
                errno.ECONNRESET,
                errno.EPIPE,
            )
        return self._reset

    def close(self) -> None:
        self.sock.close()
