"""The in-process hub: sockets, rooms and the store, joined together.

The hub owns one ``Room`` per active session, feeds it what the sockets say
together with the clock, and carries out what the room returns: it sends and
closes sockets and writes billing events and anonymous quality samples. Token
checks happen here because they need the store. It never logs an address, a
token, a message body or a call id, and never puts a call id next to a session.

Nothing here waits for a socket: each socket has its own ``Outbox`` (a
bounded queue and one writer task), so a member that does not read cannot
hold up its room, another room or the timers. The timers are driven by the
rooms' own next deadlines (``Room.next_deadline``), one heap for all rooms,
never by polling every room.

Each room lives in one process, its owner (``backplane.py``). With the
embedded backplane that is always this one. With Redis, a socket whose room
another process owns is *proxied*: what it says is posted to the owner, and
the owner posts back what the room answers (``_on_op``). The operations
between processes, each a small JSON list:

- to the owner: ``["j", conn, process, session, client_id, role, expires_at,
  resume, epoch, relay_only, name, consent, seat, seats]`` (a join; a client's
  name travels in it, in flight only: pub/sub keeps nothing), ``["r", conn, text]`` (a message),
  ``["d", conn, refused]`` (the socket is gone), ``["v", session]`` (revoked);
- to a socket's process: ``["s", conn, text]`` (send), ``["c", conn, code,
  error_text]`` (close, after the error frame if any).

A process that dies takes its sockets with it; the browsers come back with
their tickets, to any process, and the first one to find the owner dead takes
the room over and rebuilds it from the stored events, as after a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import heapq
import itertools
import logging
import math
import secrets
import time
import weakref
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from . import protocol as p
from . import seats, tickets
from .backplane import BackplaneDown, Embedded, Op, RedisBackplane
from .errors import (
    Forbidden,
    LinkExpired,
    LinkInvalid,
    LinkRevoked,
    ProtocolError,
    RateLimited,
    ServerBusy,
    SlowDown,
    SprechzimmerError,
    close_code,
)
from .events import EventKind
from .metrics import Counters, Live
from .outbox import Outbox, OutboxLimits, Socket
from .quality import Sample, SampleBuffer, next_hour
from .ratelimit import RateLimiter
from .room import (
    BillingEvent,
    Close,
    ConnId,
    Output,
    Room,
    RoomConfig,
    Send,
    SfuEnd,
    SfuLeave,
    SfuRelay,
    StoreSample,
    held_seats,
)
from .sfucall import OpenSession, SfuCalls
from .store import EventInfo, SessionState, Store, TherapistInfo, TokenInfo
from .tokens import digest, looks_like_session_id, looks_like_token
from .turn import IceGrant, IcePolicy

log = logging.getLogger(__name__)

_CLOSING = frozenset({EventKind.MEDIA_DISCONNECTED, EventKind.LEFT})
_ONLY_RELAYED = (p.Ping, *p.RELAYABLE)
"""Messages whose outputs, when they are only sends, touch neither store nor timers."""

EMPTY_ROOM_GRACE = 600.0
"""Seconds an empty room keeps a client's admission before it is forgotten."""
SEAT_JOIN_WINDOW = 60.0
"""Seconds over which the joins of one seat are counted (``seat_joins``)."""
REVOCATION_CHECK_EVERY = 2.0
"""Seconds between two looks at the store for sessions ended from outside."""
WATCH_EVERY = 0.5
"""Seconds between two checks that the processes this one talks to are alive."""
SERVICE_RESTART = 1012
"""Close code for a socket whose room moved to another process: come back at once."""
GOING_AWAY = 1001
REMOTE_MESSAGE_BYTES = 1 << 20
"""A proxied message was checked against the frame limit by the process that read it."""
LINK_CHECK_WINDOW = 60.0
"""Seconds over which link checks are counted (``Hub.check_link``)."""
LINK_CHECKS_PER_SESSION = 30
"""Link checks of one session id per window: a call page checks once when it opens."""
LINK_CHECK_FAILURES = 300
"""Failed link checks of all sessions together per window (in this process); beyond
it every check is answered ``rate-limited`` until the window has passed. The page
then goes on as before the check existed: ``hello`` checks the link anyway."""


def link_problem(
    session_id: str, info: TokenInfo | None, therapist: TherapistInfo | None, now: dt.datetime
) -> type[LinkInvalid | LinkExpired | LinkRevoked] | None:
    """Why a link (``session_id`` and its token, looked up as ``info``) does not work
    at ``now``, or None: the one verdict of ``hello`` and of the call page's early
    check. An unknown token and one of another session are the same ``LinkInvalid``."""
    if info is None or info.session.id != session_id:
        return LinkInvalid
    if info.expires_at <= now or info.session.expires_at <= now:
        return LinkExpired
    if info.session.state is not SessionState.OPEN or therapist is None or therapist.disabled:
        return LinkRevoked
    return None


@dataclass(frozen=True)
class Pending:
    """A room's outputs that still need the store (``Hub.apply``)."""

    room: Room
    outputs: list[Output]


@dataclass(frozen=True)
class Admission:
    session_id: str
    client_id: str
    role: p.Role
    expires_at: float = float("inf")
    """When the invite (or its session) expires: no resume ticket and no TURN
    credential outlives it."""
    seat: int = seats.ROLE_SEAT
    """The seat the link is for (0: the therapist's); left out, the role's one-to-one seat."""
    session_seats: int = 1
    """The session's client seats: more than one makes its room a group."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "seat", seats.of(self.role, self.seat))


class Hub:
    def __init__(
        self,
        store: Store,
        *,
        room: RoomConfig | None = None,
        ice: IcePolicy | None = None,
        keep_quality: bool = True,
        outbox: OutboxLimits | None = None,
        seat_joins: int = 20,
        ticket_key: bytes | None = None,
        clock: Callable[[], float] = time.time,
        backplane: Embedded | RedisBackplane | None = None,
        sfu: OpenSession | None = None,
    ) -> None:
        self.store = store
        self.backplane = backplane or Embedded()
        self.ice = ice or IcePolicy()
        """With the TURN secret: mints the relay credentials rooms grant."""
        self.room_config = room or RoomConfig(ice=self.ice.offer())
        self.ticket_key = ticket_key or tickets.ticket_key(secrets.token_urlsafe(32))
        """Signs resume tickets; the same in every process (from the secret key)."""
        self.clock = clock
        self.keep_quality = keep_quality
        """False (retention 0): samples only feed the metrics and are never stored."""
        self.counters = Counters()
        self.pending_sockets = 0
        """Sockets accepted that have not been signed in (``hello``) yet."""
        self._seat_joins = RateLimiter(seat_joins, SEAT_JOIN_WINDOW)
        self._link_checks = RateLimiter(LINK_CHECKS_PER_SESSION, LINK_CHECK_WINDOW)
        self._link_failures = RateLimiter(LINK_CHECK_FAILURES, LINK_CHECK_WINDOW)
        self._event_counts: dict[str, int] = {}
        """Billing events stored per session with a room here (bounded by ``max_events``)."""
        self._samples = SampleBuffer()
        self.outbox_limits = outbox or OutboxLimits()
        self.rooms: dict[str, Room] = {}
        self.sfu = SfuCalls(sfu, self._send_to_seat)
        """The group calls' use of the SFU (None: no SFU configured)."""
        self._sockets: dict[ConnId, Outbox] = {}
        self._room_of: dict[ConnId, str] = {}
        self._empty_since: dict[str, float] = {}
        # Connection ids are unique across processes too: a proxied socket's id
        # names it in its owner's rooms.
        first = (secrets.randbits(32) << 20) + 1 if self.backplane.shared else 1
        self._ids = itertools.count(first)
        self._proxied: dict[ConnId, str] = {}
        """Local sockets whose room another process owns: conn → that owner."""
        self._remote_of: dict[ConnId, str] = {}
        """Members of rooms owned here whose socket is on another process: conn → process."""
        self._inbox: dict[ConnId, deque[Op]] = {}
        """Operations from other processes, per connection, handled in order."""
        self._status_sent: dict[str, str] = {}
        self._knocked_at: dict[str, float] = {}
        """When the client now waiting in a room here began to knock (for the dashboard's
        waiting time; the room keeps no such time of its own)."""
        self._event_writes: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )
        """One lock per session while its events are being written: two outputs of
        a room go to the database in the order the room made them (each write runs
        on a thread of its own, and two threads may commit in either order)."""
        self._stopping = False
        self._tasks: set[asyncio.Task[None]] = set()
        """Tasks nobody awaits, kept here so that they are not collected half-way."""
        # The timers: (deadline, room) entries, at most one live entry per room
        # (``_scheduled``); an entry whose deadline moved on is skipped.
        self._timers: list[tuple[float, str]] = []
        self._scheduled: dict[str, float] = {}
        self._timer_changed = asyncio.Event()

    # --- sockets ----------------------------------------------------------------

    def attach(self, socket: Socket) -> ConnId:
        conn = next(self._ids)
        self._sockets[conn] = Outbox(socket, self.outbox_limits, lambda: self._stalled(conn))
        return conn

    def _stalled(self, conn: ConnId) -> None:
        # The socket was aborted; its reader may stay blocked, so let go of it here.
        self._spawn(self.detach(conn))

    async def detach(self, conn: ConnId, *, refused: bool = False) -> None:
        """The socket is gone (``refused``: closed for a protocol error); idempotent."""
        outbox = self._sockets.pop(conn, None)
        if outbox is not None and not outbox.closing:
            outbox.cancel()
        owner = self._proxied.pop(conn, None)
        if owner is not None:
            if self.backplane.up:
                self.backplane.post(owner, ["d", conn, refused])
            return
        self._remote_of.pop(conn, None)
        session_id = self._room_of.pop(conn, None)
        room = self.rooms.get(session_id) if session_id else None
        if room is not None:
            await self._apply(room, room.disconnect(conn, self.clock(), refused=refused))

    async def going_away(self, code: int = GOING_AWAY, within: float = 2.0) -> None:
        """Close every socket with ``code`` (a graceful stop); their seats wait for them.

        With other processes, the rooms owned here are let go first, silently:
        the browsers that come back elsewhere find no owner and that process
        rebuilds the room, instead of being proxied back to this one."""
        self._stopping = True
        outboxes = list(self._sockets.values())
        if self.backplane.shared:
            for session_id in list(self.rooms):
                self._forget(session_id, code)
        for outbox in outboxes:
            outbox.close(code)
        if outboxes:
            log.info("closing %d socket(s): going away", len(outboxes))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(within):
                    await asyncio.gather(*(o.wait_closed() for o in outboxes))

    def _forget(self, session_id: str, code: int) -> None:
        """Drop a room without a word on record: its members come back to its new owner."""
        room = self.rooms.pop(session_id, None)
        self._empty_since.pop(session_id, None)
        self._scheduled.pop(session_id, None)
        self._event_counts.pop(session_id, None)
        self._status_sent.pop(session_id, None)
        self._knocked_at.pop(session_id, None)
        self.backplane.release(session_id)
        if room is None:
            return
        for conn in room.conns():
            self._close(conn, code, None)

    @property
    def connection_count(self) -> int:
        return len(self._sockets)

    # --- authentication -----------------------------------------------------------

    async def authenticate(self, hello: p.Hello) -> Admission:
        """Check the token of a ``hello``; raise ``Forbidden`` (never say which check failed)."""
        info = await self._look_up(hello.session, hello.token)
        if info is not None and hello.role is not None and hello.role is not info.role:
            raise Forbidden("role mismatch")
        return await self._admission(hello.session, info, Forbidden)

    async def check_link(self, session_id: str, token: str) -> Admission:
        """What ``hello`` with this link would meet now, without joining: the call
        page asks before any camera prompt. Nothing is taken or recorded (no seat,
        no billing event, no seat join); raises ``LinkInvalid``, ``LinkExpired``,
        ``LinkRevoked`` or ``RateLimited``. Counted per session id, never per address."""
        now = self.clock()
        key = session_id if looks_like_session_id(session_id) else "(malformed)"
        for limiter, name in ((self._link_failures, "*"), (self._link_checks, key)):
            if limiter.blocked(name, now):
                raise RateLimited("link checks", retry_after=LINK_CHECK_WINDOW)
        self._link_checks.hit(key, now)
        try:
            return await self._admission(session_id, await self._look_up(session_id, token))
        except (LinkInvalid, LinkExpired, LinkRevoked):
            self._link_failures.hit("*", now)
            raise

    async def _look_up(self, session_id: str, token: str) -> TokenInfo | None:
        if not (looks_like_session_id(session_id) and looks_like_token(token)):
            return None  # malformed: no need to ask the store
        return await run_in_threadpool(self.store.lookup_token, digest(token))

    async def _admission(
        self,
        session_id: str,
        info: TokenInfo | None,
        refusal: type[SprechzimmerError] | None = None,
    ) -> Admission:
        """The admission a looked-up link gives now, or its problem raised (as
        ``refusal`` when given: ``hello`` never says which check failed)."""
        now = dt.datetime.fromtimestamp(self.clock(), dt.UTC)
        therapist = (
            await run_in_threadpool(self.store.therapist_by_id, info.session.therapist_id)
            if info is not None and info.session.id == session_id
            else None
        )
        problem = link_problem(session_id, info, therapist, now)
        if problem is not None:
            raise (refusal or problem)(problem.code)
        assert info is not None
        expires = min(info.expires_at, info.session.expires_at).timestamp()
        return Admission(
            info.session.id,
            info.session.client_id,
            info.role,
            expires,
            info.seat,
            info.session.seats,
        )

    # --- room traffic -------------------------------------------------------------

    async def join(
        self,
        conn: ConnId,
        admission: Admission,
        resume: str | None,
        epoch: int | None = None,
        relay_only: bool | None = None,
        name: str | None = None,
        consent: bool | None = None,
    ) -> None:
        """Seat an authenticated socket; ``resume`` is the ticket its ``hello`` carried,
        ``name`` and ``consent`` what a client's ``hello`` said (see ``Room.join``).

        The room's owner seats it: this process, or the one that owns the room
        (then the join is posted there and its answers come back by ``_on_op``)."""
        if self.backplane.shared:
            if self._stopping:
                raise ServerBusy("stopping")
            try:
                owner = await self._owner_for(admission.session_id)
            except BackplaneDown:
                raise ServerBusy("backplane down") from None
            if owner is not None:
                self._proxied[conn] = owner
                expires = admission.expires_at if math.isfinite(admission.expires_at) else None
                op: Op = ["j", conn, self.backplane.process_id, admission.session_id]
                op += [admission.client_id, admission.role.value, expires]
                op += [resume, epoch, relay_only, name, consent, admission.seat]
                op += [admission.session_seats]
                self.backplane.post(owner, op)
                return
        await self._join_here(conn, admission, resume, epoch, relay_only, name, consent)

    async def _owner_for(self, session_id: str) -> str | None:
        """The process that owns the room (None: this one), taking over a dead owner."""
        if session_id in self.rooms and session_id in self.backplane.owned:
            # Ours already (its lease is renewed in the background): a member of a
            # room here comes back even while Redis is away.
            return None
        for _ in range(3):
            owner = await self.backplane.claim(session_id)
            if owner is None:
                return None
            if await self.backplane.alive([owner]):
                return owner
            # Its process is gone (nobody listens on its channel): the room is ours
            # to rebuild, unless another process took it a moment ago.
            if await self.backplane.take_over(session_id, owner):
                log.info("backplane: took over a room whose process is gone")
                return None
        raise BackplaneDown

    async def _join_here(
        self,
        conn: ConnId,
        admission: Admission,
        resume: str | None,
        epoch: int | None,
        relay_only: bool | None,
        name: str | None = None,
        consent: bool | None = None,
    ) -> None:
        session_id, role, now = admission.session_id, admission.role, self.clock()
        verified = (
            tickets.verify(self.ticket_key, resume, session_id, admission.seat, now)
            if resume
            else None
        )
        if verified is None:
            # A seat's own tab comes back with its ticket as often as its line
            # breaks; a link that joins in a loop without one is slowed down.
            seat = f"{session_id}:{admission.seat}"
            if self._seat_joins.blocked(seat, now):
                raise SlowDown("seat joins")
            self._seat_joins.hit(seat, now)
        room = self.rooms.get(session_id)
        if room is None:
            # A room this process does not know: new, or forgotten by a restart.
            # The stored events say who still held a seat; they wait for their
            # tickets, and a copied link finds them occupied.
            events = await run_in_threadpool(self.store.events_of, session_id)
            self._refuse_if_noisy(len(events), verified)
            room = self.rooms.get(session_id)  # another member may have been quicker
            if room is None:
                room = self._new_room(admission)
                self._event_counts[session_id] = len(events)
                held = held_seats((e.seat, e.kind, e.at.timestamp()) for e in events)
                if held:
                    room.restore(held, epoch or 0, now, events[-1].at.timestamp())
        else:
            self._refuse_if_noisy(self._event_counts.get(session_id, 0), verified)
        if conn not in self._sockets and conn not in self._remote_of:
            return  # the socket went while we read the store
        self._room_of[conn] = session_id
        # A resuming tab keeps its nonce: if this welcome is lost with its socket,
        # the ticket it already has still works.
        nonce = verified.nonce if verified else tickets.new_nonce()
        ticket = tickets.issue(
            self.ticket_key, session_id, admission.seat, nonce, now, admission.expires_at
        )
        was_waiting = room.waiting
        outputs = room.join(
            conn,
            role,
            verified.nonce if verified else None,
            nonce,
            now,
            ticket=ticket,
            epoch=epoch or 0,
            issued=verified.issued if verified else math.inf,
            relay_only=bool(relay_only),
            valid_until=admission.expires_at,
            name=name,
            consent=bool(consent),
            seat=admission.seat,
        )
        if room.waiting and not was_waiting:
            self._knocked_at[session_id] = now  # a knock: every wait begins with a join
        await self._apply(room, outputs)

    def _refuse_if_noisy(self, stored: int, verified: tickets.Verified | None) -> None:
        # A session at its bound of events takes no new joins (its own tabs
        # with their tickets still come back): a link in a loop stops here.
        if verified is None and stored >= self.room_config.max_events:
            raise SlowDown("session events")

    def _new_room(self, admission: Admission) -> Room:
        room = Room(
            admission.session_id,
            admission.client_id,
            self.room_config,
            client_seats=admission.session_seats,
        )
        self.rooms[admission.session_id] = room
        return room

    def receive_now(
        self, conn: ConnId, message: p.ClientMessage, text: str | bytes | None = None
    ) -> Pending | None:
        """One message of a member, as far as it goes without waiting.

        Nearly all traffic (a ping, a relayed message) is done here; what must
        be stored first comes back as ``Pending`` for ``apply``, and the
        caller keeps this member's later messages behind it. ``text`` is the
        message as it came, to pass on to the room's owner as it is."""
        owner = self._proxied.get(conn)
        if owner is not None:
            said = text.decode() if isinstance(text, bytes) else text or p.encode(message)
            self.backplane.post(owner, ["r", conn, said])
            return None
        session_id = self._room_of.get(conn)
        room = self.rooms.get(session_id) if session_id else None
        if room is None:
            return None
        outputs = room.receive(conn, message, self.clock())
        if isinstance(message, _ONLY_RELAYED):
            # A ping or a relayed message changes no deadline but to a later
            # heartbeat (the timer re-arms itself when it fires).
            if len(outputs) == 1 and type(out := outputs[0]) is Send:
                self._send(out.conn, p.encode_bytes(out.message))  # nearly all traffic
                return None
            if all(type(o) is Send for o in outputs):
                self._deliver(outputs)
                return None
        return Pending(room, outputs)

    async def apply(self, pending: Pending) -> None:
        await self._apply(pending.room, pending.outputs)

    async def receive(
        self, conn: ConnId, message: p.ClientMessage, text: str | bytes | None = None
    ) -> None:
        pending = self.receive_now(conn, message, text)
        if pending is not None:
            await self.apply(pending)

    async def revoke(self, session_id: str) -> None:
        room = self.rooms.get(session_id)
        if room is not None:
            await self._apply(room, room.revoke(self.clock()))
        elif self.backplane.shared:
            with contextlib.suppress(BackplaneDown):
                owner = await self.backplane.owner(session_id)
                if owner is not None and owner != self.backplane.process_id:
                    self.backplane.post(owner, ["v", session_id])

    async def tick(self) -> None:
        """Run every room timer that is due now (heartbeat deadlines, key renewals, cleanup)."""
        now = self.clock()
        due: list[str] = []
        while self._timers and self._timers[0][0] <= now:
            deadline, session_id = heapq.heappop(self._timers)
            if self._scheduled.get(session_id) == deadline:
                del self._scheduled[session_id]
                due.append(session_id)
            # else: superseded by an earlier entry, or the room is gone
        for session_id in due:
            room = self.rooms.get(session_id)
            if room is None:
                continue
            try:
                outputs = room.tick(now)
                if any(isinstance(o, Send) and isinstance(o.message, p.Rekey) for o in outputs):
                    self.counters.rekeys += 1
                await self._apply(room, outputs)
            except Exception:  # one bad room must not stop the others
                log.exception("a room's timer failed")
            finally:
                if self.rooms.get(session_id) is room:
                    self._schedule(room, self.clock())
        await self._write_samples(self._samples.take_finished(now))

    def _schedule(self, room: Room, now: float) -> None:
        """Keep the room's next deadline in the heap; forget an empty room in time."""
        session_id = room.session_id
        if room.empty:
            since = self._empty_since.setdefault(session_id, now)
            if room.state.name != "ADMITTED" or now - since > EMPTY_ROOM_GRACE:
                self._forget(session_id, GOING_AWAY)  # empty: nobody to close
                return
            deadline: float | None = since + EMPTY_ROOM_GRACE + 1.0
        else:
            self._empty_since.pop(session_id, None)
            deadline = room.next_deadline()
        if deadline is None:
            return
        # A deadline that is due but did not fire (``tick`` compares strictly)
        # comes back a moment later, never in the same pass.
        deadline = max(deadline, now + 0.001)
        current = self._scheduled.get(session_id)
        if current is not None and current <= deadline:
            return  # an earlier entry wakes the room; it re-arms itself then
        self._scheduled[session_id] = deadline
        heapq.heappush(self._timers, (deadline, session_id))
        if self._timers[0][1] == session_id:
            self._timer_changed.set()

    async def flush_samples(self) -> None:
        """Write every buffered quality sample now (at shutdown)."""
        await self._write_samples(self._samples.take_all())

    async def _write_samples(self, samples: list[Sample]) -> None:
        if not samples:
            return
        try:
            await run_in_threadpool(self.store.add_quality_samples, samples)
        except Exception:  # quality data must never disturb a consultation
            log.exception("%d quality samples could not be stored", len(samples))

    async def run_timers(self) -> None:
        """Background task for the app's lifetime: sleep until the next room deadline."""
        while True:
            try:
                await self.tick()
            except Exception:  # keep going; one bad room must not stop the others
                log.exception("room timers failed")
            now = self.clock()
            # Samples are written once their hour is over: wake at the next hour too.
            wake = next_hour(now)
            if self._timers:
                wake = min(wake, self._timers[0][0])
            self._timer_changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._timer_changed.wait(), max(0.0, wake - now))

    def live(self) -> Live:
        """Counts over all rooms, for the operator's metrics."""
        calls = [r for r in self.rooms.values() if r.in_call]
        return Live(
            connections=len(self._sockets),
            calls=len(calls),
            waiting=sum(1 for r in self.rooms.values() if r.waiting),
            calls_relayed=sum(1 for r in calls if r.relayed),
        )

    async def statuses(self, session_ids: list[str]) -> dict[str, tuple[bool, bool, float | None]]:
        """(a client is waiting, a call is on, since when the client waits) per session,
        for the dashboard. The waiting time is known for rooms of this process only
        (None for a room another process owns: the backplane shares the state alone)."""
        result: dict[str, tuple[bool, bool, float | None]] = {}
        elsewhere = []
        for session_id in session_ids:
            room = self.rooms.get(session_id)
            if room is not None:
                since = self._knocked_at.get(session_id) if room.waiting else None
                result[session_id] = (room.waiting, room.in_call, since)
            else:
                elsewhere.append(session_id)
        shared = await self.backplane.statuses(elsewhere)
        for session_id in elsewhere:
            status = shared.get(session_id, "")
            result[session_id] = (status == "w", status == "c", None)
        return result

    # --- carrying out a room's outputs --------------------------------------------

    async def _apply(self, room: Room, outputs: list[Output]) -> None:
        # Events first: once a socket hears of a change, the change is on record.
        events = [
            EventInfo(
                room.session_id, o.role, o.kind, dt.datetime.fromtimestamp(o.at, dt.UTC), o.seat
            )
            for o in outputs
            if isinstance(o, BillingEvent)
        ]
        if events:
            stored = self._event_counts.get(room.session_id, 0)
            room_left = max(0, self.room_config.max_events - stored)
            if len(events) > room_left:
                # Over the bound only what closes an interval is kept: billing
                # must never stay open because a session was noisy.
                log.warning("a session is over its bound of billing events; keeping only ends")
                opening = [e for e in events if e.kind not in _CLOSING][:room_left]
                events = [e for e in events if e.kind in _CLOSING or e in opening]
            self._event_counts[room.session_id] = stored + len(events)
        lock = self._event_writes.get(room.session_id)
        if not events and lock is None:
            self._carry_out(room, outputs)  # the common case (a relayed message): no wait
            return
        if lock is None:
            lock = self._event_writes[room.session_id] = asyncio.Lock()
        # While a room's events are being written (on a thread), its later outputs
        # wait their turn, with events or without: the order of the room's outputs
        # is the order on record and the order its members hear. The lock is taken
        # at once when free and wakes its waiters in FIFO order.
        async with lock:
            if events:
                try:
                    await run_in_threadpool(self.store.add_events, events)
                except IntegrityError:
                    # Deleted meanwhile (a data-subject request): no error with its
                    # id in the log, and nobody stays in its room.
                    self._drop_deleted(room.session_id)
                    return
            self._carry_out(room, outputs)

    def _carry_out(self, room: Room, outputs: list[Output]) -> None:
        for out in outputs:
            if isinstance(out, SfuRelay | SfuLeave | SfuEnd):
                self.sfu.take(out)
            elif isinstance(out, StoreSample):
                # From here on the sample knows no room: only the call's random id.
                self.counters.observe(out.sample)
                if self.keep_quality:
                    self._samples.add(Sample.of(out.call_id, out.sample, out.at))
        self._deliver(outputs)
        if self.rooms.get(room.session_id) is room:
            self._schedule(room, self.clock())
            if self.backplane.shared:
                status = "c" if room.in_call else "w" if room.waiting else ""
                if self._status_sent.get(room.session_id, "") != status:
                    self._status_sent[room.session_id] = status
                    self.backplane.set_status(room.session_id, status)

    def _deliver(self, outputs: list[Output]) -> None:
        """Hand the sends and closes to the sockets' outboxes (nothing here waits)."""
        for out in outputs:
            match out:
                case Send(conn, message, None):  # nearly every one: a relayed message
                    self._send(conn, p.encode_bytes(message))
                case Send(
                    conn,
                    p.Welcome() | p.Admitted() | p.NetTestServers() as message,
                    IceGrant() as grant,
                ):
                    # The room granted relay credentials; here, at the edge, they
                    # are minted with the secret the room never holds.
                    servers = self.ice.granted(grant)
                    self._send(conn, p.encode_bytes(replace(message, ice_servers=servers)))
                case Close(conn, error):
                    self._close(conn, close_code(error), error)

    def _send_to_seat(self, session_id: str, seat: int, message: p.ServerMessage) -> None:
        """The SFU's answer or offer to a member of a room here (dropped if it is away:
        its page starts the call anew when it is back)."""
        room = self.rooms.get(session_id)
        member = room.members.get(seat) if room is not None else None
        if member is not None and member.conn is not None:
            self._send(member.conn, p.encode_bytes(message))

    def _send(self, conn: ConnId, data: bytes) -> None:
        outbox = self._sockets.get(conn)
        if outbox is not None:
            outbox.put(data)
            return
        process = self._remote_of.get(conn)
        if process is not None:
            self.backplane.post(process, ["s", conn, data.decode()])

    def _close(self, conn: ConnId, code: int, error: SprechzimmerError | None) -> None:
        self._room_of.pop(conn, None)
        process = self._remote_of.pop(conn, None)
        if process is not None:
            said = p.encode(p.Error.of(error)) if error is not None else None
            self.backplane.post(process, ["c", conn, code, said])
            return
        if error is not None:
            self._send(conn, p.encode_bytes(p.Error.of(error)))
        outbox = self._sockets.pop(conn, None)
        self._proxied.pop(conn, None)
        if outbox is not None:
            outbox.close(code)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- other processes (the Redis backplane) -------------------------------------

    async def start(self) -> None:
        await self.backplane.start(self._on_op, self._on_lost, self._on_down)

    async def stop(self) -> None:
        await self.sfu.close()
        await self.backplane.stop()

    def _on_op(self, op: Op) -> None:
        """An operation from another process (see the module docstring)."""
        kind, conn = op[0], op[1]
        if kind == "s":
            outbox = self._sockets.get(conn)
            if outbox is not None and conn in self._proxied:
                outbox.put(op[2].encode())
        elif kind == "c":
            if self._proxied.pop(conn, None) is not None:
                outbox = self._sockets.pop(conn, None)
                if outbox is not None:
                    if op[3] is not None:
                        outbox.put(op[3].encode())
                    outbox.close(op[2])
        elif kind in ("j", "r", "d"):
            inbox = self._inbox.get(conn)
            if inbox is None:
                inbox = self._inbox[conn] = deque()
                self._spawn(self._drain(conn, inbox))
            inbox.append(op)
        elif kind == "v":
            self._spawn(self.revoke(conn))

    async def _drain(self, conn: ConnId, inbox: deque[Op]) -> None:
        """A proxied socket's operations, one after another, as its own reader would."""
        try:
            while inbox:
                op = inbox.popleft()
                try:
                    await self._remote(op)
                except ProtocolError as error:
                    # As the socket's own reader would: leave the room (the peer
                    # hears of it), then the error and the close.
                    log.info("signaling: %s (%s), proxied", error.code, error.detail)
                    process = self._remote_of.get(conn)
                    await self.detach(conn, refused=True)
                    if process is not None:
                        said = p.encode(p.Error.of(error))
                        self.backplane.post(process, ["c", conn, close_code(error), said])
                except Exception:
                    log.exception("signaling: internal error, proxied")
        finally:
            self._inbox.pop(conn, None)

    async def _remote(self, op: Op) -> None:
        kind, conn = op[0], op[1]
        if kind == "j":
            _, _, process, session_id, client_id, role, expires, resume, epoch, relay = op[:10]
            # A process of the version before names sends ten fields, before seats twelve.
            name, consent = (op[10], op[11]) if len(op) >= 12 else (None, None)
            seat = op[12] if len(op) >= 13 else seats.FIRST_CLIENT
            session_seats = op[13] if len(op) >= 14 else 1
            self._remote_of[conn] = process
            if self._stopping or session_id not in self.backplane.owned:
                # Not ours (any more): the socket's process asks again from scratch.
                self._close(conn, SERVICE_RESTART, None)
                return
            admission = Admission(
                session_id,
                client_id,
                p.Role(role),
                math.inf if expires is None else expires,
                seat,
                session_seats,
            )
            await self._join_here(conn, admission, resume, epoch, relay, name, consent)
        elif kind == "r":
            if conn in self._room_of:
                await self.receive(conn, p.decode_client(op[2], REMOTE_MESSAGE_BYTES))
        elif kind == "d":
            await self.detach(conn, refused=bool(op[2]))

    async def _on_lost(self, session_ids: list[str]) -> None:
        """Rooms whose lease another process holds now: their members go there."""
        for session_id in session_ids:
            self._forget(session_id, SERVICE_RESTART)

    async def _on_down(self) -> None:
        """Redis is away: the rooms here go on; what crosses processes cannot."""
        for conn in list(self._proxied):
            self._close_proxied(conn)
        for conn in list(self._remote_of):
            await self.detach(conn)

    def _close_proxied(self, conn: ConnId) -> None:
        # The browser comes back at once and finds the room where it is now.
        self._proxied.pop(conn, None)
        outbox = self._sockets.pop(conn, None)
        if outbox is not None:
            outbox.close(SERVICE_RESTART)

    async def enforce_revocations(self, every: float = REVOCATION_CHECK_EVERY) -> None:
        """Background task: end the calls of sessions revoked, deleted or of a disabled
        therapist, whoever did it (the API of any process, or a ``sprechzimmer``
        command on another machine): each owner asks the store for its own rooms."""
        while True:
            await asyncio.sleep(every)
            live = list(self.rooms)
            if not live:
                continue
            try:
                ended, deleted = await run_in_threadpool(self.store.ended_sessions, live)
            except Exception:  # the store is away for a moment: the next round asks again
                log.warning("checking the rooms' sessions failed; trying again")
                continue
            for session_id in ended:
                log.info("room: its session was ended from outside; closing it")
                await self.revoke(session_id)
            for session_id in deleted:
                self._drop_deleted(session_id)

    def _drop_deleted(self, session_id: str) -> None:
        """The session was deleted (a data-subject request): everybody out, and
        nothing more on record for it, not even that they left."""
        room = self.rooms.get(session_id)
        if room is None:
            return
        log.info("room: its session was deleted; closing it")
        self._deliver([o for o in room.revoke(self.clock()) if not isinstance(o, BillingEvent)])
        self._forget(session_id, 4003)

    async def watch(self) -> None:
        """Background task: notice at once when a process this one talks to is gone."""
        if not self.backplane.shared:
            return
        while True:
            await asyncio.sleep(WATCH_EVERY)
            processes = set(self._proxied.values()) | set(self._remote_of.values())
            if not processes or not self.backplane.up:
                continue
            try:
                dead = processes - await self.backplane.alive(processes)
            except BackplaneDown:
                continue
            if dead:
                log.info("backplane: %d other process(es) gone", len(dead))
            for conn, owner in list(self._proxied.items()):
                if owner in dead:
                    self._close_proxied(conn)
            for conn, process in list(self._remote_of.items()):
                if process in dead:
                    await self.detach(conn)
