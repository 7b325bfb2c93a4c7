"""The billing CSV, pure: both dialects, the round trip, the defuse, the sums.

No database and no app: ``to_csv`` gets report lines and ``from_csv`` reads
text. What the API serves is checked in ``tests/app/test_billing.py``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sprechzimmer import billing
from sprechzimmer.billing import CsvRow, SessionLine
from sprechzimmer.events import EventKind
from sprechzimmer.protocol import Role

BERLIN = ZoneInfo("Europe/Berlin")
SID = "0123456789abcdef" * 2


def at(text: str) -> dt.datetime:
    """A wall-clock moment in Berlin."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=BERLIN)


def german(text: str) -> list[list[str]]:
    """Read the CSV as a German spreadsheet program does."""
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text.removeprefix("\ufeff")), delimiter=";"))


def test_german_columns_decimal_comma_and_local_times() -> None:
    lines = [SessionLine(SID, "K-2041", at("2026-11-03 10:00:40"), at("2026-11-03 10:51:10"), 3030)]
    rows = german(billing.to_csv(lines))
    assert rows == [
        ["Datum", "Pseudonym", "Beginn", "Ende", "Minuten", "Sekunden", "Sitzung", "Platz"],
        ["03.11.2026", "K-2041", "10:00", "10:51", "50,50", "3030", "01234567", "1"],
    ]
    assert billing.to_csv(lines) == billing.to_csv(lines, "de")  # German by default


def test_english_uses_commas_points_and_iso_dates() -> None:
    lines = [SessionLine(SID, "K, 7", at("2026-11-03 10:00"), at("2026-11-03 10:45:30"), 2730)]
    text = billing.to_csv(lines, "en")
    assert text.startswith("\ufeff")
    assert text.removeprefix("\ufeff").splitlines() == [
        "Date,Client ID,Start,End,Minutes,Seconds,Session,Seat",
        '2026-11-03,"K, 7",10:00,10:45,45.50,2730,01234567,1',
    ]


def test_an_archived_line_has_empty_times_and_reads_back() -> None:
    """A session past the metadata retention: its day, minutes and reference stay."""
    live = SessionLine(SID, "K-1", at("2026-11-03 10:00"), at("2026-11-03 10:50"), 3000)
    gone = SessionLine.archived(billing.reference(SID), "=K", dt.date(2026, 11, 2), 2730, 3)
    lines = sorted([live, gone], key=lambda line: line.order)
    assert german(billing.to_csv(lines))[1:] == [
        ["02.11.2026", "'=K", "", "", "45,50", "2730", "01234567", "3"],
        ["03.11.2026", "K-1", "10:00", "10:50", "50,00", "3000", "01234567", "1"],
    ]
    for lang in ("de", "en"):
        rows = billing.from_csv(billing.to_csv(lines, lang))
        assert rows == [CsvRow.of(x) for x in lines]
        assert (rows[0].start, rows[0].end, rows[0].client_id) == (None, None, "=K")


def test_a_line_has_times_or_a_day_never_both_or_neither() -> None:
    with pytest.raises(ValueError, match="start and an end, or else only a day"):
        SessionLine(SID, "K", at("2026-11-03 10:00"), None, 60)
    with pytest.raises(ValueError, match="start and an end, or else only a day"):
        SessionLine(SID, "K", None, None, 60)
    with pytest.raises(ValueError, match="start and an end, or else only a day"):
        SessionLine(SID, "K", at("2026-11-03 10:00"), at("2026-11-03 11:00"), 60, dt.date.today())


def test_a_span_past_midnight_names_the_end_date() -> None:
    lines = [SessionLine(SID, "K", at("2026-11-03 23:30"), at("2026-11-04 00:20"), 3000)]
    assert german(billing.to_csv(lines))[1][2:4] == ["23:30", "04.11.2026 00:20"]
    en = billing.to_csv(lines, "en").splitlines()[1]
    assert ",23:30,2026-11-04 00:20," in en
    (row,) = billing.from_csv(billing.to_csv(lines))
    assert row.end == dt.datetime(2026, 11, 4, 0, 20)


def test_csv_defuses_formulas() -> None:
    lines = [SessionLine(SID, "=HYPERLINK(1)", at("2026-11-02 09:00"), at("2026-11-02 09:01"), 90)]
    assert german(billing.to_csv(lines))[1][1] == "'=HYPERLINK(1)"
    (row,) = billing.from_csv(billing.to_csv(lines))
    assert row.client_id == "=HYPERLINK(1)"


def test_minutes_round_half_up() -> None:
    # 3 s = 0.05 min exactly; 1 s = 0.01666… min → 0.02; 27 s = 0.45 min.
    assert [str(billing.to_minutes(s)) for s in (3, 1, 27, 0, 3000)] == [
        "0.05",
        "0.02",
        "0.45",
        "0.00",
        "50.00",
    ]


def test_reference_is_short_and_a_prefix_of_the_id() -> None:
    assert billing.reference(SID) == "01234567"
    assert SID.startswith(billing.reference(SID))


def test_not_our_csv_is_refused() -> None:
    with pytest.raises(ValueError, match="header differs"):
        billing.from_csv("session_id,client_id,date,billable_minutes,billable_seconds\r\n")


def test_the_minutes_column_sums_to_the_billable_intervals() -> None:
    """A month of sessions: the German minutes column adds up to what the intervals say."""
    T, C = Role.THERAPIST, Role.CLIENT
    UP, LEFT = EventKind.MEDIA_CONNECTED, EventKind.LEFT

    class Ev:
        def __init__(self, role: Role, kind: EventKind, moment: dt.datetime) -> None:
            self.role, self.kind, self.at = role, kind, moment
            self.seat = 0 if role is T else 1

    class Session:
        def __init__(self, session_id: str, minutes: float, day: int) -> None:
            start = dt.datetime(2026, 11, day, 9, tzinfo=dt.UTC)
            end = start + dt.timedelta(minutes=minutes)
            self.session_id, self.client_id = session_id, f"K-{day}"
            self.events = [Ev(T, UP, start), Ev(C, UP, start), Ev(C, LEFT, end), Ev(T, LEFT, end)]

    sessions = [Session(f"{i:032x}", m, i + 1) for i, m in enumerate([50, 45.5, 25.25, 0.1, 60])]
    lines = billing.month_report(sessions, billing.Month(2026, 11), BERLIN)
    rows = german(billing.to_csv(lines))[1:]
    minutes = sum(Decimal(row[4].replace(",", ".")) for row in rows)
    seconds = sum(
        billing.total(billing.billable_intervals(s.events)).total_seconds() for s in sessions
    )
    assert minutes == Decimal("180.85") and seconds == 10851
    assert billing.monthly_totals(sessions, BERLIN) == {billing.Month(2026, 11): 10851}
    assert sum(int(row[5]) for row in rows) == 10851


# --- the round trip, with hypothesis -------------------------------------------------------

client_ids = st.text(
    st.characters(codec="utf-8", categories=["L", "N", "P", "S", "Zs"]), min_size=1, max_size=64
)
EPOCH = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)


def session_line(sid: str, cid: str, start: int, length: int, seconds: int) -> SessionLine:
    """A line as billing makes it: UTC moments shown in the practice's zone."""
    begin = EPOCH + dt.timedelta(seconds=start)
    end = begin + dt.timedelta(seconds=length)
    return SessionLine(sid, cid, begin.astimezone(BERLIN), end.astimezone(BERLIN), seconds)


# Plain integers rather than st.datetimes(timezones=...): as cheap to draw as the
# other fields, so that a busy machine does not trip the too-slow health check.
session_lines = st.builds(
    session_line,
    st.text("0123456789abcdef", min_size=32, max_size=32),
    client_ids,
    st.integers(0, 20 * 366 * 86400),
    st.integers(0, 3 * 86400),
    st.integers(0, 31 * 86400),
)


@given(st.lists(session_lines, max_size=10), st.sampled_from(["de", "en"]))
def test_csv_round_trips(lines: list[SessionLine], lang: billing.CsvLang) -> None:
    assert billing.from_csv(billing.to_csv(lines, lang)) == [CsvRow.of(x) for x in lines]
