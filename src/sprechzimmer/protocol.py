"""The signaling protocol of ``docs/protocol.md`` as dataclasses, and its codec.

Each message is a frozen dataclass whose ``TYPE`` is its ``type`` on the wire.
``decode_client`` is the only way bytes from a browser become a message: it
checks size, JSON shape, every field's type and bound, and rejects unknown or
extra fields. ``decode_server`` is its mirror for a client written in Python
(the headless peer, ``tools/peer.py``): as strict about every field it knows,
but, like the browser, it drops fields it does not know. ``encode`` writes
messages of both directions. Nothing here does I/O or keeps state.

The golden vectors in ``tests/vectors/protocol/`` are examples of the document
that this codec and the browser's (``static/js/protocol.js``) are both tested
against.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import math
import re
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Union, get_args, get_origin, get_type_hints

import orjson

from .errors import BadMessage, NameInvalid, SprechzimmerError, TooLarge
from .tokens import looks_like_session_id, looks_like_token

PROTOCOL_VERSION = 1
MAX_SDP = 60_000

DEFAULT_MAX_MESSAGE_BYTES = 65_536
"""The default of ``SPRECHZIMMER_MAX_MESSAGE_BYTES``, and the most the browser ever sends."""
MAX_MESSAGE_BYTES_LIMIT = 1 << 20
"""The highest that setting may be."""
MAX_SERVER_FRAME_BYTES = MAX_MESSAGE_BYTES_LIMIT + 1024
"""The longest frame a client reads from the server: what a browser may send at the
highest limit, plus what the relay adds (``from``, nulls for left-out fields)."""
MAX_RESUME = 128
"""Longest resume ticket."""
MAX_ICE_URL = 512
"""Longest STUN or TURN URL a client takes from the server."""
MAX_SAFE_INTEGER = 2**53 - 1
"""The largest integer a JavaScript number holds exactly: the bound of a key epoch."""
MAX_SEAT = 8
"""The highest seat number: eight client seats (``seats.py``); 0 is the therapist's."""
ROLE_SEAT = -1
"""A seat field's default: the role's seat in a one-to-one session, set on creation."""


def _role_seat(message: Any, role: Role, name: str = "seat") -> None:
    """Put the role's one-to-one seat (0 or 1) into a message made without one."""
    if getattr(message, name) == ROLE_SEAT:
        object.__setattr__(message, name, 0 if role is Role.THERAPIST else 1)


MAX_CLIENT_NAME = 80
"""Characters of the name a client asks to be addressed by, at most."""
# Control characters (C0, DEL, C1), line and paragraph separators and the bidi
# embeddings, overrides and isolates: each could break a line on the therapist's
# screen or make a name read as another. Written as code points, not as Unicode
# categories, so that Python and every browser agree whatever Unicode they know.
_NAME_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


class Role(enum.StrEnum):
    THERAPIST = "therapist"
    CLIENT = "client"

    @property
    def other(self) -> Role:
        return Role.CLIENT if self is Role.THERAPIST else Role.THERAPIST


def _bound(n: int, default: str | None = "") -> Any:
    """A string field with an upper length bound; wire presence is checked by ``_REQUIRED``."""
    return field(default=default, metadata={"max": n})


_ABSENT_NOT_NULL: Mapping[str, Any] = {"nullable": False}
"""Metadata of an optional field that may be left out but is never null on the wire
(its ``None`` means absent; the encoder leaves it out)."""


def _range(low: float, high: float) -> Any:
    """An optional number field within ``low..high``; null or absent means not measured."""
    return field(default=None, metadata={"min": low, "max": high})


_POSITIVE: Mapping[str, Any] = {"min": math.ulp(0.0), "max": math.inf}
"""Metadata of a number field above 0 (its ``min`` is the least float above 0)."""


# --- from the browser -------------------------------------------------------


@dataclass(frozen=True)
class Hello:
    TYPE: ClassVar[str] = "hello"
    session: str = field(
        default="", metadata={"max": 32, "format": (looks_like_session_id, "32 lowercase hex")}
    )
    token: str = field(
        default="", metadata={"max": 43, "format": (looks_like_token, "43 characters base64url")}
    )
    protocol: int = PROTOCOL_VERSION
    role: Role | None = field(default=None, metadata=_ABSENT_NOT_NULL)
    resume: str | None = field(default=None, metadata={"max": MAX_RESUME, **_ABSENT_NOT_NULL})
    """The resume ticket of an earlier ``welcome`` in this tab."""
    epoch: int | None = field(default=None, metadata={"max": 2**31 - 1, **_ABSENT_NOT_NULL})
    """The key epoch the browser is in, when it resumes (a restarted server forgot it)."""
    relay_only: bool | None = field(default=None, metadata=_ABSENT_NOT_NULL)
    """The therapist's running call is relay-only, when it resumes: a rebuilt room keeps it."""
    name: str | None = field(default=None, repr=False, metadata=_ABSENT_NOT_NULL)
    """The client's name as it wants to be addressed (``check_client_name``): for the
    therapist's screen only, kept with the seat in memory; never in a repr or a log."""
    consent: bool | None = field(default=None, metadata=_ABSENT_NOT_NULL)
    """The client confirmed the terms of use and the privacy notice on its page."""


def client_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be shown as a client's name, or None. The answer never
    quotes the name (it goes into logs as an error's detail)."""
    if len(name) > MAX_CLIENT_NAME:
        return f"longer than {MAX_CLIENT_NAME}"
    if _NAME_FORBIDDEN.search(name):
        return "a control character"
    if not name.strip():
        return "blank"
    return None


def _seat(least: int = 0) -> Any:
    """An optional seat number on the wire (absent, never null)."""
    return field(default=None, metadata={"min": least, "max": MAX_SEAT, **_ABSENT_NOT_NULL})


@dataclass(frozen=True)
class Admit:
    TYPE: ClassVar[str] = "admit"
    seat: int | None = _seat(1)
    """The client seat to admit; absent: every client seat that knocks now."""


@dataclass(frozen=True)
class Decline:
    TYPE: ClassVar[str] = "decline"
    seat: int | None = _seat(1)
    """The client seat to decline; absent: every client seat that knocks now."""


def _call() -> Any:
    """The call start a message of a group's links belongs to (``admitted.epoch``): a
    page drops what its peer's connection of an earlier start still said. Optional,
    never null; relayed as it came."""
    return field(default=None, metadata={"min": 0, "max": MAX_SAFE_INTEGER, **_ABSENT_NOT_NULL})


@dataclass(frozen=True)
class Offer:
    TYPE: ClassVar[str] = "offer"
    sdp: str = _bound(MAX_SDP)
    to: int | None = _seat()
    """The seat it is for; absent: the one other member of a one-to-one call."""
    call: int | None = _call()


@dataclass(frozen=True)
class Answer:
    TYPE: ClassVar[str] = "answer"
    sdp: str = _bound(MAX_SDP)
    to: int | None = _seat()
    call: int | None = _call()


@dataclass(frozen=True)
class Candidate:
    TYPE: ClassVar[str] = "candidate"
    candidate: str = _bound(1024)
    sdpMid: str | None = _bound(64, None)
    sdpMLineIndex: int | None = field(default=None, metadata={"max": 255})
    usernameFragment: str | None = _bound(256, None)
    """``RTCIceCandidate.toJSON()`` adds it; it tells candidates of an old ICE session apart."""
    to: int | None = _seat()
    call: int | None = _call()


@dataclass(frozen=True)
class Restart:
    TYPE: ClassVar[str] = "restart"
    to: int | None = _seat()
    call: int | None = _call()


class NegotiationFailure(enum.StrEnum):
    """Why the browsers cannot set up media between them; a retry would not help."""

    SDP_REFUSED = "sdp-refused"
    """A browser refused the other's offer or answer (or could not make its own)."""
    NO_COMMON_CODEC = "no-common-codec"
    """The answer turned a media section down: no codec both browsers have."""
    TRANSFORM_FAILED = "transform-failed"
    """Frame encryption's transform could not be put on a sender or receiver."""


@dataclass(frozen=True)
class NegotiationFailed:
    """My browser cannot set up the call's media with yours: stop, tell the person why."""

    TYPE: ClassVar[str] = "negotiation-failed"
    reason: NegotiationFailure = NegotiationFailure.SDP_REFUSED
    to: int | None = _seat()


class MediaState(enum.StrEnum):
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"


@dataclass(frozen=True)
class Media:
    TYPE: ClassVar[str] = "media"
    state: MediaState = MediaState.CONNECTED


@dataclass(frozen=True)
class RelayOnly:
    """The therapist asks that all media go through the relay (or lifts it)."""

    TYPE: ClassVar[str] = "relay-only"
    enabled: bool = True


class CandidateType(enum.StrEnum):
    """The ICE candidate type of one end of the selected pair (no address, ever)."""

    HOST = "host"
    SRFLX = "srflx"
    PRFLX = "prflx"
    RELAY = "relay"
    UNKNOWN = "unknown"


QUALITY_ERROR_CODES: frozenset[str] = frozenset(
    {
        "ice-failed",
        "ice-restart",
        "decrypt-failed",
        "no-key",
        "gum-failed",
        "e2ee-unsupported",
        "compat-mode",
        *(reason.value for reason in NegotiationFailure),
    }
)
"""What ``quality.errors`` may name; anything else is a bad message."""

MAX_BITRATE_KBPS = 100_000
# The defaults of a call's configuration (``admitted``), written once: the
# room's, the settings' and what a browser keeps when a server leaves them out.
DEFAULT_REKEY_INTERVAL = 600.0
DEFAULT_MAX_BITRATE_KBPS = 2500
DEFAULT_RELAY_MAX_BITRATE_KBPS = 1000
MAX_MS = 60_000


@dataclass(frozen=True)
class Quality:
    """An anonymous summary of the sender's side of the call, about every 30 s.

    Numbers are optional: null or absent means the browser could not measure it.
    """

    TYPE: ClassVar[str] = "quality"
    bitrate_out_kbps: float | None = _range(0, MAX_BITRATE_KBPS)
    bitrate_in_kbps: float | None = _range(0, MAX_BITRATE_KBPS)
    loss_pct: float | None = _range(0, 100)
    """Inbound packet loss over the interval, in percent."""
    rtt_ms: float | None = _range(0, MAX_MS)
    jitter_ms: float | None = _range(0, MAX_MS)
    fps: float | None = _range(0, 120)
    """Frames per second of the received video."""
    height: int | None = field(default=None, metadata={"max": 4320})
    """Height in pixels of the received video."""
    local_candidate: CandidateType = CandidateType.UNKNOWN
    remote_candidate: CandidateType = CandidateType.UNKNOWN
    errors: str = _bound(256)
    """Comma-separated codes from ``QUALITY_ERROR_CODES`` seen since the last summary."""

    @property
    def error_codes(self) -> frozenset[str]:
        return frozenset(self.errors.split(",")) if self.errors else frozenset()

    @property
    def relayed(self) -> bool:
        return CandidateType.RELAY in (self.local_candidate, self.remote_candidate)


def _check_error_codes(errors: str) -> None:
    if not errors:
        return
    for code in errors.split(","):
        if code not in QUALITY_ERROR_CODES:
            raise BadMessage("quality.errors: unknown code")


class DeviceState(enum.StrEnum):
    """One of the sender's own devices, as its page shows it."""

    ON = "on"
    OFF = "off"
    """Switched off by the person (muted, camera off)."""
    NONE = "none"
    """Not available: none there, access not allowed, or in use by another program."""


@dataclass(frozen=True)
class MediaStateReport:
    """The sender's own camera and microphone, for the other member's page.

    Relayed with ``from`` and kept in the room's memory only (the latest one per
    member), never stored and never logged."""

    TYPE: ClassVar[str] = "media-state"
    camera: DeviceState = DeviceState.ON
    microphone: DeviceState = DeviceState.ON
    audio_only: bool = False
    """The person chose audio only (its video is paused by choice, not by the link)."""
    paused: bool = False
    """The privacy pause: the sender stopped its camera and microphone at once
    (someone came into its room) and asks the other page to do the same until it
    resumes. Optional on the wire (absent: not paused). No time travels with it:
    each page shows when it learned of the pause, by its own clock."""
    screen: bool = False
    """The sender shows its screen or a window in its camera's place (screen
    sharing): the other page shows the picture whole, not cropped, and says
    whose screen it is. Optional on the wire (absent: the camera). The frames
    themselves go peer to peer, frame-encrypted like the camera's."""


@dataclass(frozen=True)
class MuteRequest:
    """The therapist asks a member of a group to switch its microphone off, for
    everyone: the member's page asks the person, who decides. Nothing is switched
    from outside; the therapist sees the answer in the member's ``media-state``."""

    TYPE: ClassVar[str] = "mute-request"
    to: int | None = _seat(1)
    """The client seat asked; absent: the one admitted client."""


MAX_GROUP_KEY = 512
"""Characters of a group-key message (static/js/groupkeys.js ``MAX_GROUP_MESSAGE``)."""


@dataclass(frozen=True)
class GroupKey:
    """A group-key message (*Group keys*: a member's call key, a sealed sender key, an
    acknowledgement) for one member, on the SFU path, where the members have no data
    channel between them: relayed unchanged, only between members of the call. The
    server cannot open it (the sender keys are sealed under the pairs' keys) and does
    not read it; a substituted call key shows as another group code."""

    TYPE: ClassVar[str] = "group-key"
    data: str = _bound(MAX_GROUP_KEY)
    to: int | None = _seat()


@dataclass(frozen=True)
class SfuPublish:
    """On the SFU path: the member's offer to send its (frame-encrypted) media to the
    SFU, with all its candidates (no trickling). The server hands it to the SFU and
    answers ``sfu-published``."""

    TYPE: ClassVar[str] = "sfu-publish"
    sdp: str = _bound(MAX_SDP)
    call: int | None = _call()


@dataclass(frozen=True)
class SfuSubscribed:
    """On the SFU path: the member's answer to ``sfu-subscribe`` for the media of
    ``seat``, with all its candidates; the server hands it to the SFU."""

    TYPE: ClassVar[str] = "sfu-subscribed"
    seat: int = field(default=0, metadata={"min": 0, "max": MAX_SEAT})
    sdp: str = _bound(MAX_SDP)
    call: int | None = _call()


@dataclass(frozen=True)
class RoomCheckDone:
    """The therapist ticked the room check off ("Are you undisturbed? ..."): it goes
    from both pages. Relayed to the client with ``from``; the room remembers it for
    this admission only, in memory."""

    TYPE: ClassVar[str] = "room-check-done"


@dataclass(frozen=True)
class NetTest:
    """The page wants to test its way to the relay (the network test, before or
    during a call): the server answers ``nettest-servers`` with short-lived relay
    credentials of this member's own. Never relayed, never stored."""

    TYPE: ClassVar[str] = "nettest"


@dataclass(frozen=True)
class Ping:
    TYPE: ClassVar[str] = "ping"


class ByeReason(enum.StrEnum):
    QUICK_EXIT = "quick-exit"
    """The client left by its quick way out (a button, Escape twice): the therapist's
    page says the person left abruptly. From a therapist it is a plain hang-up."""


@dataclass(frozen=True)
class Bye:
    TYPE: ClassVar[str] = "bye"
    reason: ByeReason | None = field(default=None, metadata=_ABSENT_NOT_NULL)
    """Absent: a hang-up."""


ClientMessage = Union[  # noqa: UP007
    Hello,
    Admit,
    Decline,
    Offer,
    Answer,
    Candidate,
    Restart,
    NegotiationFailed,
    Media,
    RelayOnly,
    Quality,
    MediaStateReport,
    RoomCheckDone,
    MuteRequest,
    NetTest,
    GroupKey,
    SfuPublish,
    SfuSubscribed,
    Ping,
    Bye,
]
Relayable = Offer | Answer | Candidate | Restart | NegotiationFailed | GroupKey
RELAYABLE: tuple[type, ...] = (Offer, Answer, Candidate, Restart, NegotiationFailed, GroupKey)
"""What the call relays unchanged, only between admitted members."""
WITH_FROM: tuple[type, ...] = (*RELAYABLE, MediaStateReport, RoomCheckDone, MuteRequest)
"""What reaches another member with ``from``: the call's relays, ``media-state``,
``room-check-done`` and ``mute-request``."""

_CLIENT_TYPES: dict[str, type] = {cls.TYPE: cls for cls in get_args(ClientMessage)}


# --- from the server --------------------------------------------------------


# As the browser's protocol.js reads them (a relay URL's scheme in any case).
_ICE_URL = re.compile(r"(?:stun|stuns|turn|turns):")
_TURN_URL = re.compile(r"turns?:", re.IGNORECASE)


@dataclass(frozen=True)
class IceServerInfo:
    """One ``RTCIceServer``."""

    urls: list[str] = field(
        metadata={
            "items": {"max": MAX_ICE_URL, "format": (_ICE_URL.match, "a stun:/turn: URL")},
            "min_items": 1,
            "one_or_list": True,
        }
    )
    """Never empty; a lone string is a list of one (``RTCIceServer`` allows it)."""
    username: str | None = _bound(512, None)
    credential: str | None = _bound(512, None)


@dataclass(frozen=True)
class Welcome:
    TYPE: ClassVar[str] = "welcome"
    role: Role
    session: str = field(metadata={"max": 64})
    client_id: str | None = field(metadata={"max": 64})
    ice_servers: list[IceServerInfo]
    """With TURN credentials only while the client is admitted (a seat taken back
    during a call); otherwise the STUN servers alone."""
    heartbeat_interval: float = field(metadata=_POSITIVE)
    polite: bool
    resume: str = field(metadata={"max": MAX_RESUME})
    peer_present: bool
    admitted: bool
    resumed: bool = False
    """The seat was taken back with its ticket: keep the running call as it is."""
    peer_name: str | None = field(default=None, repr=False, metadata={"max": MAX_CLIENT_NAME})
    seat: int = field(default=ROLE_SEAT, metadata={"max": MAX_SEAT})
    """This member's own seat (0: the therapist's)."""
    seats: int = field(default=1, metadata={"min": 1, "max": MAX_SEAT})
    """The session's client seats: more than one is a group session."""

    def __post_init__(self) -> None:
        _role_seat(self, self.role)

    """To the therapist: the name of the client whose seat is held (waiting, admitted
    or away), or None; to a client always None."""
    relay_urls: list[str] = field(
        default_factory=list,
        metadata={"items": {"max": MAX_ICE_URL, "format": (_TURN_URL.match, "a turn: URL")}},
    )
    """The TURN URLs the server offers, without credentials: whether relay-only and
    compatibility mode can work, known before a call; never an ICE server."""


@dataclass(frozen=True)
class Waiting:
    TYPE: ClassVar[str] = "waiting"


@dataclass(frozen=True)
class Knock:
    """The client waits: with what the therapist may know of the knocking seat."""

    TYPE: ClassVar[str] = "knock"
    name: str | None = field(default=None, repr=False, metadata={"max": MAX_CLIENT_NAME})
    """The name it asked to be addressed by; None when it gave none (operator's choice)."""
    consent: bool = False
    """It confirmed the terms of use and the privacy notice before joining."""
    seat: int = field(default=1, metadata={"min": 1, "max": MAX_SEAT})
    """The client seat that knocks."""


@dataclass(frozen=True)
class KnockCancelled:
    TYPE: ClassVar[str] = "knock-cancelled"
    seat: int = field(default=1, metadata={"min": 1, "max": MAX_SEAT})
    """The client seat that no longer knocks."""


@dataclass(frozen=True)
class Peer:
    """A member of the call, in ``admitted``: whom this browser connects to."""

    seat: int = field(metadata={"max": MAX_SEAT})
    role: Role
    name: str | None = field(default=None, repr=False, metadata={"max": MAX_CLIENT_NAME})
    """A client's name, to the therapist and, in a group, to the other members."""


class IceTransportPolicy(enum.StrEnum):
    ALL = "all"
    RELAY = "relay"


class MediaPath(enum.StrEnum):
    """How a call's media goes: browser to browser (a one-to-one call, a group of up
    to three) or through the operator's SFU (a larger group)."""

    MESH = "mesh"
    SFU = "sfu"


@dataclass(frozen=True)
class Admitted:
    TYPE: ClassVar[str] = "admitted"
    ice_servers: list[IceServerInfo] = field(default_factory=list)
    """Fresh, short-lived TURN credentials for this member only."""
    ice_transport_policy: IceTransportPolicy = IceTransportPolicy.ALL
    epoch: int = field(default=1, metadata={"max": MAX_SAFE_INTEGER})
    """Key epoch of the fresh peer connection; its first ECDH uses it."""
    rekey_interval: float = field(default=DEFAULT_REKEY_INTERVAL, metadata=_POSITIVE)
    e2ee_required: bool = True
    max_bitrate_kbps: int = field(
        default=DEFAULT_MAX_BITRATE_KBPS, metadata={"min": 1, "max": MAX_BITRATE_KBPS}
    )
    """The operator's cap on each outgoing video stream."""
    relay_max_bitrate_kbps: int = field(
        default=DEFAULT_RELAY_MAX_BITRATE_KBPS, metadata={"min": 1, "max": MAX_BITRATE_KBPS}
    )
    """The lower cap while the selected candidate pair goes through the relay."""
    room_check: bool = True
    """Show the room check at this start: the therapist has not ticked it off during
    this admission yet."""
    peers: list[Peer] = field(default_factory=list)
    """The other members of the call at this start, by seat: each browser connects
    to each of them (a one-to-one call has one)."""
    media_path: MediaPath = MediaPath.MESH
    """``mesh``: a connection to each peer; ``sfu``: through the SFU (more than three)."""


@dataclass(frozen=True)
class Rekey:
    """Time for a fresh key agreement between the browsers (the server never sees a key)."""

    TYPE: ClassVar[str] = "rekey"
    epoch: int = field(metadata={"max": MAX_SAFE_INTEGER})


@dataclass(frozen=True)
class Declined:
    TYPE: ClassVar[str] = "declined"


@dataclass(frozen=True)
class PeerJoined:
    TYPE: ClassVar[str] = "peer-joined"
    role: Role
    admitted: bool
    name: str | None = field(default=None, repr=False, metadata={"max": MAX_CLIENT_NAME})
    """A client's name, to the therapist and, in a group, to the other members."""
    seat: int = field(default=ROLE_SEAT, metadata={"max": MAX_SEAT})

    def __post_init__(self) -> None:
        _role_seat(self, self.role)


class LeaveReason(enum.StrEnum):
    HANGUP = "hangup"
    QUICK_EXIT = "quick-exit"
    """A hang-up by the client's quick way out (``bye`` with ``reason: "quick-exit"``)."""
    DISCONNECTED = "disconnected"
    TIMEOUT = "timeout"


@dataclass(frozen=True)
class PeerLeft:
    TYPE: ClassVar[str] = "peer-left"
    role: Role
    reason: LeaveReason
    seat: int = field(default=ROLE_SEAT, metadata={"max": MAX_SEAT})

    def __post_init__(self) -> None:
        _role_seat(self, self.role)


class NoticeKind(enum.StrEnum):
    LINK_IN_USE = "link-in-use"
    """Someone tried the client link while the client's seat was held (``occupied``)."""


@dataclass(frozen=True)
class Notice:
    """Something the therapist should know that needs no answer; it names nobody."""

    TYPE: ClassVar[str] = "notice"
    notice: NoticeKind


@dataclass(slots=True)
class Relayed:
    """A message on its way to another member, with its sender's role and seat
    (``from``, ``from_seat``).

    Not frozen: one is made per relayed message (see ``room.Send``)."""

    message: Relayable | MediaStateReport | RoomCheckDone | MuteRequest
    sender: Role
    sender_seat: int = ROLE_SEAT

    def __post_init__(self) -> None:
        _role_seat(self, self.sender, "sender_seat")


@dataclass(frozen=True)
class Pong:
    TYPE: ClassVar[str] = "pong"


@dataclass(frozen=True)
class SfuPublished:
    """The SFU's answer to the member's ``sfu-publish``: its media goes out."""

    TYPE: ClassVar[str] = "sfu-published"
    sdp: str = _bound(MAX_SDP)
    call: int | None = _call()


@dataclass(frozen=True)
class SfuSubscribe:
    """The SFU's offer of the media of ``seat`` (frame-encrypted by its sender): the
    member answers ``sfu-subscribed`` with the same seat."""

    TYPE: ClassVar[str] = "sfu-subscribe"
    seat: int = field(default=0, metadata={"min": 0, "max": MAX_SEAT})
    sdp: str = _bound(MAX_SDP)
    call: int | None = _call()


@dataclass(frozen=True)
class NetTestServers:
    """The answer to ``nettest``: the TURN servers with credentials of this member's
    own that expire ``NETTEST_TTL`` seconds after they were minted (and never after
    its admission ends); empty when the deployment has no relay. Only for the
    page's throwaway test connections, never for a call."""

    TYPE: ClassVar[str] = "nettest-servers"
    ice_servers: list[IceServerInfo] = field(default_factory=list)
    ttl: int = field(default=0, metadata={"min": 0, "max": 3600})
    """Seconds the credentials stay good from when they were minted."""


@dataclass(frozen=True)
class Error:
    TYPE: ClassVar[str] = "error"
    code: str = field(metadata={"max": 64})
    message: str = field(metadata={"max": 1024})
    """In English."""
    message_de: str = field(metadata={"max": 1024})
    """In German."""
    fatal: bool

    @classmethod
    def of(cls, error: SprechzimmerError) -> Error:
        return cls(error.code, error.say().en, error.say().de, error.fatal)


ServerMessage = Union[  # noqa: UP007
    Welcome,
    Waiting,
    Knock,
    KnockCancelled,
    Rekey,
    Admitted,
    Declined,
    PeerJoined,
    PeerLeft,
    Notice,
    Relayed,
    Pong,
    NetTestServers,
    SfuPublished,
    SfuSubscribe,
    Error,
]

_SERVER_TYPES: dict[str, type] = {
    cls.TYPE: cls
    for cls in (
        Welcome,
        Waiting,
        Knock,
        KnockCancelled,
        Admitted,
        Rekey,
        Declined,
        PeerJoined,
        PeerLeft,
        Notice,
        Pong,
        NetTestServers,
        SfuPublished,
        SfuSubscribe,
        Error,
    )
}
"""The server's own messages; the relayed ones are ``WITH_FROM`` with ``from``."""
_RELAYABLE_TYPES: dict[str, type] = {
    cls.TYPE: cls
    for cls in (
        Offer,
        Answer,
        Candidate,
        Restart,
        NegotiationFailed,
        GroupKey,
        MediaStateReport,
        RoomCheckDone,
        MuteRequest,
    )
}


# --- codec ------------------------------------------------------------------


# Fields required on the wire. A field with a default in its dataclass may still
# be required: the default is the sender's (``Admitted``'s are the server's), not
# what a missing field means.
_REQUIRED: dict[type, frozenset[str]] = {
    # from the browser
    Hello: frozenset({"session", "token", "protocol"}),
    Offer: frozenset({"sdp"}),
    Answer: frozenset({"sdp"}),
    Candidate: frozenset({"candidate"}),
    Media: frozenset({"state"}),
    RelayOnly: frozenset({"enabled"}),
    NegotiationFailed: frozenset({"reason"}),
    MediaStateReport: frozenset({"camera", "microphone", "audio_only"}),
    GroupKey: frozenset({"data"}),
    SfuPublish: frozenset({"sdp"}),
    SfuSubscribed: frozenset({"seat", "sdp"}),
    # from the server; ``resumed``, ``relay_urls`` and the bitrate caps are
    # optional for a client (an older server leaves them out)
    IceServerInfo: frozenset({"urls"}),
    Peer: frozenset({"seat", "role"}),
    Welcome: frozenset(
        {
            "role",
            "session",
            "client_id",
            "ice_servers",
            "heartbeat_interval",
            "polite",
            "resume",
            "peer_present",
            "admitted",
        }
    ),
    Admitted: frozenset(
        {"ice_servers", "ice_transport_policy", "epoch", "rekey_interval", "e2ee_required"}
    ),
    Rekey: frozenset({"epoch"}),
    PeerJoined: frozenset({"role", "admitted"}),
    PeerLeft: frozenset({"role", "reason"}),
    Notice: frozenset({"notice"}),
    NetTestServers: frozenset({"ice_servers", "ttl"}),
    SfuPublished: frozenset({"sdp"}),
    SfuSubscribe: frozenset({"seat", "sdp"}),
    Error: frozenset({"code", "message", "message_de", "fatal"}),
}


@dataclass(frozen=True)
class _FieldSpec:
    """One field of a message as the codec checks it, resolved once per class."""

    where: str
    kind: Any
    """``str``, ``bool``, ``int``, ``float``, an ``enum.Enum`` subclass, ``list``
    (of ``item``) or a dataclass (an object inside a message: ``IceServerInfo``)."""
    nullable: bool
    meta: Mapping[str, Any]
    """Bounds: ``max`` (a string's length or a number's value), ``min``, ``format``
    (a test and what it wants); of a list: ``items`` (its elements' bounds),
    ``min_items``, ``one_or_list`` (a lone string is a list of one)."""
    item: _FieldSpec | None = None
    """What each element of a ``list`` is."""


def _name(cls: type) -> str:
    """A message's ``type``, or the class name of an object inside one, for errors."""
    return str(getattr(cls, "TYPE", cls.__name__))


def _spec(where: str, expected: Any, meta: Mapping[str, Any]) -> _FieldSpec:
    nullable = False
    if get_origin(expected) in (Union, types.UnionType):
        options = get_args(expected)
        nullable = type(None) in options and meta.get("nullable", True)
        (expected,) = [o for o in options if o is not type(None)]
    if get_origin(expected) is list:
        (item,) = get_args(expected)
        return _FieldSpec(where, list, nullable, meta, _spec(where, item, meta.get("items", {})))
    if dataclasses.is_dataclass(expected):
        return _FieldSpec(where, expected, nullable, meta)
    if not (expected in (str, bool, int, float) or issubclass(expected, enum.Enum)):
        raise TypeError(f"unsupported field type {expected!r}")  # a bug in this module
    return _FieldSpec(where, expected, nullable, meta)


def _check(spec: _FieldSpec, value: Any) -> Any:
    where, expected, meta = spec.where, spec.kind, spec.meta
    if value is None and spec.nullable:
        return None
    if expected is str:
        if not isinstance(value, str):
            raise BadMessage(f"{where}: expected a string")
        # len() counts code points, as docs/protocol.md counts characters.
        if "max" in meta and len(value) > meta["max"]:
            raise BadMessage(f"{where}: longer than {meta['max']}")
        if "format" in meta and not meta["format"][0](value):
            raise BadMessage(f"{where}: expected {meta['format'][1]}")
        return value
    if expected is bool:
        if not isinstance(value, bool):
            raise BadMessage(f"{where}: expected true or false")
        return value
    if expected is int:
        # bool is an int in Python but not on the wire.
        if not isinstance(value, int) or isinstance(value, bool):
            raise BadMessage(f"{where}: expected an integer")
        if value < meta.get("min", 0) or ("max" in meta and value > meta["max"]):
            raise BadMessage(f"{where}: out of range")
        return value
    if expected is float:
        # An integer is a number too (JSON has one number type); NaN and the
        # infinities are no JSON, but a bound check must not rely on the parser.
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise BadMessage(f"{where}: expected a number")
        number = float(value) + 0.0  # -0.0 becomes 0.0
        if not math.isfinite(number):
            raise BadMessage(f"{where}: not a finite number")
        if number < meta["min"] or number > meta["max"]:
            raise BadMessage(f"{where}: out of range")
        return number
    try:
        return expected(value)
    except (ValueError, TypeError):
        raise BadMessage(f"{where}: unknown value") from None


# Each field's type and bounds, resolved once: ``get_type_hints`` per decoded
# message was about half of the signaling CPU under load.
_FIELDS: dict[type, dict[str, _FieldSpec]] = {
    cls: {
        f.name: _spec(f"{_name(cls)}.{f.name}", get_type_hints(cls)[f.name], f.metadata)
        for f in dataclasses.fields(cls)
    }
    for cls in (*_CLIENT_TYPES.values(), *_SERVER_TYPES.values(), IceServerInfo, Peer)
}


def _checker(spec: _FieldSpec) -> Callable[[Any], Any]:
    """``_check`` for one field, with its branches taken once: a plain string
    (nearly every relayed field) costs one type test and one length test."""
    limit = spec.meta.get("max")
    if spec.kind is str and "format" not in spec.meta:
        nullable = spec.nullable

        def check_str(value: Any) -> Any:
            if type(value) is str:
                if limit is None or len(value) <= limit:
                    return value
            elif value is None and nullable:
                return None
            return _check(spec, value)  # says what is wrong

        return check_str
    if spec.kind is list:
        return _list_checker(spec)
    if isinstance(spec.kind, type) and dataclasses.is_dataclass(spec.kind):
        return _object_checker(spec.where, spec.kind)
    return functools.partial(_check, spec)


def _list_checker(spec: _FieldSpec) -> Callable[[Any], Any]:
    assert spec.item is not None
    check_item = _checker(spec.item)
    where, meta = spec.where, spec.meta
    least = meta.get("min_items", 0)

    def check_list(value: Any) -> Any:
        if type(value) is str and meta.get("one_or_list"):
            value = [value]
        if type(value) is not list:
            raise BadMessage(f"{where}: expected a list")
        if len(value) < least:
            raise BadMessage(f"{where}: fewer than {least}")
        return [check_item(item) for item in value]

    return check_list


def _object_checker(where: str, cls: type) -> Callable[[Any], Any]:
    """An object inside a server message (``IceServerInfo``); what it does not know is dropped."""

    def check_object(value: Any) -> Any:
        if type(value) is not dict:
            raise BadMessage(f"{where}: expected an object")
        return cls(**_known_fields(cls, value))

    return check_object


_CHECKS: dict[type, dict[str, Callable[[Any], Any]]] = {
    cls: {name: _checker(spec) for name, spec in fields.items()} for cls, fields in _FIELDS.items()
}

# Optional fields that are never null on the wire: the encoder leaves them out when None.
_ABSENT_WHEN_NONE: dict[type, tuple[str, ...]] = {
    cls: names
    for cls, fields in _FIELDS.items()
    if (
        names := tuple(
            f.name
            for f in dataclasses.fields(cls)
            if f.default is None and not fields[f.name].nullable
        )
    )
}


_SENDER: dict[str, _FieldSpec] = {
    kind: _spec(f"{kind}.from", Role, {}) for kind in _RELAYABLE_TYPES
}
"""``from`` of a relayed message: the role of its sender."""
_SENDER_SEAT: dict[str, _FieldSpec] = {
    kind: _spec(f"{kind}.from_seat", int, {"max": MAX_SEAT}) for kind in _RELAYABLE_TYPES
}
"""``from_seat`` of a relayed message: its sender's seat (an older server leaves it out)."""


def _without_absent(cls: type, body: dict[str, Any]) -> dict[str, Any]:
    for name in _ABSENT_WHEN_NONE.get(cls, ()):
        if body.get(name, 0) is None:
            del body[name]
    return body


_KEY_END = re.compile(rb'(?<!\\)"\s*:')


def _keys_written(data: bytes, obj: dict[str, Any]) -> int:
    """How many keys the JSON text of a flat object holds (``obj`` is what it parsed to).

    Without a backslash (nearly every message: SDP escapes its line ends and
    takes the other way) every quote is a real one, two per key and two per
    string value. With one, a quote followed by ``:`` ends a key, because a
    quote inside a string is escaped; a key that itself ends in a backslash is
    unknown and refused anyway."""
    if b"\\" in data:
        return len(_KEY_END.findall(data))
    strings = len([value for value in obj.values() if type(value) is str])
    return data.count(b'"') // 2 - strings


def _json_object(data: bytes, max_bytes: int) -> dict[str, Any]:
    """One frame as a JSON object, within its size bound; the first steps of both decoders."""
    size = len(data)
    if size > max_bytes:
        raise TooLarge(f"{size} bytes")
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise BadMessage("not JSON") from None
    if type(obj) is not dict:
        raise BadMessage("not a JSON object")
    return obj


def decode_client(data: str | bytes, max_bytes: int) -> ClientMessage:
    """Turn one text frame from a browser into a message, or raise a ``ProtocolError``."""
    if isinstance(data, str):
        data = data.encode()
    obj = _json_object(data, max_bytes)
    if _keys_written(data, obj) != len(obj):
        # A key twice: JSON parsers keep the last one, so {"type":"admit",
        # "type":"ping"} would be a ping here and maybe an admit elsewhere.
        raise BadMessage("a key twice")
    kind = obj.pop("type", None)
    cls = _CLIENT_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise BadMessage("unknown type")
    checks = _CHECKS[cls]
    try:
        values = {name: checks[name](value) for name, value in obj.items()}
    except KeyError:
        raise BadMessage(f"{kind}: unexpected fields") from None
    required = _REQUIRED.get(cls)
    if required is not None and not required <= values.keys():
        missing = required - values.keys()
        raise BadMessage(f"{kind}: missing {', '.join(sorted(missing))}")
    message: ClientMessage = cls(**values)
    if isinstance(message, Hello) and message.protocol != PROTOCOL_VERSION:
        raise BadMessage("hello: unsupported protocol version")
    if isinstance(message, Quality):
        _check_error_codes(message.errors)
    if isinstance(message, Hello) and message.name is not None:
        problem = client_name_problem(message.name)
        if problem is not None:
            raise NameInvalid(f"hello.name: {problem}")
    return message


def _known_fields(cls: type, obj: dict[str, Any]) -> dict[str, Any]:
    """The fields of ``cls`` in ``obj``, each checked; the others are dropped (a newer
    server may add some: docs/protocol.md, *Transport*)."""
    checks = _CHECKS[cls]
    values = {name: checks[name](value) for name, value in obj.items() if name in checks}
    missing = _REQUIRED.get(cls, frozenset()) - values.keys()
    if missing:
        raise BadMessage(f"{_name(cls)}: missing {', '.join(sorted(missing))}")
    return values


def decode_server(data: str | bytes, max_bytes: int) -> ServerMessage:
    """Turn one text frame from the server into a message, or raise a ``ProtocolError``.

    The mirror of ``decode_client``, for a client written in Python; it reads what the
    browser's ``decodeServerMessage`` reads. Every field it knows is checked as strictly
    (type, bound, required), but a field it does not know is dropped and one that is
    optional for a client and missing (an older server's ``welcome`` without
    ``resumed``, an ``admitted`` without the bitrate caps) is its dataclass's default.
    ``max_bytes`` is the longest frame the caller reads: ``MAX_SERVER_FRAME_BYTES``,
    as the browser, unless it knows better.
    """
    if isinstance(data, str):
        data = data.encode()
    obj = _json_object(data, max_bytes)
    # A key written twice is not refused here: the browser's JSON.parse cannot tell
    # and keeps the last one, as orjson does, so the two clients read the same message.
    kind = obj.pop("type", None)
    if type(kind) is not str:
        raise BadMessage("unknown type")
    cls = _SERVER_TYPES.get(kind)
    if cls is not None:
        message: ServerMessage = cls(**_known_fields(cls, obj))
        return message
    cls = _RELAYABLE_TYPES.get(kind)
    if cls is None:
        raise BadMessage("unknown type")
    if "from" not in obj:
        raise BadMessage(f"{kind}: missing from")
    sender = _check(_SENDER[kind], obj.pop("from"))
    seat = _check(_SENDER_SEAT[kind], obj.pop("from_seat")) if "from_seat" in obj else ROLE_SEAT
    return Relayed(cls(**_known_fields(cls, obj)), sender, seat)


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def to_wire(message: ServerMessage | ClientMessage) -> dict[str, Any]:
    """The JSON object of a message, ``type`` first."""
    if isinstance(message, Relayed):
        body = to_wire(message.message)
        body.pop("to", None)  # the receiver knows it is for itself
        body["from"] = message.sender.value
        body["from_seat"] = message.sender_seat
        return body
    return _without_absent(type(message), {"type": message.TYPE, **_plain(message)})


def encode_bytes(message: ServerMessage | ClientMessage) -> bytes:
    """The message as UTF-8 JSON, as a text frame carries it."""
    # orjson writes the (nested) dataclasses and enums itself: no dict per field.
    if isinstance(message, Relayed):
        inner = message.message
        body = {"type": inner.TYPE, **inner.__dict__}
        # The receiver knows it is for itself; ``to`` and ``call`` are the only fields
        # of a relayable that are left out when absent, so nothing else is to drop.
        body.pop("to", None)
        if body.get("call", 0) is None:
            del body["call"]
        body["from"] = message.sender.value
        body["from_seat"] = message.sender_seat
    else:
        body = _without_absent(type(message), {"type": message.TYPE, **message.__dict__})
    return orjson.dumps(body)


def encode(message: ServerMessage | ClientMessage) -> str:
    return encode_bytes(message).decode()
