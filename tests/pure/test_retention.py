"""The retention rules, pure: when a session is idle, which billing days stay, what a
purged session leaves behind. No database: time and events are passed in."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from sprechzimmer import billing, retention
from sprechzimmer.billing import Month
from sprechzimmer.events import EventKind
from sprechzimmer.protocol import Role
from sprechzimmer.retention import billing_first_day, is_idle, metadata_cutoff, notice_cutoff

BERLIN = ZoneInfo("Europe/Berlin")
NOW = dt.datetime(2026, 11, 28, 10, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
T, C = Role.THERAPIST, Role.CLIENT
UP, LEFT = EventKind.MEDIA_CONNECTED, EventKind.LEFT


@dataclass(frozen=True)
class Ev:
    role: Role
    kind: EventKind
    at: dt.datetime

    @property
    def seat(self) -> int:
        """The one-to-one session's seats: 0 the therapist, 1 the client."""
        return 0 if self.role is Role.THERAPIST else 1


@dataclass
class Session:
    session_id: str
    client_id: str
    events: list[Ev] = field(default_factory=list)


def test_a_session_is_idle_when_its_links_and_its_last_event_are_past_the_cutoff() -> None:
    cutoff = metadata_cutoff(NOW, 90)
    assert cutoff == NOW - 90 * DAY
    old = cutoff - dt.timedelta(seconds=1)
    assert is_idle(old, old, cutoff)
    assert is_idle(old, None, cutoff)  # never used
    assert not is_idle(old, cutoff, cutoff)  # an event at the cutoff keeps it
    assert not is_idle(cutoff, old, cutoff)  # links valid until the cutoff keep it
    assert not is_idle(NOW + DAY, None, cutoff)


def test_the_notice_looks_fourteen_days_ahead() -> None:
    assert notice_cutoff(NOW, 90) == metadata_cutoff(NOW + 14 * DAY, 90) == NOW - 76 * DAY
    assert notice_cutoff(NOW, 90, ahead=0) == metadata_cutoff(NOW, 90)


def test_billing_days_are_counted_in_the_practice_zone() -> None:
    # 23:30 UTC on 31 Dec is already 1 Jan in Berlin.
    late = dt.datetime(2026, 12, 31, 23, 30, tzinfo=dt.UTC)
    assert billing_first_day(late, 400, BERLIN) == dt.date(2027, 1, 1) - 400 * DAY
    assert billing_first_day(late, 400, ZoneInfo("UTC")) == dt.date(2026, 12, 31) - 400 * DAY


def test_a_purged_session_leaves_one_line_per_month_with_the_reports_figures() -> None:
    sid = "ab" * 16
    start = dt.datetime(2026, 10, 31, 22, 30, tzinfo=dt.UTC)  # 23:30 in Berlin, to 00:30
    end = start + dt.timedelta(hours=1)
    session = Session(sid, "K-1", [Ev(T, UP, start), Ev(C, UP, start), Ev(C, LEFT, end)])
    report = billing.session_lines(sid, "K-1", session.events, BERLIN)
    kept = billing.archive_lines(session, BERLIN)
    assert [(x.date, x.seconds) for x in kept] == [
        (dt.date(2026, 10, 31), 1800),
        (dt.date(2026, 11, 1), 1800),
    ]
    for line in kept:
        month = Month(line.date.year, line.date.month)
        assert (line.seconds, line.date) == (report[month].seconds, report[month].date)
        assert line.session_id == billing.reference(sid) and line.client_id == "K-1"
        assert line.start is None and line.end is None
    totals = billing.monthly_totals([], BERLIN, archived=kept)
    assert totals == billing.monthly_totals([session], BERLIN)


def test_a_session_without_billable_time_leaves_nothing() -> None:
    session = Session("cd" * 16, "K-2", [Ev(T, UP, NOW), Ev(T, LEFT, NOW + DAY)])
    assert billing.archive_lines(session, BERLIN) == []


def test_a_session_purged_between_the_two_reads_is_counted_once() -> None:
    sid = "ef" * 16
    start = dt.datetime(2026, 11, 3, 9, tzinfo=dt.UTC)
    session = Session(sid, "K-3", [Ev(T, UP, start), Ev(C, UP, start), Ev(C, LEFT, start + DAY)])
    live = list(billing.session_lines(sid, "K-3", session.events, BERLIN).values())
    other = billing.SessionLine.archived("01234567", "K-4", dt.date(2026, 11, 2), 600)
    both = billing.combine(live, [*billing.archive_lines(session, BERLIN), other])
    assert both == [other, *live]


# --- a session still in use: its older months go where no call spans the cut ---------------


def monthly_calls(*starts: dt.datetime, minutes: int = 50) -> list[Ev]:
    events = []
    for start in starts:
        end = start + dt.timedelta(minutes=minutes)
        events += [Ev(T, UP, start), Ev(C, UP, start), Ev(C, LEFT, end), Ev(T, LEFT, end)]
    return events


def berlin(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=BERLIN).astimezone(dt.UTC)


def report(events: list[Ev], sid: str = "ab" * 16) -> dict[Month, billing.SessionLine]:
    return billing.session_lines(sid, "K-1", events, BERLIN)


def test_a_session_in_use_is_cut_at_the_latest_month_start_before_the_cutoff() -> None:
    starts = [berlin(2026, month, 5, 9) for month in range(6, 12)]
    session = Session("ab" * 16, "K-1", monthly_calls(*starts))
    found = billing.cut(session, metadata_cutoff(NOW, 90), BERLIN)  # 30 August
    assert found is not None and found.at == berlin(2026, 8, 1)
    whole = report(session.events)
    assert [(x.date, x.seconds) for x in found.lines] == [
        (whole[m].date, whole[m].seconds) for m in (Month(2026, 6), Month(2026, 7))
    ]
    newer = [e for e in session.events if e.at >= found.at]
    assert report(newer) == {m: x for m, x in whole.items() if (m.year, m.month) >= (2026, 8)}


def test_no_cut_through_a_call_or_a_bridged_reconnect() -> None:
    across = monthly_calls(berlin(2026, 6, 5, 9), berlin(2026, 7, 31, 23, 30), minutes=60)
    found = billing.cut(Session("ab" * 16, "K-1", across), berlin(2026, 8, 20), BERLIN)
    assert found is not None and found.at == berlin(2026, 7, 1)
    midnight = berlin(2026, 8, 1)
    second = dt.timedelta(seconds=1)
    bridged = [
        *monthly_calls(berlin(2026, 6, 5, 9)),
        Ev(T, UP, midnight - 600 * second),
        Ev(C, UP, midnight - 600 * second),
        Ev(C, EventKind.MEDIA_DISCONNECTED, midnight - 10 * second),
        Ev(C, UP, midnight + 10 * second),  # back within the tolerance: one interval
        Ev(C, LEFT, midnight + 600 * second),
        Ev(T, LEFT, midnight + 600 * second),
    ]
    found = billing.cut(Session("ab" * 16, "K-1", bridged), berlin(2026, 8, 20), BERLIN)
    assert found is not None and found.at == berlin(2026, 7, 1)


def test_an_interval_left_open_is_never_cut_off() -> None:
    cutoff = metadata_cutoff(NOW, 90)
    crashed = [Ev(T, UP, berlin(2026, 6, 5, 9)), Ev(C, UP, berlin(2026, 6, 5, 9))]
    assert billing.cut(Session("ab" * 16, "K-1", crashed), cutoff, BERLIN) is None
    # The next call's ``left`` ends the interval left open: it spans every month start.
    later = [*crashed, *monthly_calls(berlin(2026, 9, 5, 9))]
    assert billing.cut(Session("ab" * 16, "K-1", later), cutoff, BERLIN) is None
    # Settled and all old: everything may go, its lines kept.
    done = Session("ab" * 16, "K-1", monthly_calls(berlin(2026, 6, 5, 9)))
    found = billing.cut(done, berlin(2026, 8, 20), BERLIN)
    assert found is not None and found.at == berlin(2026, 8, 1)
    assert [(x.date, x.seconds) for x in found.lines] == [(dt.date(2026, 6, 5), 3000)]


def test_no_cut_while_a_seat_is_held() -> None:
    """A restarted server reads who is seated from the events: a seat joined before
    the cut and never left keeps them (a crash left it, say)."""
    seated = monthly_calls(berlin(2026, 6, 5, 9), berlin(2026, 9, 5, 9))
    seated += [Ev(C, EventKind.JOINED, berlin(2026, 6, 5, 10))]  # after the call's ``left``
    assert billing.cut(Session("ab" * 16, "K-1", seated), berlin(2026, 8, 20), BERLIN) is None
    left = [*seated, Ev(C, LEFT, berlin(2026, 6, 5, 10, 5))]
    found = billing.cut(Session("ab" * 16, "K-1", left), berlin(2026, 8, 20), BERLIN)
    assert found is not None and found.at == berlin(2026, 8, 1)


def test_nothing_to_cut_before_the_first_event() -> None:
    young = Session("ab" * 16, "K-1", monthly_calls(berlin(2026, 9, 5, 9)))
    assert billing.cut(young, metadata_cutoff(NOW, 90), BERLIN) is None
    assert billing.cut(Session("ab" * 16, "K-1", []), NOW, BERLIN) is None


def test_the_months_due_are_those_the_purge_will_replace() -> None:
    idle = Session("01" * 16, "K-1", monthly_calls(berlin(2026, 6, 5, 9)))
    in_use = Session("02" * 16, "K-2", monthly_calls(*(berlin(2026, m, 7, 9) for m in (7, 8, 10))))
    young = Session("03" * 16, "K-3", monthly_calls(berlin(2026, 10, 1, 9)))
    before = notice_cutoff(NOW, 90)  # 13 September: 1 September is the cut of the one in use
    due = retention.months_due([idle, in_use, young], {idle.session_id}, before, BERLIN)
    assert due == [Month(2026, 6), Month(2026, 7), Month(2026, 8)]
    assert retention.months_due([], set(), before, BERLIN) == []


# --- the cut, with hypothesis: it never changes what billing says, now or later -----------

JUNE = berlin(2026, 6, 1)
moments = st.builds(
    lambda day, second: JUNE + dt.timedelta(days=day, seconds=second),
    st.integers(0, 100),
    st.sampled_from([0, 5, 20, 40, 3000, 86400 - 20, 86400 - 5]),
)
noise = st.builds(
    Ev,
    st.sampled_from([T, C]),
    st.sampled_from([UP, EventKind.MEDIA_DISCONNECTED, LEFT, EventKind.JOINED]),
    moments,
)


def a_call(start: dt.datetime, minutes: int, gap: int, ends: bool) -> list[Ev]:
    """Both connect; the client drops for ``gap`` seconds halfway; both leave, unless
    the server went down first (``ends`` false: an interval left open)."""
    half = start + dt.timedelta(minutes=minutes / 2)
    end = start + dt.timedelta(minutes=minutes)
    call = [Ev(T, UP, start), Ev(C, UP, start)]
    call += [Ev(C, EventKind.MEDIA_DISCONNECTED, half)]
    call += [Ev(C, UP, half + dt.timedelta(seconds=gap))]
    return call + ([Ev(C, LEFT, end), Ev(T, LEFT, end)] if ends else [])


calls = st.builds(
    a_call, moments, st.integers(1, 180), st.sampled_from([5, 25, 35, 600]), st.booleans()
)
events = st.builds(
    lambda made, extra: [e for call in made for e in call] + extra,
    st.lists(calls, max_size=6),
    st.lists(noise, max_size=3),
)


def seconds_by_month(lines: dict[Month, billing.SessionLine]) -> dict[Month, tuple[dt.date, int]]:
    return {m: (x.date, x.seconds) for m, x in lines.items()}


@settings(max_examples=300, deadline=None)
@given(events, events, st.integers(0, 110))
def test_a_cut_changes_no_month_now_or_after_more_events(
    now: list[Ev], later: list[Ev], day: int
) -> None:
    before = JUNE + dt.timedelta(days=day)
    found = billing.cut(Session("ab" * 16, "K-1", now), before, BERLIN)
    if found is None:
        return
    assert found.at <= before
    newer = [e for e in now if e.at >= found.at]
    kept = {Month(x.date.year, x.date.month): (x.date, x.seconds) for x in found.lines}
    # Events still to come follow all that are stored, and the cut-off: the purge
    # runs a metadata retention after it.
    last = max(before, *(e.at for e in now))
    future = [Ev(e.role, e.kind, last + (e.at - JUNE)) for e in later]
    for added in ([], future):
        whole = report(now + added)
        rest = report(newer + added)
        assert {m: x for m, x in whole.items() if m in rest} == rest
        assert {m: x for m, x in seconds_by_month(whole).items() if m not in rest} == kept
