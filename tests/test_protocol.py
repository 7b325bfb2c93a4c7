"""The codec: every documented message decodes; everything else is a clear protocol error."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest

from sprechzimmer import protocol as p
from sprechzimmer.errors import BadMessage, TooLarge

LIMIT = 65536
DOC = Path(__file__).parents[1] / "docs" / "protocol.md"


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
        ({"type": "restart"}, p.Restart()),
        ({"type": "media", "state": "disconnected"}, p.Media(p.MediaState.DISCONNECTED)),
        ({"type": "ping"}, p.Ping()),
        ({"type": "relay-only", "enabled": False}, p.RelayOnly(False)),
        ({"type": "bye"}, p.Bye()),
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
    assert wire == {"type": "answer", "sdp": "v=0", "from": "client"}


def test_every_message_type_is_documented() -> None:
    """docs/protocol.md is the protocol: each type the code knows appears in its tables."""
    doc = DOC.read_text()
    documented = set(re.findall(r"^\| `([a-z-]+)`", doc, flags=re.MULTILINE))
    client = {
        cls.TYPE
        for cls in (
            p.Hello,
            p.Admit,
            p.Decline,
            p.Offer,
            p.Answer,
            p.Candidate,
            p.Restart,
            p.Media,
            p.RelayOnly,
            p.Ping,
            p.Bye,
        )
    }
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
