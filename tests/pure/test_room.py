"""The room state machine, with no sockets, no clock and no event loop."""

from __future__ import annotations

import dataclasses
import itertools
import logging
import re
from collections.abc import Callable

import pytest

from sprechzimmer import protocol as p
from sprechzimmer.errors import InvalidState, NoPeer
from sprechzimmer.protocol import LeaveReason, Role
from sprechzimmer.room import (
    MEDIA_STATE_INTERVAL,
    NETTEST_INTERVAL,
    NETTEST_TTL,
    BillingEvent,
    CallState,
    Close,
    EventKind,
    HeldSeat,
    Output,
    Room,
    RoomConfig,
    Send,
    StoreSample,
    held_seats,
)
from sprechzimmer.turn import IceGrant, IcePolicy, IceServerSpec

CLIENT: dict[str, object] = {"name": "Klientin K.", "consent": True}
"""What a client's hello says before it takes its seat: its name and its consent."""
KNOCK = p.Knock(name="Klientin K.", consent=True)
"""The knock of that client, as the therapist gets it."""

T, C, X = 1, 2, 3  # connection ids: therapist, client, intruder


def admitted_t(**fields: object) -> p.Admitted:
    """``admitted`` as the therapist gets it in a one-to-one call: the client its peer."""
    return p.Admitted(peers=[p.Peer(1, Role.CLIENT, "Klientin K.")], **fields)  # type: ignore[arg-type]


def admitted_c(**fields: object) -> p.Admitted:
    """``admitted`` as the client gets it: the therapist its peer."""
    return p.Admitted(peers=[p.Peer(0, Role.THERAPIST)], **fields)  # type: ignore[arg-type]


def room(config: RoomConfig | None = None) -> Room:
    return Room("a" * 32, "K-17", config or RoomConfig(heartbeat_interval=10.0))


PATIENT = RoomConfig(heartbeat_interval=1000.0)
"""Members that never time out, for tests about seats that wait for their browser."""


def sent(outputs: list[Output], conn: int) -> list[p.ServerMessage]:
    return [o.message for o in outputs if isinstance(o, Send) and o.conn == conn]


def closed(outputs: list[Output]) -> dict[int, int]:
    return {o.conn: o.code for o in outputs if isinstance(o, Close)}


def recorded(outputs: list[Output]) -> list[tuple[int, EventKind]]:
    """The billing events, by seat (0: the therapist, 1: the one client)."""
    return [(o.seat, o.kind) for o in outputs if isinstance(o, BillingEvent)]


def in_call(config: RoomConfig | None = None) -> Room:
    r = room(config)
    r.join(T, Role.THERAPIST, None, "rt", 0.0)
    r.join(C, Role.CLIENT, None, "rc", 1.0, **CLIENT)
    r.receive(T, p.Admit(), 2.0)
    return r


def test_client_knocks_therapist_is_told_and_admits() -> None:
    r = room()
    out = r.join(T, Role.THERAPIST, None, "rt", 0.0)
    (welcome,) = sent(out, T)
    assert isinstance(welcome, p.Welcome)
    assert welcome.client_id == "K-17" and welcome.polite is False and not welcome.peer_present

    out = r.join(C, Role.CLIENT, None, "rc", 1.0, **CLIENT)
    assert r.state is CallState.WAITING and r.waiting
    welcome_c, waiting = sent(out, C)
    assert isinstance(welcome_c, p.Welcome) and welcome_c.client_id is None and welcome_c.polite
    assert isinstance(waiting, p.Waiting)
    assert sent(out, T) == [KNOCK]
    assert recorded(out) == [(1, EventKind.JOINED)]

    out = r.receive(T, p.Admit(), 2.0)
    assert r.state is CallState.ADMITTED and r.in_call
    assert sent(out, T) == [admitted_t()] and sent(out, C) == [admitted_c()]
    assert recorded(out) == [(1, EventKind.ADMITTED)]


def test_therapist_arriving_after_client_hears_the_knock() -> None:
    r = room()
    r.join(C, Role.CLIENT, None, "rc", 0.0, **CLIENT)
    out = r.join(T, Role.THERAPIST, None, "rt", 1.0)
    assert sent(out, T)[1:] == [KNOCK]


def test_decline_sends_the_client_away() -> None:
    r = room()
    r.join(T, Role.THERAPIST, None, "rt", 0.0)
    r.join(C, Role.CLIENT, None, "rc", 1.0, **CLIENT)
    out = r.receive(T, p.Decline(), 2.0)
    assert sent(out, C) == [p.Declined()]
    assert closed(out) == {C: 1000}
    assert sent(out, T) == [p.KnockCancelled()]
    assert r.state is CallState.IDLE and 1 not in r.members


def test_relay_only_between_admitted_members() -> None:
    r = in_call()
    offer = p.Offer("v=0")
    out = r.receive(T, offer, 3.0)
    assert out == [Send(C, p.Relayed(offer, Role.THERAPIST))]
    cand = p.Candidate("candidate:1 1 udp 1 10.0.0.1 9 typ host", "0", 0)
    assert r.receive(C, cand, 3.0) == [Send(T, p.Relayed(cand, Role.CLIENT))]
    assert r.receive(C, p.Restart(), 3.0) == [Send(T, p.Relayed(p.Restart(), Role.CLIENT))]


def test_a_negotiation_failure_reaches_the_other_browser_and_nothing_is_kept() -> None:
    """Relayed like ``restart`` (both ways); no event, no sample, no state change."""
    r = in_call()
    failed = p.NegotiationFailed(p.NegotiationFailure.NO_COMMON_CODEC)
    assert r.receive(C, failed, 3.0) == [Send(T, p.Relayed(failed, Role.CLIENT))]
    refused = p.NegotiationFailed(p.NegotiationFailure.SDP_REFUSED)
    assert r.receive(T, refused, 3.5) == [Send(C, p.Relayed(refused, Role.THERAPIST))]
    assert r.state is CallState.ADMITTED


def test_a_waiting_client_cannot_send_a_negotiation_failure() -> None:
    r = room()
    r.join(T, Role.THERAPIST, None, "rt", 0.0)
    r.join(C, Role.CLIENT, None, "rc", 1.0, **CLIENT)
    out = r.receive(C, p.NegotiationFailed(), 2.0)
    assert sent(out, T) == [p.KnockCancelled()]
    assert closed(out) == {C: 4003}


def test_waiting_client_cannot_reach_the_therapist() -> None:
    r = room()
    r.join(T, Role.THERAPIST, None, "rt", 0.0)
    r.join(C, Role.CLIENT, None, "rc", 1.0, **CLIENT)
    out = r.receive(C, p.Offer("v=0"), 2.0)
    assert sent(out, T) == [p.KnockCancelled()]  # nothing of the offer reaches T
    assert closed(out) == {C: 4003}
    assert r.state is CallState.IDLE


def test_client_cannot_act_as_therapist() -> None:
    r = room()
    r.join(T, Role.THERAPIST, None, "rt", 0.0)
    r.join(C, Role.CLIENT, None, "rc", 1.0, **CLIENT)
    out = r.receive(C, p.Admit(), 2.0)
    assert closed(out) == {C: 4003}
    assert r.state is CallState.IDLE
    out = in_call().receive(C, p.Decline(), 3.0)
    assert closed(out) == {C: 4003}


def test_second_hello_is_refused() -> None:
    r = in_call()
    out = r.receive(C, p.Hello("a" * 32, "t" * 43), 3.0)
    assert closed(out) == {C: 4003}


def test_therapist_relay_without_client_is_a_notice_not_a_close() -> None:
    r = room()
    r.join(T, Role.THERAPIST, None, "rt", 0.0)
    (error,) = sent(r.receive(T, p.Offer("v=0"), 1.0), T)
    assert isinstance(error, p.Error) and error.code == "no-peer" and not error.fatal
    (error,) = sent(r.receive(T, p.Admit(), 1.0), T)
    assert isinstance(error, p.Error) and error.code == "no-peer"


def test_the_same_role_cannot_be_taken_without_the_resume_secret() -> None:
    r = in_call()
    out = r.join(X, Role.CLIENT, None, "rx", 4.0, **CLIENT)
    assert closed(out) == {X: 4009}
    out = r.join(X, Role.CLIENT, "wrong", "rx", 4.0, **CLIENT)
    assert closed(out) == {X: 4009}
    assert r.members[1].conn == C


def test_reconnect_with_resume_secret_replaces_the_old_socket() -> None:
    r = in_call()
    r.receive(C, p.Media(p.MediaState.CONNECTED), 3.0)
    out = r.join(X, Role.CLIENT, "rc", "rc2", 4.0, ticket="ticket-2", epoch=1, **CLIENT)
    assert closed(out) == {C: 4009}
    assert r.members[1].conn == X
    # The same browser on a new socket: it keeps its call; nobody is told, nothing recorded.
    assert sent(out, T) == [] and recorded(out) == []
    (welcome,) = sent(out, X)
    assert isinstance(welcome, p.Welcome) and welcome.resumed and welcome.admitted
    assert welcome.resume == "ticket-2" and welcome.peer_present
    assert r.in_call and r.members[1].media is p.MediaState.CONNECTED
    # The replaced socket's stragglers are ignored.
    assert r.receive(C, p.Offer("v=0"), 5.0) == []
    assert r.disconnect(C, 5.0) == []


def test_a_lost_socket_keeps_the_seat_and_its_browser_takes_it_back_silently() -> None:
    r = in_call(PATIENT)
    r.receive(C, p.Media(p.MediaState.CONNECTED), 3.0)
    assert r.disconnect(C, 3.0) == []  # nobody is told, nothing is recorded
    assert r.state is CallState.ADMITTED and not r.in_call
    # What the therapist relays meanwhile waits for the client.
    assert r.receive(T, p.Candidate("candidate:1 1 udp 1 10.0.0.1 9 typ host"), 4.0) == []
    assert r.next_deadline() == 3.0 + r.config.resume_grace
    out = r.join(X, Role.CLIENT, "rc", "rx", 5.0, epoch=1, **CLIENT)
    welcome, candidate = sent(out, X)
    assert isinstance(welcome, p.Welcome) and welcome.resumed
    assert isinstance(candidate, p.Relayed) and candidate.sender is Role.THERAPIST
    assert sent(out, T) == [] and recorded(out) == [] and r.in_call


def test_an_away_seat_is_kept_from_a_copied_link_until_the_grace_is_over() -> None:
    r = in_call(PATIENT)
    r.receive(C, p.Media(p.MediaState.CONNECTED), 3.0)
    r.disconnect(C, 3.0)
    # A copied link (no ticket, or somebody else's) cannot take or end the seat
    # while its own browser may still come back; the therapist hears it was tried.
    for nonce in (None, "not-the-nonce"):
        out = r.join(X, Role.CLIENT, nonce, "rx", 9.0, **CLIENT)
        assert closed(out) == {X: 4009} and recorded(out) == []
        assert sent(out, T) == [p.Notice(p.NoticeKind.LINK_IN_USE)]
    assert r.in_call is False and r.state is CallState.ADMITTED
    out = r.join(X, Role.CLIENT, "rc", "rc", 10.0, epoch=1, **CLIENT)  # its own ticket still works
    assert isinstance(sent(out, X)[0], p.Welcome) and r.in_call


def test_an_away_member_leaves_after_the_grace_as_of_when_it_went() -> None:
    r = in_call(PATIENT)
    r.receive(T, p.Media(p.MediaState.CONNECTED), 3.0)
    r.disconnect(T, 4.0)
    grace = r.config.resume_grace
    assert r.tick(4.0 + grace) == []
    out = r.tick(4.0 + grace + 0.5)
    assert sent(out, C) == [p.PeerLeft(Role.THERAPIST, LeaveReason.DISCONNECTED)]
    assert [(o.seat, o.kind, o.at) for o in out if isinstance(o, BillingEvent)] == [
        (0, EventKind.MEDIA_DISCONNECTED, 4.0),
        (0, EventKind.LEFT, 4.0),
    ]


def test_the_admitted_client_comes_back_after_the_grace_with_its_ticket() -> None:
    r = in_call(PATIENT)
    r.disconnect(C, 3.0)
    r.tick(3.0 + r.config.resume_grace + 1)  # the seat has gone, the admission stays
    assert 1 not in r.members and r.state is CallState.ADMITTED
    out = r.join(X, Role.CLIENT, "rc", "rx", 100.0, **CLIENT)
    (welcome, admitted) = sent(out, X)
    assert isinstance(welcome, p.Welcome) and welcome.admitted and not welcome.resumed
    assert admitted == admitted_c(epoch=2)  # a fresh connection, no knock


def test_a_copied_link_after_the_grace_knocks() -> None:
    r = in_call(PATIENT)
    r.disconnect(C, 3.0)
    r.tick(3.0 + r.config.resume_grace + 1)
    out = r.join(X, Role.CLIENT, None, "rx", 100.0, **CLIENT)
    assert sent(out, T) == [KNOCK] and r.state is CallState.WAITING


def test_hangup_ends_admission_and_tells_the_other_side() -> None:
    r = in_call()
    r.receive(T, p.Media(p.MediaState.CONNECTED), 3.0)
    r.receive(C, p.Media(p.MediaState.CONNECTED), 3.0)
    out = r.receive(C, p.Bye(), 10.0)
    assert closed(out) == {C: 1000}
    assert sent(out, T) == [p.PeerLeft(Role.CLIENT, LeaveReason.HANGUP)]
    assert recorded(out) == [
        (1, EventKind.MEDIA_DISCONNECTED),
        (1, EventKind.LEFT),
    ]
    assert r.state is CallState.IDLE
    # Knocking again goes through the waiting room.
    out = r.join(X, Role.CLIENT, None, "rx", 11.0, **CLIENT)
    assert sent(out, T) == [KNOCK]


def test_the_clients_quick_exit_is_a_hang_up_the_therapist_hears_as_such() -> None:
    r = in_call()
    out = r.receive(C, p.Bye(p.ByeReason.QUICK_EXIT), 10.0)
    assert closed(out) == {C: 1000}
    assert sent(out, T) == [p.PeerLeft(Role.CLIENT, LeaveReason.QUICK_EXIT)]
    # Stored exactly as a hang-up: nothing says how the person left.
    assert recorded(out) == [(1, EventKind.LEFT)]
    assert r.state is CallState.IDLE
    out = r.join(X, Role.CLIENT, None, "rx", 11.0, **CLIENT)
    assert sent(out, T) == [KNOCK]


def test_a_therapists_quick_exit_is_a_plain_hang_up() -> None:
    r = in_call()
    out = r.receive(T, p.Bye(p.ByeReason.QUICK_EXIT), 10.0)
    assert sent(out, C) == [p.PeerLeft(Role.THERAPIST, LeaveReason.HANGUP)]


def test_media_events_only_on_change() -> None:
    r = in_call()
    out = r.receive(T, p.Media(p.MediaState.CONNECTED), 3.0)
    assert recorded(out) == [(0, EventKind.MEDIA_CONNECTED)]
    assert r.receive(T, p.Media(p.MediaState.CONNECTED), 4.0) == []
    out = r.receive(T, p.Media(p.MediaState.DISCONNECTED), 5.0)
    assert recorded(out) == [(0, EventKind.MEDIA_DISCONNECTED)]


def test_heartbeats_and_timeout() -> None:
    r = in_call()
    assert r.receive(C, p.Ping(), 20.0) == [Send(C, p.Pong())]
    assert r.next_deadline() == 2.0 + 30.0  # the therapist was last heard at 2 s
    assert r.tick(31.0) == []
    out = r.tick(33.0)
    assert closed(out) == {T: 4408}
    assert sent(out, C) == []  # its seat waits for its browser
    assert r.state is CallState.ADMITTED  # the client stays admitted
    out = r.tick(33.0 + r.config.resume_grace + 1)
    assert sent(out, C) == [p.PeerLeft(Role.THERAPIST, LeaveReason.TIMEOUT)]


def test_a_waiting_client_that_goes_leaves_at_once() -> None:
    r = room()
    r.join(T, Role.THERAPIST, None, "rt", 0.0)
    r.join(C, Role.CLIENT, None, "rc", 1.0, **CLIENT)
    out = r.disconnect(C, 2.0)
    assert sent(out, T) == [p.KnockCancelled()] and r.state is CallState.IDLE


def test_held_seats_from_the_stored_events() -> None:
    events = [
        (0, EventKind.JOINED, 1.0),
        (1, EventKind.JOINED, 2.0),
        (1, EventKind.ADMITTED, 3.0),
        (0, EventKind.MEDIA_CONNECTED, 4.0),
        (1, EventKind.MEDIA_CONNECTED, 4.0),
        (1, EventKind.MEDIA_DISCONNECTED, 5.0),
    ]
    assert held_seats(events) == {
        0: HeldSeat(p.MediaState.CONNECTED, admitted=False, joined_at=1.0),
        1: HeldSeat(p.MediaState.DISCONNECTED, admitted=True, joined_at=2.0),
    }
    left = [*events, (1, EventKind.LEFT, 6.0)]
    assert held_seats(left).keys() == {0}
    # Joined again after leaving: waiting, not admitted, joined at the new time.
    again = [*left, (1, EventKind.JOINED, 7.0)]
    assert held_seats(again)[1] == HeldSeat(p.MediaState.DISCONNECTED, False, 7.0)
    assert held_seats([]) == {}


def test_a_rebuilt_room_gives_each_ticket_its_seat_back_silently() -> None:
    r = room(PATIENT)
    seats = {
        0: HeldSeat(p.MediaState.CONNECTED, False, joined_at=10.0),
        1: HeldSeat(p.MediaState.CONNECTED, True, joined_at=11.5),
    }
    r.restore(seats, epoch=7, now=50.0, last_event_at=40.0)
    assert r.state is CallState.ADMITTED and not r.in_call
    # A genuine ticket from before the seat's last join is somebody else's (an
    # earlier knock of a copied link, an old tab): refused.
    refused = r.join(X, Role.CLIENT, "knocked-once", "x", 50.5, issued=9.0, **CLIENT)
    assert closed(refused) == {X: 4009}
    out = r.join(T, Role.THERAPIST, "any-genuine-nonce", "rt", 51.0, epoch=7, issued=10.0)
    # The therapist hears, once back, that the client link was tried meanwhile.
    welcome, notice = sent(out, T)
    assert isinstance(welcome, p.Welcome) and welcome.resumed and welcome.peer_present
    assert notice == p.Notice(p.NoticeKind.LINK_IN_USE)
    out = r.join(C, Role.CLIENT, "another-nonce", "rc", 52.0, epoch=8, issued=11.0, **CLIENT)
    assert recorded(out) == [] and sent(out, T) == []
    assert r.in_call and r.epoch == 8
    # The browsers' own report of their media changes nothing that is stored.
    assert r.receive(C, p.Media(p.MediaState.CONNECTED), 53.0) == []
    # Key renewal goes on in a later epoch.
    out = r.tick(50.0 + r.config.rekey_interval)
    assert sent(out, C) == [p.Rekey(9)]
    # A held seat nobody claims leaves after the grace, as of the last stored event.
    r2 = room(PATIENT)
    r2.restore(seats, epoch=1, now=50.0, last_event_at=40.0)
    out = r2.tick(50.0 + r2.config.resume_grace + 1)
    assert {(o.seat, o.kind, o.at) for o in out if isinstance(o, BillingEvent)} == {
        (0, EventKind.MEDIA_DISCONNECTED, 40.0),
        (0, EventKind.LEFT, 40.0),
        (1, EventKind.MEDIA_DISCONNECTED, 40.0),
        (1, EventKind.LEFT, 40.0),
    }


def test_a_rebuilt_room_keeps_a_held_seat_from_a_copied_link() -> None:
    r = room()
    r.restore(
        {1: HeldSeat(p.MediaState.CONNECTED, True, 5.0)},
        epoch=3,
        now=50.0,
        last_event_at=45.0,
    )
    r.join(T, Role.THERAPIST, None, "rt", 51.0)
    assert closed(r.join(X, Role.CLIENT, None, "rx", 52.0, **CLIENT)) == {X: 4009}  # no ticket
    assert r.state is CallState.ADMITTED


def test_a_tab_that_comes_back_without_its_call_gets_a_fresh_one() -> None:
    r = in_call(PATIENT)
    r.disconnect(C, 3.0)
    out = r.join(X, Role.CLIENT, "rc", "rc", 4.0, epoch=0, **CLIENT)  # a reload: no connection left
    assert admitted_c(epoch=2) in sent(out, X) and admitted_t(epoch=2) in sent(out, T)


def test_news_for_an_away_member_waits_for_it() -> None:
    r = in_call(PATIENT)
    r.disconnect(C, 3.0)
    r.receive(T, p.Bye(), 4.0)  # the therapist hangs up while the client is away
    out = r.join(X, Role.CLIENT, "rc", "rc", 5.0, epoch=1, **CLIENT)
    assert p.PeerLeft(Role.THERAPIST, LeaveReason.HANGUP) in sent(out, X)


def test_a_client_that_resumes_into_the_waiting_room_knocks_again() -> None:
    r = room(PATIENT)
    r.restore({1: HeldSeat(p.MediaState.DISCONNECTED, False, 5.0)}, 0, 50.0, 45.0)
    r.join(T, Role.THERAPIST, None, "rt", 51.0)
    out = r.join(C, Role.CLIENT, "n", "n", 52.0, issued=6.0, **CLIENT)
    assert p.Waiting() in sent(out, C) and sent(out, T) == [KNOCK]


def test_revoke_closes_everybody_and_bars_new_joins() -> None:
    r = in_call()
    out = r.revoke(5.0)
    assert closed(out) == {T: 4003, C: 4003}
    assert r.state is CallState.CLOSED and r.empty
    assert closed(r.join(X, Role.CLIENT, None, "rx", 6.0, **CLIENT)) == {X: 4003}


def test_illegal_transition_raises() -> None:
    r = room()
    with pytest.raises(InvalidState, match="IDLE, cannot become ADMITTED"):
        r._transition(1, CallState.ADMITTED)


# --- ICE credentials and relay-only (issue 3) ---------------------------------------

TURN = IceServerSpec(("turn:turn.example.de:3478?transport=udp",), "DE", "rest")
SECRET = "s" * 40
TURN_POLICY = IcePolicy(servers=(TURN,), secret=SECRET, ttl=3600)


def turn_room(relay_only: bool = False) -> Room:
    offer = dataclasses.replace(TURN_POLICY.offer(), relay_only=relay_only)
    return Room("e" * 32, "K-1", RoomConfig(heartbeat_interval=10.0, ice=offer))


def minted(outputs: list[Output], conn: int) -> list[p.ServerMessage]:
    """What ``conn`` gets from the hub: relay credentials minted for the room's grants."""
    return [
        dataclasses.replace(o.message, ice_servers=TURN_POLICY.granted(o.grant))
        if o.grant is not None
        else o.message
        for o in outputs
        if isinstance(o, Send) and o.conn == conn
    ]


def test_only_admitted_members_get_turn_credentials() -> None:
    r = turn_room()
    (welcome_t,) = sent(r.join(T, Role.THERAPIST, None, "rt", 100.0), T)
    # Alone in the room the therapist learns that a relay exists, not how to use it.
    assert isinstance(welcome_t, p.Welcome) and welcome_t.ice_servers == []
    assert welcome_t.relay_urls == list(TURN.urls)
    welcome_c, _ = sent(r.join(C, Role.CLIENT, None, "rc", 101.0, **CLIENT), C)
    assert isinstance(welcome_c, p.Welcome) and welcome_c.ice_servers == []
    out = r.receive(T, p.Admit(), 102.0)
    (adm_t,) = minted(out, T)
    (adm_c,) = minted(out, C)
    assert isinstance(adm_t, p.Admitted) and isinstance(adm_c, p.Admitted)
    assert adm_t.ice_transport_policy is p.IceTransportPolicy.ALL
    user_t, user_c = adm_t.ice_servers[0].username, adm_c.ice_servers[0].username
    assert user_t and user_c and user_t != user_c  # each member its own credentials
    assert user_c.startswith(f"{102 + 3600}:") and "e" * 8 not in user_c


def test_relay_only_policy_and_candidate_filter() -> None:
    r = turn_room(relay_only=True)
    r.join(T, Role.THERAPIST, None, "rt", 0.0)
    r.join(C, Role.CLIENT, None, "rc", 1.0, **CLIENT)
    (adm,) = sent(r.receive(T, p.Admit(), 2.0), C)
    assert isinstance(adm, p.Admitted) and adm.ice_transport_policy is p.IceTransportPolicy.RELAY
    host = p.Candidate("candidate:1 1 udp 2122260223 10.231.1.2 50000 typ host", "0", 0)
    srflx = p.Candidate("candidate:2 1 udp 1686052607 198.51.100.7 50001 typ srflx", "0", 0)
    relay = p.Candidate(
        "candidate:3 1 udp 41885439 10.231.0.1 49160 typ relay raddr 0.0.0.0 rport 0", "0", 0
    )
    assert r.receive(T, host, 3.0) == []
    assert r.receive(T, srflx, 3.0) == []
    assert r.receive(T, relay, 3.0) == [Send(C, p.Relayed(relay, Role.THERAPIST))]
    sdp = (
        "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
        "a=candidate:1 1 udp 2122260223 10.231.1.2 50000 typ host\r\n"
        "a=candidate:3 1 udp 41885439 10.231.0.1 49160 typ relay raddr 0.0.0.0 rport 0\r\n"
        "a=end-of-candidates\r\n"
    )
    (relayed,) = sent(r.receive(T, p.Offer(sdp), 3.0), C)
    assert isinstance(relayed, p.Relayed) and isinstance(relayed.message, p.Offer)
    assert "10.231.1.2" not in relayed.message.sdp and "typ relay" in relayed.message.sdp
    assert "a=end-of-candidates" in relayed.message.sdp


def test_therapist_switches_relay_only_and_the_call_restarts() -> None:
    r = turn_room()
    r.join(T, Role.THERAPIST, None, "rt", 0.0)
    r.join(C, Role.CLIENT, None, "rc", 1.0, **CLIENT)
    r.receive(T, p.Admit(), 2.0)
    out = r.receive(T, p.RelayOnly(True), 3.0)
    for conn in (T, C):
        (adm,) = sent(out, conn)
        assert (
            isinstance(adm, p.Admitted) and adm.ice_transport_policy is p.IceTransportPolicy.RELAY
        )
    assert r.receive(T, p.RelayOnly(True), 4.0) == []  # no change, no restart
    assert closed(r.receive(C, p.RelayOnly(False), 5.0)) == {C: 4003}  # not the client's call


# --- key renewal schedule (issue 4: the server schedules, the browsers agree keys) --------


def test_rekey_is_scheduled_only_during_a_call() -> None:
    r = Room("f" * 32, "K", RoomConfig(heartbeat_interval=100.0, rekey_interval=5.0))
    r.join(T, Role.THERAPIST, None, "rt", 0.0)
    r.join(C, Role.CLIENT, None, "rc", 0.0, **CLIENT)
    assert r.tick(10.0) == []  # waiting room: nothing to renew
    (adm,) = sent(r.receive(T, p.Admit(), 10.0), C)
    assert isinstance(adm, p.Admitted) and adm.epoch == 1 and adm.rekey_interval == 5.0
    assert r.next_deadline() == 15.0
    assert r.tick(14.9) == []
    out = r.tick(15.0)
    assert sent(out, T) == [p.Rekey(2)] and sent(out, C) == [p.Rekey(2)]
    assert sent(r.tick(20.0), C) == [p.Rekey(3)]
    r.disconnect(C, 21.0)
    assert r.tick(30.0) == []  # nobody to renew with while the client is away
    # The client's browser is back: it keeps its connection, the due renewal follows.
    out = r.join(X, Role.CLIENT, "rc", "rx", 31.0, epoch=3, **CLIENT)
    assert not any(isinstance(m, p.Admitted) for m in sent(out, X))
    assert sent(r.tick(31.0), X) == [p.Rekey(4)]
    assert r.tick(35.0) == [] and sent(r.tick(36.0), X) == [p.Rekey(5)]


# --- quality samples and the bitrate policy (issue 5) ----------------------------------


def counting_ids() -> Callable[[], str]:
    numbers = itertools.count(1)
    return lambda: f"call-{next(numbers)}"


def quality_room() -> Room:
    return Room("9" * 32, "K-5", RoomConfig(heartbeat_interval=100.0, call_ids=counting_ids()))


SAMPLE = p.Quality(
    rtt_ms=40.0,
    local_candidate=p.CandidateType.HOST,
    remote_candidate=p.CandidateType.SRFLX,
)
RELAYED = p.Quality(local_candidate=p.CandidateType.RELAY, remote_candidate=p.CandidateType.HOST)


def stored(outputs: list[Output]) -> list[tuple[str, p.Quality, float]]:
    return [(o.call_id, o.sample, o.at) for o in outputs if isinstance(o, StoreSample)]


def test_admitted_carries_the_operator_bitrate_policy() -> None:
    r = Room(
        "8" * 32,
        "K",
        RoomConfig(heartbeat_interval=10.0, max_bitrate_kbps=1800, relay_max_bitrate_kbps=700),
    )
    r.join(T, Role.THERAPIST, None, "rt", 0.0)
    r.join(C, Role.CLIENT, None, "rc", 1.0, **CLIENT)
    out = r.receive(T, p.Admit(), 2.0)
    for conn in (T, C):
        (adm,) = sent(out, conn)
        assert isinstance(adm, p.Admitted)
        assert adm.max_bitrate_kbps == 1800 and adm.relay_max_bitrate_kbps == 700


def test_quality_is_kept_only_from_members_in_a_call() -> None:
    r = quality_room()
    r.join(T, Role.THERAPIST, None, "rt", 0.0)
    assert r.receive(T, SAMPLE, 1.0) == []  # alone: nothing to attach it to
    r.join(C, Role.CLIENT, None, "rc", 2.0, **CLIENT)
    assert r.receive(T, SAMPLE, 3.0) == []  # the client is still waiting
    r.receive(T, p.Admit(), 4.0)
    assert r.call_id == "call-1"
    assert stored(r.receive(T, SAMPLE, 5.0)) == [("call-1", SAMPLE, 5.0)]
    assert stored(r.receive(C, SAMPLE, 6.0)) == [("call-1", SAMPLE, 6.0)]
    out = r.receive(C, p.Bye(), 7.0)
    assert r.call_id is None and not stored(out)
    assert r.receive(T, SAMPLE, 60.0) == []  # straggler after the hang-up: dropped


def test_a_waiting_client_cannot_send_quality() -> None:
    r = quality_room()
    r.join(T, Role.THERAPIST, None, "rt", 0.0)
    r.join(C, Role.CLIENT, None, "rc", 1.0, **CLIENT)
    out = r.receive(C, SAMPLE, 2.0)
    assert closed(out) == {C: 4003} and not stored(out)
    (close,) = [o for o in out if isinstance(o, Close)]
    assert close.error is not None and close.error.code == "not-allowed"
    assert sent(out, T) == [p.KnockCancelled()]


def test_every_call_start_gets_a_fresh_call_id() -> None:
    r = quality_room()
    r.join(T, Role.THERAPIST, None, "rt", 0.0)
    r.join(C, Role.CLIENT, None, "rc", 1.0, **CLIENT)
    r.receive(T, p.Admit(), 2.0)
    ids = [r.call_id]
    r.receive(T, p.RelayOnly(True), 3.0)  # restart under a new policy
    ids.append(r.call_id)
    r.receive(C, p.Bye(), 4.0)
    assert r.call_id is None
    r.join(X, Role.CLIENT, None, "rx", 5.0, **CLIENT)  # knocks again and is admitted
    r.receive(T, p.Admit(), 5.0)
    ids.append(r.call_id)
    assert closed(r.join(4, Role.THERAPIST, "wrong", "r4", 6.0)) == {4: 4009}  # no restart
    assert r.call_id == "call-3"
    r.receive(T, p.Bye(), 7.0)  # the therapist hangs up and comes back
    r.join(5, Role.THERAPIST, None, "r5", 7.0)
    assert r.call_id is None  # the hang-up ended the admission: the client knocks
    r.receive(5, p.Admit(), 7.5)
    ids.append(r.call_id)
    assert ids == ["call-1", "call-2", "call-3", "call-4"]
    assert stored(r.receive(X, SAMPLE, 8.0)) == [("call-4", SAMPLE, 8.0)]


def test_default_call_ids_are_random_and_unrelated_to_the_session() -> None:
    ids = set()
    for _ in range(3):
        r = Room("7" * 32, "K-9", RoomConfig())
        r.join(T, Role.THERAPIST, None, "rt", 0.0)
        r.join(C, Role.CLIENT, None, "rc", 1.0, **CLIENT)
        r.receive(T, p.Admit(), 2.0)
        assert r.call_id is not None and re.fullmatch(r"[0-9a-f]{24}", r.call_id)
        assert "7777" not in r.call_id
        ids.add(r.call_id)
    assert len(ids) == 3


def test_quality_faster_than_the_minimum_interval_is_dropped() -> None:
    r = quality_room()
    r.join(T, Role.THERAPIST, None, "rt", 0.0)
    r.join(C, Role.CLIENT, None, "rc", 1.0, **CLIENT)
    r.receive(T, p.Admit(), 2.0)
    assert stored(r.receive(T, SAMPLE, 10.0))
    assert r.receive(T, SAMPLE, 19.9) == []  # a flood is not stored...
    assert stored(r.receive(C, SAMPLE, 19.9))  # ...and each member has its own pace
    assert stored(r.receive(T, SAMPLE, 20.0))


def test_the_latest_sample_says_whether_the_call_is_relayed() -> None:
    r = quality_room()
    r.join(T, Role.THERAPIST, None, "rt", 0.0)
    r.join(C, Role.CLIENT, None, "rc", 1.0, **CLIENT)
    r.receive(T, p.Admit(), 2.0)
    assert r.relayed is None
    r.receive(T, RELAYED, 10.0)
    assert r.relayed is True
    r.receive(C, SAMPLE, 20.0)
    assert r.relayed is False
    r.receive(T, p.RelayOnly(True), 21.0)
    assert r.relayed is None  # a new call: nothing known yet


def test_the_call_id_is_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    r = quality_room()
    r.join(T, Role.THERAPIST, None, "rt", 0.0)
    r.join(C, Role.CLIENT, None, "rc", 1.0, **CLIENT)
    r.receive(T, p.Admit(), 2.0)
    r.receive(T, SAMPLE, 10.0)
    r.receive(T, p.RelayOnly(True), 11.0)
    r.receive(C, p.Bye(), 12.0)
    assert caplog.records and "call-" not in caplog.text


def test_a_new_browser_on_the_other_seat_restarts_the_call_when_the_away_one_is_back() -> None:
    r = in_call(PATIENT)
    r.disconnect(C, 3.0)  # the client's line breaks
    r.disconnect(T, 4.0)  # the therapist's tab is closed ...
    out = r.join(X, Role.THERAPIST, None, "rt2", 5.0)  # ... and opened anew from the dashboard
    assert sent(out, X)[0].admitted is True  # type: ignore[union-attr]
    assert not any(isinstance(m, p.Admitted) for m in sent(out, X))  # nobody to call yet
    # The client's browser is back.
    out = r.join(4, Role.CLIENT, "rc", "rc2", 6.0, epoch=1, **CLIENT)
    # Its connection led to the therapist's old tab: both start a fresh one.
    assert admitted_c(epoch=2) in sent(out, 4) and admitted_t(epoch=2) in sent(out, X)
    assert not r.call_pending


def test_relay_only_while_a_seat_is_away_restarts_the_call_when_it_is_back() -> None:
    r = in_call(PATIENT)
    r.disconnect(C, 3.0)
    assert r.receive(T, p.RelayOnly(True), 4.0) == []
    out = r.join(X, Role.CLIENT, "rc", "rx", 5.0, epoch=1, **CLIENT)
    (admitted,) = [m for m in sent(out, X) if isinstance(m, p.Admitted)]
    assert admitted.ice_transport_policy is p.IceTransportPolicy.RELAY


def test_a_new_tab_of_the_therapist_takes_its_away_seat() -> None:
    r = in_call(PATIENT)
    r.receive(T, p.Media(p.MediaState.CONNECTED), 3.0)
    r.disconnect(T, 4.0)  # the tab was closed
    out = r.join(X, Role.THERAPIST, None, "rt2", 9.0)  # reopened from the dashboard
    assert [(o.kind, o.at) for o in out if isinstance(o, BillingEvent)] == [
        (EventKind.MEDIA_DISCONNECTED, 4.0),
        (EventKind.LEFT, 4.0),
        (EventKind.JOINED, 9.0),
    ]
    assert admitted_c(epoch=2) in sent(out, C) and admitted_t(epoch=2) in sent(out, X)


def test_a_rebuilt_room_keeps_the_therapists_relay_only_choice() -> None:
    r = room(PATIENT)
    seats = {
        0: HeldSeat(p.MediaState.CONNECTED, False, 1.0),
        1: HeldSeat(p.MediaState.CONNECTED, True, 2.0),
    }
    r.restore(seats, epoch=3, now=50.0, last_event_at=45.0)
    r.join(T, Role.THERAPIST, "n", "n", 51.0, epoch=3, issued=2.0, relay_only=True)
    r.join(C, Role.CLIENT, "m", "m", 52.0, epoch=3, issued=2.0, relay_only=True, **CLIENT)
    assert r.relay_only
    # A client cannot turn it on or off, and nobody can turn it off this way.
    r2 = room(PATIENT)
    r2.restore(seats, epoch=3, now=50.0, last_event_at=45.0)
    r2.join(C, Role.CLIENT, "m", "m", 52.0, epoch=3, issued=2.0, relay_only=True, **CLIENT)
    assert not r2.relay_only


def test_a_late_disconnected_report_after_the_hang_up_is_recorded_not_refused() -> None:
    """The therapist hangs up while the client's connection is going down: the
    client's "disconnected" arrives after its admission ended. It is the end of
    its media, not a claim of media: recorded, and the socket stays (the aiortc
    peer got 4003 here, now and then, in test_e2e_call)."""
    r = room()
    r.join(T, Role.THERAPIST, None, "rt", 0.0)
    r.join(C, Role.CLIENT, None, "rc", 1.0, **CLIENT)
    r.receive(T, p.Admit(), 2.0)
    r.receive(C, p.Media(p.MediaState.CONNECTED), 3.0)
    r.receive(T, p.Bye(), 10.0)
    out = r.receive(C, p.Media(p.MediaState.DISCONNECTED), 10.1)
    assert closed(out) == {}
    assert recorded(out) == [(1, EventKind.MEDIA_DISCONNECTED)]
    # A claim of media without admission is still refused.
    out = r.receive(C, p.Media(p.MediaState.CONNECTED), 12.0)
    assert closed(out) == {C: 4003}


def test_a_late_candidate_after_the_hang_up_gets_a_notice_not_a_close() -> None:
    """A candidate still on its way when the therapist hung up: nothing reaches
    anyone, the client hears no-peer and keeps its socket. A client that never
    was in a call is still refused (also test_signaling.py:
    test_waiting_client_cannot_send_to_the_therapist)."""
    r = room()
    r.join(T, Role.THERAPIST, None, "rt", 0.0)
    r.join(C, Role.CLIENT, None, "rc", 1.0, **CLIENT)
    r.receive(T, p.Admit(), 2.0)
    r.receive(T, p.Bye(), 10.0)
    out = r.receive(C, p.Candidate("candidate:1 1 udp 1 192.0.2.1 9 typ host", "0", 0), 10.1)
    assert closed(out) == {}
    assert [m for m in sent(out, C) if isinstance(m, p.Error)] == [p.Error.of(NoPeer())]
    # A new browser with the link (no call behind it) is refused as before.
    r.receive(C, p.Bye(), 11.0)
    r.join(C + 10, Role.CLIENT, None, "rc2", 12.0, **CLIENT)
    out = r.receive(C + 10, p.Candidate("candidate:1 1 udp 1 192.0.2.1 9 typ host", "0", 0), 12.1)
    assert closed(out) == {C + 10: 4003}


# --- media-state: each side's camera and microphone, for the other's page -------

NO_DEVICES = p.MediaStateReport(p.DeviceState.NONE, p.DeviceState.NONE, False)
MUTED = p.MediaStateReport(p.DeviceState.ON, p.DeviceState.OFF, False)
CAMERA_OFF = p.MediaStateReport(p.DeviceState.OFF, p.DeviceState.ON, False)
AUDIO_ONLY = p.MediaStateReport(p.DeviceState.ON, p.DeviceState.ON, True)


def media_states(outputs: list[Output], conn: int) -> list[tuple[Role, p.MediaStateReport]]:
    return [
        (m.sender, m.message)
        for m in sent(outputs, conn)
        if isinstance(m, p.Relayed) and isinstance(m.message, p.MediaStateReport)
    ]


def test_a_knocking_clients_devices_reach_the_therapist_not_the_other_way() -> None:
    r = room()
    r.join(T, Role.THERAPIST, None, "rt", 0.0)
    r.join(C, Role.CLIENT, None, "rc", 1.0, **CLIENT)
    out = r.receive(C, NO_DEVICES, 1.5)
    assert out == [Send(T, p.Relayed(NO_DEVICES, Role.CLIENT))] and recorded(out) == []
    # A waiting client learns nothing of the therapist before admission ...
    assert r.receive(T, CAMERA_OFF, 2.0) == []
    # ... and hears it right after ``admitted``; the therapist's fresh page hears
    # the client's again.
    out = r.receive(T, p.Admit(), 3.0)
    assert isinstance(sent(out, C)[0], p.Admitted)
    assert media_states(out, C) == [(Role.THERAPIST, CAMERA_OFF)]
    assert isinstance(sent(out, T)[0], p.Admitted)
    assert media_states(out, T) == [(Role.CLIENT, NO_DEVICES)]
    # In the call, a change goes across as it happens.
    assert r.receive(T, MUTED, 4.0) == [Send(C, p.Relayed(MUTED, Role.THERAPIST))]


def test_media_state_without_news_is_not_relayed_and_fast_changes_are_coalesced() -> None:
    r = in_call()
    assert media_states(r.receive(C, MUTED, 3.0), T) == [(Role.CLIENT, MUTED)]
    assert r.receive(C, MUTED, 3.1) == []  # no news (a browser repeats it after welcome)
    # Faster than MEDIA_STATE_INTERVAL: held back; the latest follows when it is over.
    assert r.receive(C, CAMERA_OFF, 3.2) == []
    assert r.receive(C, AUDIO_ONLY, 3.3) == []
    assert r.next_deadline() == 3.0 + MEDIA_STATE_INTERVAL
    assert media_states(r.tick(3.0 + MEDIA_STATE_INTERVAL - 0.01), T) == []
    assert media_states(r.tick(3.0 + MEDIA_STATE_INTERVAL), T) == [(Role.CLIENT, AUDIO_ONLY)]
    assert media_states(r.tick(4.0), T) == []  # once


def test_a_member_that_comes_back_hears_the_others_latest_media_state() -> None:
    r = in_call(PATIENT)
    r.receive(T, MUTED, 3.0)
    r.disconnect(C, 4.0)
    # While the client is away nothing is buffered for it; it gets the latest when back.
    r.receive(T, CAMERA_OFF, 5.0)
    assert r.members[1].pending == []
    out = r.join(X, Role.CLIENT, "rc", "rc", 6.0, epoch=1, **CLIENT)  # silent resume
    assert isinstance(sent(out, X)[0], p.Welcome)
    assert media_states(out, X) == [(Role.THERAPIST, CAMERA_OFF)]
    # A reload (epoch 0) starts the call anew: the state follows its ``admitted``.
    out = r.join(C, Role.CLIENT, "rc", "rc", 7.0, epoch=0, **CLIENT)
    messages = sent(out, C)
    assert any(isinstance(m, p.Admitted) for m in messages)
    assert messages[-1] == p.Relayed(CAMERA_OFF, Role.THERAPIST)
    # A therapist's new tab finds the client's state with the knock of a waiting client.
    r2 = room()
    r2.join(C, Role.CLIENT, None, "rc", 0.0, **CLIENT)
    r2.receive(C, NO_DEVICES, 0.5)
    out = r2.join(T, Role.THERAPIST, None, "rt", 1.0)
    assert sent(out, T)[1:] == [KNOCK, p.Relayed(NO_DEVICES, Role.CLIENT)]


def test_media_state_goes_with_the_seat() -> None:
    r = in_call()
    r.receive(C, NO_DEVICES, 3.0)
    r.receive(C, p.Bye(), 4.0)
    # Another browser with the client link is a new person for the page: no old state.
    out = r.join(X, Role.CLIENT, None, "rx", 5.0, **CLIENT)
    assert sent(out, T) == [KNOCK]
    assert r.members[1].media_state is None


def test_media_state_is_never_recorded_nor_logged(caplog: pytest.LogCaptureFixture) -> None:
    r = in_call()
    caplog.set_level(logging.DEBUG)
    out = r.receive(C, NO_DEVICES, 3.0) + r.receive(T, AUDIO_ONLY, 3.5)
    out += r.tick(4.0)
    assert recorded(out) == [] and not any(isinstance(o, StoreSample) for o in out)
    assert caplog.records == []


def test_a_tried_client_link_is_a_notice_for_the_therapist_only() -> None:
    r = in_call()
    out = r.join(X, Role.CLIENT, None, "rx", 3.0, **CLIENT)
    assert closed(out) == {X: 4009} and recorded(out) == []
    (refusal,) = [o for o in out if isinstance(o, Close)]
    assert refusal.error is not None and refusal.error.code == "occupied"
    assert "new link" in refusal.error.say().en
    assert sent(out, T) == [p.Notice(p.NoticeKind.LINK_IN_USE)] and sent(out, C) == []
    # A therapist's second tab while the first is live: refused, no notice to anyone.
    out = r.join(X, Role.THERAPIST, None, "rx", 4.0)
    assert closed(out) == {X: 4009} and sent(out, T) == [] and sent(out, C) == []
    # Nobody to tell: a client seat held while the therapist is not there at all.
    r2 = room()
    r2.join(C, Role.CLIENT, None, "rc", 0.0, **CLIENT)
    out = r2.join(X, Role.CLIENT, None, "rx", 1.0, **CLIENT)
    assert closed(out) == {X: 4009} and [o for o in out if isinstance(o, Send)] == []


# --- the client's name, its consent, the room check -------------------------------------

NAME = "Quirinia Zwetschgenbühl"


def errors_of(outputs: list[Output]) -> dict[int, str]:
    return {o.conn: o.error.code for o in outputs if isinstance(o, Close) and o.error}


def test_a_client_without_consent_is_refused_and_takes_no_seat() -> None:
    r = room()
    r.join(T, Role.THERAPIST, None, "rt", 0.0)
    out = r.join(C, Role.CLIENT, None, "rc", 1.0, name=NAME)
    assert errors_of(out) == {C: "consent-required"} and closed(out) == {C: 4000}
    # No seat, no knock, no billing event: nothing happened but the refusal.
    assert recorded(out) == [] and sent(out, T) == [] and 1 not in r.members
    assert r.state is CallState.IDLE


def test_the_name_is_required_unless_the_operator_makes_it_optional() -> None:
    r = room()
    out = r.join(C, Role.CLIENT, None, "rc", 1.0, consent=True)
    assert errors_of(out) == {C: "name-required"} and closed(out) == {C: 4000}
    assert 1 not in r.members
    r = room(RoomConfig(client_name_required=False))
    r.join(T, Role.THERAPIST, None, "rt", 0.0)
    out = r.join(C, Role.CLIENT, None, "rc", 1.0, consent=True)
    assert sent(out, T) == [p.Knock(name=None, consent=True)]


def test_a_therapists_name_and_consent_are_not_asked_for_nor_kept() -> None:
    r = room()
    out = r.join(T, Role.THERAPIST, None, "rt", 0.0, name="Dr. T")
    assert closed(out) == {} and r.members[0].name is None
    out = r.join(C, Role.CLIENT, None, "rc", 1.0, name=NAME, consent=True)
    # The client hears nothing of a name: the seat's name goes to the therapist alone.
    assert all(NAME not in repr(vars(m)) for m in sent(out, C) if hasattr(m, "__dict__"))
    assert sent(out, T) == [p.Knock(name=NAME, consent=True)]


def test_the_therapist_gets_the_name_with_the_knock_and_whenever_the_client_is_there() -> None:
    r = room(PATIENT)
    r.join(C, Role.CLIENT, None, "rc", 0.0, name=NAME, consent=True)
    # Arriving while the client waits: the welcome names the seat, then the knock.
    out = r.join(T, Role.THERAPIST, None, "rt", 1.0)
    welcome, knock = sent(out, T)
    assert isinstance(welcome, p.Welcome) and welcome.peer_name == NAME
    assert knock == p.Knock(name=NAME, consent=True)
    r.receive(T, p.Admit(), 2.0)
    # The therapist's tab went; a new one (from the dashboard) takes the seat during
    # the call: its welcome says the name again.
    r.disconnect(T, 2.5)
    out = r.join(X, Role.THERAPIST, None, "rt2", 3.0)
    assert r.members[0].conn == X
    welcome = sent(out, X)[0]
    assert isinstance(welcome, p.Welcome) and welcome.peer_name == NAME and welcome.admitted
    # The client's browser comes back after its seat was given up: peer-joined names it.
    r.disconnect(C, 4.0)
    r.tick(4.0 + PATIENT.resume_grace + 1)
    assert 1 not in r.members
    back = r.join(4, Role.CLIENT, "rc", "rc2", 70.0, name=NAME)  # its ticket: no consent again
    assert p.PeerJoined(Role.CLIENT, True, name=NAME) in sent(back, X)
    # To the client, the therapist's welcome and peer-joined carry no name.
    assert all(getattr(m, "peer_name", None) is None for m in sent(back, 4))


def test_a_ticket_need_not_repeat_name_or_consent_and_a_rebuilt_room_learns_the_name() -> None:
    r = room(PATIENT)
    r.join(T, Role.THERAPIST, None, "rt", 0.0)
    r.join(C, Role.CLIENT, None, "rc", 1.0, name=NAME, consent=True)
    r.receive(T, p.Admit(), 1.5)
    r.disconnect(C, 2.0)  # admitted: its seat waits for its browser
    out = r.join(4, Role.CLIENT, "rc", "rc", 3.0)  # resumed: neither said again
    assert closed(out) == {} and r.members[1].name == NAME
    # A restarted server rebuilt the room from the stored events: no name there.
    rebuilt = room(PATIENT)
    rebuilt.restore({1: HeldSeat(p.MediaState.DISCONNECTED, False, 1.0)}, 0, 10.0, 9.0)
    assert rebuilt.members[1].name is None
    rebuilt.join(4, Role.CLIENT, "any", "rc", 11.0, issued=5.0, name=NAME)
    out = rebuilt.join(T, Role.THERAPIST, None, "rt", 12.0)
    assert p.Knock(name=NAME, consent=True) in sent(out, T)


def test_the_name_leaves_with_the_seat() -> None:
    r = in_call(PATIENT)
    r.receive(C, p.Bye(), 3.0)
    assert 1 not in r.members
    r.disconnect(T, 3.5)
    out = r.join(X, Role.THERAPIST, None, "rt2", 4.0)
    welcome = sent(out, X)[0]
    assert isinstance(welcome, p.Welcome) and welcome.peer_name is None
    assert all(NAME not in repr(vars(m)) for m in r.members.values())


def test_no_log_record_of_a_session_names_the_client(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    r = room(RoomConfig(heartbeat_interval=1.0, resume_grace=5.0))
    r.join(T, Role.THERAPIST, None, "rt", 0.0)
    r.join(C, Role.CLIENT, None, "rc", 1.0, name=NAME, consent=True)
    r.join(X, Role.CLIENT, None, "rx", 1.5, name=NAME, consent=True)  # a copied link: refused
    r.receive(T, p.Admit(), 2.0)
    r.receive(T, p.RoomCheckDone(), 2.5)
    r.receive(C, p.RoomCheckDone(), 3.0)  # refused: only the therapist ticks it
    r.join(5, Role.CLIENT, None, "r5", 3.5, name=NAME, consent=True)
    r.receive(T, p.Admit(), 4.0)
    r.tick(30.0)
    r.revoke(31.0)
    assert caplog.records, "the room logs its transitions"
    for record in caplog.records:
        assert "Zwetschgen" not in record.getMessage(), record.getMessage()
        assert "Zwetschgen" not in repr(record.args), record.args
    # Neither does a repr that a log line or a traceback might show.
    assert "Zwetschgen" not in repr(p.Hello("a" * 32, "t" * 43, name=NAME))
    assert "Zwetschgen" not in repr(p.Knock(name=NAME)) + repr(
        p.PeerJoined(Role.CLIENT, True, NAME)
    )
    assert "Zwetschgen" not in repr(r) + repr(Room("b" * 32, "K").members)


def test_the_room_check_goes_to_the_client_and_holds_for_the_admission() -> None:
    r = in_call(PATIENT)
    out = r.receive(T, p.RoomCheckDone(), 3.0)
    assert sent(out, C) == [p.Relayed(p.RoomCheckDone(), Role.THERAPIST)] and sent(out, T) == []
    # The call restarts within the admission (relay-only): not asked again.
    out = r.receive(T, p.RelayOnly(enabled=True), 4.0)
    admitted = [m for m in sent(out, C) if isinstance(m, p.Admitted)]
    assert admitted and not admitted[0].room_check
    # A new admission asks again.
    r.receive(T, p.Bye(), 5.0)
    r.join(T, Role.THERAPIST, None, "rt3", 6.0)
    out = r.receive(T, p.Admit(), 7.0)
    admitted = [m for m in sent(out, C) if isinstance(m, p.Admitted)]
    assert admitted and admitted[0].room_check


def test_only_the_therapist_ticks_the_room_check_and_only_in_a_call() -> None:
    r = in_call()
    out = r.receive(C, p.RoomCheckDone(), 3.0)
    assert errors_of(out) == {C: "not-allowed"}
    r = room()
    r.join(T, Role.THERAPIST, None, "rt", 0.0)
    out = r.receive(T, p.RoomCheckDone(), 1.0)
    assert sent(out, T) == [p.Error.of(NoPeer())] and not r.room_check_done


def test_a_network_test_gets_short_lived_relay_credentials_before_admission() -> None:
    r = room(PATIENT)
    r.join(T, Role.THERAPIST, None, "rt", 0.0, valid_until=50.0)
    r.join(C, Role.CLIENT, None, "rc", 1.0, **CLIENT)
    assert r.state is CallState.WAITING
    # The waiting client and the therapist alone each get a grant of their own,
    # only to them, that ends NETTEST_TTL from now (or with the admission).
    for conn, role, until in ((C, Role.CLIENT, 2.0 + NETTEST_TTL), (T, Role.THERAPIST, 50.0)):
        out = r.receive(conn, p.NetTest(), 2.0)
        (send,) = [o for o in out if isinstance(o, Send)]
        assert send.conn == conn and send.message == p.NetTestServers(ttl=NETTEST_TTL)
        assert send.grant == IceGrant("a" * 32, role, 2.0, until)
        assert not recorded(out)
    # Asked again too soon: dropped (the page keeps what it got); later: fresh ones.
    assert r.receive(C, p.NetTest(), 2.0 + NETTEST_INTERVAL - 1) == []
    out = r.receive(C, p.NetTest(), 2.0 + NETTEST_INTERVAL)
    assert [o.message for o in out if isinstance(o, Send)] == [p.NetTestServers(ttl=NETTEST_TTL)]
