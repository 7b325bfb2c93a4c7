"""Bounds on what one HTTP client may make the server hold: body size, header time.

``BodyLimit`` is ASGI middleware: a request whose declared ``Content-Length``
is over the bound gets 413 before a byte of its body is read; a streamed body
that grows past it is cut off with the same answer, so no request can make
the process buffer more than the bound. ``header_timeout_protocol`` is
uvicorn's HTTP protocol with one more timer: a client that has not finished
its request headers within ``header_timeout`` seconds (slowloris) is
disconnected. uvicorn's own keep-alive timeout covers idle connections.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import BodyTooLarge, error_body


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = [v for k, v in scope["headers"] if k == b"content-length"]
        if any(not v.isdigit() or int(v) > self.max_bytes for v in declared):
            await self._refuse(scope, receive, send)
            return
        received = 0
        refused = False

        async def bounded() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.request", "body": b"", "more_body": False}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Answer now; the app gets an end of body and whatever it
                    # answers to that truncated request goes nowhere.
                    refused = True
                    await self._refuse(scope, receive, send)
                    return {"type": "http.request", "body": b"", "more_body": False}
            return message

        async def unless_refused(message: Message) -> None:
            if not refused:
                await send(message)

        await self.app(scope, bounded, unless_refused)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = BodyTooLarge(f"body over {self.max_bytes} bytes")
        # Closing the connection: the rest of the body is never read.
        response = JSONResponse(
            error_body(error), status_code=error.http_status, headers={"Connection": "close"}
        )
        await response(scope, receive, send)


def header_timeout_protocol(header_timeout: float) -> type[asyncio.Protocol]:
    """uvicorn's httptools protocol, disconnecting clients slow to send their headers."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class HeaderTimeoutProtocol(HttpToolsProtocol):
        _header_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm()

        def _arm(self) -> None:
            if self._header_timer is None:
                self._header_timer = self.loop.call_later(header_timeout, self._too_slow)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _too_slow(self) -> None:
            self._header_timer = None
            if not self.transport.is_closing():
                self.transport.close()

        def on_message_begin(self) -> None:
            self._arm()  # the next request of a kept-alive connection
            super().on_message_begin()

        def on_headers_complete(self) -> None:
            self._disarm()
            super().on_headers_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return HeaderTimeoutProtocol
