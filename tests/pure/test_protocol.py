"""The codec: every documented message decodes; everything else is a clear protocol error."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import orjson
import pytest

from sprechzimmer import protocol as p
from sprechzimmer.errors import BadMessage, NameInvalid, SprechzimmerError, TooLarge, close_code

LIMIT = 65536
DOC = Path(__file__).parents[2] / "docs" / "protocol.md"


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        (
            {"type": "hello", "protocol": 1, "session": "a" * 32, "token": "t" * 43},
            p.Hello("a" * 32, "t" * 43),
        ),
        (
            {
                "type": "hello",
                "protocol": 1,
                "session": "a" * 32,
                "token": "t" * 43,
                "role": "client",
                "resume": "r",
            },
            p.Hello("a" * 32, "t" * 43, 1, p.Role.CLIENT, "r"),
        ),
        ({"type": "admit"}, p.Admit()),
        ({"type": "decline"}, p.Decline()),
        ({"type": "offer", "sdp": "v=0\r\n"}, p.Offer("v=0\r\n")),
        ({"type": "answer", "sdp": "v=0\r\n"}, p.Answer("v=0\r\n")),
        (
            {
                "type": "candidate",
                "candidate": "candidate:1 1 udp 5 10.1.1.1 5000 typ host",
                "sdpMid": "0",
                "sdpMLineIndex": 0,
            },
            p.Candidate("candidate:1 1 udp 5 10.1.1.1 5000 typ host", "0", 0),
        ),
        ({"type": "candidate", "candidate": ""}, p.Candidate("")),
        (
            {
                "type": "candidate",
                "candidate": "candidate:1",
                "sdpMid": "0",
                "sdpMLineIndex": 0,
                "usernameFragment": "abcd",
            },
            p.Candidate("candidate:1", "0", 0, "abcd"),
        ),
        ({"type": "restart"}, p.Restart()),
        ({"type": "media", "state": "disconnected"}, p.Media(p.MediaState.DISCONNECTED)),
        ({"type": "ping"}, p.Ping()),
        ({"type": "relay-only", "enabled": False}, p.RelayOnly(False)),
        ({"type": "bye"}, p.Bye()),
        ({"type": "quality"}, p.Quality()),
        (
            {
                "type": "quality",
                "bitrate_out_kbps": 1250.5,
                "bitrate_in_kbps": 0,
                "loss_pct": 100,
                "rtt_ms": 60000,
                "jitter_ms": 2.5,
                "fps": 29.97,
                "height": 4320,
                "local_candidate": "relay",
                "remote_candidate": "prflx",
                "errors": "ice-failed,ice-restart,decrypt-failed,no-key,gum-failed,"
                "e2ee-unsupported,compat-mode",
            },
            p.Quality(
                1250.5,
                0.0,
                100.0,
                60000.0,
                2.5,
                29.97,
                4320,
                p.CandidateType.RELAY,
                p.CandidateType.PRFLX,
                "ice-failed,ice-restart,decrypt-failed,no-key,gum-failed,"
                "e2ee-unsupported,compat-mode",
            ),
        ),
        (
            {"type": "quality", "rtt_ms": None, "height": None, "errors": ""},
            p.Quality(),
        ),
    ],
)
def test_valid_messages_decode(wire: dict[str, object], expected: p.ClientMessage) -> None:
    assert p.decode_client(orjson.dumps(wire), LIMIT) == expected
    # and they round-trip through the encoder
    assert p.decode_client(p.encode(expected), LIMIT) == expected


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not json",
        b"[1,2]",
        b'"hello"',
        b"{}",
        b'{"type": 5}',
        b'{"type": "shout"}',
        b'{"type": "offer"}',
        b'{"type": "offer", "sdp": 5}',
        b'{"type": "offer", "sdp": "x", "to": "someone"}',
        b'{"type": "ping", "session": "' + b"b" * 32 + b'"}',
        b'{"type": "media", "state": "great"}',
        b'{"type": "relay-only", "enabled": 1}',
        b'{"type": "relay-only"}',
        b'{"type": "candidate", "candidate": "c", "sdpMLineIndex": -1}',
        b'{"type": "candidate", "candidate": "c", "sdpMLineIndex": 256}',
        b'{"type": "candidate", "candidate": "c", "sdpMLineIndex": true}',
        b'{"type": "hello", "protocol": 2, "session": "s", "token": "t"}',
        b'{"type": "hello", "protocol": 1, "session": "s"}',
        b'{"type": "hello", "protocol": 1, "session": "s", "token": "t", "role": "admin"}',
        b'{"type": "hello", "protocol": 1, "session": "' + b"s" * 33 + b'", "token": "t"}',
    ],
)
def test_malformed_messages_are_bad_message(raw: bytes) -> None:
    with pytest.raises(BadMessage):
        p.decode_client(raw, LIMIT)


def test_sdp_longer_than_its_bound_is_refused() -> None:
    with pytest.raises(BadMessage, match="longer than"):
        p.decode_client(orjson.dumps({"type": "offer", "sdp": "x" * (p.MAX_SDP + 1)}), 1 << 20)


def test_oversized_frame_is_too_large_before_parsing() -> None:
    with pytest.raises(TooLarge):
        p.decode_client(b"{" + b" " * LIMIT + b"}", LIMIT)


def test_relayed_messages_carry_their_sender() -> None:
    wire = orjson.loads(p.encode(p.Relayed(p.Answer("v=0"), p.Role.CLIENT)))
    assert wire == {"type": "answer", "sdp": "v=0", "from": "client", "from_seat": 1}
    # The seat it was sent to stays behind: the receiver knows it is for itself.
    to_seat_three = p.Relayed(p.Answer("v=0", to=3), p.Role.CLIENT, 5)
    assert orjson.loads(p.encode(to_seat_three)) == p.to_wire(to_seat_three)
    assert p.to_wire(to_seat_three) == {
        "type": "answer",
        "sdp": "v=0",
        "from": "client",
        "from_seat": 5,
    }


def test_every_message_type_is_documented() -> None:
    """docs/protocol.md is the protocol: each type the code knows appears in its tables."""
    doc = DOC.read_text()
    documented = set(re.findall(r"^\| `([a-z-]+)`", doc, flags=re.MULTILINE))
    # Every type the server decodes, so that a new one cannot go undocumented.
    client = set(p._CLIENT_TYPES)
    server = {
        cls.TYPE
        for cls in (
            p.Welcome,
            p.Waiting,
            p.Knock,
            p.KnockCancelled,
            p.Admitted,
            p.Rekey,
            p.Declined,
            p.PeerJoined,
            p.PeerLeft,
            p.Pong,
            p.Error,
        )
    }
    assert client | server <= documented | {"offer", "answer", "candidate", "restart"}


# --- quality (issue 5): numbers are finite and bounded, codes from a fixed list ----------


@pytest.mark.parametrize(
    "fields",
    [
        {"bitrate_out_kbps": -1},
        {"bitrate_out_kbps": 100_000.01},
        {"bitrate_in_kbps": 1e9},
        {"loss_pct": 100.5},
        {"loss_pct": -0.001},
        {"rtt_ms": 60_001},
        {"jitter_ms": 1e300},
        {"fps": 121},
        {"height": 4321},
        {"height": -1},
        {"height": 720.5},
        {"height": "720"},
        {"rtt_ms": "40"},
        {"rtt_ms": True},
        {"rtt_ms": [40]},
        {"fps": {"value": 30}},
        {"local_candidate": "relayed"},
        {"remote_candidate": None},
        {"remote_candidate": "10.0.0.1"},
        {"errors": "ice-failed,oops"},
        {"errors": "ice-failed,"},
        {"errors": ",ice-failed"},
        {"errors": "ice-failed, no-key"},
        {"errors": "ICE-FAILED"},
        {"errors": "ice-failed," * 30},
        {"errors": 5},
        {"session": "a" * 32},
        {"role": "client"},
        {"user_agent": "Mozilla/5.0"},
    ],
)
def test_quality_out_of_bounds_is_bad_message(fields: dict[str, object]) -> None:
    with pytest.raises(BadMessage):
        p.decode_client(orjson.dumps({"type": "quality", **fields}), LIMIT)


@pytest.mark.parametrize("raw", [b"1e400", b"NaN", b"Infinity", b"-Infinity", b"1" + b"0" * 400])
def test_quality_numbers_must_be_finite(raw: bytes) -> None:
    with pytest.raises(BadMessage):
        p.decode_client(b'{"type": "quality", "rtt_ms": ' + raw + b"}", LIMIT)


def test_float_check_refuses_what_json_cannot_carry() -> None:
    # The parser already refuses NaN and infinities; the codec does not rely on it.
    meta = {"min": 0, "max": 100}
    for value in (float("nan"), float("inf"), float("-inf")):
        with pytest.raises(BadMessage, match="finite"):
            p._check(p._FieldSpec("quality.loss_pct", float, False, meta), value)
    assert p._check(p._FieldSpec("quality.loss_pct", float, False, meta), -0.0) == 0.0
    assert p._check(p._FieldSpec("quality.loss_pct", float, False, meta), 7) == 7.0


def test_quality_bounds_are_inclusive() -> None:
    wire = {
        "type": "quality",
        "bitrate_out_kbps": 100_000,
        "bitrate_in_kbps": 0.0,
        "loss_pct": 0,
        "rtt_ms": 0,
        "jitter_ms": 60_000,
        "fps": 120,
        "height": 0,
    }
    message = p.decode_client(orjson.dumps(wire), LIMIT)
    assert isinstance(message, p.Quality)
    assert message.bitrate_out_kbps == 100_000.0 and isinstance(message.bitrate_out_kbps, float)
    assert message.height == 0 and isinstance(message.height, int)


def test_quality_errors_are_a_set_of_known_codes() -> None:
    message = p.decode_client(
        orjson.dumps({"type": "quality", "errors": "no-key,ice-restart,no-key"}), LIMIT
    )
    assert isinstance(message, p.Quality)
    assert message.error_codes == {"no-key", "ice-restart"}
    assert p.Quality().error_codes == frozenset()
    assert {
        "ice-failed",
        "ice-restart",
        "decrypt-failed",
        "no-key",
        "gum-failed",
        "e2ee-unsupported",
        "compat-mode",
        "sdp-refused",
        "no-common-codec",
        "transform-failed",
    } == p.QUALITY_ERROR_CODES


def test_admitted_carries_the_bitrate_caps() -> None:
    wire = orjson.loads(p.encode(p.Admitted(max_bitrate_kbps=1800, relay_max_bitrate_kbps=600)))
    assert wire["max_bitrate_kbps"] == 1800 and wire["relay_max_bitrate_kbps"] == 600


def test_quality_fields_and_codes_are_documented() -> None:
    doc = DOC.read_text()
    (row,) = [line for line in doc.splitlines() if line.startswith("| `quality`")]
    for name in (f.name for f in dataclasses.fields(p.Quality)):
        assert f"`{name}`" in row, name
    for code in p.QUALITY_ERROR_CODES:
        assert f"`{code}`" in doc, code
    for name in ("max_bitrate_kbps", "relay_max_bitrate_kbps"):
        assert f"`{name}`" in doc


# --- from the server: decode_server, the Python client's decoder ----------------------------


def _subclasses(cls: type) -> list[type]:
    return [cls, *(sub for child in cls.__subclasses__() for sub in _subclasses(child))]


def test_every_field_without_a_default_is_required_on_the_wire() -> None:
    """Else a message without it would be a TypeError, not a protocol error."""
    for cls in p._FIELDS:
        without_default = {
            f.name
            for f in dataclasses.fields(cls)
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        }
        assert without_default <= p._REQUIRED.get(cls, frozenset()), cls


def test_what_the_server_writes_decodes_to_the_same_message() -> None:
    servers = [p.IceServerInfo(["stun:192.0.2.1:3478"]), p.IceServerInfo(["turn:h"], "u", "c")]
    messages: list[p.ServerMessage] = [
        p.Welcome(
            p.Role.THERAPIST, "s" * 32, None, servers, 25, False, "r" * p.MAX_RESUME, True, True
        ),
        p.Admitted(),
        p.Admitted(servers, p.IceTransportPolicy.RELAY, p.MAX_SAFE_INTEGER, 2.0, False, 1, 1),
        p.Rekey(0),
        p.PeerJoined(p.Role.CLIENT, False),
        p.PeerLeft(p.Role.THERAPIST, p.LeaveReason.TIMEOUT),
        p.Relayed(p.Candidate(""), p.Role.CLIENT),
        p.Relayed(p.Restart(), p.Role.THERAPIST),
        *(p.Error.of(error()) for error in _subclasses(SprechzimmerError)),
    ]
    for message in messages:
        decoded = p.decode_server(p.encode(message), p.MAX_SERVER_FRAME_BYTES)
        assert decoded == message


def test_decode_server_reads_numbers_as_their_fields_hold_them() -> None:
    welcome = {
        "type": "welcome",
        "role": "client",
        "session": "s",
        "client_id": None,
        "ice_servers": [{"urls": "stun:h", "username": None, "extra": 1}],
        "heartbeat_interval": 1,
        "polite": True,
        "resume": "r",
        "peer_present": False,
        "admitted": False,
        "relay_urls": ["TURNS:h:443"],
    }
    message = p.decode_server(orjson.dumps(welcome), LIMIT)
    assert isinstance(message, p.Welcome)
    assert message.heartbeat_interval == 1.0 and isinstance(message.heartbeat_interval, float)
    assert message.ice_servers == [p.IceServerInfo(["stun:h"])]
    assert message.relay_urls == ["TURNS:h:443"]  # a scheme is case-insensitive
    assert message.resumed is False
    tiny = p.decode_server(orjson.dumps({**welcome, "heartbeat_interval": 5e-324}), LIMIT)
    assert isinstance(tiny, p.Welcome) and tiny.heartbeat_interval > 0
    for bad in (-1, 0, -0.0, True, None, "1"):
        with pytest.raises(BadMessage, match="heartbeat_interval"):
            p.decode_server(orjson.dumps({**welcome, "heartbeat_interval": bad}), LIMIT)


def test_decode_server_keeps_the_last_of_a_key_written_twice() -> None:
    # As the browser's JSON.parse does: the two clients read the same message.
    frame = b'{"type":"rekey","epoch":1,"epoch":2}'
    assert p.decode_server(frame, LIMIT) == p.Rekey(2)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"type": "welcome"}',
        b'{"type": "ping"}',
        b'{"type": "offer", "sdp": "v=0", "from": null}',
        b'{"type": "candidate", "candidate": "c", "from": "client", "sdpMid": 0}',
        b'{"type": "admitted", "ice_servers": {}, "ice_transport_policy": "all", "epoch": 1,'
        b' "rekey_interval": 2, "e2ee_required": true}',
        b'{"type": "admitted", "ice_servers": ["stun:h"], "ice_transport_policy": "all",'
        b' "epoch": 1, "rekey_interval": 2, "e2ee_required": true}',
        b'{"type": "admitted", "ice_servers": [{"urls": ["stun:h"], "username": 5}],'
        b' "ice_transport_policy": "all", "epoch": 1, "rekey_interval": 2, "e2ee_required": true}',
        b'{"type": "admitted", "ice_servers": [], "ice_transport_policy": "all",'
        b' "epoch": 9007199254740992, "rekey_interval": 2, "e2ee_required": true}',
        b'{"type": "error", "code": "' + b"c" * 65 + b'", "message": "", "message_de": "",'
        b' "fatal": true}',
    ],
)
def test_malformed_server_messages_are_bad_message(raw: bytes) -> None:
    with pytest.raises(BadMessage):
        p.decode_server(raw, LIMIT)


# --- the client's name ----------------------------------------------------------------

HELLO = {"type": "hello", "protocol": 1, "session": "a" * 32, "token": "t" * 43}


def _hello(**fields: object) -> bytes:
    return json.dumps({**HELLO, **fields}).encode()


def test_a_hello_carries_a_name_and_consent() -> None:
    message = p.decode_client(_hello(name="Maria Müller", consent=True), 65_536)
    assert isinstance(message, p.Hello)
    assert (message.name, message.consent) == ("Maria Müller", True)
    assert "Müller" not in repr(message)  # a repr in a traceback or a log names nobody
    longest = "ä" * p.MAX_CLIENT_NAME
    expected = p.Hello("a" * 32, "t" * 43, name=longest)
    assert p.decode_client(_hello(name=longest), 65_536) == expected


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("a" * (p.MAX_CLIENT_NAME + 1), "longer than 80"),
        ("Maria\nMüller", "a control character"),
        ("Maria\u0085", "a control character"),
        ("Maria \u202eRELLÜM", "a control character"),
        ("   ", "blank"),
        ("", "blank"),
    ],
)
def test_a_name_that_cannot_be_shown_is_refused_with_its_own_sentence(name: str, why: str) -> None:
    with pytest.raises(NameInvalid) as refused:
        p.decode_client(_hello(name=name, consent=True), 65_536)
    error = refused.value
    assert error.code == "name-invalid" and close_code(error) == 4000
    assert error.detail == f"hello.name: {why}"  # the detail names the problem, never the name
    assert str(p.MAX_CLIENT_NAME) in error.say().en and str(p.MAX_CLIENT_NAME) in error.say().de


def test_name_and_consent_are_never_null() -> None:
    for field in ("name", "consent"):
        with pytest.raises(BadMessage):
            p.decode_client(_hello(**{field: None}), 65_536)
