"""The outbox of one socket: straight through while it keeps up, bounded when it does not."""

from __future__ import annotations

import asyncio

from sprechzimmer.outbox import Outbox, OutboxLimits


class SlowSocket:
    """Takes frames at once while ``open_now``; otherwise each send waits for ``gate``."""

    def __init__(self) -> None:
        self.open_now = True
        self.gate = asyncio.Event()
        self.direct: list[bytes] = []
        self.awaited: list[bytes] = []
        self.closed: int | None = None
        self.aborted = False

    def try_send_now(self, data: bytes) -> bool:
        if self.open_now:
            self.direct.append(data)
        return self.open_now

    async def send_text(self, data: bytes) -> None:
        await self.gate.wait()
        self.awaited.append(data)

    async def close(self, code: int) -> None:
        await self.gate.wait()
        self.closed = code

    def abort(self) -> None:
        self.aborted = True


async def test_frames_go_straight_through_and_in_order_after_a_backlog() -> None:
    sock, stalls = SlowSocket(), []
    box = Outbox(sock, OutboxLimits(send_timeout=5), lambda: stalls.append(1))
    box.put(b"a")
    assert sock.direct == [b"a"] and box._writer is None  # no task for a socket that keeps up
    sock.open_now = False
    box.put(b"b")
    sock.open_now = True
    box.put(b"c")  # behind "b", although the socket could take it now
    assert sock.direct == [b"a"]
    sock.gate.set()
    await asyncio.sleep(0)
    await box.wait_closed()
    assert sock.awaited == [b"b", b"c"] and box._writer is None and not stalls
    box.put(b"d")
    assert sock.direct == [b"a", b"d"]
    box.close(4000)
    await box.wait_closed()
    assert sock.closed == 4000


async def test_a_backlog_over_its_bound_aborts_the_socket() -> None:
    sock, stalls = SlowSocket(), []
    box = Outbox(sock, OutboxLimits(send_timeout=5, max_frames=3), lambda: stalls.append(1))
    sock.open_now = False
    for n in range(4):
        box.put(str(n).encode())
    assert box.stalled and sock.aborted and stalls == [1]
    box.put(b"more")  # ignored from now on
    assert sock.direct == [] and sock.awaited == []


async def test_a_frame_that_waits_too_long_aborts_the_socket() -> None:
    sock, stalls = SlowSocket(), []
    box = Outbox(sock, OutboxLimits(send_timeout=0.05), lambda: stalls.append(1))
    sock.open_now = False
    box.put(b"x")
    for _ in range(100):  # bounded: 100 x 10 ms
        if stalls:
            break
        await asyncio.sleep(0.01)
    assert stalls == [1] and sock.aborted and box.closing
