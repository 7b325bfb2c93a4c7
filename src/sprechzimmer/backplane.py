"""Where rooms live: this process alone (embedded), or any of several (Redis).

A room is a pure state machine (``room.py``) that lives in the memory of one
process, its *owner*. With one process that is all there is (``Embedded``).
With several, any process may hold a participant's socket, so the processes
share Redis (``RedisBackplane``) and use only its own primitives:

- **Ownership** is a lease, an expiring key ``sz:room:<session id>`` whose
  value names the owning process, taken with ``SET NX`` and renewed while the
  room lives. Two processes cannot both own a room: the key decides.
- **Messages between processes** go over pub/sub: each process listens on its
  own channel ``sz:proc:<process id>``. A socket on a process that does not own
  its room is *proxied*: what it says goes to the owner's channel, what the
  room answers comes back on the socket's process's channel. One writer per
  process publishes in order, so each socket's messages keep their order.
- **A dead process** has no subscriber: ``PUBLISH`` answers 0 and
  ``PUBSUB NUMSUB`` says so too. A process that finds a room's owner dead takes
  the lease over with one compare-and-set script, and rebuilds the room the way
  a restarted server does (from the session's stored events and the members'
  resume tickets). No consensus protocol of our own: the lease key is the one
  source of truth, and a process that loses it forgets the room.
- **Redis gone** (a restart): the rooms go on in their owners' memory, proxied
  sockets are closed with 1012 so their browsers come back, and once Redis is
  back every owner takes its leases again (or forgets a room another process
  took meanwhile). The browsers' calls never needed the server.

What Redis holds: the lease (session id → process id) and a dashboard status
(waiting / in call) per live room, both expiring within ``LEASE_SECONDS``;
messages in flight are never stored. No address, token, name or message body
is ever written to a key, and nothing here is logged but counts.

The hub (``hub.py``) decides what to do with a room; this module only moves
operations between processes and keeps the leases.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import secrets
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import orjson

log = logging.getLogger(__name__)

LEASE_SECONDS = 8.0
"""A room's lease outlives its owner's death by at most this long (takeover is
faster: a member that finds the owner's channel deaf takes the room at once)."""
RENEW_EVERY = LEASE_SECONDS / 4
RECONNECT_EVERY = 0.5
"""Seconds between two attempts to reach Redis again while it is away."""
SETTLE_SECONDS = 2 * RECONNECT_EVERY
"""After Redis was away, no process takes a room for this long: every owner is back
by then and has taken its leases again, so a room does not move for nothing."""

Op = list[Any]
"""One operation between processes: ``[kind, ...]`` (see ``hub.py``), JSON on the wire."""
OnOp = Callable[[Op], None]
OnLost = Callable[[list[str]], Awaitable[None]]
OnDown = Callable[[], Awaitable[None]]

_PREFIX = "sz:"

# Take over a dead owner's lease: only if it still names that owner.
_TAKE_OVER = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  redis.call('set', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
"""
# Renew the leases still ours (and their dashboard status, which lives twice as
# long); answer which of them are not ours (taken meanwhile). KEYS come in pairs:
# a lease, then its status.
_RENEW = """
local lost = {}
for i = 1, #KEYS, 2 do
  local owner = redis.call('get', KEYS[i])
  if owner == ARGV[1] then
    redis.call('pexpire', KEYS[i], ARGV[2])
    redis.call('pexpire', KEYS[i + 1], 2 * ARGV[2])
  elseif owner then
    table.insert(lost, (i + 1) / 2)
  else
    redis.call('set', KEYS[i], ARGV[1], 'PX', ARGV[2])
  end
end
return lost
"""
# Let go of a lease only while it is ours.
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  redis.call('del', KEYS[1], KEYS[2])
  return 1
end
return 0
"""


def new_process_id() -> str:
    return secrets.token_hex(6)


class BackplaneDown(Exception):
    """Redis cannot be reached right now; the caller refuses with ``ServerBusy``."""


class Embedded:
    """One process: every room is this process's own, and nothing crosses a process."""

    shared = False
    up = True

    def __init__(self) -> None:
        self.process_id = new_process_id()
        self.owned: set[str] = set()

    async def start(self, on_op: OnOp, on_lost: OnLost, on_down: OnDown) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def claim(self, session_id: str) -> str | None:
        return None

    async def take_over(self, session_id: str, dead: str) -> bool:
        return True

    def release(self, session_id: str) -> None:
        return None

    def post(self, process: str, op: Op) -> None:
        raise AssertionError("an embedded hub has no other process")

    async def post_checked(self, process: str, op: Op) -> bool:
        raise AssertionError("an embedded hub has no other process")

    async def alive(self, processes: Iterable[str]) -> set[str]:
        return set()

    def set_status(self, session_id: str, status: str) -> None:
        return None

    async def statuses(self, session_ids: list[str]) -> dict[str, str]:
        return {}

    async def owner(self, session_id: str) -> str | None:
        return None


class RedisBackplane:
    """Several processes, one Redis (``SPRECHZIMMER_REDIS_URL``)."""

    shared = True

    def __init__(self, url: str) -> None:
        import redis.asyncio as redis  # only deployments with Redis need the client

        self.process_id = new_process_id()
        self._redis = redis.Redis.from_url(
            url, socket_connect_timeout=2.0, socket_timeout=5.0, health_check_interval=0
        )
        self._errors: tuple[type[BaseException], ...] = (
            redis.RedisError,
            OSError,
            TimeoutError,
        )
        self.owned: set[str] = set()
        """Sessions whose lease this process holds (or holds again once Redis is back)."""
        self.up = False
        self._settle_until = 0.0
        self._queue: list[tuple[str, bytes, asyncio.Future[int] | None]] = []
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._releasing: set[asyncio.Task[None]] = set()
        self._on_op: OnOp | None = None
        self._on_lost: OnLost | None = None
        self._on_down: OnDown | None = None
        self._take_over = self._redis.register_script(_TAKE_OVER)
        self._renew = self._redis.register_script(_RENEW)
        self._release = self._redis.register_script(_RELEASE)

    @property
    def channel(self) -> str:
        return f"{_PREFIX}proc:{self.process_id}"

    @staticmethod
    def _lease(session_id: str) -> str:
        return f"{_PREFIX}room:{session_id}"

    @staticmethod
    def _status(session_id: str) -> str:
        return f"{_PREFIX}status:{session_id}"

    # --- life ---------------------------------------------------------------------

    async def start(self, on_op: OnOp, on_lost: OnLost, on_down: OnDown) -> None:
        self._on_op, self._on_lost, self._on_down = on_op, on_lost, on_down
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._listen()),
            loop.create_task(self._write()),
            loop.create_task(self._keep_leases()),
        ]

    async def stop(self) -> None:
        """Let go of every lease (others may take the rooms at once), then stop."""
        with contextlib.suppress(*self._errors):
            async with asyncio.timeout(2.0):
                await self._flush()
                for session_id in list(self.owned):
                    await self._release(
                        keys=[self._lease(session_id), self._status(session_id)],
                        args=[self.process_id],
                    )
        self.owned.clear()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(*self._errors):
            await self._redis.aclose()

    # --- leases -------------------------------------------------------------------

    async def claim(self, session_id: str) -> str | None:
        """Own the room if nobody does; None if this process owns it, else the owner."""
        self._check_settled()
        try:
            previous = await self._redis.set(
                self._lease(session_id),
                self.process_id,
                nx=True,
                get=True,
                px=int(LEASE_SECONDS * 1000),
            )
        except self._errors as exc:
            raise BackplaneDown from exc
        owner = previous.decode() if isinstance(previous, bytes) else None
        if owner is None or owner == self.process_id:
            self.owned.add(session_id)
            return None
        return owner

    async def owner(self, session_id: str) -> str | None:
        """The process that owns the room now (None: nobody)."""
        try:
            value = await self._redis.get(self._lease(session_id))
        except self._errors as exc:
            raise BackplaneDown from exc
        return value.decode() if isinstance(value, bytes) else None

    async def take_over(self, session_id: str, dead: str) -> bool:
        """Take the lease of a process found dead, unless another process was quicker."""
        self._check_settled()
        try:
            taken = await self._take_over(
                keys=[self._lease(session_id)],
                args=[dead, self.process_id, int(LEASE_SECONDS * 1000)],
            )
        except self._errors as exc:
            raise BackplaneDown from exc
        if taken:
            self.owned.add(session_id)
        return bool(taken)

    def _check_settled(self) -> None:
        if not self.up or asyncio.get_running_loop().time() < self._settle_until:
            raise BackplaneDown

    def release(self, session_id: str) -> None:
        """The room is forgotten here: let another process own it from now on."""
        if session_id in self.owned:
            self.owned.discard(session_id)
            task = asyncio.get_running_loop().create_task(self._release_now(session_id))
            self._releasing.add(task)  # kept, or it could be collected half-way
            task.add_done_callback(self._releasing.discard)

    async def _release_now(self, session_id: str) -> None:
        with contextlib.suppress(*self._errors):
            await self._release(
                keys=[self._lease(session_id), self._status(session_id)],
                args=[self.process_id],
            )

    async def _keep_leases(self) -> None:
        while True:
            await asyncio.sleep(RENEW_EVERY)
            if not self.up or not self.owned:
                continue
            try:
                await self._renew_all()
            except self._errors:
                log.info("backplane: renewing room leases failed; trying again")

    async def _renew_all(self) -> None:
        owned = sorted(self.owned)
        lost_at = await self._renew(
            keys=[key for s in owned for key in (self._lease(s), self._status(s))],
            args=[self.process_id, int(LEASE_SECONDS * 1000)],
        )
        lost = [owned[i - 1] for i in lost_at]
        if lost:
            self.owned.difference_update(lost)
            log.info("backplane: %d room(s) are owned by another process now", len(lost))
            assert self._on_lost is not None
            await self._on_lost(lost)

    # --- messages -----------------------------------------------------------------

    def post(self, process: str, op: Op) -> None:
        """Send ``op`` to ``process``; in order with every other op of this process."""
        self._queue.append((f"{_PREFIX}proc:{process}", orjson.dumps(op), None))
        self._wake.set()

    async def post_checked(self, process: str, op: Op) -> bool:
        """``post``, and say whether a live process received it."""
        if not self.up:
            raise BackplaneDown
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._queue.append((f"{_PREFIX}proc:{process}", orjson.dumps(op), done))
        self._wake.set()
        try:
            return await done > 0
        except self._errors as exc:
            raise BackplaneDown from exc

    def set_status(self, session_id: str, status: str) -> None:
        """What the dashboard shows for a room owned here: ``w`` waiting, ``c`` in call."""
        px = str(int(LEASE_SECONDS * 2000)).encode()
        self._queue.append((self._status(session_id), status.encode() + b"\0" + px, None))
        self._wake.set()

    async def statuses(self, session_ids: list[str]) -> dict[str, str]:
        if not session_ids:
            return {}
        try:
            values = await self._redis.mget([self._status(s) for s in session_ids])
        except self._errors:
            return {}  # the dashboard shows no live status while Redis is away
        return {
            s: v.decode() if isinstance(v, bytes) else str(v)
            for s, v in zip(session_ids, values, strict=True)
            if v
        }

    async def alive(self, processes: Iterable[str]) -> set[str]:
        """Which of ``processes`` listen on their channel right now."""
        names = [f"{_PREFIX}proc:{p}" for p in processes]
        if not names:
            return set()
        try:
            counts = await self._redis.pubsub_numsub(*names)
        except self._errors as exc:
            raise BackplaneDown from exc
        prefix = len(f"{_PREFIX}proc:")
        return {
            (name.decode() if isinstance(name, bytes) else name)[prefix:]
            for name, count in counts
            if count > 0
        }

    async def _flush(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            async with self._redis.pipeline(transaction=False) as pipe:
                for target, data, _ in batch:
                    if target.startswith(f"{_PREFIX}status:"):
                        value, _, px = data.partition(b"\0")
                        pipe.set(target, value, px=int(px))
                    else:
                        pipe.publish(target, data)
                try:
                    results = await pipe.execute()
                except BaseException as exc:
                    for _, _, done in batch:
                        if done is not None and not done.done():
                            done.set_exception(exc)
                    raise
            for (_, _, done), result in zip(batch, results, strict=True):
                if done is not None and not done.done():
                    done.set_result(int(result))

    async def _write(self) -> None:
        """The one writer: every op of this process, in the order it was posted."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not self.up:
                self._fail_waiting()
                continue
            try:
                await self._flush()
            except self._errors:
                log.info("backplane: Redis went away while publishing")

    def _fail_waiting(self) -> None:
        # Fire-and-forget ops die with the link (their sockets are closed with
        # 1012 by the hub); a caller waiting for an answer hears it is down.
        batch, self._queue = self._queue, []
        for _, _, done in batch:
            if done is not None and not done.done():
                done.set_exception(BackplaneDown())

    async def _listen(self) -> None:
        """Subscribe, hand every op to the hub; while Redis is away, keep trying."""
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                await self._back_up()
                while True:
                    message = await pubsub.get_message(timeout=None)
                    if message is None or message.get("type") != "message":
                        continue
                    assert self._on_op is not None
                    try:
                        self._on_op(orjson.loads(message["data"]))
                    except Exception:  # one bad op must not stop the others
                        log.exception("backplane: an operation failed")
            except asyncio.CancelledError:
                with contextlib.suppress(*self._errors):
                    await pubsub.aclose()
                raise
            except self._errors:
                was_up, self.up = self.up, False
                self._settle_until = math.inf  # until it is back, and a moment longer
                self._fail_waiting()
                if was_up:
                    log.warning("backplane: Redis is away; rooms go on, proxied sockets close")
                    assert self._on_down is not None
                    await self._on_down()
                with contextlib.suppress(*self._errors):
                    await pubsub.aclose()
                await asyncio.sleep(RECONNECT_EVERY)

    async def _back_up(self) -> None:
        """Subscribed (again): take back every lease first, then accept work."""
        if self.owned:
            await self._renew_all()
        if not self.up:
            log.info("backplane: connected to Redis")
        if self._settle_until == math.inf:
            self._settle_until = asyncio.get_running_loop().time() + SETTLE_SECONDS
        self.up = True
        self._wake.set()
