"""Billing: the pure rules (with hypothesis), fixed cases, CSV, the API and the CLI."""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from sprechzimmer import billing
from sprechzimmer.app import create_app
from sprechzimmer.billing import Month, SessionLine
from sprechzimmer.events import EventKind
from sprechzimmer.protocol import Role
from sprechzimmer.store import EventInfo, Store
from sprechzimmer.tokens import digest

from ..conftest import make_settings
from ..helpers import PASSWORD, add_therapist

BERLIN = ZoneInfo("Europe/Berlin")
T, C = Role.THERAPIST, Role.CLIENT
UP, DOWN, LEFT, JOINED = (
    EventKind.MEDIA_CONNECTED,
    EventKind.MEDIA_DISCONNECTED,
    EventKind.LEFT,
    EventKind.JOINED,
)
TOL = dt.timedelta(seconds=30)
BASE = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)
API_KEY = "szk_" + "B" * 43


@dataclass(frozen=True)
class Ev:
    role: Role
    kind: EventKind
    at: dt.datetime

    @property
    def seat(self) -> int:
        """The one-to-one session's seats: 0 the therapist, 1 the client."""
        return 0 if self.role is Role.THERAPIST else 1


def ev(role: Role, kind: EventKind, at: dt.datetime | int) -> Ev:
    return Ev(role, kind, at if isinstance(at, dt.datetime) else BASE + dt.timedelta(seconds=at))


def seconds(events: list[Ev], tolerance: dt.timedelta = TOL) -> float:
    return billing.total(billing.billable_intervals(events, tolerance)).total_seconds()


def line(sid: str, cid: str, start: dt.datetime, end: dt.datetime, secs: int) -> SessionLine:
    """A report line as billing makes it: its times in the practice's zone."""
    return SessionLine(sid, cid, start.astimezone(BERLIN), end.astimezone(BERLIN), secs)


# --- properties -----------------------------------------------------------------------

event_lists = st.lists(
    st.builds(
        ev,
        st.sampled_from([T, C]),
        st.sampled_from([UP, UP, DOWN, LEFT, JOINED]),
        st.integers(min_value=0, max_value=4 * 3600),
    ),
    max_size=30,
)
tolerances = st.integers(min_value=0, max_value=120).map(lambda s: dt.timedelta(seconds=s))


@given(event_lists, tolerances)
def test_billable_never_exceeds_the_wall_clock_span(events: list[Ev], tol: dt.timedelta) -> None:
    if events:
        span = max(e.at for e in events) - min(e.at for e in events)
        assert seconds(events, tol) <= span.total_seconds()
    else:
        assert seconds(events, tol) == 0


@given(event_lists, tolerances, st.randoms(use_true_random=False))
def test_order_of_events_does_not_matter(
    events: list[Ev], tol: dt.timedelta, rnd: random.Random
) -> None:
    shuffled = list(events)
    rnd.shuffle(shuffled)
    assert billing.billable_intervals(shuffled, tol) == billing.billable_intervals(events, tol)


@given(event_lists, tolerances)
def test_billable_is_at_most_each_sides_connected_time(events: list[Ev], tol: dt.timedelta) -> None:
    billable = seconds(events, tol)
    close = max((e.at for e in events), default=BASE)
    for seat in (0, 1):
        own = billing.total(billing.connected_intervals(events, seat, tol, close))
        assert billable <= own.total_seconds()
    # Without bridging, not even the bridged gaps count: at most the raw connected time.
    raw = seconds(events, dt.timedelta(0))
    for seat in (0, 1):
        own = billing.total(billing.connected_intervals(events, seat, dt.timedelta(0), close))
        assert raw <= own.total_seconds()


@given(
    start=st.integers(0, 600),
    length=st.integers(120, 7200),
    drop_at=st.floats(0.1, 0.9),
    gap=st.integers(1, 29),
    who=st.sampled_from([T, C]),
    ends_with=st.sampled_from([DOWN, LEFT]),
)
def test_a_reconnect_within_the_tolerance_does_not_split(
    start: int, length: int, drop_at: float, gap: int, who: Role, ends_with: EventKind
) -> None:
    end = start + length
    drop = start + int(length * drop_at)
    events = [
        ev(T, UP, start),
        ev(C, UP, start),
        ev(who, ends_with, drop),
        ev(who, JOINED, drop + gap) if ends_with is LEFT else ev(who, DOWN, drop),
        ev(who, UP, drop + gap),
        ev(T, LEFT, end + gap),
        ev(C, LEFT, end + gap),
    ]
    intervals = billing.billable_intervals(events, TOL)
    assert len(intervals) == 1
    assert intervals[0].duration == dt.timedelta(seconds=length + gap)


@settings(max_examples=50)
@given(st.integers(31, 600))
def test_a_gap_as_long_as_the_tolerance_splits(gap: int) -> None:
    events = [ev(T, UP, 0), ev(C, UP, 0), ev(C, DOWN, 100), ev(C, UP, 100 + gap), ev(T, LEFT, 900)]
    assert len(billing.billable_intervals(events, TOL)) == 2
    assert seconds(events) == 900 - gap


# --- fixed cases ------------------------------------------------------------------------


def test_only_the_time_both_are_connected_counts() -> None:
    events = [
        ev(T, JOINED, 0),
        ev(T, UP, 0),
        ev(C, JOINED, 60),
        ev(C, UP, 120),
        ev(C, DOWN, 3000),
        ev(C, LEFT, 3000),
        ev(T, LEFT, 3300),
    ]
    assert seconds(events) == 3000 - 120


def test_an_interval_left_open_ends_at_the_last_event_not_now() -> None:
    # The server crashed: no media_disconnected, no left. The last thing we know
    # is the therapist's own event 25 minutes in.
    events = [ev(T, UP, 0), ev(C, UP, 60), ev(T, JOINED, 1500)]
    assert seconds(events) == 1500 - 60
    # Without any later event the open interval has no length we can show.
    assert seconds([ev(T, UP, 0), ev(C, UP, 60)]) == 0


def test_connect_and_disconnect_in_the_same_instant_end_disconnected() -> None:
    events = [ev(T, UP, 0), ev(C, UP, 0), ev(C, DOWN, 0), ev(T, LEFT, 600)]
    assert seconds(events) == 0
    assert seconds(list(reversed(events))) == 0


def test_month_boundary_in_the_practice_zone() -> None:
    # 30 November 23:30 to 1 December 00:30, Berlin time (UTC+1 in winter).
    start = dt.datetime(2026, 11, 30, 22, 30, tzinfo=dt.UTC)
    events = [ev(T, UP, start), ev(C, UP, start), ev(T, LEFT, start + dt.timedelta(hours=1))]
    lines = billing.session_lines("s1", "K-1", events, BERLIN, TOL)
    midnight = dt.datetime(2026, 12, 1, tzinfo=BERLIN)
    assert lines == {
        Month(2026, 11): line("s1", "K-1", start, midnight, 1800),
        Month(2026, 12): line("s1", "K-1", midnight, start + dt.timedelta(hours=1), 1800),
    }
    assert [x.date for x in lines.values()] == [dt.date(2026, 11, 30), dt.date(2026, 12, 1)]


def test_a_call_late_on_the_last_utc_day_belongs_to_the_next_local_month() -> None:
    start = dt.datetime(2026, 10, 31, 23, 30, tzinfo=dt.UTC)  # 1 November 00:30 in Berlin
    events = [ev(T, UP, start), ev(C, UP, start), ev(T, LEFT, start + dt.timedelta(minutes=50))]
    lines = billing.session_lines("s1", "K-1", events, BERLIN, TOL)
    assert list(lines) == [Month(2026, 11)]
    assert lines[Month(2026, 11)].date == dt.date(2026, 11, 1)
    assert billing.session_lines("s1", "K-1", events, ZoneInfo("UTC"), TOL).keys() == {
        Month(2026, 10),
        Month(2026, 11),
    }


def test_dst_change_day_counts_real_time() -> None:
    # 25 October 2026: clocks go back from 03:00 CEST to 02:00 CET. A call from
    # 01:30 CEST to 02:30 CET shows one hour on the wall clock and lasts two.
    start = dt.datetime(2026, 10, 25, 1, 30, tzinfo=BERLIN)
    end = dt.datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=BERLIN)
    events = [ev(T, UP, start), ev(C, UP, start), ev(C, LEFT, end), ev(T, LEFT, end)]
    lines = billing.session_lines("s1", "K-1", events, BERLIN, TOL)
    assert lines == {Month(2026, 10): line("s1", "K-1", start, end, 7200)}
    assert lines[Month(2026, 10)].date == dt.date(2026, 10, 25)


def test_month_bounds_follow_the_zone() -> None:
    march = Month(2026, 3).bounds(BERLIN)
    assert march.start == dt.datetime(2026, 2, 28, 23, 0, tzinfo=dt.UTC)
    assert march.end == dt.datetime(2026, 3, 31, 22, 0, tzinfo=dt.UTC)  # CEST from the 29th
    assert march.duration == dt.timedelta(days=31, hours=-1)
    assert Month(2026, 12).next() == Month(2027, 1)
    for bad in ("2026-13", "2026-1", "26-11", "2026-11-01", ""):
        with pytest.raises(ValueError, match="not a month"):
            Month.parse(bad)


def test_seconds_round_to_the_nearest() -> None:
    events = [ev(T, UP, 0), ev(C, UP, 0), ev(T, LEFT, BASE + dt.timedelta(seconds=59.5))]
    assert billing.session_lines("s", "K", events, BERLIN)[Month(2026, 11)].seconds == 60


# --- the store, the API and the CLI ----------------------------------------------------------


def add_call(
    store: Store,
    therapist_id: int,
    session_id: str,
    client_id: str,
    start: dt.datetime,
    minutes: float,
) -> None:
    store.create_session(
        session_id, therapist_id, client_id, start, start + dt.timedelta(days=1), {}
    )
    end = start + dt.timedelta(minutes=minutes)
    store.add_events(
        [
            EventInfo(session_id, T, UP, start),
            EventInfo(session_id, C, UP, start),
            EventInfo(session_id, C, LEFT, end),
            EventInfo(session_id, T, LEFT, end),
        ]
    )


@pytest.fixture
def calls(store: Store) -> dict[str, int]:
    a, b = add_therapist(store, "dr-a"), add_therapist(store, "dr-b")
    store.add_api_key_hash("dr-a", digest(API_KEY))
    add_call(store, a, "s" * 31 + "1", "K-1", NOV, 50)
    add_call(store, a, "s" * 31 + "2", "=K,2", NOV + dt.timedelta(days=7), 45.5)
    add_call(store, a, "s" * 31 + "3", "K-1", dt.datetime(2026, 10, 30, 9, tzinfo=dt.UTC), 50)
    add_call(store, a, "s" * 31 + "4", "K-4", dt.datetime(2026, 11, 30, 22, 30, tzinfo=dt.UTC), 60)
    add_call(store, b, "s" * 31 + "5", "K-9", NOV, 50)  # another therapist's
    return {"dr-a": a, "dr-b": b}


NOV = dt.datetime(2026, 11, 3, 9, 0, tzinfo=dt.UTC)
EXPECTED_NOV = [
    line("s" * 31 + "1", "K-1", NOV, NOV + dt.timedelta(minutes=50), 3000),
    line(
        "s" * 31 + "2",
        "=K,2",
        NOV + dt.timedelta(days=7),
        NOV + dt.timedelta(days=7, minutes=45.5),
        2730,
    ),
    # 23:30 to midnight in Berlin; the rest of the hour is December's.
    line(
        "s" * 31 + "4",
        "K-4",
        dt.datetime(2026, 11, 30, 22, 30, tzinfo=dt.UTC),
        dt.datetime(2026, 12, 1, tzinfo=BERLIN),
        1800,
    ),
]
EXPECTED_NOV_ROWS = [billing.CsvRow.of(x) for x in EXPECTED_NOV]


def test_store_finds_the_sessions_of_a_month(store: Store, calls: dict[str, int]) -> None:
    bounds = Month(2026, 11).bounds(BERLIN)
    found = list(store.billing_sessions(bounds.start, bounds.end, therapist_id=calls["dr-a"]))
    assert sorted(s.session_id[-1] for s in found) == ["1", "2", "4"]
    assert billing.month_report(found, Month(2026, 11), BERLIN) == EXPECTED_NOV
    everything = list(store.billing_sessions(bounds.start, bounds.end))
    assert len(everything) == 4 and all(len(s.events) == 4 for s in everything)


@pytest.fixture
def client(tmp_path: Path, database_url: str, store: Store) -> Iterator[TestClient]:
    # The calls are on fixed dates, and the app purges at start-up by the real
    # clock: the longest metadata retention keeps them raw for years to come.
    settings = make_settings(tmp_path, database_url, metadata_retention_days=3650)
    with TestClient(create_app(settings, store)) as c:
        yield c


def test_api_returns_the_month_as_csv(client: TestClient, calls: dict[str, int]) -> None:
    auth = {"authorization": f"Bearer {API_KEY}"}
    response = client.get("/api/v1/billing", params={"month": "2026-11"}, headers=auth)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["cache-control"] == "no-store"
    assert 'filename="abrechnung-2026-11.csv"' in response.headers["content-disposition"]
    assert billing.from_csv(response.text) == EXPECTED_NOV_ROWS
    december = client.get("/api/v1/billing", params={"month": "2026-12"}, headers=auth)
    assert [row.seconds for row in billing.from_csv(december.text)] == [1800]


def test_the_german_csv_opens_as_columns_and_sums_to_the_month(
    client: TestClient, calls: dict[str, int], store: Store
) -> None:
    """What a German spreadsheet program does with the download: BOM, ';', decimal comma."""
    auth = {"authorization": f"Bearer {API_KEY}"}
    response = client.get("/api/v1/billing", params={"month": "2026-11"}, headers=auth)
    raw = response.content
    assert raw.startswith(b"\xef\xbb\xbf")  # the UTF-8 byte order mark
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    header = ["Datum", "Pseudonym", "Beginn", "Ende", "Minuten", "Sekunden", "Sitzung", "Platz"]
    assert rows[0] == header
    assert rows[1:] == [
        ["03.11.2026", "K-1", "10:00", "10:50", "50,00", "3000", "ssssssss", "1"],
        ["10.11.2026", "'=K,2", "10:00", "10:45", "45,50", "2730", "ssssssss", "1"],
        # The span ends on the next local day: its end says which.
        ["30.11.2026", "K-4", "23:30", "01.12.2026 00:00", "30,00", "1800", "ssssssss", "1"],
    ]
    # The minutes column sums to the month's total, as billing computes it.
    total = sum(Decimal(row[4].replace(",", ".")) for row in rows[1:])
    bounds = Month(2026, 11).bounds(BERLIN)
    found = store.billing_sessions(bounds.start, bounds.end, therapist_id=calls["dr-a"])
    month_seconds = billing.monthly_totals(found, BERLIN)[Month(2026, 11)]
    assert total == Decimal(month_seconds) / 60 == Decimal("125.5")
    assert sum(int(row[5]) for row in rows[1:]) == month_seconds

    english = client.get("/api/v1/billing", params={"month": "2026-11", "lang": "en"}, headers=auth)
    assert 'filename="billing-2026-11.csv"' in english.headers["content-disposition"]
    en_rows = list(csv.reader(io.StringIO(english.content.decode("utf-8-sig"))))
    assert en_rows[0] == [
        *("Date", "Client ID", "Start", "End", "Minutes", "Seconds", "Session", "Seat")
    ]
    assert en_rows[2] == ["2026-11-10", "'=K,2", "10:00", "10:45", "45.50", "2730", "ssssssss", "1"]
    assert billing.from_csv(english.text) == EXPECTED_NOV_ROWS
    bad = client.get("/api/v1/billing", params={"month": "2026-11", "lang": "fr"}, headers=auth)
    assert bad.status_code == 422


def test_api_billing_with_login_and_errors(client: TestClient, calls: dict[str, int]) -> None:
    assert client.get("/api/v1/billing", params={"month": "2026-11"}).status_code == 401
    client.post("/api/v1/login", json={"code": "dr-b", "password": PASSWORD})
    mine = client.get("/api/v1/billing", params={"month": "2026-11"})
    assert [row.client_id for row in billing.from_csv(mine.text)] == ["K-9"]
    bad = client.get("/api/v1/billing", params={"month": "2026-13"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid-input"
    assert client.get("/api/v1/billing").status_code == 422


def run_cli(database_url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "SPRECHZIMMER_DATA_DIR": str(tmp_path),
        "SPRECHZIMMER_DATABASE_URL": database_url,
    }
    return subprocess.run(
        [sys.executable, "-m", "sprechzimmer", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_export(store: Store, calls: dict[str, int], database_url: str, tmp_path: Path) -> None:
    november = ("billing", "export", "--therapist", "dr-a", "--month", "2026-11")
    done = run_cli(database_url, tmp_path, *november, "--csv")
    assert done.returncode == 0, done.stderr
    assert billing.from_csv(done.stdout) == EXPECTED_NOV_ROWS
    english = run_cli(database_url, tmp_path, *november, "--csv", "--lang", "en")
    assert english.stdout.startswith("\ufeffDate,Client ID,")
    human = run_cli(database_url, tmp_path, *november)
    assert human.stdout.splitlines()[-1] == (
        "3 session(s) in 2026-11 (Europe/Berlin): 125.50 min (7530 s) billable"
    )
    bad = run_cli(database_url, tmp_path, "billing", "export", "--therapist", "x", "--month", "11")
    assert bad.returncode == 1 and "not a month" in bad.stderr
