"""The signaling WebSocket under ``sprechzimmer serve``: a lean protocol of our own.

uvicorn parses each HTTP request; an upgrade it hands to the protocol class it
was configured with (``ws=``). This one answers the handshake of ``/ws`` itself
(Origin, the cap on sockets not signed in yet) and then reads and writes
frames (RFC 6455) straight on the transport, handing each text message to a
``SignalingConnection``. Per socket there is one protocol object and one
buffer: no ASGI task, queue or message dict per frame. That is what makes a
relayed message and an idle socket cheap (``make bench-signaling``); under
any other ASGI server ``signaling.signaling_endpoint`` does the same job.

It speaks the server side of RFC 6455 without extensions (no
permessage-deflate: CPU, memory, and no compression next to secrets) and
without subprotocols: client frames must be masked, control frames short and
whole, text valid UTF-8, a message at most ``MAX_MESSAGE`` bytes; a violation
closes with 1002, 1007 or 1009. It never logs an address or a frame.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import logging
import socket
import struct
from typing import Any, cast

import orjson
from fastapi import FastAPI
from websockets.utils import apply_mask

from .config import Settings
from .errors import BadMessage, ServerBusy, error_body
from .hub import Hub
from .signaling import SignalingConnection, origin_allowed

log = logging.getLogger(__name__)

MAX_MESSAGE = 1 << 20
"""Frames and messages beyond this are cut off with 1009 before they are buffered
(the protocol's own, smaller bound answers with a clear error first)."""
CORK_BYTES = 16 << 10
"""Frames held back for one write at the end of an event loop turn, at most."""
CLOSE_TIMEOUT = 2.0
"""Seconds a close waits for the browser's close frame before dropping the line."""
_ACCEPT_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455, 1.3

CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
PROTOCOL_ERROR, INVALID_DATA, MESSAGE_TOO_BIG, GOING_AWAY = 1002, 1007, 1009, 1001
SERVICE_RESTART = 1012
_CLOSE_CODES_FROM_PEER = frozenset({1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011})


def frame(opcode: int, payload: bytes) -> bytes:
    """One unmasked, final frame (the server never masks, never fragments)."""
    n = len(payload)
    if n < 126:
        return bytes((0x80 | opcode, n)) + payload
    if n < 1 << 16:
        return struct.pack("!BBH", 0x80 | opcode, 126, n) + payload
    return struct.pack("!BBQ", 0x80 | opcode, 127, n) + payload


def accept_key(key: str) -> str:
    return base64.b64encode(hashlib.sha1(key.encode() + _ACCEPT_GUID).digest()).decode()  # noqa: S324 (RFC 6455)


def _valid_key(key: str) -> bool:
    try:
        return len(base64.b64decode(key, validate=True)) == 16
    except (binascii.Error, ValueError):
        return False


def _response(status: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    lines = [f"HTTP/1.1 {status}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if status[:3] != "101":
        lines += [f"Content-Length: {len(body)}", "Connection: close"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class SignalingProtocol(asyncio.Protocol):
    """One signaling socket on the wire; configured per app by ``signaling_protocol``."""

    hub: Hub
    settings: Settings
    security_headers: dict[str, str]

    def __init__(
        self,
        config: Any = None,
        server_state: Any = None,
        app_state: Any = None,
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self._connections: set[Any] = server_state.connections if server_state else set()
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._fragments: list[bytes] | None = None
        self._fragment_size = 0
        self.connection: SignalingConnection | None = None
        self._writable = True
        self._waiting: list[asyncio.Future[None]] = []
        self._close_sent = False
        self._gone: asyncio.Future[None] | None = None
        self._corked: list[bytes] | None = None
        self._corked_bytes = 0
        """Frames written in this turn of the event loop, sent together at its end."""

    # --- asyncio.Protocol ---------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self._gone = asyncio.get_running_loop().create_future()
        self._connections.add(self)

    def data_received(self, data: bytes) -> None:
        if self.connection is None and not self._close_sent:
            self._handshake(data)  # uvicorn hands over the whole request at once
            return
        if self._buffer:
            self._buffer += data
            data = bytes(self._buffer)
            self._buffer.clear()
        # Most reads hold whole frames: parse them where they are, and keep only
        # an unfinished rest for the next read.
        rest = self._read_frames(data)
        if rest is not None:
            self._buffer += rest

    def connection_lost(self, exc: Exception | None) -> None:
        self._connections.discard(self)
        self._close_sent = True
        self._wake(ConnectionError("the socket is gone"))
        if self._gone is not None and not self._gone.done():
            self._gone.set_result(None)
        if self.connection is not None:
            self.connection.lost()

    def pause_writing(self) -> None:
        self._writable = False

    def resume_writing(self) -> None:
        self._writable = True
        self._wake(None)

    def shutdown(self) -> None:
        """uvicorn is stopping (after ``Hub.going_away`` said 1001 to everybody)."""
        if self.connection is None:
            if self.transport is not None:
                self.transport.close()
        elif not self._close_sent:
            self._send_close(SERVICE_RESTART)

    # --- the handshake ------------------------------------------------------------

    def _handshake(self, request: bytes) -> None:
        head, _, _ = request.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = [*lines[0].split(" ", 2), "", ""][:3]
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name, value = name.strip().lower(), value.strip()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        key = headers.get("sec-websocket-key", "")
        connection = {t.strip().lower() for t in headers.get("connection", "").split(",")}
        if target.split("?", 1)[0] != "/ws":
            self._deny("404 Not Found")
        elif (
            method != "GET"
            or headers.get("upgrade", "").lower() != "websocket"
            or "upgrade" not in connection
            or not _valid_key(key)
        ):
            self._deny("400 Bad Request")
        elif headers.get("sec-websocket-version") != "13":
            self._deny("426 Upgrade Required", {"Sec-WebSocket-Version": "13"})
        elif not origin_allowed(self.settings, headers.get("origin")):
            self._deny("403 Forbidden")
        elif self.hub.pending_sockets >= self.settings.max_pending_sockets:
            # Before accepting: a flood of sockets that never say hello costs one
            # answer each, and the browsers' reconnect tries again later.
            log.info(
                "signaling: refused a socket, %d are not signed in yet", self.hub.pending_sockets
            )
            error = ServerBusy()
            self._deny(
                f"{error.http_status} Service Unavailable",
                {"Content-Type": "application/json"},
                orjson.dumps(error_body(error)),
            )
        else:
            assert self.transport is not None
            self.transport.write(
                _response(
                    "101 Switching Protocols",
                    {
                        "Upgrade": "websocket",
                        "Connection": "Upgrade",
                        "Sec-WebSocket-Accept": accept_key(key),
                    },
                )
            )
            self.connection = SignalingConnection(self.hub, self.settings, self)

    def _deny(self, status: str, headers: dict[str, str] | None = None, body: bytes = b"") -> None:
        assert self.transport is not None
        self._close_sent = True
        all_headers = {**self.security_headers, "Cache-Control": "no-store", **(headers or {})}
        self.transport.write(_response(status, all_headers, body))
        self.transport.close()

    # --- reading frames -----------------------------------------------------------

    def _read_frames(self, data: bytes) -> bytes | None:
        """Handle every whole frame in ``data``; the unfinished rest, if any."""
        at, have = 0, len(data)
        while True:
            if have - at < 2:
                return data[at:] if at < have else None
            first, second = data[at], data[at + 1]
            length = second & 0x7F
            start = at + 2
            if length == 126:
                if have - at < 4:
                    return data[at:]
                length, start = int.from_bytes(data[at + 2 : at + 4], "big"), at + 4
            elif length == 127:
                if have - at < 10:
                    return data[at:]
                length, start = int.from_bytes(data[at + 2 : at + 10], "big"), at + 10
            if first & 0x70 or not second & 0x80:  # extension bits, or an unmasked frame
                self._fail(PROTOCOL_ERROR)
                return None
            if length > MAX_MESSAGE:
                self._fail(MESSAGE_TOO_BIG)
                return None
            end = start + 4 + length
            if have < end:
                return data[at:]
            payload = apply_mask(data[start + 4 : end], data[start : start + 4])
            at = end
            if not self._frame(bool(first & 0x80), first & 0x0F, payload):
                return None

    def _frame(self, final: bool, opcode: int, payload: bytes) -> bool:
        """Handle one frame; False once the socket is closing."""
        if opcode >= CLOSE:
            return self._control(final, opcode, payload)
        if self._close_sent:
            return True  # after our close frame the browser's data is of no use
        if opcode == CONTINUATION:
            if self._fragments is None:
                self._fail(PROTOCOL_ERROR)
                return False
            self._fragments.append(payload)
            self._fragment_size += len(payload)
            if self._fragment_size > MAX_MESSAGE:
                self._fail(MESSAGE_TOO_BIG)
                return False
            if not final:
                return True
            payload, self._fragments = b"".join(self._fragments), None
            return self._text(payload)
        if self._fragments is not None:  # a new message inside a fragmented one
            self._fail(PROTOCOL_ERROR)
            return False
        if opcode == BINARY:
            assert self.connection is not None
            self.connection.fail(BadMessage("binary frame"))
            return False
        if opcode != TEXT:
            self._fail(PROTOCOL_ERROR)
            return False
        if not final:
            self._fragments, self._fragment_size = [payload], len(payload)
            return True
        return self._text(payload)

    def _text(self, payload: bytes) -> bool:
        # Signaling is nearly all ASCII, which is checked at C speed; anything
        # else is checked as UTF-8 here (the JSON parser would only say "bad").
        if not payload.isascii():
            try:
                payload.decode("utf-8")
            except UnicodeDecodeError:
                self._fail(INVALID_DATA)
                return False
        assert self.connection is not None
        self.connection.text(payload)
        return not self.connection.closed

    def _control(self, final: bool, opcode: int, payload: bytes) -> bool:
        if not final or len(payload) > 125 or opcode > PONG:
            self._fail(PROTOCOL_ERROR)
            return False
        if opcode == PING:
            if not self._close_sent:
                self._write(frame(PONG, payload))
            return True
        if opcode == PONG:
            return True
        # The browser closes: answer with its code (or none), then the line ends.
        code: int | None = None
        if len(payload) >= 2:
            code = int.from_bytes(payload[:2], "big")
            if not (code in _CLOSE_CODES_FROM_PEER or 3000 <= code < 5000):
                code = PROTOCOL_ERROR
        elif len(payload) == 1:
            code = PROTOCOL_ERROR
        if not self._close_sent:
            self._close_sent = True
            self._write(frame(CLOSE, b"" if code is None else code.to_bytes(2, "big")))
        self._flush()
        assert self.transport is not None
        self.transport.close()
        return False

    def _fail(self, code: int) -> None:
        """A frame broke the protocol: close with ``code``; the member is gone."""
        if not self._close_sent:
            self._send_close(code)
        if self.connection is not None:
            self.connection.lost()

    # --- writing (the outbox's ``Socket``) -----------------------------------------

    def _write(self, data: bytes) -> None:
        # Corked: every frame for this socket in one turn of the event loop
        # (several relayed candidates, a pong) goes out in one system call at
        # its end, which under load is most of the cost of a relayed message.
        # Past ``CORK_BYTES`` it goes at once, so that the transport's flow
        # control (``pause_writing``) and with it the outbox's bound see it.
        if self._corked is None:
            self._corked, self._corked_bytes = [data], len(data)
            _corked.append(self)
            if len(_corked) == 1:
                asyncio.get_running_loop().call_soon(_flush_corked)
        else:
            self._corked.append(data)
            self._corked_bytes += len(data)
        if self._corked_bytes > CORK_BYTES:
            self._flush()

    def _flush(self) -> None:
        corked, self._corked, self._corked_bytes = self._corked, None, 0
        if corked and self.transport is not None and not self.transport.is_closing():
            self.transport.write(corked[0] if len(corked) == 1 else b"".join(corked))

    def try_send_now(self, data: bytes) -> bool:
        if not self._writable or self._close_sent or self.transport is None:
            return False
        self._write(frame(TEXT, data))
        return True

    async def send_text(self, data: bytes) -> None:
        while not self._writable and not self._close_sent:
            waiter = asyncio.get_running_loop().create_future()
            self._waiting.append(waiter)
            await waiter
        if self._close_sent:
            raise ConnectionError("the socket is closing")
        self._write(frame(TEXT, data))

    async def close(self, code: int) -> None:
        if not self._close_sent:
            self._send_close(code)
        if self._gone is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(CLOSE_TIMEOUT):
                    await asyncio.shield(self._gone)

    def _send_close(self, code: int) -> None:
        self._close_sent = True
        self._write(frame(CLOSE, code.to_bytes(2, "big")))
        # The browser answers with its own close frame (``_control`` then ends the
        # line); one that does not is dropped after a moment.
        loop = asyncio.get_running_loop()
        loop.call_later(CLOSE_TIMEOUT, self._drop_if_open)

    def _drop_if_open(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.abort()

    def abort(self) -> None:
        # A peer that does not read: reset the line (linger 0) so the kernel frees
        # the backlog at once instead of trying to deliver it.
        self._corked = None
        if self.transport is None:
            return
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.transport.abort()

    def _wake(self, error: Exception | None) -> None:
        waiting, self._waiting = self._waiting, []
        for waiter in waiting:
            if waiter.done():
                continue
            if error is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(error)


_corked: list[SignalingProtocol] = []
"""Sockets with frames held back in this turn of the event loop."""


def _flush_corked() -> None:
    # One callback per turn for all sockets, not one per socket.
    while _corked:
        _corked.pop()._flush()


def signaling_protocol(app: FastAPI, security_headers: dict[str, str]) -> type[SignalingProtocol]:
    """The protocol class for uvicorn's ``ws=`` setting, bound to this app's hub."""
    return type(
        "AppSignalingProtocol",
        (SignalingProtocol,),
        {
            "hub": app.state.hub,
            "settings": app.state.settings,
            "security_headers": security_headers,
        },
    )
