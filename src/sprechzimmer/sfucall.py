"""One group call's use of the SFU (issue 16): its room there, and for each member a
Janus session that publishes the member's media and subscribes it to the others'.

The browsers never talk to the SFU's API: a member's page sends its offer
(``sfu-publish``) and its answers to subscriptions (``sfu-subscribed``) to this
server, which hands them on and brings back the SFU's answer (``sfu-published``)
and offers (``sfu-subscribe``). Each pair (subscriber, publisher) has its own
subscription: one of a member's peer connections receives one other member, so
the page knows whose tile a track belongs to without reading the SFU's SDP.

The media is SFrame ciphertext end to end (the room requires it, ``sfuapi.py``):
nothing here can read it, and nothing here holds a key. Blocking (HTTP to the
SFU's API): the hub runs each method on a thread, one at a time per call.
"""

from __future__ import annotations

import asyncio
import logging
import secrets as random
from collections.abc import Callable
from dataclasses import dataclass, field

from . import protocol as p
from .errors import SfuUnavailable
from .room import SfuEnd, SfuLeave, SfuRelay
from .sfuapi import FeedId, SfuError, VideoRoomHandle, new_room_name

log = logging.getLogger(__name__)

OpenSession = Callable[[], VideoRoomHandle]
"""A new Janus session with a VideoRoom handle (``sfuapi.open_session`` bound to the
service's SFU)."""


@dataclass(frozen=True)
class SfuRetry:
    """Subscriptions of a call to try again (``SUBSCRIBE_RETRY``)."""

    session_id: str
    call_id: str
    tries: int


@dataclass
class _Member:
    session: VideoRoomHandle
    """Its Janus session; the handle it publishes on."""
    feed: FeedId | None = None
    subscriptions: dict[int, VideoRoomHandle] = field(default_factory=dict)
    """By the publishing seat: the handle of its subscription to that seat's media."""


class SfuCall:
    """The SFU's side of one call: made at its first ``publish``, ended with ``close``."""

    def __init__(self, open_session: OpenSession, call_id: str, call: int | None = None) -> None:
        self.call_id = call_id
        self.call = call
        """The call's start (``admitted.epoch``) its answers and offers are tagged with."""
        self._open = open_session
        self._control = open_session()
        self.room = new_room_name()
        self._secret = random.token_urlsafe(24)
        self._control.create_room(self.room, self._secret)
        self._members: dict[int, _Member] = {}

    def publish(self, seat: int, offer: str) -> str:
        """The member's media goes to the SFU under ``offer``; the SFU's answer.

        A member that publishes again (its page started over) gets a fresh session:
        the old one, its publication and its subscriptions end first."""
        self.leave(seat)
        member = _Member(self._open())
        self._members[seat] = member
        member.feed, answer = member.session.publish(self.room, offer)
        return answer

    def missing(self) -> list[tuple[int, int]]:
        """The (subscriber, publisher) pairs of members that both publish, whose
        subscription is still to be made, in seat order."""
        published = sorted(s for s, m in self._members.items() if m.feed is not None)
        return [
            (sub, pub)
            for sub in published
            for pub in published
            if sub != pub and pub not in self._members[sub].subscriptions
        ]

    def subscribe(self, subscriber: int, publisher: int) -> str:
        """The SFU's offer of ``publisher``'s media to ``subscriber``."""
        member, source = self._members[subscriber], self._members[publisher]
        if source.feed is None:
            raise SfuError(f"seat {publisher} publishes nothing")
        handle = member.session.attach()
        offer = handle.subscribe(self.room, [source.feed])
        member.subscriptions[publisher] = handle
        return offer

    def start(self, subscriber: int, publisher: int, answer: str) -> None:
        """The subscriber's answer: ``publisher``'s media flows to it."""
        member = self._members.get(subscriber)
        handle = member.subscriptions.get(publisher) if member else None
        if handle is None:
            raise SfuError(f"no subscription of seat {subscriber} to seat {publisher}")
        handle.start(answer)

    def leave(self, seat: int) -> None:
        """A member is gone: its session ends, with its publication and subscriptions;
        the others' subscriptions to it are forgotten (the SFU ended them)."""
        member = self._members.pop(seat, None)
        for other in self._members.values():
            other.subscriptions.pop(seat, None)
        if member is not None:
            _quietly(member.session.end_session)

    def keepalive(self) -> None:
        for handle in [self._control, *(m.session for m in self._members.values())]:
            _quietly(handle.keepalive)

    def close(self) -> None:
        """The call is over: every session and the room go."""
        for seat in list(self._members):
            self.leave(seat)
        _quietly(lambda: self._control.destroy_room(self.room, self._secret))
        _quietly(self._control.end_session)


def _quietly(step: Callable[[], object]) -> None:
    """A clean-up step that may fail (the SFU restarted, a session timed out):
    what it would end is gone or ends with its session anyway."""
    try:
        step()
    except (SfuError, OSError, ValueError) as error:
        log.warning("sfu: clean-up step failed: %s", type(error).__name__)


KEEPALIVE_INTERVAL = 20.0
"""Seconds between keep-alives of each Janus session (Janus ends a silent one after 60)."""
SUBSCRIBE_RETRY = 0.5
"""Seconds before subscriptions the SFU could not make yet are tried again: it knows a
publisher's feed only once that publisher's connection is up ("No such feed")."""
SUBSCRIBE_TRIES = 60
"""How often, at most (half a minute): a publisher that never connects is given up."""

SendToSeat = Callable[[str, int, p.ServerMessage], None]
"""Say something to a member of a session's room by its seat (dropped if it is away)."""


class SfuCalls:
    """The SFU's side of the group calls this process owns: an ``SfuCall`` per session,
    made with the call's first publication, its work done one step at a time per call
    on a thread, its answers and offers sent to the members."""

    def __init__(self, open_session: OpenSession | None, send: SendToSeat) -> None:
        self._open = open_session
        self._send = send
        self._calls: dict[str, SfuCall] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._keeper: asyncio.Task[None] | None = None

    def take(self, work: SfuRelay | SfuLeave | SfuEnd | SfuRetry) -> None:
        """Work from a room's outputs; done in the background, in order per call."""
        task = asyncio.get_running_loop().create_task(self._run(work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def idle(self) -> None:
        """Wait until the work taken so far is done (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        await self.idle()
        if self._keeper is not None:
            self._keeper.cancel()
        for session_id in list(self._calls):
            await asyncio.to_thread(self._calls.pop(session_id).close)

    async def _run(self, work: SfuRelay | SfuLeave | SfuEnd | SfuRetry) -> None:
        lock = self._locks.setdefault(work.session_id, asyncio.Lock())
        async with lock:
            try:
                await self._do(work)
            except (SfuError, OSError, ValueError) as error:
                # Never the SDP or an address in the log: only what failed.
                log.warning("sfu: %s failed: %s", type(work).__name__, type(error).__name__)
                if isinstance(work, SfuRelay):
                    self._send(work.session_id, work.seat, p.Error.of(SfuUnavailable()))

    async def _do(self, work: SfuRelay | SfuLeave | SfuEnd | SfuRetry) -> None:
        session_id = work.session_id
        call = self._calls.get(session_id)
        match work:
            case SfuEnd():
                if call is not None:
                    del self._calls[session_id]
                    await asyncio.to_thread(call.close)
            case SfuLeave(seat=seat):
                if call is not None:
                    await asyncio.to_thread(call.leave, seat)
            case SfuRelay(call_id=call_id, seat=seat, message=p.SfuPublish(sdp=sdp)):
                if self._open is None:
                    raise SfuError("no SFU configured")
                if call is not None and call.call_id != call_id:
                    del self._calls[session_id]  # a call before this one: its room goes
                    await asyncio.to_thread(call.close)
                    call = None
                if call is None:
                    call = await asyncio.to_thread(SfuCall, self._open, call_id, work.call)
                    self._calls[session_id] = call
                    self._keep_alive()
                answer = await asyncio.to_thread(call.publish, seat, sdp)
                self._send(session_id, seat, p.SfuPublished(answer, call=call.call))
                await self._subscribe(call, session_id, 1)
            case SfuRetry(tries=tries):
                if call is not None and call.call_id == work.call_id:
                    await self._subscribe(call, session_id, tries)
            case SfuRelay(call_id=call_id, seat=seat, message=p.SfuSubscribed() as answer):
                if call is None or call.call_id != call_id:
                    return  # an answer for a call that is over
                await asyncio.to_thread(call.start, seat, answer.seat, answer.sdp)

    async def _subscribe(self, call: SfuCall, session_id: str, tries: int) -> None:
        """Each subscription still to make; those the SFU cannot make yet (a feed whose
        publisher is still connecting) once more a little later, a bounded number of times."""
        later = False
        for subscriber, publisher in call.missing():
            try:
                offer = await asyncio.to_thread(call.subscribe, subscriber, publisher)
            except SfuError as error:
                if "No such feed" in str(error) and tries < SUBSCRIBE_TRIES:
                    later = True
                    continue
                log.warning("sfu: a subscription failed: %s", type(error).__name__)
                self._send(session_id, subscriber, p.Error.of(SfuUnavailable()))
                continue
            self._send(session_id, subscriber, p.SfuSubscribe(publisher, offer, call=call.call))
        if later:
            retry = SfuRetry(session_id, call.call_id, tries + 1)
            loop = asyncio.get_running_loop()
            loop.call_later(SUBSCRIBE_RETRY, lambda: self.take(retry))

    def _keep_alive(self) -> None:
        if self._keeper is None or self._keeper.done():
            self._keeper = asyncio.get_running_loop().create_task(self._keepalives())

    async def _keepalives(self) -> None:
        while self._calls:
            await asyncio.sleep(KEEPALIVE_INTERVAL)
            for call in list(self._calls.values()):
                await asyncio.to_thread(call.keepalive)
