"""Seats, pure: how many a session may have, whose a number is, billing per client
seat, and resume tickets that are good for one seat only (issue 16)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import pytest

from sprechzimmer import billing, seats, tickets
from sprechzimmer.billing import Month
from sprechzimmer.errors import TooManySeats
from sprechzimmer.events import EventKind
from sprechzimmer.protocol import Role

BERLIN = ZoneInfo("Europe/Berlin")
START = dt.datetime(2026, 11, 3, 9, 0, tzinfo=dt.UTC)
UP, DOWN, LEFT, JOINED = (
    EventKind.MEDIA_CONNECTED,
    EventKind.MEDIA_DISCONNECTED,
    EventKind.LEFT,
    EventKind.JOINED,
)


@dataclass(frozen=True)
class Ev:
    seat: int
    kind: EventKind
    at: dt.datetime


@dataclass
class Session:
    session_id: str
    client_id: str
    events: list[Ev] = field(default_factory=list)


def minute(n: float) -> dt.datetime:
    return START + dt.timedelta(minutes=n)


# --- the count ------------------------------------------------------------------------


def test_one_to_eight_client_seats_and_no_more_than_nine_people() -> None:
    assert [seats.check_count(n) for n in (1, 8)] == [1, 8]
    assert seats.MAX_MEMBERS == 9
    for wrong in (0, -1, 9, 40):
        with pytest.raises(TooManySeats) as raised:
            seats.check_count(wrong)
        said = raised.value.say()
        # A person reads it, in either language, with the limit in it.
        assert "9" in said.de and "8" in said.de and "9" in said.en and "8" in said.en
        assert raised.value.http_status == 422 and raised.value.code == "too-many-seats"
    assert list(seats.all_seats(3)) == [0, 1, 2, 3]
    assert list(seats.client_seats(3)) == [1, 2, 3]


def test_a_seat_number_belongs_to_one_role() -> None:
    assert seats.of(Role.THERAPIST) == 0 and seats.of(Role.CLIENT) == 1
    assert seats.of(Role.CLIENT, 8) == 8 and seats.of(Role.THERAPIST, 0) == 0
    for role, seat in ((Role.THERAPIST, 1), (Role.CLIENT, 0), (Role.CLIENT, 9)):
        with pytest.raises(ValueError, match="cannot hold seat"):
            seats.of(role, seat)


# --- billing per client seat -------------------------------------------------------------


def group_call() -> Session:
    """The therapist from 0 to 60 minutes; seat 1 the whole hour, seat 2 from 10 to 40,
    seat 3 joined and never had media, seat 4 from 50 to 70 (after the therapist left
    at 60: only 10 minutes billable)."""
    events = [
        Ev(0, UP, minute(0)),
        Ev(1, UP, minute(0)),
        Ev(2, UP, minute(10)),
        Ev(3, JOINED, minute(12)),
        Ev(2, LEFT, minute(40)),
        Ev(3, LEFT, minute(45)),
        Ev(4, UP, minute(50)),
        Ev(1, LEFT, minute(60)),
        Ev(0, LEFT, minute(60)),
        Ev(4, LEFT, minute(70)),
    ]
    return Session("ab" * 16, "Gruppe-Mo", events)


def test_each_client_seat_is_billed_on_its_own_against_the_therapist() -> None:
    session = group_call()
    lines = billing.month_report([session], Month(2026, 11), BERLIN)
    assert [(x.seat, x.seconds) for x in lines] == [(1, 3600), (2, 1800), (4, 600)]
    assert {x.client_id for x in lines} == {"Gruppe-Mo"}
    assert billing.session_seconds(session.events) == 3600 + 1800 + 600
    assert billing.monthly_totals([session], BERLIN) == {Month(2026, 11): 6000}
    # One seat's own view is what the one-to-one rules say of it.
    only_two = billing.session_lines(
        session.session_id, "Gruppe-Mo", session.events, BERLIN, seat=2
    )
    assert [x.seconds for x in only_two.values()] == [1800]


def test_the_csv_names_each_line_s_seat_and_reads_it_back() -> None:
    lines = billing.month_report([group_call()], Month(2026, 11), BERLIN)
    text = billing.to_csv(lines)
    rows = [row.split(";") for row in text.removeprefix(billing.BOM).splitlines()]
    assert rows[0][-1] == "Platz" and [row[-1] for row in rows[1:]] == ["1", "2", "4"]
    assert [row.seat for row in billing.from_csv(text)] == [1, 2, 4]
    assert billing.from_csv(billing.to_csv(lines, "en")) == [billing.CsvRow.of(x) for x in lines]


def test_a_purged_group_session_keeps_a_line_per_seat() -> None:
    session = group_call()
    kept = billing.archive_lines(session, BERLIN)
    assert [(x.seat, x.seconds, x.start) for x in kept] == [
        (1, 3600, None),
        (2, 1800, None),
        (4, 600, None),
    ]
    # Before and after the purge the month says the same, line by line.
    live = billing.month_report([session], Month(2026, 11), BERLIN)
    assert [(x.seat, x.seconds, x.date) for x in kept] == [
        (x.seat, x.seconds, x.date) for x in live
    ]
    # Read while a purge runs, the session is counted once.
    assert billing.combine(live, kept) == live


def test_no_cut_while_any_client_seat_is_held() -> None:
    """A restarted server reads every held seat from the events; seat 3 joined in
    October and never left, so nothing before it may go."""
    october = [
        Ev(0, UP, START - dt.timedelta(days=30)),
        Ev(1, UP, START - dt.timedelta(days=30)),
        Ev(1, LEFT, START - dt.timedelta(days=30, minutes=-50)),
        Ev(0, LEFT, START - dt.timedelta(days=30, minutes=-50)),
    ]
    held = [*october, Ev(3, JOINED, START - dt.timedelta(days=30, minutes=-55))]
    later = [Ev(0, UP, minute(0)), Ev(1, UP, minute(0)), Ev(1, LEFT, minute(50))]
    later += [Ev(0, LEFT, minute(50))]
    before = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
    assert billing.cut(Session("ab" * 16, "K", [*held, *later]), before, BERLIN) is None
    left = [*held, Ev(3, LEFT, START - dt.timedelta(days=30, minutes=-58)), *later]
    found = billing.cut(Session("ab" * 16, "K", left), before, BERLIN)
    assert found is not None and [(x.seat, x.seconds) for x in found.lines] == [(1, 3000)]


# --- resume tickets --------------------------------------------------------------------

KEY = tickets.ticket_key("k" * 32)
SID = "0123456789abcdef" * 2
NONCE = "q8V3xW0tZp4Lk2NnB7dY1g"


def test_a_ticket_is_good_for_its_own_seat_only() -> None:
    for seat in (0, 1, 2, 8):
        ticket = tickets.issue(KEY, SID, seat, NONCE, 1000, 5000)
        assert len(ticket) <= tickets.MAX_LENGTH
        for other in (0, 1, 2, 3, 8):
            verified = tickets.verify(KEY, ticket, SID, other, 2000)
            assert (verified is not None) is (other == seat), (seat, other)


def test_tickets_of_the_one_to_one_seats_are_those_issued_before_seats_had_numbers() -> None:
    """A browser holding a ticket from before the upgrade resumes its call after it."""
    for role, code in ((Role.THERAPIST, "t"), (Role.CLIENT, "c")):
        message = f"r1|{SID}|{role.value}|{NONCE}|1000|5000".encode()
        mac = base64.urlsafe_b64encode(hmac.new(KEY, message, hashlib.sha256).digest())
        earlier = f"r1.{code}.{NONCE}.1000.5000.{mac.rstrip(b'=').decode()}"
        assert tickets.issue(KEY, SID, seats.of(role), NONCE, 1000, 5000) == earlier
        assert tickets.verify(KEY, earlier, SID, seats.of(role), 2000) is not None
