"""The room of a group session, pure (issue 16): several client seats, each knocking,
admitted, declined and leaving on its own, messages routed by seat."""

from __future__ import annotations

from typing import TypeVar

from sprechzimmer import protocol as p
from sprechzimmer.protocol import LeaveReason, Role
from sprechzimmer.room import (
    BillingEvent,
    CallState,
    Close,
    EventKind,
    HeldSeat,
    Output,
    Room,
    RoomConfig,
    Send,
    SfuEnd,
    SfuLeave,
    SfuRelay,
)

THERAPIST = 10
"""Connection ids: the therapist's 10, seat n's client 10 + n."""
NAMES = {1: "Anna", 2: "Ben", 3: "Cem"}
PATIENT = RoomConfig(heartbeat_interval=1000.0, sfu=True)
"""A service with an SFU, whose members never time out."""
NO_SFU = RoomConfig(heartbeat_interval=1000.0)


def conn(seat: int) -> int:
    return THERAPIST + seat


def sent(outputs: list[Output], to: int) -> list[p.ServerMessage]:
    return [o.message for o in outputs if isinstance(o, Send) and o.conn == to]


M = TypeVar("M")


def of_type(outputs: list[Output], to: int, kind: type[M]) -> list[M]:
    return [m for m in sent(outputs, to) if isinstance(m, kind)]


def group(
    waiting: tuple[int, ...] = (1, 2, 3), config: RoomConfig = PATIENT
) -> tuple[Room, list[Output]]:
    """The therapist and a client in each of ``waiting``'s seats, knocking."""
    r = Room("g" * 32, "Gruppe-Mo", config, client_seats=3)
    out = r.join(THERAPIST, Role.THERAPIST, None, "t", 0.0)
    for seat in waiting:
        out += r.join(
            conn(seat), Role.CLIENT, None, f"n{seat}", float(seat), seat=seat,
            name=NAMES[seat], consent=True,
        )  # fmt: skip
    return r, out


def test_each_seat_knocks_with_its_name_and_the_therapist_admits_one() -> None:
    r, out = group()
    knocks = of_type(out, THERAPIST, p.Knock)
    assert [(k.seat, k.name) for k in knocks] == [(1, "Anna"), (2, "Ben"), (3, "Cem")]
    # A waiting client hears of nobody else in the room.
    for seat in (1, 2, 3):
        assert [type(m) for m in sent(out, conn(seat))] == [p.Welcome, p.Waiting]
        assert sent(out, conn(seat))[0].seat == seat  # type: ignore[union-attr]
    # Every page knows it is in a group: it uses the group's keys and tiles.
    assert {
        m.seats for m in (o.message for o in out if isinstance(o, Send)) if isinstance(m, p.Welcome)
    } == {3}

    out = r.receive(THERAPIST, p.Admit(seat=2), 5.0)
    assert r.admission(2) is CallState.ADMITTED and r.in_call
    assert r.admission(1) is CallState.WAITING and r.admission(3) is CallState.WAITING
    (to_therapist,) = of_type(out, THERAPIST, p.Admitted)
    (to_ben,) = of_type(out, conn(2), p.Admitted)
    assert to_therapist.peers == [p.Peer(2, Role.CLIENT, "Ben")]
    assert to_ben.peers == [p.Peer(0, Role.THERAPIST)]
    assert sent(out, conn(1)) == [] and sent(out, conn(3)) == []
    assert [(o.seat, o.kind) for o in out if isinstance(o, BillingEvent)] == [
        (2, EventKind.ADMITTED)
    ]


def test_admit_without_a_seat_admits_everyone_knocking_and_all_meet() -> None:
    r, _ = group()
    out = r.receive(THERAPIST, p.Admit(), 5.0)
    assert all(r.admission(seat) is CallState.ADMITTED for seat in (1, 2, 3))
    epochs = set()
    for me in (0, 1, 2, 3):
        (admitted,) = of_type(out, conn(me), p.Admitted)
        epochs.add(admitted.epoch)
        # Everybody else, with the clients' names: a group's tiles show them.
        expected = [
            p.Peer(s, Role.THERAPIST if s == 0 else Role.CLIENT, NAMES.get(s))
            for s in (0, 1, 2, 3)
            if s != me
        ]
        assert admitted.peers == expected
    assert len(epochs) == 1


def test_messages_go_to_the_seat_they_name_and_say_whose_they_are() -> None:
    r, _ = group()
    r.receive(THERAPIST, p.Admit(seat=1), 5.0)
    r.receive(THERAPIST, p.Admit(seat=3), 6.0)
    offer = p.Offer("v=0", to=3)
    out = r.receive(conn(1), offer, 7.0)
    assert out == [Send(conn(3), p.Relayed(offer, Role.CLIENT, 1))]
    assert p.to_wire(p.Relayed(offer, Role.CLIENT, 1)) == {
        "type": "offer",
        "sdp": "v=0",
        "from": "client",
        "from_seat": 1,
    }
    # Without ``to`` a client's message is for the therapist.
    answer = p.Answer("v=0")
    assert r.receive(conn(3), answer, 8.0) == [Send(THERAPIST, p.Relayed(answer, Role.CLIENT, 3))]
    # The therapist must say which client: in a group "the other one" means nobody.
    (error,) = sent(r.receive(THERAPIST, p.Offer("v=0"), 9.0), THERAPIST)
    assert isinstance(error, p.Error) and error.code == "no-peer" and not error.fatal
    # A knocking seat is reached by nobody; nothing is relayed to it.
    (error,) = sent(r.receive(conn(1), p.Candidate("c", to=2), 9.5), conn(1))
    assert isinstance(error, p.Error) and error.code == "no-peer"


def test_a_client_that_waits_cannot_reach_anyone() -> None:
    r, _ = group()
    r.receive(THERAPIST, p.Admit(seat=1), 5.0)
    out = r.receive(conn(2), p.Offer("v=0", to=1), 6.0)
    (close,) = [o for o in out if isinstance(o, Close)]
    assert close.conn == conn(2) and close.error is not None and close.error.code == "not-allowed"
    assert sent(out, conn(1)) == [] and 2 not in r.members


def test_one_leaves_and_the_call_goes_on_for_the_others() -> None:
    r, _ = group()
    r.receive(THERAPIST, p.Admit(), 5.0)
    call_id = r.call_id
    epoch = r.epoch
    out = r.receive(conn(2), p.Bye(), 9.0)
    left = p.PeerLeft(Role.CLIENT, LeaveReason.HANGUP, seat=2)
    # Those who stay renew their sender keys: what follows is closed to seat 2.
    for seat in (0, 1, 3):
        assert sent(out, conn(seat)) == [left, p.Rekey(epoch + 1)]
    assert sent(out, conn(2)) == []
    assert r.in_call and r.call_id == call_id  # no restart for those who stay
    assert r.admission(2) is CallState.IDLE and 2 not in r.members
    # Its link knocks again; admitted, everyone starts anew with it.
    out = r.join(conn(2), Role.CLIENT, None, "n2b", 10.0, seat=2, name="Ben", consent=True)
    assert of_type(out, THERAPIST, p.Knock)[0].seat == 2
    assert sent(out, conn(1)) == [] and sent(out, conn(3)) == []
    out = r.receive(THERAPIST, p.Admit(seat=2), 11.0)
    assert [len(of_type(out, conn(s), p.Admitted)) for s in (0, 1, 2, 3)] == [1, 1, 1, 1]


def test_decline_one_seat_leaves_the_others_knocking() -> None:
    r, _ = group()
    out = r.receive(THERAPIST, p.Decline(seat=3), 5.0)
    assert sent(out, conn(3)) == [p.Declined()]
    assert Close(conn(3)) in out and 3 not in r.members
    assert sent(out, THERAPIST) == [p.KnockCancelled(seat=3)]
    assert r.admission(1) is CallState.WAITING and r.admission(2) is CallState.WAITING
    (error,) = sent(r.receive(THERAPIST, p.Decline(seat=3), 6.0), THERAPIST)
    assert isinstance(error, p.Error) and error.code == "no-peer"


def test_the_therapist_removes_a_member_from_the_call() -> None:
    r, _ = group()
    r.receive(THERAPIST, p.Admit(), 5.0)
    out = r.receive(THERAPIST, p.Decline(seat=2), 9.0)
    assert sent(out, conn(2)) == [p.Declined()] and Close(conn(2)) in out
    left = p.PeerLeft(Role.CLIENT, LeaveReason.HANGUP, seat=2)
    # New keys for those who stay; the removed member gets none.
    stay = [left, p.Rekey(r.epoch)]
    assert sent(out, THERAPIST) == sent(out, conn(1)) == sent(out, conn(3)) == stay
    assert r.admission(2) is CallState.IDLE and r.in_call
    # Its link only knocks again: the therapist decides.
    out = r.join(conn(2), Role.CLIENT, None, "again", 10.0, seat=2, name="Ben", consent=True)
    assert p.Waiting() in sent(out, conn(2))


def test_the_therapists_hang_up_ends_every_admission() -> None:
    r, _ = group()
    r.receive(THERAPIST, p.Admit(), 5.0)
    out = r.receive(THERAPIST, p.Bye(), 9.0)
    for seat in (1, 2, 3):
        assert sent(out, conn(seat)) == [p.PeerLeft(Role.THERAPIST, LeaveReason.HANGUP)]
        assert r.admission(seat) is CallState.WAITING
    assert not r.in_call and r.call_id is None and r.admitted_resume == {}


def test_camera_and_microphone_reach_those_in_the_call_and_the_therapist_only() -> None:
    r, _ = group()
    r.receive(THERAPIST, p.Admit(seat=1), 5.0)
    r.receive(THERAPIST, p.Admit(seat=2), 5.5)
    report = p.MediaStateReport(p.DeviceState.OFF, p.DeviceState.ON, False)
    out = r.receive(conn(3), report, 6.0)  # waiting: the therapist may know
    assert sent(out, THERAPIST) == [p.Relayed(report, Role.CLIENT, 3)]
    assert sent(out, conn(1)) == [] and sent(out, conn(2)) == []
    out = r.receive(conn(1), report, 7.0)
    assert sent(out, THERAPIST) == sent(out, conn(2)) == [p.Relayed(report, Role.CLIENT, 1)]
    assert sent(out, conn(3)) == []


def test_a_rebuilt_group_room_gives_each_seat_back() -> None:
    r = Room("g" * 32, "Gruppe-Mo", PATIENT)
    held = {
        0: HeldSeat(p.MediaState.CONNECTED, False, 1.0),
        1: HeldSeat(p.MediaState.CONNECTED, True, 2.0),
        4: HeldSeat(p.MediaState.DISCONNECTED, False, 3.0),
    }
    r.restore(held, epoch=5, now=50.0, last_event_at=40.0)
    assert r.admission(1) is CallState.ADMITTED and r.admission(4) is CallState.WAITING
    assert r.state is CallState.ADMITTED and not r.in_call
    out = r.join(THERAPIST, Role.THERAPIST, "x", "x", 51.0, issued=1.0)
    out += r.join(conn(1), Role.CLIENT, "y", "y", 52.0, issued=2.0, epoch=5, seat=1)
    assert r.in_call and not any(isinstance(o, BillingEvent) for o in out)
    out = r.join(conn(4), Role.CLIENT, "z", "z", 53.0, issued=3.0, seat=4)
    assert sent(out, THERAPIST) == [p.Knock(consent=True, seat=4)]  # its ticket shows it
    assert p.Waiting() in sent(out, conn(4))


def test_the_therapist_may_ask_a_member_to_mute_and_only_the_therapist() -> None:
    r, _ = group()
    r.receive(THERAPIST, p.Admit(), 5.0)
    ask = p.MuteRequest(to=3)
    assert r.receive(THERAPIST, ask, 6.0) == [Send(conn(3), p.Relayed(ask, Role.THERAPIST))]
    assert p.to_wire(p.Relayed(ask, Role.THERAPIST)) == {
        "type": "mute-request",
        "from": "therapist",
        "from_seat": 0,
    }
    # A client cannot ask another one: refused and out, as any client's misuse.
    out = r.receive(conn(1), p.MuteRequest(to=2), 7.0)
    (close,) = [o for o in out if isinstance(o, Close)]
    assert close.conn == conn(1) and close.error is not None and close.error.code == "not-allowed"
    assert not any(isinstance(m, p.Relayed) for m in sent(out, conn(2)))
    left = p.PeerLeft(Role.CLIENT, LeaveReason.DISCONNECTED, seat=1)
    assert sent(out, conn(2)) == [left, p.Rekey(r.epoch)]


def test_up_to_three_meet_directly_the_fourth_moves_everyone_to_the_sfu() -> None:
    r, _ = group()
    r.receive(THERAPIST, p.Admit(seat=1), 5.0)
    out = r.receive(THERAPIST, p.Admit(seat=2), 6.0)
    paths = {m.media_path for s in (0, 1, 2) for m in of_type(out, conn(s), p.Admitted)}
    assert paths == {p.MediaPath.MESH}
    out = r.receive(THERAPIST, p.Admit(seat=3), 7.0)
    # Everyone, the first three too, starts again through the SFU; nobody left.
    for seat in (0, 1, 2, 3):
        (admitted,) = of_type(out, conn(seat), p.Admitted)
        assert admitted.media_path is p.MediaPath.SFU and len(admitted.peers) == 3
        assert of_type(out, conn(seat), p.PeerLeft) == []
    assert r.in_call


def test_without_an_sfu_a_fourth_person_is_refused_and_the_call_goes_on() -> None:
    r, _ = group(config=NO_SFU)
    r.receive(THERAPIST, p.Admit(seat=1), 5.0)
    r.receive(THERAPIST, p.Admit(seat=2), 6.0)
    call_id = r.call_id
    out = r.receive(THERAPIST, p.Admit(seat=3), 7.0)
    (error,) = sent(out, THERAPIST)
    assert isinstance(error, p.Error) and error.code == "group-needs-sfu" and not error.fatal
    assert "SFU" in error.message_de and "drei" in error.message_de
    assert out == [Send(THERAPIST, error)]  # nobody else hears anything
    assert r.admission(3) is CallState.WAITING and r.call_id == call_id and r.in_call
    # "Admit all" of three at once would be four people too: refused as a whole.
    r2, _ = group(config=NO_SFU)
    (error,) = sent(r2.receive(THERAPIST, p.Admit(), 5.0), THERAPIST)
    assert isinstance(error, p.Error) and error.code == "group-needs-sfu"
    assert all(r2.admission(seat) is CallState.WAITING for seat in (1, 2, 3))


def test_an_admitted_client_back_after_the_grace_knocks_when_the_mesh_is_full() -> None:
    """Without an SFU: Anna's line broke for longer than the grace (her admission
    stays); meanwhile Ben and Cem were admitted. Back, she would make four: she knocks."""
    r, _ = group(config=NO_SFU)
    r.receive(THERAPIST, p.Admit(seat=1), 5.0)
    r.disconnect(conn(1), 6.0)
    r.tick(6.0 + r.config.resume_grace + 1)
    assert 1 not in r.members and r.admission(1) is CallState.ADMITTED
    r.receive(THERAPIST, p.Admit(seat=2), 100.0)
    r.receive(THERAPIST, p.Admit(seat=3), 100.5)
    out = r.join(conn(1), Role.CLIENT, "n1", "n1b", 101.0, seat=1, name="Anna", consent=True)
    assert p.Waiting() in sent(out, conn(1)) and r.admission(1) is CallState.WAITING
    assert of_type(out, THERAPIST, p.Knock) == [p.Knock(name="Anna", consent=True, seat=1)]


def test_on_the_sfu_path_only_call_members_reach_the_sfu_about_call_members() -> None:
    r, _ = group()
    r.receive(THERAPIST, p.Admit(seat=1), 5.0)
    # A mesh (two people): nothing goes to the SFU.
    (error,) = sent(r.receive(conn(1), p.SfuPublish("v=0"), 5.5), conn(1))
    assert isinstance(error, p.Error) and error.code == "no-peer"
    out = r.receive(THERAPIST, p.Admit(), 6.0)  # the other two: four people
    assert not any(isinstance(o, SfuEnd) for o in out)  # there was no room at the SFU yet
    call_id = r.call_id
    assert call_id is not None
    publish = p.SfuPublish("v=0 offer")
    relayed = SfuRelay(r.session_id, call_id, 2, publish, r.epoch)
    assert r.receive(conn(2), publish, 7.0) == [relayed]
    answer = p.SfuSubscribed(3, "v=0 answer")
    relayed = SfuRelay(r.session_id, call_id, 1, answer, r.epoch)
    assert r.receive(conn(1), answer, 7.5) == [relayed]
    # Not about itself, nor about a seat outside the call.
    for bad in (p.SfuSubscribed(1, "v=0"), p.SfuSubscribed(5, "v=0")):
        (error,) = sent(r.receive(conn(1), bad, 8.0), conn(1))
        assert isinstance(error, p.Error) and error.code == "no-peer"
    # The group keys go between members as they are, never read.
    key = p.GroupKey('{"type":"sender-key-ack","epoch":3,"from":2,"to":0}', to=0)
    assert r.receive(conn(2), key, 8.5) == [Send(THERAPIST, p.Relayed(key, Role.CLIENT, 2))]
    # One leaves: its session at the SFU ends; the therapist's hang-up ends the room.
    out = r.receive(conn(3), p.Bye(), 9.0)
    assert SfuLeave(r.session_id, 3) in out and not any(isinstance(o, SfuEnd) for o in out)
    out = r.receive(THERAPIST, p.Bye(), 10.0)
    assert SfuEnd(r.session_id) in out and r.media_path is None


def test_a_new_start_of_a_call_on_the_sfu_ends_its_room_there_first() -> None:
    r, _ = group()
    r.receive(THERAPIST, p.Admit(), 5.0)
    assert r.media_path is p.MediaPath.SFU
    r.receive(conn(2), p.Bye(), 6.0)
    r.join(conn(2), Role.CLIENT, None, "n2b", 7.0, seat=2, name="Ben", consent=True)
    out = r.receive(THERAPIST, p.Admit(seat=2), 8.0)
    ends = [i for i, o in enumerate(out) if isinstance(o, SfuEnd)]
    starts = [
        i for i, o in enumerate(out) if isinstance(o, Send) and isinstance(o.message, p.Admitted)
    ]
    assert len(ends) == 1 and starts and ends[0] < min(starts)  # the old room goes first


def test_what_a_page_says_to_the_sfu_about_an_earlier_start_of_the_call_is_dropped() -> None:
    """A page that published or answered a subscription of the call before the
    latest start (its words crossed the new ``admitted``) reaches nothing: that
    start's room at the SFU is gone, and its answer would start a subscription of
    the new one with the wrong peer connection's credentials."""
    r, _ = group()
    out = r.receive(THERAPIST, p.Admit(), 5.0)
    (first,) = of_type(out, conn(1), p.Admitted)
    assert first.media_path is p.MediaPath.SFU and r.call_id is not None
    publish = p.SfuPublish("v=0 offer", call=first.epoch)
    assert r.receive(conn(1), publish, 6.0) == [
        SfuRelay(r.session_id, r.call_id, 1, publish, first.epoch)
    ]
    # Ben leaves and comes back: a new start for everyone.
    r.receive(conn(2), p.Bye(), 7.0)
    r.join(conn(2), Role.CLIENT, None, "n2b", 8.0, seat=2, name="Ben", consent=True)
    out = r.receive(THERAPIST, p.Admit(seat=2), 9.0)
    (second,) = of_type(out, conn(1), p.Admitted)
    assert second.epoch > first.epoch
    stale = [
        p.SfuPublish("v=0 old offer", call=first.epoch),
        p.SfuSubscribed(3, "v=0 old answer", call=first.epoch),
    ]
    for message in stale:
        assert r.receive(conn(1), message, 9.5) == []
    fresh = p.SfuSubscribed(3, "v=0 answer", call=second.epoch)
    assert r.receive(conn(1), fresh, 10.0) == [
        SfuRelay(r.session_id, r.call_id, 1, fresh, second.epoch)
    ]
    # A page that tags nothing is taken at its word (as before the tags).
    untagged = p.SfuSubscribed(3, "v=0 answer")
    assert r.receive(conn(1), untagged, 10.5) == [
        SfuRelay(r.session_id, r.call_id, 1, untagged, second.epoch)
    ]


def _rebuilt(admitted: tuple[int, ...], config: RoomConfig = PATIENT) -> Room:
    """A restarted server's room of a call of the therapist and ``admitted`` (epoch 5)."""
    r = Room("g" * 32, "Gruppe-Mo", config, client_seats=3)
    held = {0: HeldSeat(p.MediaState.CONNECTED, False, 1.0)}
    held |= {seat: HeldSeat(p.MediaState.CONNECTED, True, 1.0 + seat) for seat in admitted}
    r.restore(held, epoch=5, now=50.0, last_event_at=40.0)
    return r


def _back(r: Room, seat: int, now: float) -> list[Output]:
    role = Role.THERAPIST if seat == 0 else Role.CLIENT
    return r.join(
        conn(seat), role, f"b{seat}", f"b{seat}", now, issued=1.0 + seat, epoch=5, seat=seat
    )


def test_a_rebuilt_call_through_the_sfu_starts_anew_once_its_members_are_back() -> None:
    # The SFU's sessions of the call belonged to the process that is gone: the media
    # would stop when the SFU drops them. The call starts anew through this process.
    r = _rebuilt((1, 2, 3))
    assert r.media_path is p.MediaPath.SFU
    out: list[Output] = []
    for seat, now in ((0, 51.0), (1, 52.0), (2, 53.0)):
        out += _back(r, seat, now)
        assert r.tick(now) == []
    assert not any(isinstance(m, p.Admitted) for s in (0, 1, 2) for m in sent(out, conn(s)))
    assert r.next_deadline() == 50.0 + 15.0  # SFU_REBUILD_WAIT, unless all are back sooner
    out = _back(r, 3, 54.0)
    assert out.index(SfuEnd(r.session_id)) < min(
        i for i, o in enumerate(out) if isinstance(o, Send) and isinstance(o.message, p.Admitted)
    )
    for seat in (0, 1, 2, 3):
        (admitted,) = of_type(out, conn(seat), p.Admitted)
        assert admitted.media_path is p.MediaPath.SFU and admitted.epoch == 6
        assert len(admitted.peers) == 3 and of_type(out, conn(seat), p.PeerLeft) == []
    # Once is enough: the deadline is gone with the start.
    assert not any(isinstance(o, Send) and isinstance(o.message, p.Admitted) for o in r.tick(80.0))


def test_a_rebuilt_call_through_the_sfu_starts_without_a_member_who_stays_away() -> None:
    r = _rebuilt((1, 2, 3))
    for seat, now in ((0, 51.0), (1, 52.0), (2, 53.0)):
        _back(r, seat, now)
    assert r.tick(64.0) == []
    out = r.tick(65.0)
    for seat in (0, 1, 2):
        (admitted,) = of_type(out, conn(seat), p.Admitted)
        assert admitted.media_path is p.MediaPath.SFU and admitted.epoch == 6
    # The one still away gets the call when it is back, the others with it.
    out = _back(r, 3, 70.0)
    assert {m.epoch for s in (0, 1, 2, 3) for m in of_type(out, conn(s), p.Admitted)} == {7}


def test_a_rebuilt_mesh_goes_on_without_a_new_start() -> None:
    r = _rebuilt((1, 2))
    assert r.media_path is None and r.next_deadline() == 50.0 + PATIENT.resume_grace
    out: list[Output] = []
    for seat, now in ((0, 51.0), (1, 52.0), (2, 53.0)):
        out += _back(r, seat, now)
    out += r.tick(80.0)
    assert r.in_call and not any(
        isinstance(m, p.Admitted) for s in (0, 1, 2) for m in sent(out, conn(s))
    )


def test_a_rebuilt_call_through_the_sfu_whose_therapist_stays_away_starts_when_they_are_back() -> (
    None
):
    r = _rebuilt((1, 2, 3))
    for seat, now in ((1, 52.0), (2, 53.0), (3, 54.0)):
        _back(r, seat, now)
    assert r.tick(65.0) == [] and not r.in_call
    out = _back(r, 0, 70.0)
    for seat in (0, 1, 2, 3):
        (admitted,) = of_type(out, conn(seat), p.Admitted)
        assert admitted.media_path is p.MediaPath.SFU
