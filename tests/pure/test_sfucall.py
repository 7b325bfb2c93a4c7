"""A group call's use of the SFU (sfucall.py), with a fake SFU: who is subscribed to
whom, what ends when someone leaves or the call ends, and what a member hears back."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest

from sprechzimmer import protocol as p
from sprechzimmer.room import SfuEnd, SfuLeave, SfuRelay
from sprechzimmer.sfuapi import FeedId, SfuError
from sprechzimmer.sfucall import SfuCall, SfuCalls

SESSION = "s" * 32


class FakeSfu:
    """The SFU's state as far as a call's sessions go; every handle records here."""

    def __init__(self, fail_publish: bool = False) -> None:
        self.ids = itertools.count(1)
        self.sessions: set[int] = set()
        self.rooms: set[str] = set()
        self.subscriptions: dict[int, list[FeedId]] = {}
        self.started: list[tuple[int, str]] = []
        self.keepalives = 0
        self.fail_publish = fail_publish

    def open(self) -> FakeHandle:
        session = next(self.ids)
        self.sessions.add(session)
        return FakeHandle(self, session)


class FakeHandle:
    def __init__(self, sfu: FakeSfu, session: int) -> None:
        self.sfu, self.session, self.handle = sfu, session, next(sfu.ids)

    def attach(self) -> FakeHandle:
        other = FakeHandle(self.sfu, self.session)
        return other

    def create_room(self, room: str, secret: str) -> None:
        self.sfu.rooms.add(room)

    def destroy_room(self, room: str, secret: str) -> None:
        self.sfu.rooms.discard(room)

    def publish(self, room: str, offer: str) -> tuple[FeedId, str]:
        assert room in self.sfu.rooms and self.session in self.sfu.sessions
        if self.sfu.fail_publish:
            raise SfuError("refused")
        return f"feed-{self.session}", f"answer to {offer}"

    def subscribe(self, room: str, feeds: list[FeedId]) -> str:
        self.sfu.subscriptions[self.handle] = feeds
        return f"offer of {feeds[0]}"

    def start(self, answer: str) -> None:
        self.sfu.started.append((self.handle, answer))

    def keepalive(self) -> None:
        self.sfu.keepalives += 1

    def end_session(self) -> None:
        self.sfu.sessions.discard(self.session)


def _call(sfu: FakeSfu) -> SfuCall:
    return SfuCall(sfu.open, "call-1")  # type: ignore[arg-type]


def test_each_member_that_publishes_gets_each_other_ones_media_once() -> None:
    sfu = FakeSfu()
    call = _call(sfu)
    assert len(sfu.rooms) == 1 and len(sfu.sessions) == 1  # the call's own control session
    assert call.publish(0, "o0") == "answer to o0"
    assert call.missing() == []  # nobody to see yet
    call.publish(2, "o2")
    assert call.missing() == [(0, 2), (2, 0)]
    for sub, pub in call.missing():
        assert call.subscribe(sub, pub).startswith("offer of feed-")
    assert call.missing() == []
    call.publish(1, "o1")
    assert call.missing() == [(0, 1), (1, 0), (1, 2), (2, 1)]
    call.start(0, 2, "a02")
    assert sfu.started[-1][1] == "a02"
    with pytest.raises(SfuError):
        call.start(0, 1, "not subscribed yet")


def test_a_leaver_takes_its_session_along_and_the_others_stop_expecting_it() -> None:
    sfu = FakeSfu()
    call = _call(sfu)
    for seat in (0, 1, 2):
        call.publish(seat, f"o{seat}")
    for pair in call.missing():
        call.subscribe(*pair)
    before = set(sfu.sessions)
    call.leave(1)
    assert len(sfu.sessions) == len(before) - 1
    assert call.missing() == []  # nothing to make for the others: seat 1 is gone
    # Back (its page started over): a fresh session, subscribed both ways again.
    call.publish(1, "o1 again")
    assert call.missing() == [(0, 1), (1, 0), (1, 2), (2, 1)]
    # Publishing twice ends the first session: never two of one member at once.
    count = len(sfu.sessions)
    call.publish(1, "o1 third")
    assert len(sfu.sessions) == count
    call.keepalive()
    assert sfu.keepalives == 4  # the control session and three members
    call.close()
    assert sfu.sessions == set() and sfu.rooms == set()


class Heard:
    def __init__(self) -> None:
        self.messages: list[tuple[int, Any]] = []

    def __call__(self, session_id: str, seat: int, message: p.ServerMessage) -> None:
        assert session_id == SESSION
        self.messages.append((seat, message))


def test_the_members_hear_the_sfus_answers_and_offers_and_a_refusal_in_words() -> None:
    async def scenario() -> None:
        sfu, heard = FakeSfu(), Heard()
        calls = SfuCalls(sfu.open, heard)  # type: ignore[arg-type]
        for seat in (0, 3):
            calls.take(SfuRelay(SESSION, "call-1", seat, p.SfuPublish(f"o{seat}")))
        await calls.idle()
        assert heard.messages == [
            (0, p.SfuPublished("answer to o0")),
            (3, p.SfuPublished("answer to o3")),
            (0, p.SfuSubscribe(3, heard.messages[2][1].sdp)),
            (3, p.SfuSubscribe(0, heard.messages[3][1].sdp)),
        ]
        calls.take(SfuRelay(SESSION, "call-1", 0, p.SfuSubscribed(3, "a")))
        # An answer for a call that is over does nothing.
        calls.take(SfuRelay(SESSION, "call-0", 0, p.SfuSubscribed(3, "old")))
        await calls.idle()
        assert [a for _, a in sfu.started] == ["a"]
        # A new call of the session: the old room goes with its first publication.
        rooms = set(sfu.rooms)
        calls.take(SfuRelay(SESSION, "call-2", 0, p.SfuPublish("o0")))
        await calls.idle()
        assert len(sfu.rooms) == 1 and sfu.rooms != rooms
        calls.take(SfuLeave(SESSION, 0))
        calls.take(SfuEnd(SESSION))
        await calls.idle()
        assert sfu.rooms == set() and sfu.sessions == set()
        # The SFU refuses: the member hears it, nothing else breaks.
        refusing, heard2 = FakeSfu(fail_publish=True), Heard()
        calls2 = SfuCalls(refusing.open, heard2)  # type: ignore[arg-type]
        calls2.take(SfuRelay(SESSION, "call-3", 1, p.SfuPublish("o1")))
        await calls2.idle()
        ((seat, error),) = heard2.messages
        assert seat == 1 and isinstance(error, p.Error) and error.code == "sfu-unavailable"
        assert "Medienserver" in error.message_de and not error.fatal
        # Without an SFU configured, the same answer.
        heard3 = Heard()
        calls3 = SfuCalls(None, heard3)
        calls3.take(SfuRelay(SESSION, "call-4", 2, p.SfuPublish("o2")))
        await calls3.idle()
        assert heard3.messages[0][1].code == "sfu-unavailable"
        await calls.close()

    asyncio.run(scenario())


def test_the_sfus_answers_and_offers_carry_the_start_of_the_call_they_belong_to() -> None:
    """The page drops an offer of an earlier start of the call by this tag."""

    async def scenario() -> None:
        sfu, heard = FakeSfu(), Heard()
        calls = SfuCalls(sfu.open, heard)  # type: ignore[arg-type]
        for seat in (0, 3):
            calls.take(SfuRelay(SESSION, "call-1", seat, p.SfuPublish(f"o{seat}", call=7), 7))
        await calls.idle()
        assert [m.call for _, m in heard.messages] == [7, 7, 7, 7]
        assert {type(m) for _, m in heard.messages} == {p.SfuPublished, p.SfuSubscribe}
        await calls.close()

    asyncio.run(scenario())
