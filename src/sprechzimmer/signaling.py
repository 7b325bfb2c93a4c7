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
from collections import deque
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
    close_code,
    error_body,
)
from .hub import Hub, Pending
from .outbox import Socket
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

    def try_send_now(self, data: bytes) -> bool:
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
            proto.conn.send_text(data)
            proto.transport.write(b"".join(proto.conn.data_to_send()))
        except Exception:  # InvalidState and the like: let the awaited path say so
            return False
        return True

    async def send_text(self, data: bytes) -> None:
        await self.ws.send_text(data.decode())

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


class SignalingConnection:
    """One signaling socket's life, whatever carries its frames.

    The first message must be ``hello`` within ``auth_deadline``; each message
    is bounded, decoded, rate-limited and handed to the hub; a protocol error
    makes the socket leave its room (the peer hears of it), then hear why. Two
    transports drive it:

    - ``signaling_endpoint`` (any ASGI server, and the in-process tests) awaits
      ``handle`` for each frame in its own task, the way ASGI expects;
    - the lean protocol of ``wsprotocol.py`` (``sprechzimmer serve``) calls
      ``text`` from its ``data_received``: a member's ordinary message (a ping,
      a relayed candidate) is done before it returns, with no task and no
      queue; what must wait (the token check, a join, a billing event) runs in
      one worker task, and later frames queue behind it, so their order never
      changes.

    Either way the hub answers through the socket's outbox, and a refusal
    goes through ``socket`` itself.
    """

    def __init__(self, hub: Hub, settings: Settings, socket: Socket) -> None:
        self.hub = hub
        self.settings = settings
        self.socket = socket
        self.conn = hub.attach(socket)
        hub.pending_sockets += 1
        self._pending = True
        """Not signed in yet (counted in ``hub.pending_sockets``)."""
        self._joined = False
        self.closed = False
        """Refused, or the socket is gone: no more frames are taken."""
        self._lost = False
        self._refused = False
        self._queue: deque[str | bytes | Pending] = deque()
        self._worker: asyncio.Task[None] | None = None
        self._bucket = TokenBucket(settings.rate_messages, settings.rate_burst)
        loop = asyncio.get_running_loop()
        self._clock = loop.time
        self._deadline: asyncio.TimerHandle | None = loop.call_later(
            settings.auth_deadline, self._too_late
        )
        self.done = loop.create_future()
        """Resolved once the hub has let go of this socket."""

    # --- driven by a task of the transport's own (ASGI) -----------------------------

    async def handle(self, text: str) -> None:
        """One text frame, handled to its end (errors refuse the socket)."""
        if self.closed:
            return
        self._first_frame()
        try:
            await self._handle(text)
        except Exception as exc:
            await self._refuse(self._audience(exc))

    async def refuse(self, error: SprechzimmerError) -> None:
        """Refuse the socket now, in the caller's task."""
        if not self.closed:
            self._log(error)
            await self._refuse(error)

    async def end(self, *, gone: bool) -> None:
        """The transport is done with the socket (``gone``: the browser went):
        let go of it before returning.

        Under an ASGI server this runs in the endpoint's task, so a thread-pool
        call under way is finished, not abandoned, even when that task is
        cancelled (anyio lets such a call end first)."""
        self._lost = self._lost or gone
        self.closed = True
        if self._worker is not None:
            await asyncio.shield(self.done)
        elif not self.done.done():
            await self._finish()

    # --- driven by callbacks (wsprotocol.py) ------------------------------------------

    def text(self, text: str | bytes) -> None:
        """One text frame (as ``bytes``: valid UTF-8 already); returns at once."""
        if self.closed:
            return
        self._first_frame()
        if self._joined and self._worker is None:
            try:
                pending = self.hub.receive_now(self.conn, self._decode(text), text)
            except Exception as exc:
                self.fail(self._audience(exc))
                return
            if pending is None:
                return
            self._queue.append(pending)
        elif len(self._queue) >= self.settings.rate_burst:
            # Waiting for the store is no reason to buffer without a bound.
            self.fail(SlowDown("messages while signing in"))
            return
        else:
            self._queue.append(text)
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._work())

    def fail(self, error: SprechzimmerError) -> None:
        """Refuse the socket (from a callback or a timer)."""
        if self.closed:
            return
        self._log(error)
        self.closed = self._refused = True
        self._drop_unread()
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._refuse(error))

    def lost(self) -> None:
        """The socket is gone (closed by the browser, or the line broke)."""
        self._lost = True
        if self.closed:
            return  # a refusal or the end is under way already
        # Frames that came before the close still count (a ``bye`` just before
        # the close frame, say): the worker handles them, then lets go.
        self.closed = True
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._finish())

    async def _work(self) -> None:
        try:
            while self._queue:
                item = self._queue.popleft()
                if isinstance(item, Pending):
                    await self.hub.apply(item)
                elif not self._refused:
                    await self._handle(item)
        except Exception as exc:
            error = self._audience(exc)
            self.closed = self._refused = True
            self._drop_unread()
            await self._apply_left()
            await self._refuse(error)
            return
        if self.closed:
            await self._finish()  # this task stays the worker until the hub let go
        else:
            self._worker = None  # the next frame that must wait starts another

    # --- both -------------------------------------------------------------------------

    async def _handle(self, text: str | bytes) -> None:
        if not self._joined:
            await self._sign_in(text)
            return
        pending = self.hub.receive_now(self.conn, self._decode(text), text)
        if pending is not None:
            await self.hub.apply(pending)

    async def _sign_in(self, text: str | bytes) -> None:
        hello = p.decode_client(text, self.settings.max_message_bytes)
        if not isinstance(hello, p.Hello):
            raise NotAuthenticated(f"first message was {hello.TYPE}")
        admission = await self.hub.authenticate(hello)
        self._signed_in()
        await self.hub.join(
            self.conn,
            admission,
            hello.resume,
            hello.epoch,
            hello.relay_only,
            name=hello.name,
            consent=hello.consent,
        )
        self._joined = True

    def _decode(self, text: str | bytes) -> p.ClientMessage:
        if not self._bucket.take(self._clock()):
            raise SlowDown("message rate")
        return p.decode_client(text, self.settings.max_message_bytes)

    def _first_frame(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_late(self) -> None:
        self._deadline = None
        if self._pending and not self._queue and self._worker is None:
            self.fail(AuthTimeout())

    def _audience(self, exc: Exception) -> SprechzimmerError:
        if isinstance(exc, ProtocolError):
            self._log(exc)
            return exc
        log.error("signaling: internal error", exc_info=exc)
        return InternalError()

    @staticmethod
    def _log(error: SprechzimmerError) -> None:
        if isinstance(error, ProtocolError):
            log.info("signaling: %s (%s)", error.code, error.detail)

    def _drop_unread(self) -> None:
        # Frames not handled yet go with the socket; a room's outputs stay: the
        # room has changed already, and its billing events must be written.
        self._queue = deque(item for item in self._queue if isinstance(item, Pending))

    async def _apply_left(self) -> None:
        while self._queue:
            item = self._queue.popleft()
            if isinstance(item, Pending):
                await self.hub.apply(item)

    def _signed_in(self) -> None:
        if self._pending:
            self._pending = False
            self.hub.pending_sockets -= 1

    async def _refuse(self, error: SprechzimmerError) -> None:
        self.closed = self._refused = True
        try:
            await self.hub.detach(self.conn, refused=True)
            if not self._lost:
                with contextlib.suppress(Exception):  # the socket may be gone meanwhile
                    await self.socket.send_text(p.encode_bytes(p.Error.of(error)))
                    await self.socket.close(close_code(error))
        finally:
            await self._finish()

    async def _finish(self) -> None:
        self.closed = True
        self._first_frame()
        self._signed_in()
        try:
            await self._apply_left()
            await self.hub.detach(self.conn)
        finally:
            self._worker = None
            if not self.done.done():
                self.done.set_result(None)


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


async def _deny(ws: WebSocket, error: SprechzimmerError) -> None:
    """Answer the handshake with an HTTP error instead of a socket."""
    try:
        await ws.send_denial_response(
            JSONResponse(error_body(error), status_code=error.http_status)
        )
    except RuntimeError:  # a server without the denial extension: a plain 403
        await ws.close(code=1008)


async def signaling_endpoint(ws: WebSocket) -> None:
    """``/ws`` under any ASGI server (and in the in-process tests)."""
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
    connection = SignalingConnection(hub, settings, StarletteSocket(ws))
    gone = False
    try:
        while not connection.closed:
            try:
                text = await _receive_text(ws)
            except BadMessage as error:
                await connection.refuse(error)
                break
            await connection.handle(text)
    except (_Disconnected, WebSocketDisconnect):
        gone = True
    finally:
        await connection.end(gone=gone)
