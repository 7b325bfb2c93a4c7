"""Billable time from the stored connection events: pure rules, no I/O, no clock.

A session's billable time is, for each client seat, the time in which *both*
the therapist and that seat's client had media connected: the intersection of
the two seats' connected intervals. A one-to-one session has one client seat
and so one line per month; a group session one per client seat and month, since
each person is billed on their own. The rules, also written down in
``docs/privacy.md``:

- A seat is connected from ``media_connected`` until its next
  ``media_disconnected`` or ``left``. ``joined`` and ``admitted`` start nothing.
- Events with the same timestamp are put in one canonical order (starts before
  ends), so the order in which the database returns them never matters; a
  connect and a disconnect in the same instant therefore end disconnected (we
  never bill a moment we cannot show).
- A gap in one seat's connection *shorter* than the reconnect tolerance
  (``SPRECHZIMMER_BILLING_RECONNECT_TOLERANCE``, default 30 s) is bridged: a
  dropped network that comes back within it does not split the session.
- An interval left open (the server crashed or restarted before ``left`` was
  written) ends at the session's last stored event of any seat: we store
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
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal, Protocol
from zoneinfo import ZoneInfo

from . import seats
from .events import EventKind

DEFAULT_TOLERANCE = dt.timedelta(seconds=30)
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
    def seat(self) -> int:
        """0 for the therapist, else the client seat."""
        ...

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
    """One line of a monthly report: one client seat's billable time in one month.

    A line of a session whose connection events are gone (``archived``) has no
    times of day: only its day, seconds, client ID, seat and short reference were kept.
    """

    session_id: str
    """The session's id; of an archived line only its short ``reference``."""
    client_id: str
    start: dt.datetime | None
    """The session's first billable moment in the month, in the practice's time zone."""
    end: dt.datetime | None
    """Its last billable moment in the month (the end of its last interval), same zone."""
    seconds: int
    """Billable seconds in the month, rounded to the nearest second."""
    day: dt.date | None = None
    """The billing day of an archived line (which has no ``start``)."""
    seat: int = seats.FIRST_CLIENT
    """The client seat billed: 1 in a one-to-one session."""

    def __post_init__(self) -> None:
        if (self.start is None) != (self.end is None) or (self.start is None) == (self.day is None):
            raise ValueError("a report line has a start and an end, or else only a day")

    @classmethod
    def archived(
        cls,
        reference: str,
        client_id: str,
        day: dt.date,
        seconds: int,
        seat: int = seats.FIRST_CLIENT,
    ) -> SessionLine:
        """A line kept after its session's events were deleted (``retention``)."""
        return cls(reference, client_id, None, None, seconds, day, seat)

    @property
    def date(self) -> dt.date:
        """Local date of the first billable moment: the day the session is billed on."""
        if self.start is None:
            assert self.day is not None  # __post_init__ makes sure
            return self.day
        return self.start.date()

    @property
    def order(self) -> tuple[dt.date, float, str, int]:
        """Sort key of a report: by day, by first billable moment (archived lines,
        which have none, first within their day), then by session and seat."""
        moment = float("-inf") if self.start is None else self.start.timestamp()
        return self.date, moment, self.session_id, self.seat

    @property
    def minutes(self) -> str:
        """Billable minutes with two decimals, for people; ``seconds`` is the exact figure."""
        return str(to_minutes(self.seconds))


def to_minutes(seconds: int) -> Decimal:
    """Seconds as minutes with two decimals, rounded half up (not the float's half-even)."""
    return (Decimal(seconds) / 60).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


_Moment = tuple[dt.datetime, int, int, EventKind]
"""An event in canonical form: when (UTC), its rank in that instant, its seat, its kind."""


def _ordered(events: Iterable[EventLike]) -> list[_Moment]:
    """Events as UTC moments in canonical order.

    In UTC because Python subtracts two datetimes of the same zone by their wall
    clocks: 01:30 CEST to 02:30 CET on the night clocks go back would be one hour.
    """
    moments = []
    for e in events:
        if e.at.tzinfo is None:
            raise ValueError("billing needs aware datetimes")
        moments.append((e.at.astimezone(dt.UTC), _RANK[e.kind], e.seat, e.kind))
    moments.sort(key=lambda m: (m[0], m[1]))
    return moments


def connected_intervals(
    events: Iterable[EventLike],
    seat: int,
    tolerance: dt.timedelta = DEFAULT_TOLERANCE,
    close_at: dt.datetime | None = None,
) -> list[Interval]:
    """``seat``'s connected intervals (UTC), gaps shorter than ``tolerance`` bridged.

    An interval still open after the last event ends at ``close_at`` (the
    session's last event, when not given).
    """
    return _connected(_ordered(events), seat, tolerance, close_at)


def _connected(
    ordered: Sequence[_Moment],
    seat: int,
    tolerance: dt.timedelta,
    close_at: dt.datetime | None,
) -> list[Interval]:
    if not ordered:
        return []
    last = (close_at if close_at is not None else ordered[-1][0]).astimezone(dt.UTC)
    raw: list[Interval] = []
    since: dt.datetime | None = None
    for at, _rank, who, kind in ordered:
        if who != seat:
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
    events: Iterable[EventLike],
    tolerance: dt.timedelta = DEFAULT_TOLERANCE,
    seat: int = seats.FIRST_CLIENT,
) -> list[Interval]:
    """The spans of one session in which the therapist and client ``seat`` both had
    media connected."""
    return _billable(_ordered(events), seat, tolerance)


def _billable(ordered: Sequence[_Moment], seat: int, tolerance: dt.timedelta) -> list[Interval]:
    if not ordered:
        return []
    close_at = ordered[-1][0]
    therapist = _connected(ordered, seats.THERAPIST, tolerance, close_at)
    return intersect(therapist, _connected(ordered, seat, tolerance, close_at))


def client_seats_of(ordered: Iterable[_Moment]) -> list[int]:
    """The client seats that have events, in order."""
    return sorted({who for _at, _rank, who, _kind in ordered if who != seats.THERAPIST})


def total(intervals: Iterable[Interval]) -> dt.timedelta:
    return sum((i.duration for i in intervals), dt.timedelta())


@dataclass(frozen=True, slots=True)
class MonthSpan:
    """One month's share of a session's billable time."""

    spent: dt.timedelta
    first: dt.datetime
    """First billable moment in the month (UTC)."""
    last: dt.datetime
    """Last billable moment in the month (UTC): the end of its last interval there."""


def split_by_month(intervals: Iterable[Interval], zone: ZoneInfo) -> dict[Month, MonthSpan]:
    """Per local month: the billable time in it, its first and its last billable moment."""
    out: dict[Month, MonthSpan] = {}
    for interval in intervals:
        month = Month.of(interval.start, zone)
        start = interval.start
        while start < interval.end:
            end = min(interval.end, month.bounds(zone).end)
            seen = out.get(month)
            if seen is None:
                out[month] = MonthSpan(end - start, start, end)
            else:
                out[month] = MonthSpan(
                    seen.spent + (end - start), min(seen.first, start), max(seen.last, end)
                )
            start, month = end, month.next()
    return out


def _seconds(span: dt.timedelta) -> int:
    # Whole microseconds, so rounding is exact and half a second rounds up.
    return (span // dt.timedelta(microseconds=1) + 500_000) // 1_000_000


LineKey = tuple[Month, int]
"""A report line's place among a session's: its month and its client seat."""


def session_lines(
    session_id: str,
    client_id: str,
    events: Iterable[EventLike],
    zone: ZoneInfo,
    tolerance: dt.timedelta = DEFAULT_TOLERANCE,
    seat: int = seats.FIRST_CLIENT,
) -> dict[Month, SessionLine]:
    """One client seat's report lines of a session, by month (months without
    billable time are left out)."""
    return _seat_lines(session_id, client_id, _ordered(events), seat, zone, tolerance)


def _seat_lines(
    session_id: str,
    client_id: str,
    ordered: Sequence[_Moment],
    seat: int,
    zone: ZoneInfo,
    tolerance: dt.timedelta,
) -> dict[Month, SessionLine]:
    by_month = split_by_month(_billable(ordered, seat, tolerance), zone)
    return {
        month: SessionLine(
            session_id,
            client_id,
            span.first.astimezone(zone),
            span.last.astimezone(zone),
            _seconds(span.spent),
            seat=seat,
        )
        for month, span in by_month.items()
    }


def all_lines(
    session_id: str,
    client_id: str,
    events: Iterable[EventLike],
    zone: ZoneInfo,
    tolerance: dt.timedelta = DEFAULT_TOLERANCE,
) -> dict[LineKey, SessionLine]:
    """A session's report lines, by month and client seat: each person billed on
    their own."""
    ordered = _ordered(events)
    return {
        (month, seat): line
        for seat in client_seats_of(ordered)
        for month, line in _seat_lines(
            session_id, client_id, ordered, seat, zone, tolerance
        ).items()
    }


def session_seconds(
    events: Iterable[EventLike], tolerance: dt.timedelta = DEFAULT_TOLERANCE
) -> int:
    """A session's billable seconds over all time and all its client seats (the
    dashboard's "so far").

    Rounded once per seat, so it may differ by a second from the sum of the
    session's monthly lines (each rounded by itself) when the session spans two
    months."""
    ordered = _ordered(events)
    return sum(
        _seconds(total(_billable(ordered, seat, tolerance))) for seat in client_seats_of(ordered)
    )


def month_report(
    sessions: Iterable[SessionEvents],
    month: Month,
    zone: ZoneInfo,
    tolerance: dt.timedelta = DEFAULT_TOLERANCE,
) -> list[SessionLine]:
    """The lines of ``month`` for the given sessions, by first billable moment, then session id."""
    lines = []
    for s in sessions:
        found = all_lines(s.session_id, s.client_id, s.events, zone, tolerance)
        lines += [line for (at, _seat), line in found.items() if at == month]
    return sorted(lines, key=lambda line: line.order)


class SessionSource(Protocol):
    """Where the sessions of a month come from (``store.Store`` is one)."""

    def billing_sessions(
        self,
        start: dt.datetime,
        end: dt.datetime,
        *,
        therapist_id: int | None = None,
        session_ids: Sequence[str] | None = None,
    ) -> Iterable[SessionEvents]: ...

    def archived_lines(
        self, first: dt.date, after: dt.date, *, therapist_id: int
    ) -> Iterable[SessionLine]:
        """The therapist's archived lines of days ``first`` to before ``after``."""
        ...


ALL_TIME = Interval(dt.datetime(1970, 1, 1, tzinfo=dt.UTC), dt.datetime(9999, 1, 1, tzinfo=dt.UTC))


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
    live = month_report(found, month, zone, tolerance)
    # Sessions past the metadata retention left a line each instead of their
    # events (``archive_lines``); a session is either live or archived, never both,
    # so the month's minutes are the same before and after a purge.
    nxt = month.next()
    archived = source.archived_lines(
        dt.date(month.year, month.month, 1),
        dt.date(nxt.year, nxt.month, 1),
        therapist_id=therapist_id,
    )
    return combine(live, archived)


def combine(live: Iterable[SessionLine], archived: Iterable[SessionLine]) -> list[SessionLine]:
    """Live and archived lines as one report, in report order.

    The events are read before the lines, each in its own transaction, so a purge
    in between may show a session both ways: its archived line, equal to what
    ``archive_lines`` makes of the live one, is left out. Read the other way
    round, the session would be missing, which nothing could notice."""
    live = list(live)
    seen = {_archived(x) for x in live}
    return sorted([*live, *(x for x in archived if x not in seen)], key=lambda line: line.order)


def seconds_so_far(
    source: SessionSource,
    therapist_id: int,
    session_ids: Sequence[str],
    tolerance: dt.timedelta = DEFAULT_TOLERANCE,
) -> dict[str, int]:
    """Billable seconds of each of these sessions of the therapist, all months (0: none yet).

    An open interval ends at the session's last event, as in the reports: a call
    in progress counts up when its members' connections change, not every second."""
    found = source.billing_sessions(
        ALL_TIME.start, ALL_TIME.end, therapist_id=therapist_id, session_ids=session_ids
    )
    seconds = dict.fromkeys(session_ids, 0)
    for session in found:
        seconds[session.session_id] = session_seconds(session.events, tolerance)
    return seconds


def monthly_totals(
    sessions: Iterable[SessionEvents],
    zone: ZoneInfo,
    tolerance: dt.timedelta = DEFAULT_TOLERANCE,
    archived: Iterable[SessionLine] = (),
) -> dict[Month, int]:
    """Billable seconds per month over all the given sessions (a therapist's, or a
    client's), and over the ``archived`` lines of sessions whose events are gone."""
    totals: dict[Month, int] = {}
    for s in sessions:
        for (month, _seat), line in all_lines(
            s.session_id, s.client_id, s.events, zone, tolerance
        ).items():
            totals[month] = totals.get(month, 0) + line.seconds
    for line in archived:
        month = Month(line.date.year, line.date.month)
        totals[month] = totals.get(month, 0) + line.seconds
    return dict(sorted(totals.items(), key=lambda item: (item[0].year, item[0].month)))


# --- the CSV export --------------------------------------------------------------------
#
# Made to be opened by a double click: German spreadsheet programs (Excel, LibreOffice
# with a German locale) split a CSV at ";" and read "45,50" as a number, and recognise
# UTF-8 only by its byte order mark. The English variant uses "," and "45.50" for the
# programs of English-speaking locales. Both carry the BOM, which every CSV reader
# that knows "utf-8-sig" skips.

CsvLang = Literal["de", "en"]
BOM = "\ufeff"


@dataclass(frozen=True, slots=True)
class CsvDialect:
    delimiter: str
    decimal: str
    date_format: str
    header: tuple[str, ...]


CSV_DIALECTS: dict[CsvLang, CsvDialect] = {
    "de": CsvDialect(
        ";",
        ",",
        "%d.%m.%Y",
        ("Datum", "Pseudonym", "Beginn", "Ende", "Minuten", "Sekunden", "Sitzung", "Platz"),
    ),
    "en": CsvDialect(
        ",",
        ".",
        "%Y-%m-%d",
        ("Date", "Client ID", "Start", "End", "Minutes", "Seconds", "Session", "Seat"),
    ),
}
_TIME = "%H:%M"

REFERENCE_LENGTH = 8
"""Hex characters of a session id in the CSV: people read and compare it, 32 are too many.

Unique enough to match: 32 random bits, so among the few thousand sessions a
therapist keeps (a year's retention) two share a reference with a chance of
well under one in a hundred; and a line names its date and pseudonym too. Practice
software that needs the full id has it in ``GET /api/v1/sessions``, which
starts with this reference."""


def reference(session_id: str) -> str:
    """The short session reference of the CSV and the dashboard."""
    return session_id[:REFERENCE_LENGTH]


@dataclass(frozen=True, slots=True)
class CsvRow:
    """What one CSV line says, as ``from_csv`` reads it back."""

    date: dt.date
    client_id: str
    start: dt.datetime | None
    """Local wall-clock time of the practice, to the minute, naive (as the sheet shows it);
    empty (None) in an archived line, whose times of day were deleted."""
    end: dt.datetime | None
    minutes: Decimal
    seconds: int
    reference: str
    seat: int = seats.FIRST_CLIENT
    """The client seat (1 in a one-to-one session)."""

    @classmethod
    def of(cls, line: SessionLine) -> CsvRow:
        """The row ``to_csv`` writes for ``line``: times cut to the minute, id shortened."""

        def wall(moment: dt.datetime | None) -> dt.datetime | None:
            return None if moment is None else moment.replace(second=0, microsecond=0, tzinfo=None)

        return cls(
            line.date,
            line.client_id,
            wall(line.start),
            wall(line.end),
            to_minutes(line.seconds),
            line.seconds,
            reference(line.session_id),
            line.seat,
        )


def to_csv(lines: Iterable[SessionLine], lang: CsvLang = "de") -> str:
    """The report as CSV (RFC 4180 quoting, ``\r\n``, BOM, header line) in ``lang``'s dialect."""
    dialect = CSV_DIALECTS[lang]
    buffer = io.StringIO()
    buffer.write(BOM)
    writer = csv.writer(buffer, delimiter=dialect.delimiter)
    writer.writerow(dialect.header)
    for line in lines:
        row = CsvRow.of(line)
        # A billable span that runs past midnight (a link used again on a later
        # day) names the end's date too, so that no row pretends it ended that day.
        end_format = (
            _TIME
            if row.end is None or row.end.date() == row.date
            else f"{dialect.date_format} {_TIME}"
        )
        writer.writerow(
            [
                row.date.strftime(dialect.date_format),
                _csv_safe(row.client_id),
                "" if row.start is None else row.start.strftime(_TIME),
                "" if row.end is None else row.end.strftime(end_format),
                str(row.minutes).replace(".", dialect.decimal),
                row.seconds,
                row.reference,
                row.seat,
            ]
        )
    return buffer.getvalue()


def _csv_safe(value: str) -> str:
    # A client ID typed as "=HYPERLINK(...)" must not become a formula in a
    # spreadsheet; a leading apostrophe is the usual defuse, and from_csv undoes it.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "'") else value


def from_csv(text: str) -> list[CsvRow]:
    """Parse ``to_csv``'s output back, either dialect (for practice software and tests)."""
    text = text.removeprefix(BOM)
    for dialect in CSV_DIALECTS.values():
        rows = list(csv.reader(io.StringIO(text), delimiter=dialect.delimiter))
        if rows and tuple(rows[0]) == dialect.header:
            return [_row(dialect, fields) for fields in rows[1:]]
    raise ValueError("not a sprechzimmer billing CSV (header differs)")


def _row(dialect: CsvDialect, fields: list[str]) -> CsvRow:
    date_text, client_id, start, end, minutes_text, seconds, ref, seat = fields
    date = dt.datetime.strptime(date_text, dialect.date_format).date()

    def moment(text: str) -> dt.datetime | None:
        if not text:  # an archived line: its times of day were deleted
            return None
        if " " in text:  # the end of a span past midnight names its date
            return dt.datetime.strptime(text, f"{dialect.date_format} {_TIME}")
        return dt.datetime.combine(date, dt.datetime.strptime(text, _TIME).time())

    client = client_id[1:] if client_id[:1] == "'" else client_id
    amount = Decimal(minutes_text.replace(dialect.decimal, "."))
    return CsvRow(date, client, moment(start), moment(end), amount, int(seconds), ref, int(seat))


def archive_lines(
    session: SessionEvents, zone: ZoneInfo, tolerance: dt.timedelta = DEFAULT_TOLERANCE
) -> list[SessionLine]:
    """What is kept of a session when its events go: one archived line per month
    with billable time, carrying exactly the seconds, day, client ID and
    reference of that month's report line, and nothing else."""
    lines = all_lines(session.session_id, session.client_id, session.events, zone, tolerance)
    return [_archived(line) for line in lines.values()]


@dataclass(frozen=True, slots=True)
class Cut:
    """Where the older events of a session still in use may go (``cut``)."""

    at: dt.datetime
    """Events before this moment (UTC; the start of a month of the practice) go."""
    lines: list[SessionLine]
    """The archived lines of the months before ``at``: what is kept of those events."""


def cut(
    session: SessionEvents,
    before: dt.datetime,
    zone: ZoneInfo,
    tolerance: dt.timedelta = DEFAULT_TOLERANCE,
) -> Cut | None:
    """The latest start of a practice month, not after ``before``, at which a session's
    events can be split without changing anything billing says of them; None if none.

    A session whose links are renewed again and again is never idle, so its oldest
    events would outlive the metadata retention. They may go, month by month, where
    splitting them changes nothing: each seat's connected intervals of all events
    are those of the events before the cut followed by those of the events after it
    (so no call, no bridged reconnect and no interval left open spans the cut, and
    events still to come meet the same state), and so the month lines are the same;
    and no seat that was joined before the cut is still held at it.
    Checked by computing both, rather than by a second set of rules that could
    drift apart from the first."""
    ordered = _ordered(session.events)
    if not ordered:
        return None
    close_at = ordered[-1][0]
    held = (seats.THERAPIST, *client_seats_of(ordered))
    whole = {seat: _connected(ordered, seat, tolerance, close_at) for seat in held}
    # An interval left open at the end would run on into events still to come.
    settled = all(_connected(ordered, x, tolerance, ALL_TIME.end) == whole[x] for x in held)
    lines = all_lines(session.session_id, session.client_id, session.events, zone, tolerance)
    month = Month.of(before, zone)
    while (at := month.bounds(zone).start) > ordered[0][0]:
        month = _previous(month)
        if at > before:
            continue
        older = [m for m in ordered if m[0] < at]
        newer = ordered[len(older) :]
        if (not newer and not settled) or _seated(older):
            continue
        if all(
            _connected(older, seat, tolerance, None) + _connected(newer, seat, tolerance, None)
            == whole[seat]
            for seat in held
        ):
            kept = {key: x for key, x in lines.items() if key[0].bounds(zone).end <= at}
            rest = _lines(session, newer, zone, tolerance)
            if {**kept, **rest} != lines or kept.keys() & rest.keys():
                continue  # cannot happen when the intervals agree; never bill differently
            return Cut(at, [_archived(x) for x in kept.values()])
    return None


def _lines(
    session: SessionEvents, moments: Sequence[_Moment], zone: ZoneInfo, tolerance: dt.timedelta
) -> dict[LineKey, SessionLine]:
    events = [_Event(seat, kind, at) for at, _rank, seat, kind in moments]
    return all_lines(session.session_id, session.client_id, events, zone, tolerance)


@dataclass(frozen=True, slots=True)
class _Event:
    seat: int
    kind: EventKind
    at: dt.datetime


def _archived(line: SessionLine) -> SessionLine:
    return SessionLine.archived(
        reference(line.session_id), line.client_id, line.date, line.seconds, line.seat
    )


def _seated(moments: Sequence[_Moment]) -> bool:
    """Whether a seat was joined and not left at the end of ``moments``: a server that
    restarts reads its seats from the events (``room.held_seats``), so none may go."""
    seated: dict[int, bool] = {}
    for _at, _rank, seat, kind in moments:
        if kind is EventKind.JOINED:
            seated[seat] = True
        elif kind is EventKind.LEFT:
            seated[seat] = False
    return any(seated.values())


def _previous(month: Month) -> Month:
    return Month(month.year - 1, 12) if month.month == 1 else Month(month.year, month.month - 1)
