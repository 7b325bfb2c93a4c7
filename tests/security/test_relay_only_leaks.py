"""Relay-only lets no address through (issue 10, point 7), pure.

The review slipped a host candidate past the filter by writing ``typ relay``
at its end, found relay candidates that still named the sender's address in
``raddr``, and SDP whose ``c=`` and ``a=rtcp`` lines passed unchanged.
"""

from __future__ import annotations

import pytest

from sprechzimmer import protocol as p
from sprechzimmer.protocol import Role
from sprechzimmer.relayonly import relay_candidate, relay_only_sdp
from sprechzimmer.room import Room, RoomConfig, Send
from sprechzimmer.turn import IceOffer

CLIENT: dict[str, object] = {"name": "Klientin K.", "consent": True}
"""What a client's hello says before it takes its seat: its name and its consent."""

OWN = "10.231.1.2"


@pytest.mark.parametrize(
    "candidate",
    [
        f"candidate:1 1 udp 2122260223 {OWN} 50000 typ host generation 0 x typ relay",
        f"candidate:1 1 udp 2122260223 {OWN} 50000 typ host",
        f"candidate:2 1 udp 1686052607 {OWN} 50001 typ srflx raddr {OWN} rport 50000",
        "candidate:3 1 udp 41885439 10.231.0.1 49160 typ relay raddr",  # no value
        "typ relay",
    ],
)
def test_anything_but_a_relay_candidate_is_dropped(candidate: str) -> None:
    assert relay_candidate(candidate) is None


def test_a_relay_candidate_loses_its_related_address() -> None:
    kept = relay_candidate(
        f"candidate:3 1 udp 41885439 10.231.0.1 49160 typ relay raddr {OWN} rport 50000"
        " generation 0 ufrag abcd"
    )
    assert kept == (
        "candidate:3 1 udp 41885439 10.231.0.1 49160 typ relay raddr 0.0.0.0 rport 0"
        " generation 0 ufrag abcd"
    )
    assert relay_candidate("") == ""  # the end of candidates passes


def test_sdp_keeps_no_address_in_candidates_connection_or_rtcp_lines() -> None:
    sdp = (
        "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\nm=audio 49160 UDP/TLS/RTP/SAVPF 111\r\n"
        f"c=IN IP4 {OWN}\r\na=rtcp:50001 IN IP4 {OWN}\r\n"
        f"a=candidate:1 1 udp 2122260223 {OWN} 50000 typ host x typ relay\r\n"
        f"a=candidate:3 1 udp 41885439 10.231.0.1 49160 typ relay raddr {OWN} rport 5\r\n"
        "m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP6 2001:db8::7\r\n"
        "a=end-of-candidates\r\n"
    )
    out = relay_only_sdp(sdp)
    assert OWN not in out and "2001:db8::7" not in out
    assert "c=IN IP4 0.0.0.0\r\n" in out and "c=IN IP6 ::\r\n" in out
    assert "a=rtcp:50001 IN IP4 0.0.0.0\r\n" in out
    assert out.count("a=candidate:") == 1 and "typ relay raddr 0.0.0.0 rport 0" in out
    assert out.endswith("a=end-of-candidates\r\n") and out.startswith("v=0\r\no=- 1 2")


def test_the_room_applies_the_filter_to_what_it_relays() -> None:
    room = Room("a" * 32, "K-1", RoomConfig(ice=IceOffer(relay_only=True)))
    room.join(1, Role.THERAPIST, None, "t", 0.0)
    room.join(2, Role.CLIENT, None, "c", 0.0, **CLIENT)
    room.receive(1, p.Admit(), 0.0)
    sneaky = p.Candidate(f"candidate:1 1 udp 2122260223 {OWN} 50000 typ host x typ relay")
    assert room.receive(1, sneaky, 1.0) == []
    relay = p.Candidate(
        f"candidate:3 1 udp 41885439 10.231.0.1 49160 typ relay raddr {OWN} rport 5"
    )
    (out,) = room.receive(1, relay, 1.0)
    assert isinstance(out, Send) and isinstance(out.message, p.Relayed)
    assert isinstance(out.message.message, p.Candidate)
    assert OWN not in out.message.message.candidate
