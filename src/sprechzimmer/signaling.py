"""The signaling WebSocket endpoint: moves bytes between a socket and the hub.

It checks the Origin before accepting, waits at most ``auth_deadline`` for
``hello``, decodes and bounds every frame, and turns every ``ProtocolError``
into an ``error`` message and the documented close code. It logs no address,
token or message body, and never keeps a message after handing it on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
from typing import Any

from starlette.responses import JSONResponse
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from . import protocol as p
from .config import Settings
from .errors import (
    AuthTimeout,
    BadMessage,
    InternalError,
    NotAuthenticated,
    ProtocolError,
    ServerBusy,
    SlowDown,
    SprechzimmerError,
    error_body,
)
from .hub import Hub
from .ratelimit import TokenBucket

log = logging.getLogger(__name__)


class _Disconnected(Exception):
    pass


class StarletteSocket:
    """What the hub's outboxes need from a socket."""

    def __init__(self, ws: WebSocket) -> None:
        self.ws = ws
        # uvicorn's protocol object is the ``receive`` the app was handed.
        self._uvicorn = getattr(ws._receive, "__self__", None)
        self._direct = all(
            hasattr(self._uvicorn, name)
            for name in ("writable", "close_sent", "disconnected", "conn", "transport")
        )

    def try_send_now(self, data: str) -> bool:
        # The way uvicorn's websockets-sansio ``send`` writes a frame, without its
        # awaitable and Starlette's wrappers around it: most frames go out at
        # once, and a per-message await and task switch was the larger part of
        # the relay's cost. Anything unusual (a paused transport, a close in
        # progress, another server) takes the awaited path instead.
        proto: Any = self._uvicorn
        if not self._direct or self.ws.application_state is not WebSocketState.CONNECTED:
            return False
        if not proto.writable.is_set() or proto.close_sent or proto.disconnected:
            return False
        try:
            proto.conn.send_text(data.encode())
            proto.transport.write(b"".join(proto.conn.data_to_send()))
        except Exception:  # InvalidState and the like: let the awaited path say so
            return False
        return True

    async def send_text(self, data: str) -> None:
        await self.ws.send_text(data)

    async def close(self, code: int) -> None:
        if self.ws.application_state is WebSocketState.CONNECTED:
            await self.ws.close(code)

    def abort(self) -> None:
        # ASGI has no way to drop a connection whose peer does not read: a close
        # frame would wait behind the backlog, and the server would keep the
        # socket and its buffers as long as the peer acknowledges TCP probes.
        # uvicorn's protocol object (the ``receive`` the app was handed) owns the
        # transport; aborting it frees both at once. Elsewhere: best effort.
        transport = getattr(self._uvicorn, "transport", None)
        if transport is None or not hasattr(transport, "abort"):
            return
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # Linger 0: the kernel resets the connection and frees the backlog at
            # once, instead of trying to deliver it to a peer that does not read.
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()


def origin_allowed(settings: Settings, origin: str | None) -> bool:
    return origin is not None and (origin == settings.origin or origin in settings.allowed_origins)


async def _receive_text(ws: WebSocket) -> str:
    # The server's own receive, without Starlette's state bookkeeping per frame:
    # a disconnect ends the loop here, and nothing else reads this socket.
    message = await ws._receive()
    if message["type"] == "websocket.disconnect":
        raise _Disconnected
    text = message.get("text")
    if text is None:
        raise BadMessage("binary frame")
    assert isinstance(text, str)
    return text


async def _refuse(ws: WebSocket, error: SprechzimmerError) -> None:
    if ws.application_state is not WebSocketState.CONNECTED:
        return
    try:
        await ws.send_text(p.encode(p.Error.of(error)))
        await ws.close(error.close_code or 1011)
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass


async def _deny(ws: WebSocket, error: SprechzimmerError) -> None:
    """Answer the handshake with an HTTP error instead of a socket."""
    try:
        await ws.send_denial_response(
            JSONResponse(error_body(error), status_code=error.http_status)
        )
    except RuntimeError:  # a server without the denial extension: a plain 403
        await ws.close(code=1008)


async def signaling_endpoint(ws: WebSocket) -> None:
    settings: Settings = ws.app.state.settings
    hub: Hub = ws.app.state.hub
    if not origin_allowed(settings, ws.headers.get("origin")):
        # Closing before accept makes the server answer the handshake with 403.
        await ws.close(code=1008)
        return
    if hub.pending_sockets >= settings.max_pending_sockets:
        # Before accept: a flood of sockets that never say hello costs one
        # answer each, and the browsers' reconnect (1006) tries again later.
        log.info("signaling: refused a socket, %d are not signed in yet", hub.pending_sockets)
        await _deny(ws, ServerBusy())
        return
    await ws.accept()
    conn = hub.attach(StarletteSocket(ws))
    hub.pending_sockets += 1
    pending = True
    bucket = TokenBucket(settings.rate_messages, settings.rate_burst)
    try:
        try:
            first = await asyncio.wait_for(_receive_text(ws), settings.auth_deadline)
        except TimeoutError:
            raise AuthTimeout() from None
        hello = p.decode_client(first, settings.max_message_bytes)
        if not isinstance(hello, p.Hello):
            raise NotAuthenticated(f"first message was {hello.TYPE}")
        admission = await hub.authenticate(hello)
        hub.pending_sockets -= 1
        pending = False
        await hub.join(conn, admission, hello.resume, hello.epoch, hello.relay_only)
        clock = asyncio.get_running_loop().time
        while True:
            text = await _receive_text(ws)
            if not bucket.take(clock()):
                raise SlowDown("message rate")
            await hub.receive(conn, p.decode_client(text, settings.max_message_bytes), text)
    except (_Disconnected, WebSocketDisconnect):
        pass
    except ProtocolError as error:
        log.info("signaling: %s (%s)", error.code, error.detail)
        await hub.detach(conn, refused=True)  # leave the room first, so the peer hears of it
        await _refuse(ws, error)
    except Exception:
        if ws.application_state is WebSocketState.CONNECTED:
            log.exception("signaling: internal error")
            await hub.detach(conn, refused=True)
            await _refuse(ws, InternalError())
        # Otherwise the hub closed this socket itself (replaced, declined, revoked)
        # and the straggling read has nothing left to say.
    finally:
        if pending:
            hub.pending_sockets -= 1
        await hub.detach(conn)
