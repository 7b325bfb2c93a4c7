"""Billable time from the stored connection events: pure rules, no I/O, no clock.

A session's billable time is the time in which *both* the therapist and the
client had media connected: the intersection of the two roles' connected
intervals. The rules, also written down in ``docs/privacy.md``:

- A role is connected from ``media_connected`` until its next
  ``media_disconnected`` or ``left``. ``joined`` and ``admitted`` start nothing.
- Events with the same timestamp are put in one canonical order (starts before
  ends), so the order in which the database returns them never matters; a
  connect and a disconnect in the same instant therefore end disconnected (we
  never bill a moment we cannot show).
- A gap in one role's connection *shorter* than the reconnect tolerance
  (``SPRECHZIMMER_BILLING_RECONNECT_TOLERANCE``, default 30 s) is bridged: a
  dropped network that comes back within it does not split the session.
- An interval left open (the server crashed or restarted before ``left`` was
  written) ends at the session's last stored event of either role: we store
  no heartbeats, and the last event is the last moment we know the call was
  alive. Never at "now", so a report does not grow while nobody is talking.
- Times are UTC throughout; months are the practice's calendar months
  (``SPRECHZIMMER_PRACTICE_TIMEZONE``, default Europe/Berlin), so an interval
  that crosses local midnight at the end of a month is split between the two.

This module never reads a clock, a database or a file; callers pass events in.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol
from zoneinfo import ZoneInfo

from .events import EventKind
from .protocol import Role

DEFAULT_TOLERANCE = dt.timedelta(seconds=30)
CSV_COLUMNS = ("session_id", "client_id", "date", "billable_minutes", "billable_seconds")
_MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")

# Canonical order of events in the same instant: starts first, then ends, so
# the state after the instant is "disconnected" if anything ended in it.
_RANK = {
    EventKind.JOINED: 0,
    EventKind.ADMITTED: 0,
    EventKind.MEDIA_CONNECTED: 1,
    EventKind.MEDIA_DISCONNECTED: 2,
    EventKind.LEFT: 3,
}


class EventLike(Protocol):
    """What billing needs of a stored event (``store.EventInfo`` is one)."""

    @property
    def role(self) -> Role: ...

    @property
    def kind(self) -> EventKind: ...

    @property
    def at(self) -> dt.datetime: ...


class SessionEvents(Protocol):
    """A session with its events (``store.BillingSession`` is one)."""

    @property
    def session_id(self) -> str: ...

    @property
    def client_id(self) -> str: ...

    @property
    def events(self) -> Sequence[EventLike]: ...


@dataclass(frozen=True, slots=True)
class Interval:
    """A half-open span of time ``[start, end)`` in UTC."""

    start: dt.datetime
    end: dt.datetime

    @property
    def duration(self) -> dt.timedelta:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class Month:
    """A calendar month of the practice."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        """``YYYY-MM``; anything else raises ``ValueError``."""
        match = _MONTH.fullmatch(text)
        if match is None:
            raise ValueError(f"{text!r} is not a month such as 2026-11")
        return cls(int(match[1]), int(match[2]))

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def next(self) -> Month:
        return Month(self.year + 1, 1) if self.month == 12 else Month(self.year, self.month + 1)

    def bounds(self, zone: ZoneInfo) -> Interval:
        """The month as a UTC interval: local midnight on the 1st to the next 1st."""
        nxt = self.next()
        start = dt.datetime(self.year, self.month, 1, tzinfo=zone).astimezone(dt.UTC)
        end = dt.datetime(nxt.year, nxt.month, 1, tzinfo=zone).astimezone(dt.UTC)
        return Interval(start, end)

    @classmethod
    def of(cls, moment: dt.datetime, zone: ZoneInfo) -> Month:
        local = moment.astimezone(zone)
        return cls(local.year, local.month)


@dataclass(frozen=True, slots=True)
class SessionLine:
    """One line of a monthly report: one session's billable time in one month."""

    session_id: str
    client_id: str
    date: dt.date
    """Local date (practice time zone) of the session's first billable moment in the month."""
    seconds: int
    """Billable seconds in the month, rounded to the nearest second."""

    @property
    def minutes(self) -> str:
        """Billable minutes with two decimals, for people; ``seconds`` is the exact figure."""
        return f"{self.seconds / 60:.2f}"


_Moment = tuple[dt.datetime, int, Role, EventKind]


def _ordered(events: Iterable[EventLike]) -> list[_Moment]:
    """Events as UTC moments in canonical order.

    In UTC because Python subtracts two datetimes of the same zone by their wall
    clocks: 01:30 CEST to 02:30 CET on the night clocks go back would be one hour.
    """
    moments = []
    for e in events:
        if e.at.tzinfo is None:
            raise ValueError("billing needs aware datetimes")
        moments.append((e.at.astimezone(dt.UTC), _RANK[e.kind], e.role, e.kind))
    moments.sort(key=lambda m: (m[0], m[1]))
    return moments


def connected_intervals(
    events: Iterable[EventLike],
    role: Role,
    tolerance: dt.timedelta = DEFAULT_TOLERANCE,
    close_at: dt.datetime | None = None,
) -> list[Interval]:
    """``role``'s connected intervals (UTC), gaps shorter than ``tolerance`` bridged.

    An interval still open after the last event ends at ``close_at`` (the
    session's last event, when not given).
    """
    return _connected(_ordered(events), role, tolerance, close_at)


def _connected(
    ordered: Sequence[_Moment],
    role: Role,
    tolerance: dt.timedelta,
    close_at: dt.datetime | None,
) -> list[Interval]:
    if not ordered:
        return []
    last = (close_at if close_at is not None else ordered[-1][0]).astimezone(dt.UTC)
    raw: list[Interval] = []
    since: dt.datetime | None = None
    for at, _rank, who, kind in ordered:
        if who is not role:
            continue
        if kind is EventKind.MEDIA_CONNECTED:
            if since is None:
                since = at
        elif kind in (EventKind.MEDIA_DISCONNECTED, EventKind.LEFT) and since is not None:
            raw.append(Interval(since, at))
            since = None
    if since is not None:
        raw.append(Interval(since, max(since, last)))
    return _bridge(raw, tolerance)


def _bridge(intervals: Sequence[Interval], tolerance: dt.timedelta) -> list[Interval]:
    merged: list[Interval] = []
    for interval in intervals:
        if interval.end <= interval.start:
            continue  # connected and gone in the same instant: nothing to bridge from
        if merged and interval.start - merged[-1].end < tolerance:
            merged[-1] = Interval(merged[-1].start, max(merged[-1].end, interval.end))
        else:
            merged.append(interval)
    return merged


def intersect(a: Sequence[Interval], b: Sequence[Interval]) -> list[Interval]:
    """The spans covered by both sorted, disjoint interval lists."""
    out: list[Interval] = []
    i = j = 0
    while i < len(a) and j < len(b):
        start = max(a[i].start, b[j].start)
        end = min(a[i].end, b[j].end)
        if start < end:
            out.append(Interval(start, end))
        if a[i].end <= b[j].end:
            i += 1
        else:
            j += 1
    return out


def billable_intervals(
    events: Iterable[EventLike], tolerance: dt.timedelta = DEFAULT_TOLERANCE
) -> list[Interval]:
    """The spans of one session in which both roles had media connected."""
    ordered = _ordered(events)
    if not ordered:
        return []
    close_at = ordered[-1][0]
    therapist = _connected(ordered, Role.THERAPIST, tolerance, close_at)
    client = _connected(ordered, Role.CLIENT, tolerance, close_at)
    return intersect(therapist, client)


def total(intervals: Iterable[Interval]) -> dt.timedelta:
    return sum((i.duration for i in intervals), dt.timedelta())


def split_by_month(
    intervals: Iterable[Interval], zone: ZoneInfo
) -> dict[Month, tuple[dt.timedelta, dt.datetime]]:
    """Per local month: the billable time in it and its first billable moment (UTC)."""
    out: dict[Month, tuple[dt.timedelta, dt.datetime]] = {}
    for interval in intervals:
        month = Month.of(interval.start, zone)
        start = interval.start
        while start < interval.end:
            end = min(interval.end, month.bounds(zone).end)
            spent, first = out.get(month, (dt.timedelta(), start))
            out[month] = (spent + (end - start), min(first, start))
            start, month = end, month.next()
    return out


def _seconds(span: dt.timedelta) -> int:
    # Whole microseconds, so rounding is exact and half a second rounds up.
    return (span // dt.timedelta(microseconds=1) + 500_000) // 1_000_000


def session_lines(
    session_id: str,
    client_id: str,
    events: Iterable[EventLike],
    zone: ZoneInfo,
    tolerance: dt.timedelta = DEFAULT_TOLERANCE,
) -> dict[Month, SessionLine]:
    """One session's report lines, by month (months without billable time are left out)."""
    by_month = split_by_month(billable_intervals(events, tolerance), zone)
    return {
        month: SessionLine(session_id, client_id, first.astimezone(zone).date(), _seconds(spent))
        for month, (spent, first) in by_month.items()
    }


def month_report(
    sessions: Iterable[SessionEvents],
    month: Month,
    zone: ZoneInfo,
    tolerance: dt.timedelta = DEFAULT_TOLERANCE,
) -> list[SessionLine]:
    """The lines of ``month`` for the given sessions, by date then session id."""
    lines = []
    for s in sessions:
        line = session_lines(s.session_id, s.client_id, s.events, zone, tolerance).get(month)
        if line is not None:
            lines.append(line)
    return sorted(lines, key=lambda line: (line.date, line.session_id))


class SessionSource(Protocol):
    """Where the sessions of a month come from (``store.Store`` is one)."""

    def billing_sessions(
        self, start: dt.datetime, end: dt.datetime, therapist_id: int | None = None
    ) -> Iterable[SessionEvents]: ...


def therapist_month(
    source: SessionSource,
    therapist_id: int,
    month: Month,
    zone: ZoneInfo,
    tolerance: dt.timedelta = DEFAULT_TOLERANCE,
) -> list[SessionLine]:
    """One therapist's report of ``month``: the API's CSV and the CLI's export."""
    bounds = month.bounds(zone)
    found = source.billing_sessions(bounds.start, bounds.end, therapist_id=therapist_id)
    return month_report(found, month, zone, tolerance)


def monthly_totals(
    sessions: Iterable[SessionEvents], zone: ZoneInfo, tolerance: dt.timedelta = DEFAULT_TOLERANCE
) -> dict[Month, int]:
    """Billable seconds per month over all the given sessions (a therapist's, or a client's)."""
    totals: dict[Month, int] = {}
    for s in sessions:
        for month, line in session_lines(
            s.session_id, s.client_id, s.events, zone, tolerance
        ).items():
            totals[month] = totals.get(month, 0) + line.seconds
    return dict(sorted(totals.items(), key=lambda item: (item[0].year, item[0].month)))


def to_csv(lines: Iterable[SessionLine]) -> str:
    """The report as CSV (RFC 4180, header line, ``\\r\\n``)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for line in lines:
        writer.writerow(
            [
                line.session_id,
                _csv_safe(line.client_id),
                line.date.isoformat(),
                line.minutes,
                line.seconds,
            ]
        )
    return buffer.getvalue()


def _csv_safe(value: str) -> str:
    # A client ID typed as "=HYPERLINK(...)" must not become a formula in a
    # spreadsheet; a leading apostrophe is the usual defuse, and from_csv undoes it.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "'") else value


def from_csv(text: str) -> list[SessionLine]:
    """Parse ``to_csv``'s output back (for practice software and the round-trip test)."""
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or tuple(rows[0]) != CSV_COLUMNS:
        raise ValueError("not a sprechzimmer billing CSV (header differs)")
    lines = []
    for session_id, client_id, date, _minutes, seconds in rows[1:]:
        client = client_id[1:] if client_id[:1] == "'" else client_id
        lines.append(SessionLine(session_id, client, dt.date.fromisoformat(date), int(seconds)))
    return lines


def retention_cutoff(now: dt.datetime, days: int) -> dt.datetime:
    """Sessions whose last activity is before this are deleted with their events."""
    return now - dt.timedelta(days=days)
