"""One socket's outgoing frames: a bounded queue and the one task that writes them.

The hub, the rooms' timers and the other members only ever *enqueue*; the
writer of each socket is the only code that waits for that socket. A socket
that does not read (a stalled phone, or an attack) therefore slows nobody
down: once one frame has waited longer than ``send_timeout`` for it, or its
queue outgrows ``max_frames``/``max_bytes``, the outbox gives up, aborts the
connection and tells its owner (``on_stall``), who lets the member go.

It never looks into a frame and never logs one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger(__name__)


class Socket(Protocol):
    """What an outbox needs of a WebSocket."""

    def try_send_now(self, data: bytes) -> bool:
        """Hand ``data`` (one text frame's UTF-8) to the transport without waiting,
        if it can take it now."""

    async def send_text(self, data: bytes) -> None: ...
    async def close(self, code: int) -> None: ...
    def abort(self) -> None:
        """Drop the connection now, without a close handshake (the peer does not read)."""


@dataclass(frozen=True, kw_only=True)
class OutboxLimits:
    send_timeout: float = 10.0
    """Seconds one frame may wait for the socket to take it."""
    max_frames: int = 256
    max_bytes: int = 4 << 20


class Outbox:
    """Frames for one socket. While the socket keeps up, a frame goes straight to
    its transport (no task, no queue: most sockets never need either); a writer
    task exists only while frames wait."""

    def __init__(self, socket: Socket, limits: OutboxLimits, on_stall: Callable[[], None]) -> None:
        self.socket = socket
        self.limits = limits
        self._on_stall = on_stall
        self._frames: deque[bytes] = deque()
        self._bytes = 0
        self._close_code: int | None = None
        self._writer: asyncio.Task[None] | None = None
        self.stalled = False

    @property
    def closing(self) -> bool:
        return self._close_code is not None or self.stalled

    def put(self, text: bytes) -> None:
        """Queue one frame; over the bound the socket is given up instead."""
        if self.closing:
            return
        if self._writer is None and self.socket.try_send_now(text):
            return
        if len(self._frames) >= self.limits.max_frames or (
            self._bytes + len(text) > self.limits.max_bytes
        ):
            log.info("outbox: backlog over its bound, dropping the connection")
            self._stall()
            return
        self._frames.append(text)
        self._bytes += len(text)
        self._start_writer()

    def close(self, code: int) -> None:
        """Close after the frames already queued (an ``error`` before its close, say)."""
        if self.closing:
            return
        self._close_code = code
        self._start_writer()

    def cancel(self) -> None:
        """The socket is gone already: stop writing, say nothing."""
        self._frames.clear()
        self._bytes = 0
        if self._writer is not None:
            self._writer.cancel()

    async def wait_closed(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer

    def _start_writer(self) -> None:
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._write())

    def _stall(self) -> None:
        if self.stalled:
            return
        self.stalled = True
        self._frames.clear()
        self._bytes = 0
        if self._writer is not None:
            self._writer.cancel()
        with contextlib.suppress(Exception):
            self.socket.abort()
        self._on_stall()

    async def _write(self) -> None:
        timeout = self.limits.send_timeout
        try:
            while self._frames:
                text = self._frames.popleft()
                self._bytes -= len(text)
                async with asyncio.timeout(timeout):
                    await self.socket.send_text(text)
            if self._close_code is not None:
                async with asyncio.timeout(timeout):
                    await self.socket.close(self._close_code)
        except TimeoutError:
            log.info("outbox: a frame waited more than %.1f s, dropping the connection", timeout)
            asyncio.get_running_loop().call_soon(self._stall)
        except asyncio.CancelledError:
            raise
        except Exception:  # the socket died under us; its reader detaches it
            log.debug("outbox: write to a closed socket dropped")
        finally:
            self._writer = None
