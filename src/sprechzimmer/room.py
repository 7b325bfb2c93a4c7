"""The waiting room and call of one session, as a pure state machine.

A ``Room`` takes what happened (a member joined, a message arrived, a socket
closed, time passed) together with the current time, and returns what must be
done: messages to send, sockets to close, billing events to keep. It does no
I/O, reads no clock and keeps no secret but the in-memory resume secrets that
let a participant take its place back. It never sees media or key material.
The random id of the running call (for anonymous quality samples) goes out
only with ``StoreSample`` and is never logged; neither is the session: a log
line says what happened in a room, not in which.

Members hold numbered seats (``seats.py``): the therapist 0, the clients 1 to 8;
a one-to-one session is the room with one client seat. Each member's latest
camera and microphone state (``media-state``) is kept here for the others'
pages, in memory only: it goes with the seat and is never an event, a sample or
a log line. So is a client's name (from its ``hello``), which the therapist's
page is told (``knock``, ``welcome``, ``peer-joined``, ``admitted``) and, in a
group, the pages of the others in the call (``admitted``, ``peer-joined``),
never a waiting client's: it belongs to the seat, and it is gone with the seat.
No output but a ``Send`` carries it.

Each client seat has its own admission (``CallState``); who holds a seat is
kept beside it. ``_transition`` is the one place an admission changes, and it
logs each change. The call is the therapist with every admitted client; each
admission starts it anew for all of them (``admitted`` with the ``peers`` to
connect to), and a member leaving ends it only for that member.

A seat outlives its socket: when a member's socket goes (a broken line, a
server restart, a timeout), the member is *away* for ``resume_grace`` seconds.
Nothing is recorded and the others are told nothing, because the browsers'
peer connections do not need the server and usually go on. The
browser that comes back with its resume ticket (``tickets.py``, checked by the
hub) takes the seat back silently: no knock, no new connection, no billing
event. Without the ticket (a copied link) a client knocks again. A room that
a restarted server does not remember is rebuilt from the session's stored
events (``held_seats``) when the first ticket arrives.
"""

from __future__ import annotations

import dataclasses
import enum
import hmac
import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from . import protocol as p
from . import seats
from .errors import (
    ConsentRequired,
    Forbidden,
    GroupNeedsSfu,
    InvalidState,
    NameRequired,
    NoPeer,
    NotAllowed,
    Occupied,
    Replaced,
    SessionEnded,
    SprechzimmerError,
    Timeout,
    close_code,
)
from .events import EventKind
from .protocol import LeaveReason, Role
from .quality import MIN_INTERVAL as QUALITY_MIN_INTERVAL
from .quality import new_call_id
from .relayonly import relay_candidate, relay_only_sdp
from .turn import IceGrant, IceOffer

log = logging.getLogger(__name__)

ConnId = int

MESH_LIMIT = 3
"""People in a call whose browsers connect to each other directly; more go through the SFU."""
SFU_REBUILD_WAIT = 15.0
"""Seconds a rebuilt room waits for the members of a call through the SFU to come back
before it starts the call anew with those who are."""
HEARTBEAT_MISSES = 3
"""A member silent for this many heartbeat intervals is gone."""
AWAY_BUFFER = 64
"""Relayed messages kept for an away member, delivered when it is back."""
MEDIA_STATE_INTERVAL = 0.5
NETTEST_TTL = 120
"""Seconds the relay credentials of a network test stay good: long enough for the
test (about 10 s) and a second one, short enough that a link alone buys little relay."""
NETTEST_INTERVAL = 20.0
"""At most one network test's credentials per member in this time; a page keeps
them for their ``ttl`` instead of asking again."""
"""Seconds between two ``media-state`` messages relayed from one member: faster
changes are coalesced and the latest follows when the interval is over."""


class CallState(enum.IntEnum):
    IDLE = 0
    """No client is waiting or admitted."""
    WAITING = 1
    """A client knocked and waits for the therapist."""
    ADMITTED = 2
    """The client was admitted; it stays so across reconnects until it hangs up."""
    CLOSED = 3
    """The session was revoked; nobody may join any more."""


_ALLOWED: dict[CallState, frozenset[CallState]] = {
    CallState.IDLE: frozenset({CallState.WAITING, CallState.CLOSED}),
    CallState.WAITING: frozenset({CallState.IDLE, CallState.ADMITTED, CallState.CLOSED}),
    CallState.ADMITTED: frozenset({CallState.IDLE, CallState.WAITING, CallState.CLOSED}),
    CallState.CLOSED: frozenset(),
}


_ADMISSION = (CallState.WAITING, CallState.ADMITTED)
_HANG_UPS = (LeaveReason.HANGUP, LeaveReason.QUICK_EXIT)
"""A member's own ``bye``: the admission ends, unlike a lost line's."""


# --- outputs ----------------------------------------------------------------


@dataclass(slots=True)
class Send:
    # Not frozen, unlike the other outputs: one is made per relayed message, and
    # a frozen dataclass sets each field through object.__setattr__ (3x slower).
    conn: ConnId
    message: p.ServerMessage
    grant: IceGrant | None = None
    """With a ``welcome``/``admitted`` inside a call: the relay credentials this
    member may have. The hub mints them into the message (the room holds no
    TURN secret)."""


@dataclass(frozen=True)
class Close:
    """Close a socket; with ``error`` set, an ``error`` message goes out first and the
    close code is the error's, else it is a normal close."""

    conn: ConnId
    error: SprechzimmerError | None = None

    @property
    def code(self) -> int:
        return close_code(self.error)


@dataclass(frozen=True)
class BillingEvent:
    """A connection event to keep for billing (never anything of the call itself)."""

    role: Role
    kind: EventKind
    at: float
    seat: int = seats.ROLE_SEAT
    """0 for the therapist, else the client seat; left out, the role's one-to-one seat."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "seat", seats.of(self.role, self.seat))


@dataclass(frozen=True)
class StoreSample:
    """Keep an anonymous quality sample: no session, no role, only the call's random id."""

    call_id: str
    """Random, made when the call (re)started; unrelated to the session."""
    sample: p.Quality
    at: float


@dataclass(frozen=True)
class SfuRelay:
    """A member's offer to publish, or its answer to a subscription, for the SFU of
    the running call (``sfucall.py``; the hub carries it out on a thread)."""

    session_id: str
    call_id: str
    seat: int
    message: p.SfuPublish | p.SfuSubscribed
    call: int | None = None
    """The start of the call it belongs to (``admitted.epoch``): the SFU's answers and
    offers carry it back, so that a page can drop those of an earlier start."""


@dataclass(frozen=True)
class SfuLeave:
    """A member left a group call: its session at the SFU ends."""

    session_id: str
    seat: int


@dataclass(frozen=True)
class SfuEnd:
    """The group call ended or starts anew: its room at the SFU goes."""

    session_id: str


Output = Send | Close | BillingEvent | StoreSample | SfuRelay | SfuLeave | SfuEnd


@dataclass(frozen=True)
class RoomConfig:
    heartbeat_interval: float = 10.0
    ice: IceOffer = field(default_factory=IceOffer)
    rekey_interval: float = p.DEFAULT_REKEY_INTERVAL
    e2ee_required: bool = True
    max_bitrate_kbps: int = p.DEFAULT_MAX_BITRATE_KBPS
    relay_max_bitrate_kbps: int = p.DEFAULT_RELAY_MAX_BITRATE_KBPS
    resume_grace: float = 60.0
    """Seconds an away member keeps its seat before it has left."""
    media_debounce: float = 2.0
    """Seconds between two recorded media changes of a member (the last change wins)."""
    max_events: int = 2000
    """Billing events a session may record; the hub enforces it."""
    call_ids: Callable[[], str] = field(default=new_call_id, compare=False)
    """Makes the random id of each call start; tests pass a predictable one."""
    client_name_required: bool = True
    """A client's first ``hello`` must carry a name (``SPRECHZIMMER_CLIENT_NAME``)."""
    sfu: bool = False
    """An SFU is set up (``SPRECHZIMMER_SFU_SECRET``): calls of more than
    ``MESH_LIMIT`` people go through it; without one they are refused."""


@dataclass(frozen=True)
class HeldSeat:
    """What the stored events say of one seat when a server lost its memory."""

    media: p.MediaState
    admitted: bool
    """For a client seat: admitted since it last joined."""
    joined_at: float = 0.0
    """When the seat was last joined: only tickets issued since belong to its holder."""


def held_seats(events: Iterable[tuple[int, EventKind, float]]) -> dict[int, HeldSeat]:
    """The seats still held at the last stored event (joined, never left), by seat
    number, from ``(seat, kind, at)`` in stored order."""
    joined: dict[int, float | None] = {}
    media: dict[int, p.MediaState] = {}
    admitted: dict[int, bool] = {}
    for seat, kind, at in events:
        if kind is EventKind.JOINED:
            joined[seat], admitted[seat] = at, False
            media[seat] = p.MediaState.DISCONNECTED
        elif kind is EventKind.LEFT:
            joined[seat] = None
        elif kind is EventKind.ADMITTED:
            admitted[seat] = True
        elif kind is EventKind.MEDIA_CONNECTED:
            media[seat] = p.MediaState.CONNECTED
        elif kind is EventKind.MEDIA_DISCONNECTED:
            media[seat] = p.MediaState.DISCONNECTED
    return {
        seat: HeldSeat(media.get(seat, p.MediaState.DISCONNECTED), admitted.get(seat, False), at)
        for seat, at in joined.items()
        if at is not None
    }


@dataclass
class Member:
    conn: ConnId | None
    """None while the member is away (its socket is gone, its seat is kept)."""
    role: Role
    resume: str | None
    """Nonce of the holder's ticket; None in a rebuilt room: any genuine ticket of the role."""
    last_seen: float
    media: p.MediaState = p.MediaState.DISCONNECTED
    """The media state on file (the last one recorded)."""
    reported: p.MediaState = p.MediaState.DISCONNECTED
    """The media state the browser last reported; on file once the debounce allows."""
    reported_at: float = 0.0
    media_recorded_at: float = -math.inf
    last_quality: float | None = None
    away_since: float | None = None
    """When its socket went (the grace counts from here)."""
    gone_at: float = 0.0
    """The last moment the member is known to have been there: its leave is recorded as of
    this time (the socket's end, its last message before a timeout, a crash's last event)."""
    away_reason: LeaveReason = LeaveReason.DISCONNECTED
    claim_after: float = 0.0
    """In a rebuilt room: only a ticket issued at or after this (its last join) claims it."""
    pending: list[p.ServerMessage] = field(default_factory=list)
    """Relayed to it while away; sent when it is back."""
    had_call: bool = False
    """This socket's browser was in a call (got ``admitted``): what it sends late,
    after the call ended, is dropped with a notice rather than refused."""
    valid_until: float = math.inf
    """When the admission of its browser ends (its link or its session expires, Unix
    seconds): TURN credentials minted for it expire then at the latest."""
    media_state: p.MediaStateReport | None = None
    """Its camera and microphone as its browser last reported them: in this memory
    only, for the other member's page; gone with the seat, never stored or logged."""
    media_state_sent_at: float = -math.inf
    """When its ``media-state`` was last relayed to the other member."""
    media_state_due: bool = False
    """A newer ``media-state`` waits for ``MEDIA_STATE_INTERVAL`` to be relayed."""
    name: str | None = field(default=None, repr=False)
    """A client's name as its browser gave it: in this memory only, for the
    therapist's page; gone with the seat, never stored, logged or in a repr."""
    consent: bool = False
    """A client confirmed the terms of use and the privacy notice (its first ``hello``
    said so, or a ticket shows an earlier one did)."""
    nettest_at: float = -math.inf
    """When this seat was last given network-test credentials (``NETTEST_INTERVAL``)."""
    seat: int = seats.FIRST_CLIENT
    """Its seat number (0: the therapist's), which its billing events name."""

    @property
    def present(self) -> bool:
        return self.conn is not None

    def event(self, kind: EventKind, at: float) -> BillingEvent:
        return BillingEvent(self.role, kind, at, self.seat)

    def claimed_by(self, nonce: str, issued: float) -> bool:
        """Whether a genuine ticket (``nonce``, issued at ``issued``) is this seat's own."""
        if self.resume is None:  # rebuilt: the holder's tickets are those since its join
            return issued >= self.claim_after
        return hmac.compare_digest(nonce, self.resume)

    def disconnected_at(self, now: float) -> float:
        """When its media went, for a member that leaves: a reported loss still
        waiting for the debounce counts from when it was reported."""
        pending = self.reported is p.MediaState.DISCONNECTED
        return min(self.reported_at, now) if pending else now


@dataclass
class Room:
    session_id: str
    client_id: str
    config: RoomConfig = field(default_factory=RoomConfig)
    members: dict[int, Member] = field(default_factory=dict)
    """Who holds a seat, by seat number (0: the therapist)."""
    admissions: dict[int, CallState] = field(default_factory=dict)
    """Each client seat's admission (absent: ``IDLE``); ``_transition`` changes it."""
    closed: bool = False
    """The session was revoked or ended: nobody may join any more."""
    relay_requested: bool = False
    """The therapist asked for relay-only in this session."""
    epoch: int = 0
    """Key epoch: each call start and each scheduled renewal moves it on."""
    next_rekey: float | None = None
    call_id: str | None = None
    """Random id of the running call; new at every (re)start, gone when it ends."""
    call_epoch: int | None = None
    """The key epoch the running call started with (``admitted.epoch``): a group's
    links tag what they say with it (``call``). None: no call, or one a restarted
    server rebuilt (which never told anyone its start)."""
    relayed: bool | None = None
    """Whether the latest quality sample of the running call reports a relayed pair."""
    admitted_resume: dict[int, str] = field(default_factory=dict)
    """Per admitted client seat, the nonce of its browser's ticket: only that browser
    comes back without a knock."""
    call_pending: bool = False
    """The call must start anew once its members are back (one changed while away)."""
    room_check_done: bool = False
    """The therapist ticked the room check off during this admission (in memory only)."""
    media_path: p.MediaPath | None = None
    """How the running call's media goes (``admitted.media_path``); None between calls."""
    sfu_restart_at: float | None = None
    """A rebuilt room whose call went through the SFU: that call's sessions at the SFU
    belonged to the process before (nobody keeps them alive, the SFU drops them within
    a minute), so the call starts anew through this one once its members are back, or
    at this moment with those who are."""
    client_seats: int = 1
    """The session's client seats (``sessions.seats``): more than one is a group, whose
    pages use the group's keys and tiles even while only one client is in the call."""

    @property
    def relay_only(self) -> bool:
        return self.config.ice.relay_only or self.relay_requested

    # --- queries, for the hub and the dashboard --------------------------------

    @property
    def state(self) -> CallState:
        """The room as one state: ``CLOSED``, else the furthest admission of its client
        seats (``ADMITTED`` while anyone is admitted). In a one-to-one session, the
        client's admission."""
        if self.closed:
            return CallState.CLOSED
        return max(self.admissions.values(), default=CallState.IDLE)

    def admission(self, seat: int) -> CallState:
        return CallState.CLOSED if self.closed else self.admissions.get(seat, CallState.IDLE)

    def _present(self, seat: int) -> Member | None:
        member = self.members.get(seat)
        return member if member is not None and member.present else None

    def _clients(self) -> list[Member]:
        return [m for seat, m in sorted(self.members.items()) if seat != seats.THERAPIST]

    def _in_call(self, member: Member) -> bool:
        """A member of the call: the therapist while anyone is admitted, an admitted client."""
        if member.role is Role.THERAPIST:
            return self.state is CallState.ADMITTED
        return self.admission(member.seat) is CallState.ADMITTED

    def _call_members(self) -> list[Member]:
        return [m for m in self._ordered() if self._in_call(m)]

    @property
    def waiting(self) -> bool:
        return any(
            m.present and self.admission(m.seat) is CallState.WAITING for m in self._clients()
        )

    @property
    def in_call(self) -> bool:
        return self._present(seats.THERAPIST) is not None and any(
            m.present and self.admission(m.seat) is CallState.ADMITTED for m in self._clients()
        )

    @property
    def empty(self) -> bool:
        return not self.members

    def conns(self) -> list[ConnId]:
        return [m.conn for m in self.members.values() if m.conn is not None]

    def member_of(self, conn: ConnId) -> Member | None:
        for member in self.members.values():
            if member.conn == conn:
                return member
        return None

    def role_of(self, conn: ConnId) -> Role | None:
        member = self.member_of(conn)
        return None if member is None else member.role

    def next_deadline(self) -> float | None:
        """When ``tick`` must run next at the latest, or None when nobody is here."""
        if not self.members:
            return None
        limit = HEARTBEAT_MISSES * self.config.heartbeat_interval
        deadline = min(
            m.last_seen + limit if m.away_since is None else m.away_since + self.config.resume_grace
            for m in self.members.values()
        )
        if self.in_call and self.next_rekey is not None:
            deadline = min(deadline, self.next_rekey)
        if self.sfu_restart_at is not None:
            deadline = min(deadline, self.sfu_restart_at)
        for m in self.members.values():
            if m.reported is not m.media and m.present:
                deadline = min(deadline, m.media_recorded_at + self.config.media_debounce)
            if m.media_state_due:
                deadline = min(deadline, m.media_state_sent_at + MEDIA_STATE_INTERVAL)
        return deadline

    def restore(
        self, held: dict[int, HeldSeat], epoch: int, now: float, last_event_at: float
    ) -> None:
        """Rebuild a room a restarted server forgot: the held seats are away until claimed.

        A seat nobody claims leaves as of ``last_event_at``, the session's last
        stored event (the last moment we know of), not as of the rebuild."""
        if self.members or self.admissions or self.closed:
            return
        for seat, kept in sorted(held.items()):
            self.members[seat] = Member(
                None,
                seats.role_of(seat),
                None,
                now,
                media=kept.media,
                reported=kept.media,
                away_since=now,
                gone_at=min(last_event_at, now),
                claim_after=math.floor(kept.joined_at),
                seat=seat,
            )
            if seat != seats.THERAPIST:
                self._transition(seat, CallState.WAITING)
                if kept.admitted:
                    self._transition(seat, CallState.ADMITTED)
        if self.state is CallState.ADMITTED:
            self.epoch = max(self.epoch, epoch)
            self.next_rekey = now + self.config.rekey_interval
            self.call_id = self.config.call_ids()
            if self.config.sfu and len(self._call_members()) > MESH_LIMIT:
                # A mesh goes on by itself (its media never touched us); a call
                # through the SFU does not.
                self.media_path = p.MediaPath.SFU
                self.sfu_restart_at = now + SFU_REBUILD_WAIT
        log.info("room: rebuilt with %d held seat(s)", len(held))

    # --- inputs ---------------------------------------------------------------

    def join(
        self,
        conn: ConnId,
        role: Role,
        resume: str | None,
        new_resume: str,
        now: float,
        *,
        ticket: str | None = None,
        epoch: int = 0,
        issued: float = math.inf,
        relay_only: bool = False,
        valid_until: float = math.inf,
        name: str | None = None,
        consent: bool = False,
        seat: int = seats.ROLE_SEAT,
    ) -> list[Output]:
        """An authenticated socket asks for ``seat``'s place (left out: ``role``'s seat
        in a one-to-one session).

        ``resume`` is the nonce of a genuine ticket of this seat (the hub checked
        its MAC and expiry), None without one; ``new_resume`` a fresh nonce and
        ``ticket`` the ticket that carries it (the nonce itself when omitted).
        ``epoch`` is the key epoch the browser is in, when it resumes (0: it has no
        live call, e.g. after a reload); ``issued`` when the presented ticket was issued;
        ``valid_until`` when the browser's admission ends (the earlier of its link's
        and its session's expiry): no TURN credential of this seat outlives it.
        ``name`` and ``consent`` are what a client's ``hello`` said (a therapist's
        are ignored: its page may not know its role before ``welcome``). A client
        without a genuine ticket must have confirmed consent, and give a name when
        the operator requires one; with a ticket it need not say them again.
        """
        if self.closed:
            return [Close(conn, Forbidden("session closed"))]
        seat = seats.of(role, seat)
        ticket = ticket or new_resume
        current = self.members.get(seat)
        if current is not None and resume is not None and current.claimed_by(resume, issued):
            if relay_only and role is Role.THERAPIST:
                # A rebuilt room forgot the therapist's choice; it can only turn it on.
                self.relay_requested = True
            current.valid_until = valid_until
            if role is Role.CLIENT:
                # A rebuilt room forgot the name; the browser says it again.
                current.name = name or current.name
                current.consent = True
            return self._resume(conn, current, new_resume, ticket, epoch, now)
        if role is Role.CLIENT and resume is None:
            if not consent:
                return [Close(conn, ConsentRequired("client hello"))]
            if name is None and self.config.client_name_required:
                return [Close(conn, NameRequired("client hello"))]
        if role is not Role.CLIENT:
            name = None
        out: list[Output] = []
        if current is not None and not current.present and role is Role.THERAPIST:
            # The therapist's link lives behind their login: a new tab of theirs
            # (a closed tab reopened from the dashboard) takes the away seat.
            out += self._leave(seat, current.gone_at, current.away_reason, None)
        elif current is not None:
            # A copied link, a second tab, or an old ticket: a client's seat stays
            # with its holder, also while its socket is away (until the grace is over).
            log.info("room: refused occupied %s seat", role.value)
            if role is Role.THERAPIST:
                return [Close(conn, Occupied(role.value))]
            # The therapist hears that a client link was tried (naming nobody):
            # a link passed on, or the client on a second device.
            refused = Close(conn, Occupied(role.value, client_link=True))
            return [refused, *self._tell_therapist(p.Notice(p.NoticeKind.LINK_IN_USE))]
        if role is Role.CLIENT and self.admission(seat) is CallState.ADMITTED:
            kept = self.admitted_resume.get(seat)
            returning = (
                resume is not None and kept is not None and hmac.compare_digest(resume, kept)
            )
            # Back into a call that grew meanwhile past what a mesh holds, without an
            # SFU: it knocks, and the therapist decides (``group-needs-sfu``).
            fits = self.config.sfu or len(self._call_members()) < MESH_LIMIT
            if not (returning and fits):
                self.admitted_resume.pop(seat, None)
                self._transition(seat, CallState.WAITING)
        member = Member(conn, role, new_resume, now, valid_until=valid_until, name=name, seat=seat)
        # Without a ticket it said so just now; with one, its first hello did.
        member.consent = role is Role.CLIENT
        self.members[seat] = member
        out.append(member.event(EventKind.JOINED, now))
        if role is Role.CLIENT and self.admission(seat) is CallState.ADMITTED:
            # The admitted browser is back after the grace: on record again, so
            # that a rebuilt room knows it as admitted too.
            out.append(member.event(EventKind.ADMITTED, now))
        if role is Role.CLIENT and self.admission(seat) is CallState.IDLE:
            self._transition(seat, CallState.WAITING)
        admitted = self._in_call(member)
        if role is Role.CLIENT and admitted:
            self.admitted_resume[seat] = new_resume
        out.append(self._welcome_send(conn, member, ticket, now, resumed=False))
        therapist = self._present(seats.THERAPIST)
        if role is Role.CLIENT and not admitted:
            out.append(Send(conn, p.Waiting()))
            if therapist is not None and therapist.conn is not None:
                out.append(Send(therapist.conn, self._knock(member)))
        elif role is Role.THERAPIST and self.waiting:
            out += [Send(conn, self._knock(m)) for m in self._waiting_clients()]
        else:
            joined = p.PeerJoined(role, admitted, name=member.name, seat=seat)
            out += [Send(m.conn, joined) for m in self._audience(member) if m.conn is not None]
        others = [m for m in self._call_members() if m is not member] if admitted else []
        if any(m.present for m in others):
            # The call (re)starts with every member here.
            return out + self._start_call(now)
        if others:
            # The others are away: the call starts anew when a browser is back.
            self.call_pending = True
        return out + self._media_states_for(member)

    def _welcome_send(
        self, conn: ConnId, member: Member, ticket: str, now: float, *, resumed: bool
    ) -> Send:
        welcome = self._welcome(member, ticket, now, resumed=resumed)
        # TURN credentials only inside a call (a seat taken back during one):
        # neither a therapist alone nor a waiting client gets any, so an opened
        # or copied link alone yields no relay access.
        return Send(conn, welcome, self._grant(member, now) if welcome.admitted else None)

    def _welcome(self, member: Member, ticket: str, now: float, *, resumed: bool) -> p.Welcome:
        role = member.role
        therapist = role is Role.THERAPIST
        clients = self._clients()
        return p.Welcome(
            role=role,
            session=self.session_id,
            client_id=self.client_id if therapist else None,
            # The STUN URLs; relay credentials are added by the hub for the
            # grant that goes with it inside a call (``_welcome_send``), and
            # ``admitted`` brings them when the call starts.
            ice_servers=self.config.ice.public_servers(),
            relay_urls=list(self.config.ice.relay_urls),
            heartbeat_interval=self.config.heartbeat_interval,
            polite=role is Role.CLIENT,
            resume=ticket,
            peer_present=bool(clients) if therapist else seats.THERAPIST in self.members,
            admitted=self._in_call(member),
            resumed=resumed,
            peer_name=clients[0].name if therapist and clients else None,
            seat=member.seat,
            seats=self.client_seats,
        )

    def _resume(
        self, conn: ConnId, member: Member, new_resume: str, ticket: str, epoch: int, now: float
    ) -> list[Output]:
        """The seat's own browser is back (reconnect, restart, another process): no news."""
        out: list[Output] = []
        if member.conn is not None:
            # The same browser on a new socket: the old one goes, without a
            # peer-left, because nobody left.
            out.append(Close(member.conn, Replaced()))
        member.conn = conn
        member.resume = new_resume
        member.last_seen = now
        member.away_since = None
        member.claim_after = 0.0
        admitted = self._in_call(member)
        if member.role is Role.CLIENT and admitted:
            self.admitted_resume[member.seat] = new_resume
        self.epoch = max(self.epoch, epoch)
        log.info("room: %s resumed its seat", member.role.value)
        out.append(self._welcome_send(conn, member, ticket, now, resumed=True))
        therapist = self._present(seats.THERAPIST)
        if member.role is Role.CLIENT and not admitted:
            out.append(Send(conn, p.Waiting()))
            if therapist is not None and therapist.conn is not None:
                # A knock again: with what the therapist knew of the knocking client.
                out.append(Send(therapist.conn, self._knock(member)))
                out += self._media_state_of(member, therapist)
        elif member.role is Role.THERAPIST and self.waiting:
            out += [Send(conn, self._knock(m)) for m in self._waiting_clients()]
        pending, member.pending = member.pending, []
        out += [Send(conn, message) for message in pending]
        if admitted and epoch == 0:
            # The tab came back without its call (a reload): a fresh connection.
            self.call_pending = True
        if self.call_pending and self.in_call:
            # Another member is a new browser (or the policy changed) while this
            # one was away, or this one lost its connection: start anew.
            return out + self._start_call(now)
        restart = self._restart_rebuilt_sfu_call(now)
        if restart:
            return out + restart
        # What the others' cameras and microphones did meanwhile (never buffered).
        return out + self._media_states_for(member)

    def receive(self, conn: ConnId, message: p.ClientMessage, now: float) -> list[Output]:
        member = self.member_of(conn)
        if member is None:
            # A socket the room already let go (replaced, declined): ignore its stragglers.
            return []
        role = member.role
        member.last_seen = now
        match message:
            case p.Ping():
                return [Send(conn, p.Pong())]
            case p.Admit(seat=seat):
                return self._admit(conn, member, seat, now)
            case p.Decline(seat=seat):
                return self._decline(conn, member, seat, now)
            case (
                p.Offer() | p.Answer() | p.Candidate() | p.Restart() | p.NegotiationFailed()
                | p.GroupKey()
            ):  # fmt: skip
                return self._relay(conn, member, message, now)
            case p.SfuPublish() | p.SfuSubscribed():
                return self._to_sfu(conn, member, message, now)
            case p.RelayOnly(enabled=enabled):
                if role is not Role.THERAPIST:
                    return self._refuse(conn, member, now, "relay-only by client")
                if enabled == self.relay_requested:
                    return []
                self.relay_requested = enabled
                log.info("room: relay-only %s", enabled)
                # A running call restarts under the new policy (once both are here).
                if self.in_call:
                    return self._start_call(now)
                self.call_pending = self.state is CallState.ADMITTED
                return []
            case p.Media(state=state):
                if (
                    role is Role.CLIENT
                    and not self._in_call(member)
                    and state is p.MediaState.CONNECTED
                ):
                    # Only a claim of media is refused: "disconnected" is the late
                    # word of a browser whose call just ended (the therapist hung
                    # up while its connection was going down), recorded as usual.
                    return self._refuse(conn, member, now, "media before admission")
                member.reported, member.reported_at = state, now
                if state is member.media:
                    return []  # back to what is on file: a flap shorter than the debounce
                if now - member.media_recorded_at < self.config.media_debounce:
                    return []  # recorded by ``tick`` when the debounce is over
                return self._record_media(member, now, now)
            case p.Quality():
                return self._quality(conn, member, message, now)
            case p.MediaStateReport():
                if message == member.media_state:
                    return []  # no news (a browser says it again after each welcome)
                member.media_state = message
                if now - member.media_state_sent_at < MEDIA_STATE_INTERVAL:
                    member.media_state_due = True  # ``tick`` relays the latest
                    return []
                return self._relay_media_state(member, now)
            case p.RoomCheckDone():
                if role is not Role.THERAPIST:
                    return self._refuse(conn, member, now, "room check by client")
                if self.state is CallState.ADMITTED:
                    # Remembered so that a page that (re)starts the call later in
                    # this admission does not ask again (``admitted.room_check``).
                    self.room_check_done = True
                return self._relay(conn, member, message, now)
            case p.MuteRequest():
                if role is not Role.THERAPIST:
                    return self._refuse(conn, member, now, "mute request by client")
                return self._relay(conn, member, message, now)
            case p.NetTest():
                return self._nettest(conn, member, now)
            case p.Bye(reason=p.ByeReason.QUICK_EXIT) if role is Role.CLIENT:
                return self._leave(member.seat, now, LeaveReason.QUICK_EXIT, Close(conn))
            case p.Bye():
                return self._leave(member.seat, now, LeaveReason.HANGUP, Close(conn))
            case p.Hello():
                return self._refuse(conn, member, now, "second hello")
        raise InvalidState(f"unhandled message {type(message).__name__}")

    def disconnect(self, conn: ConnId, now: float, *, refused: bool = False) -> list[Output]:
        """The socket closed by itself (network, tab closed, server going away), or
        ``refused``: the server closed it for a protocol error, so nobody comes back."""
        member = self.member_of(conn)
        if member is None:
            return []
        if refused:
            return self._leave(member.seat, now, LeaveReason.DISCONNECTED, None)
        return self._gone(member, now, LeaveReason.DISCONNECTED)

    def _gone(self, member: Member, now: float, reason: LeaveReason) -> list[Output]:
        """A member's socket is gone. A waiting client leaves; any other seat waits for
        its browser for ``resume_grace`` seconds."""
        if member.role is Role.CLIENT and self.admission(member.seat) is CallState.WAITING:
            return self._leave(member.seat, now, reason, None)
        member.conn = None
        member.away_since = now
        member.gone_at = member.last_seen if reason is LeaveReason.TIMEOUT else now
        member.away_reason = reason
        return []

    def tick(self, now: float) -> list[Output]:
        """Let time pass: silent members are gone, away ones leave, keys are renewed on time."""
        limit = HEARTBEAT_MISSES * self.config.heartbeat_interval
        out: list[Output] = []
        for seat, member in sorted(self.members.items()):
            if member.away_since is not None:
                if now - member.away_since > self.config.resume_grace:
                    # Billing ends where we last knew of the member, not now.
                    out += self._leave(seat, member.gone_at, member.away_reason, None)
            elif member.conn is not None and now - member.last_seen > limit:
                out.append(Close(member.conn, Timeout()))
                out += self._gone(member, now, LeaveReason.TIMEOUT)
        for member in list(self.members.values()):
            debounced = now - member.media_recorded_at >= self.config.media_debounce
            if member.present and member.reported is not member.media and debounced:
                out += self._record_media(member, member.reported_at, now)
            if member.media_state_due and now - member.media_state_sent_at >= MEDIA_STATE_INTERVAL:
                out += self._relay_media_state(member, now)
        if self.in_call and self.next_rekey is not None and now >= self.next_rekey:
            out += self._rekey(now)
        out += self._restart_rebuilt_sfu_call(now)
        return out

    def _restart_rebuilt_sfu_call(self, now: float) -> list[Output]:
        """A rebuilt room's call through the SFU starts anew when all its members are
        back, or when ``sfu_restart_at`` has come (those still away get the call when
        they are back). Its keys start a new epoch with it, as at every call start."""
        due = self.sfu_restart_at
        if due is None:
            return []
        if not all(m.present for m in self._call_members()) and now < due:
            return []
        self.sfu_restart_at = None
        if not self.in_call:
            # Nobody to call with yet: the call starts when they are.
            self.call_pending = self.state is CallState.ADMITTED
            return []
        log.info("room: the call through the SFU starts anew after a rebuild")
        return self._start_call(now)

    def _rekey(self, now: float) -> list[Output]:
        """A new key epoch for the call's members (the schedule, or a group's leave)."""
        self.epoch += 1
        self.next_rekey = now + self.config.rekey_interval
        log.info("room: rekey epoch %d", self.epoch)
        return [Send(m.conn, p.Rekey(self.epoch)) for m in self._call_members() if m.conn]

    def revoke(self, now: float) -> list[Output]:
        """The session was revoked: everybody out, nobody in."""
        out: list[Output] = []
        # Everybody goes at once, so nobody is told that another one left.
        for seat, member in sorted(self.members.items()):
            del self.members[seat]
            if member.conn is not None:
                out.append(Close(member.conn, SessionEnded("revoked")))
            at = now if member.present else min(member.gone_at, now)
            if member.media is p.MediaState.CONNECTED:
                out.append(member.event(EventKind.MEDIA_DISCONNECTED, member.disconnected_at(at)))
            out.append(member.event(EventKind.LEFT, at))
        self.admitted_resume.clear()
        if self.media_path is p.MediaPath.SFU:
            out.append(SfuEnd(self.session_id))
            self.media_path = None
        if not self.closed:
            log.info("room: %s -> CLOSED", self.state.name)
            self.closed = True
            self.admissions.clear()
        return out

    # --- the steps ------------------------------------------------------------

    def _record_media(self, member: Member, at: float, now: float) -> list[Output]:
        """Put the member's reported media state on file, as of ``at``."""
        member.media = member.reported
        member.media_recorded_at = now
        connected = member.media is p.MediaState.CONNECTED
        kind = EventKind.MEDIA_CONNECTED if connected else EventKind.MEDIA_DISCONNECTED
        return [member.event(kind, at)]

    def _waiting_clients(self) -> list[Member]:
        return [
            m for m in self._clients() if m.present and self.admission(m.seat) is CallState.WAITING
        ]

    def _admit(self, conn: ConnId, member: Member, seat: int | None, now: float) -> list[Output]:
        if member.role is not Role.THERAPIST:
            return self._refuse(conn, member, now, "admit by client")
        targets = [m for m in self._waiting_clients() if seat in (None, m.seat)]
        if not targets:
            # The client may have left a moment ago: tell, but keep the therapist.
            return [Send(conn, p.Error.of(NoPeer()))]
        people = len(self._call_members()) + len(targets) + (0 if self._in_call(member) else 1)
        if people > MESH_LIMIT and not self.config.sfu:
            # Nobody is admitted: the therapist chooses whom (the call goes on as it is).
            return [Send(conn, p.Error.of(GroupNeedsSfu(f"{people} people")))]
        out: list[Output] = []
        for client in targets:
            self._transition(client.seat, CallState.ADMITTED)
            if client.resume is not None:
                self.admitted_resume[client.seat] = client.resume
            out.append(client.event(EventKind.ADMITTED, now))
        self.room_check_done = False  # every admission starts with the room check
        return out + self._start_call(now)

    def _decline(self, conn: ConnId, member: Member, seat: int | None, now: float) -> list[Output]:
        """Send clients away, waiting or in the call (a group's therapist removes a
        member so): ``seat``'s, or every client here."""
        if member.role is not Role.THERAPIST:
            return self._refuse(conn, member, now, "decline by client")
        targets = [m for m in self._clients() if m.present and seat in (None, m.seat)]
        if not targets:
            return [Send(conn, p.Error.of(NoPeer()))]
        out: list[Output] = []
        for client in targets:
            assert client.conn is not None  # only present clients are declined
            out.append(Send(client.conn, p.Declined()))
            out += self._leave(client.seat, now, LeaveReason.HANGUP, Close(client.conn))
        return out

    def _default_target(self, member: Member) -> int | None:
        """Whom a relayed message without ``to`` is for: a client's goes to the
        therapist, the therapist's to the one admitted client (a one-to-one call)."""
        if member.role is Role.CLIENT:
            return seats.THERAPIST
        admitted = [m.seat for m in self._clients() if self._in_call(m)]
        return admitted[0] if len(admitted) == 1 else None

    def _relay(
        self,
        conn: ConnId,
        member: Member,
        message: p.Relayable | p.RoomCheckDone | p.MuteRequest,
        now: float,
    ) -> list[Output]:
        if not self._in_call(member):
            if member.role is Role.CLIENT and not member.had_call:
                # Only an admitted client may reach another browser.
                return self._refuse(conn, member, now, "relay before admission")
            # Nothing reaches anyone; a candidate still on its way when the
            # therapist hung up only gets the notice.
            return [Send(conn, p.Error.of(NoPeer()))]
        if isinstance(message, p.RoomCheckDone):
            receivers = [m for m in self._call_members() if m is not member]
        else:
            to = message.to if message.to is not None else self._default_target(member)
            target = self.members.get(to) if to is not None else None
            if target is None or target is member or not self._in_call(target):
                return [Send(conn, p.Error.of(NoPeer()))]
            receivers = [target]
            if self.relay_only:
                # Defence in depth: even a browser that ignores the policy cannot
                # hand another one an address of its own.
                match message:
                    case p.Candidate(candidate=c):
                        kept = relay_candidate(c)
                        if kept is None:
                            return []
                        message = dataclasses.replace(message, candidate=kept)
                    case p.Offer(sdp=sdp):
                        message = dataclasses.replace(message, sdp=relay_only_sdp(sdp))
                    case p.Answer(sdp=sdp):
                        message = dataclasses.replace(message, sdp=relay_only_sdp(sdp))
        if not receivers:
            return [Send(conn, p.Error.of(NoPeer()))]
        relayed = p.Relayed(message, member.role, member.seat)
        out: list[Output] = []
        for receiver in receivers:
            if receiver.conn is None:
                # Its socket is being restored: it gets this when it is back.
                if len(receiver.pending) < AWAY_BUFFER:
                    receiver.pending.append(relayed)
            else:
                out.append(Send(receiver.conn, relayed))
        return out

    def _to_sfu(
        self, conn: ConnId, member: Member, message: p.SfuPublish | p.SfuSubscribed, now: float
    ) -> list[Output]:
        """Only a member of a call on the SFU path reaches the SFU, and only about
        the members of that call."""
        if not self._in_call(member):
            if member.role is Role.CLIENT and not member.had_call:
                return self._refuse(conn, member, now, "sfu before admission")
            return [Send(conn, p.Error.of(NoPeer()))]
        if self.media_path is not p.MediaPath.SFU or self.call_id is None:
            return [Send(conn, p.Error.of(NoPeer()))]
        if message.call is not None and message.call != self.call_epoch:
            # Said by a link of an earlier start, before its page heard of this one:
            # that start's room at the SFU is gone, and an answer would start one of
            # this start's subscriptions with the wrong connection's credentials.
            return []
        if isinstance(message, p.SfuSubscribed):
            source = self.members.get(message.seat)
            if source is None or source is member or not self._in_call(source):
                return [Send(conn, p.Error.of(NoPeer()))]
        return [SfuRelay(self.session_id, self.call_id, member.seat, message, self.call_epoch)]

    def _quality(
        self, conn: ConnId, member: Member, message: p.Quality, now: float
    ) -> list[Output]:
        if member.role is Role.CLIENT and not self._in_call(member):
            # A waiting client must not be able to write anything into the store.
            return self._refuse(conn, member, now, "quality before admission")
        if not self.in_call or self.call_id is None:
            # A summary racing the end of the call: nothing to attach it to.
            return []
        if member.last_quality is not None and now - member.last_quality < QUALITY_MIN_INTERVAL:
            return []  # faster than any browser sends: a bug or a flood, not kept
        member.last_quality = now
        self.relayed = message.relayed
        return [StoreSample(self.call_id, message, now)]

    def _may_hear(self, to: Member, of: Member) -> bool:
        """Whether ``to`` is told of ``of``'s camera and microphone: the therapist of a
        client from its knock on (a knocking client without either is worth knowing
        before admitting it); a client of the others only while both are in the call."""
        if to is of:
            return False
        if to.role is Role.THERAPIST:
            return True
        return self._in_call(to) and self._in_call(of)

    def _media_state_of(self, member: Member | None, to: Member | None) -> list[Output]:
        """``member``'s latest ``media-state`` for ``to``, if there is one it may hear."""
        if member is None or member.media_state is None or to is None or to.conn is None:
            return []
        if not self._may_hear(to, member):
            return []
        return [Send(to.conn, p.Relayed(member.media_state, member.role, member.seat))]

    def _media_states_for(self, member: Member) -> list[Output]:
        """Every other member's latest ``media-state`` that ``member`` may hear."""
        return [x for m in self._ordered() for x in self._media_state_of(m, member)]

    def _relay_media_state(self, member: Member, now: float) -> list[Output]:
        """``member``'s latest ``media-state`` to the members that may hear it now
        (the others get it when they may: at admission, or when they are back)."""
        member.media_state_due = False
        out = [x for m in self._ordered() for x in self._media_state_of(member, m)]
        if out:
            member.media_state_sent_at = now
        return out

    def _audience(self, member: Member) -> list[Member]:
        """Who hears of ``member`` joining and leaving: of the therapist, the clients;
        of a client, the therapist and, while it is in the call, the others in it."""
        if member.role is Role.THERAPIST:
            return [m for m in self._clients() if m is not member]
        others = (
            [m for m in self._call_members() if m is not member] if self._in_call(member) else []
        )
        therapist = self.members.get(seats.THERAPIST)
        if therapist is None or therapist in others:
            return others
        return [therapist, *others]

    def _knock(self, client: Member) -> p.Knock:
        """A client seat's knock, with its name and consent, for the therapist."""
        return p.Knock(name=client.name, consent=client.consent, seat=client.seat)

    def _tell_therapist(self, notice: p.Notice) -> list[Output]:
        therapist = self.members.get(seats.THERAPIST)
        if therapist is None:
            return []
        if therapist.conn is None:
            if len(therapist.pending) < AWAY_BUFFER:
                therapist.pending.append(notice)  # it hears of it when it is back
            return []
        return [Send(therapist.conn, notice)]

    def _refuse(self, conn: ConnId, member: Member, now: float, why: str) -> list[Output]:
        log.info("room: refused %s from %s", why, member.role.value)
        close = Close(conn, NotAllowed(why))
        return self._leave(member.seat, now, LeaveReason.DISCONNECTED, close, refused=True)

    def _leave(
        self,
        seat: int,
        now: float,
        reason: LeaveReason,
        close: Close | None,
        *,
        refused: bool = False,
    ) -> list[Output]:
        member = self.members[seat]
        audience = self._audience(member)  # who knew of it, before anything changes
        del self.members[seat]
        role = member.role
        out: list[Output] = [] if close is None else [close]
        if member.media is p.MediaState.CONNECTED:
            out.append(member.event(EventKind.MEDIA_DISCONNECTED, member.disconnected_at(now)))
        out.append(member.event(EventKind.LEFT, now))
        was_waiting = role is Role.CLIENT and self.admission(seat) is CallState.WAITING
        # Admission ends with a hang-up, a decline or a refusal; it survives a lost
        # socket or a timeout so that the client comes straight back into the call.
        ends_admission = was_waiting or reason in _HANG_UPS or refused
        if role is Role.CLIENT and ends_admission and self.admission(seat) in _ADMISSION:
            self._transition(seat, CallState.IDLE)
            self.admitted_resume.pop(seat, None)
        elif role is Role.THERAPIST and reason is LeaveReason.HANGUP:
            # The therapist's hang-up ends every client's admission: whoever comes
            # back with a client link, even an admitted browser, knocks.
            for client, state in list(self.admissions.items()):
                if state is CallState.ADMITTED:
                    held = client in self.members
                    self._transition(client, CallState.WAITING if held else CallState.IDLE)
            self.admitted_resume.clear()
        if self.media_path is p.MediaPath.SFU and not was_waiting:
            # Its media at the SFU goes with it; the whole room when the call is over.
            out.append(SfuLeave(self.session_id, seat) if self.in_call else SfuEnd(self.session_id))
        if not self.in_call:
            # The call is over: its id is forgotten, a restart gets a new one.
            self.call_id = None
            self.call_epoch = None
            self.sfu_restart_at = None
            self.relayed = None
            self.media_path = None
        news: p.ServerMessage
        if was_waiting:
            news = p.KnockCancelled(seat=seat)
            audience = [m for m in audience if m.role is Role.THERAPIST]
        else:
            news = p.PeerLeft(role, reason, seat=seat)
        for other in audience:
            if other.conn is not None:
                out.append(Send(other.conn, news))
            elif len(other.pending) < AWAY_BUFFER:
                other.pending.append(news)  # it hears of it when it is back
        if not was_waiting and self.in_call and self.client_seats > 1:
            # A group call goes on without it: new sender keys for those still
            # here, so that what follows is closed to the one who left.
            out += self._rekey(now)
        return out

    def _start_call(self, now: float) -> list[Output]:
        """``admitted`` to every member of the call, each with its own fresh ICE
        credentials and the others it connects to.

        A fresh peer connection means a fresh key agreement in a new epoch, and
        the renewal clock starts again.
        """
        policy = p.IceTransportPolicy.RELAY if self.relay_only else p.IceTransportPolicy.ALL
        members = self._call_members()
        path = p.MediaPath.SFU if len(members) > MESH_LIMIT else p.MediaPath.MESH
        # The SFU's room of the call before (if any) goes; the new one is made with
        # the first publication.
        ended: list[Output] = (
            [SfuEnd(self.session_id)] if self.media_path is p.MediaPath.SFU else []
        )
        self.media_path = path
        self.sfu_restart_at = None
        self.epoch += 1
        self.next_rekey = now + self.config.rekey_interval
        self.call_id = self.config.call_ids()
        self.call_epoch = self.epoch
        self.relayed = None
        # A member away at the start gets the call when it is back.
        self.call_pending = any(not m.present for m in members)
        present = [m for m in members if m.conn is not None]
        for m in present:
            m.had_call = True
        admitted: list[Output] = [
            Send(
                m.conn,
                p.Admitted(
                    ice_servers=self.config.ice.public_servers(),
                    ice_transport_policy=policy,
                    epoch=self.epoch,
                    rekey_interval=self.config.rekey_interval,
                    e2ee_required=self.config.e2ee_required,
                    max_bitrate_kbps=self.config.max_bitrate_kbps,
                    relay_max_bitrate_kbps=self.config.relay_max_bitrate_kbps,
                    room_check=not self.room_check_done,
                    peers=[p.Peer(o.seat, o.role, o.name) for o in present if o is not m],
                    media_path=path,
                ),
                self._grant(m, now),
            )
            for m in present
            if m.conn is not None
        ]
        # Each fresh connection's page starts without the others' state: tell it.
        for m in present:
            admitted += self._media_states_for(m)
        return ended + admitted

    def _nettest(self, conn: ConnId, member: Member, now: float) -> list[Output]:
        """Relay credentials for the page's own network test, also before admission
        (a waiting client, a therapist alone): short-lived (``NETTEST_TTL``), at most
        one set per ``NETTEST_INTERVAL`` (a faster ask is dropped: the page keeps what
        it got), minted by the hub like a call's. Nothing is recorded."""
        if now - member.nettest_at < NETTEST_INTERVAL:
            return []
        member.nettest_at = now
        until = min(member.valid_until, now + NETTEST_TTL)
        grant = IceGrant(self.session_id, member.role, now, until)
        return [Send(conn, p.NetTestServers(ttl=NETTEST_TTL), grant)]

    def _grant(self, member: Member, now: float) -> IceGrant:
        """Fresh relay credentials for one member of a call, of its own: valid for
        ``turn_ttl`` and never after its admission ends (minted by the hub)."""
        return IceGrant(self.session_id, member.role, now, member.valid_until)

    def _ordered(self) -> list[Member]:
        return [m for _seat, m in sorted(self.members.items())]

    def _transition(self, seat: int, new: CallState) -> None:
        """The one place a client seat's admission changes."""
        old = self.admission(seat)
        if new not in _ALLOWED[old]:
            raise InvalidState(f"seat {seat} is {old.name}, cannot become {new.name}")
        log.info("room: seat %d %s -> %s", seat, old.name, new.name)
        if new is CallState.IDLE:
            self.admissions.pop(seat, None)
        else:
            self.admissions[seat] = new
