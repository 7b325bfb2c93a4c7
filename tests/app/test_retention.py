"""Retention: expired tokens, idle sessions with their events, old samples go by themselves;
what billing needs of a purged session stays as billing lines, and the month's export with it."""

from __future__ import annotations

import asyncio
import datetime as dt
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import MetaData, Table, inspect, select, text
from starlette.testclient import TestClient

from sprechzimmer import billing, privacy
from sprechzimmer import protocol as p
from sprechzimmer.app import create_app
from sprechzimmer.billing import Month
from sprechzimmer.config import ConfigError, Settings
from sprechzimmer.events import EventKind
from sprechzimmer.migrate import downgrade, upgrade
from sprechzimmer.protocol import Role
from sprechzimmer.quality import Sample
from sprechzimmer.retention import (
    billing_first_day,
    is_idle,
    metadata_cutoff,
    purge_once,
    purge_periodically,
)
from sprechzimmer.store import EventInfo, PurgeCounts, Store
from sprechzimmer.tokens import digest

from ..conftest import make_settings
from ..helpers import PASSWORD, add_therapist

NOW = dt.datetime(2026, 11, 28, 10, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
BERLIN = ZoneInfo("Europe/Berlin")


def add_session(
    store: Store, therapist: int, sid: str, created: dt.datetime, last_event: dt.datetime | None
) -> None:
    store.create_session(sid, therapist, "K-" + sid[:4], created, created + DAY, {1: digest(sid)})
    if last_event is not None:
        store.add_events(
            [
                EventInfo(sid, Role.THERAPIST, EventKind.JOINED, created),
                EventInfo(sid, Role.THERAPIST, EventKind.LEFT, last_event),
            ]
        )


def add_call(
    store: Store, therapist: int, sid: str, client_id: str, start: dt.datetime, minutes: float
) -> None:
    """A call both sides were in, with a dropped line the tolerance bridges."""
    store.create_session(sid, therapist, client_id, start, start + DAY, {1: digest(sid)})
    at = [start + dt.timedelta(seconds=s) for s in (0, 5, 600, 620)]
    end = start + dt.timedelta(minutes=minutes)
    store.add_events(
        [
            EventInfo(sid, Role.THERAPIST, EventKind.MEDIA_CONNECTED, at[0]),
            EventInfo(sid, Role.CLIENT, EventKind.MEDIA_CONNECTED, at[1]),
            EventInfo(sid, Role.CLIENT, EventKind.MEDIA_DISCONNECTED, at[2]),
            EventInfo(sid, Role.CLIENT, EventKind.MEDIA_CONNECTED, at[3]),
            EventInfo(sid, Role.CLIENT, EventKind.LEFT, end),
            EventInfo(sid, Role.THERAPIST, EventKind.LEFT, end),
        ]
    )


def add_call_before_seats(
    store: Store, therapist: int, sid: str, client_id: str, start: dt.datetime, minutes: float
) -> None:
    """``add_call`` into a database of revision 0003/0004, whose rows name no seat:
    written with the tables as the database has them, not with today's model."""
    tables = MetaData()
    tables.reflect(bind=store.engine, only=["sessions", "tokens", "events"])
    sqlite = store.engine.dialect.name == "sqlite"

    def stored(moment: dt.datetime) -> dt.datetime:
        # As the store's UTCDateTime writes it: SQLite keeps naive UTC.
        return moment.replace(tzinfo=None) if sqlite else moment

    at = [start + dt.timedelta(seconds=s) for s in (0, 5, 600, 620)]
    end = start + dt.timedelta(minutes=minutes)
    T, C = Role.THERAPIST.value, Role.CLIENT.value
    up, down, left = "media_connected", "media_disconnected", "left"
    happened = [(T, up, at[0]), (C, up, at[1]), (C, down, at[2]), (C, up, at[3])]
    happened += [(C, left, end), (T, left, end)]
    with store.engine.begin() as c:
        c.execute(
            tables.tables["sessions"].insert(),
            {
                "id": sid,
                "therapist_id": therapist,
                "client_id": client_id,
                "created_at": stored(start),
                "expires_at": stored(start + DAY),
                "state": "open",
            },
        )
        c.execute(
            tables.tables["tokens"].insert(),
            {"hash": digest(sid), "session_id": sid, "role": C, "expires_at": stored(start + DAY)},
        )
        c.execute(
            tables.tables["events"].insert(),
            [
                {"session_id": sid, "role": role, "kind": kind, "at": stored(moment)}
                for role, kind, moment in happened
            ],
        )


def minutes_of(lines: list[billing.SessionLine]) -> list[tuple[dt.date, str, int, str]]:
    """What the export must say the same before and after a purge."""
    return [(x.date, x.client_id, x.seconds, billing.reference(x.session_id)) for x in lines]


# --- settings -------------------------------------------------------------------------


def test_default_retention_and_its_bounds(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.metadata_retention_days == 90
    assert settings.billing_retention_days == 400
    assert settings.billing_reconnect_tolerance == 30.0
    assert settings.practice_timezone == "Europe/Berlin"
    for bad in ({"billing_retention_days": 10}, {"practice_timezone": "Mars/Olympus"}):
        with pytest.raises(ConfigError, match="SPRECHZIMMER_"):
            make_settings(tmp_path, "", **bad)


@pytest.mark.parametrize("days", [0, 34, 3651])
def test_metadata_retention_out_of_range_is_refused_with_a_sentence(
    tmp_path: Path, days: int
) -> None:
    with pytest.raises(ConfigError) as error:
        make_settings(tmp_path, "", metadata_retention_days=days)
    assert str(error.value) == (
        "SPRECHZIMMER_METADATA_RETENTION_DAYS is invalid: use a number of days from 35 to "
        "3650 (default 90; KBV Anlage 31b allows at most 90). Fewer than 35 would delete a "
        "month's connection events before its billing export."
    )


@pytest.mark.parametrize("days", [35, 120, 3650])
def test_metadata_retention_in_range_is_accepted(tmp_path: Path, days: int) -> None:
    assert make_settings(tmp_path, "", metadata_retention_days=days).metadata_retention_days == days


# --- the purge --------------------------------------------------------------------------


def test_purge_deletes_what_is_past_its_retention(store: Store) -> None:
    therapist = add_therapist(store)
    old = NOW - 500 * DAY
    add_session(store, therapist, "a" * 32, old, old + dt.timedelta(hours=1))  # idle: goes
    add_session(store, therapist, "b" * 32, old, NOW - 10 * DAY)  # a recent event: stays
    add_session(store, therapist, "c" * 32, old, None)  # never used, long expired: goes
    add_session(store, therapist, "d" * 32, NOW - DAY / 2, None)  # fresh token: stays
    store.add_quality_samples([Sample.of("q" * 24, p.Quality(), (NOW - 100 * DAY).timestamp())])

    def purge() -> PurgeCounts:
        return store.purge(
            NOW, metadata_cutoff(NOW, 90), billing_first_day(NOW, 400, BERLIN), 90, BERLIN
        )

    # Tokens of a, b and c are past their expiry; a's and c's sessions go too.
    # Neither had billable time, so no billing line is kept of them. b is in use,
    # and its therapist's seat (joined 500 days ago, left 10 days ago) spans every
    # month start since: none of its events goes.
    assert purge() == PurgeCounts(tokens=3, sessions=2, events=2, quality_samples=1)
    assert store.get_session("a" * 32) is None and store.get_session("c" * 32) is None
    assert store.events_of("a" * 32) == []
    assert len(store.events_of("b" * 32)) == 2
    assert store.lookup_token(digest("d" * 32)) is not None
    assert purge() == PurgeCounts(0, 0, 0, 0)


def test_the_store_and_the_rule_agree_on_what_is_idle(store: Store) -> None:
    therapist = add_therapist(store)
    cutoff = metadata_cutoff(NOW, 90)
    second = dt.timedelta(seconds=1)
    cases = {  # session id: (expires_at, last event)
        "1" * 32: (cutoff - second, cutoff - second),
        "2" * 32: (cutoff - second, cutoff),
        "3" * 32: (cutoff, cutoff - second),
        "4" * 32: (cutoff - second, None),
        "5" * 32: (cutoff, None),
    }
    for sid, (expires, last) in cases.items():
        store.create_session(sid, therapist, "K", cutoff - 2 * DAY, expires, {})
        if last is not None:
            store.add_events([EventInfo(sid, Role.CLIENT, EventKind.LEFT, last)])
    expected = {sid for sid, (expires, last) in cases.items() if is_idle(expires, last, cutoff)}
    assert expected == {"1" * 32, "4" * 32}
    assert set(store.idle_sessions(cutoff, therapist)) == expected


def test_default_purge_deletes_events_after_90_days_and_keeps_the_months_minutes(
    tmp_path: Path, database_url: str, store: Store
) -> None:
    therapist = add_therapist(store)
    other = add_therapist(store, "dr-other")
    august = dt.datetime(2026, 8, 20, 7, 0, tzinfo=dt.UTC)  # 100 days before NOW
    add_call(store, therapist, "1" * 32, "K-1", august, 50)
    add_call(store, therapist, "2" * 32, "=K,2", august + 5 * DAY, 45.5)
    add_call(store, other, "3" * 32, "K-1", august, 30)
    # The last evening of July in Berlin, on into August: two lines, two months.
    add_call(store, therapist, "4" * 32, "K-4", dt.datetime(2026, 7, 31, 21, 30, tzinfo=dt.UTC), 60)
    add_call(store, therapist, "5" * 32, "K-5", NOW - 60 * DAY, 20)  # young enough: stays
    months = [Month(2026, 7), Month(2026, 8)]
    settings = make_settings(tmp_path, database_url)

    def export(month: Month) -> list[billing.SessionLine]:
        return billing.therapist_month(
            store, therapist, month, BERLIN, settings.reconnect_tolerance
        )

    before = {m: export(m) for m in months}
    assert [len(before[m]) for m in months] == [1, 3]
    assert all(line.start is not None for m in months for line in before[m])

    counts = purge_once(store, settings, NOW)
    assert (counts.sessions, counts.events, counts.archived) == (4, 24, 5)
    for sid in "1234":
        assert store.get_session(sid * 32) is None and store.events_of(sid * 32) == []
    assert len(store.events_of("5" * 32)) == 6

    after = {m: export(m) for m in months}
    for m in months:
        assert minutes_of(after[m]) == minutes_of(before[m])
        # Only the times of day are gone, and the CSV says so by empty cells.
        assert all(line.start is None and line.end is None for line in after[m])
        rows = billing.from_csv(billing.to_csv(after[m]))
        assert [(r.minutes, r.seconds) for r in rows] == [
            (billing.to_minutes(x.seconds), x.seconds) for x in before[m]
        ]
        assert all(r.start is None and r.end is None for r in rows)
    # The other therapist's line is theirs alone.
    assert minutes_of(billing.therapist_month(store, other, Month(2026, 8), BERLIN)) == [
        (dt.date(2026, 8, 20), "K-1", 1795, "33333333")
    ]
    assert purge_once(store, settings, NOW) == PurgeCounts(0, 0, 0, 0)


def test_a_session_in_use_loses_its_older_months_and_keeps_their_minutes(
    tmp_path: Path, database_url: str, store: Store
) -> None:
    """One session for every appointment, its links renewed: never idle."""
    therapist = add_therapist(store)
    sid = "m" * 32
    store.create_session(sid, therapist, "K-m", NOW - 200 * DAY, NOW + DAY, {})
    months = [Month(2026, m) for m in range(6, 12)]
    for month in months:
        start = dt.datetime(month.year, month.month, 5, 7, tzinfo=dt.UTC)
        store.add_events(
            [
                EventInfo(sid, Role.THERAPIST, EventKind.MEDIA_CONNECTED, start),
                EventInfo(sid, Role.CLIENT, EventKind.MEDIA_CONNECTED, start),
                EventInfo(sid, Role.CLIENT, EventKind.LEFT, start + dt.timedelta(minutes=50)),
                EventInfo(sid, Role.THERAPIST, EventKind.LEFT, start + dt.timedelta(minutes=50)),
            ]
        )
    settings = make_settings(tmp_path, database_url)
    session = store.get_session(sid)
    assert session is not None

    def so_far() -> int:
        live = billing.seconds_so_far(store, therapist, [sid])[sid]
        return live + store.archived_seconds([session])[sid]

    before = {m: minutes_of(billing.therapist_month(store, therapist, m, BERLIN)) for m in months}
    total = so_far()
    assert total == 6 * 3000

    counts = purge_once(store, settings, NOW)
    # Cut at the start of August in Berlin: June and July go into billing lines.
    assert (counts.sessions, counts.trimmed, counts.trimmed_events, counts.archived) == (
        0,
        1,
        8,
        2,
    )
    cut = dt.datetime(2026, 8, 1, tzinfo=BERLIN)
    assert min(e.at for e in store.events_of(sid)) >= cut
    for month in months:
        assert minutes_of(billing.therapist_month(store, therapist, month, BERLIN)) == before[month]
    assert so_far() == total
    assert purge_once(store, settings, NOW).trimmed == 0  # August is not old enough yet

    # Erasing the session takes its billing lines along.
    assert privacy.delete_session(store, sid).billing_lines == 2
    assert all(billing.therapist_month(store, therapist, m, BERLIN) == [] for m in months)


def test_billing_lines_go_after_the_billing_retention(
    tmp_path: Path, database_url: str, store: Store
) -> None:
    therapist = add_therapist(store)
    add_call(store, therapist, "6" * 32, "K-6", NOW - 100 * DAY, 50)
    settings = make_settings(tmp_path, database_url, billing_retention_days=120)
    assert purge_once(store, settings, NOW).archived == 1
    month = Month.of(NOW - 100 * DAY, BERLIN)
    assert len(billing.therapist_month(store, therapist, month, BERLIN)) == 1
    later = NOW + 21 * DAY  # 121 days after the call's day
    assert purge_once(store, settings, later).billing_lines == 1
    assert billing.therapist_month(store, therapist, month, BERLIN) == []
    # A session idle for longer than the billing retention leaves no line at all.
    add_call(store, therapist, "7" * 32, "K-7", NOW - 200 * DAY, 50)
    counts = purge_once(store, settings, NOW)
    assert (counts.sessions, counts.archived) == (1, 0)


# PostgreSQL only: SQLite lets one writer in at a time, so two purges cannot overlap.
@pytest.mark.parametrize("backend", ["postgres"])
def test_a_session_another_purge_holds_is_left_to_it(
    tmp_path: Path, database_url: str, store: Store
) -> None:
    """Several server processes purge on their own: a session's lines are written once."""
    assert store.engine.dialect.name == "postgresql"
    therapist = add_therapist(store)
    add_call(store, therapist, "k" * 32, "K-k", NOW - 100 * DAY, 50)
    settings = make_settings(tmp_path, database_url)
    other = Store.from_url(database_url)
    try:
        with other.engine.begin() as c:
            # Another process's purge holds the session's row until it commits.
            c.execute(text("SELECT id FROM sessions FOR UPDATE"))
            counts = purge_once(store, settings, NOW)
            assert (counts.sessions, counts.archived) == (0, 0)
    finally:
        other.close()
    assert purge_once(store, settings, NOW).archived == 1
    assert (
        len(billing.therapist_month(store, therapist, Month.of(NOW - 100 * DAY, BERLIN), BERLIN))
        == 1
    )


def test_purge_once_uses_the_settings(tmp_path: Path, database_url: str, store: Store) -> None:
    therapist = add_therapist(store)
    add_session(store, therapist, "e" * 32, NOW - 50 * DAY, NOW - 40 * DAY)
    keep = make_settings(tmp_path, database_url)
    assert purge_once(store, keep, NOW).sessions == 0
    short = make_settings(tmp_path, database_url, metadata_retention_days=35)
    assert purge_once(store, short, NOW) == PurgeCounts(0, 1, 2, 0)


def test_an_upgraded_database_is_converted_by_the_first_purge(
    tmp_path: Path, database_url: str, store: Store
) -> None:
    """A database of revision 0003 (before billing lines and seats), with calls 200
    days old: the upgrade puts its events on the therapist's seat and the client's
    (without that the therapist's would count as a client seat's, and nothing would
    be billable), and the first purge turns them into billing lines."""
    downgrade(store.engine, "0003")
    try:
        assert "billing_lines" not in inspect(store.engine).get_table_names()
        therapist = add_therapist(store)
        start = NOW - 200 * DAY
        add_call_before_seats(store, therapist, "8" * 32, "K-8", start, 50)
        add_call_before_seats(store, therapist, "9" * 32, "K-9", start + 2 * DAY, 25)
    finally:
        # Back to the newest schema even when an assertion failed: the PostgreSQL
        # test database is shared by the tests that come after.
        upgrade(store.engine)
    month = Month.of(start, BERLIN)
    expected = minutes_of(billing.therapist_month(store, therapist, month, BERLIN))
    assert [seconds for _, _, seconds, _ in expected] == [2995, 1495]
    with store.engine.connect() as c:
        rows = c.execute(text("SELECT DISTINCT role, seat FROM events")).all()
        tokens = c.execute(text("SELECT DISTINCT role, seat FROM tokens")).all()
    assert sorted(rows) == [("client", 1), ("therapist", 0)] and tokens == [("client", 1)]
    counts = purge_once(store, make_settings(tmp_path, database_url), NOW)
    assert (counts.sessions, counts.events, counts.archived) == (2, 12, 2)
    assert store.events_of("8" * 32) == [] and store.events_of("9" * 32) == []
    assert minutes_of(billing.therapist_month(store, therapist, month, BERLIN)) == expected


# --- data-subject requests cover the billing lines ---------------------------------------


def every_row(store: Store) -> list[str]:
    """Every row of every table, as text."""
    with store.engine.connect() as c:
        return [
            repr(tuple(row))
            for table in inspect(c).get_table_names()
            for row in c.execute(select(Table(table, MetaData(), autoload_with=c)))
        ]


def test_export_and_deletion_cover_billing_lines(
    tmp_path: Path, database_url: str, store: Store
) -> None:
    therapist_id = add_therapist(store)
    add_call(store, therapist_id, "a1" * 16, "Klient-Zebra", NOW - 120 * DAY, 50)
    add_call(store, therapist_id, "b2" * 16, "K-2", NOW - 120 * DAY, 40)
    add_call(store, therapist_id, "c3" * 16, "Klient-Zebra", NOW - 10 * DAY, 30)
    purge_once(store, make_settings(tmp_path, database_url), NOW)
    therapist = store.therapist_by_id(therapist_id)
    assert therapist is not None

    exported = privacy.export(store, therapist, NOW, "Klient-Zebra")
    assert exported["billing_lines"] == [
        {
            "day": "2026-07-31",
            "client_id": "Klient-Zebra",
            "reference": "a1a1a1a1",
            "seat": 1,
            "seconds": 2995,
        }
    ]
    assert [s["session_id"] for s in exported["sessions"]] == ["c3" * 16]
    assert len(privacy.export(store, therapist, NOW)["billing_lines"]) == 2
    assert privacy.billing_totals(store, therapist, "Klient-Zebra", BERLIN) == {
        "2026-07": 2995,
        "2026-11": 1795,
    }

    deleted = privacy.delete_client(store, therapist, "Klient-Zebra")
    assert (deleted.sessions, deleted.billing_lines) == (1, 1)
    assert privacy.export(store, therapist, NOW, "Klient-Zebra")["billing_lines"] == []
    assert not any("Klient-Zebra" in row for row in every_row(store))
    assert any("K-2" in row for row in every_row(store))  # another client's line stays
    assert privacy.delete_therapist(store, therapist).billing_lines == 1
    assert billing.therapist_month(store, therapist_id, Month(2026, 7), BERLIN) == []


# --- the notice before the purge ----------------------------------------------------------


@pytest.fixture
def client(tmp_path: Path, database_url: str, store: Store) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(tmp_path, database_url), store)) as c:
        yield c


def test_the_session_list_names_the_months_the_purge_will_reach_soon(
    client: TestClient, store: Store
) -> None:
    therapist = add_therapist(store, "dr-a")
    now = dt.datetime.now(dt.UTC)
    soon = now - 80 * DAY  # purged in ten days
    add_call(store, therapist, "d4" * 16, "K-1", soon, 50)
    add_call(store, therapist, "e5" * 16, "K-2", now - 60 * DAY, 50)  # a month later: not yet
    add_session(store, therapist, "f6" * 16, soon, soon)  # nothing billable: no month
    client.post("/api/v1/login", json={"code": "dr-a", "password": PASSWORD})
    listed = client.get("/api/v1/sessions").json()
    assert listed["purge_soon"] == [str(Month.of(soon + dt.timedelta(minutes=1), BERLIN))]


# --- the jobs ------------------------------------------------------------------------------


async def test_the_periodic_job_purges_by_itself(
    tmp_path: Path, database_url: str, store: Store
) -> None:
    therapist = add_therapist(store)
    now = dt.datetime.now(dt.UTC)
    add_session(store, therapist, "f" * 32, now - 900 * DAY, now - 899 * DAY)
    job = asyncio.create_task(purge_periodically(store, make_settings(tmp_path, database_url)))
    try:
        for _ in range(200):
            if store.get_session("f" * 32) is None:
                break
            await asyncio.sleep(0.05)
        assert store.get_session("f" * 32) is None
    finally:
        job.cancel()
        with pytest.raises(asyncio.CancelledError):
            await job


def test_purge_command_reports_every_count(tmp_path: Path, database_url: str, store: Store) -> None:
    therapist = add_therapist(store)
    now = dt.datetime.now(dt.UTC)
    add_session(store, therapist, "g" * 32, now - 900 * DAY, now - 899 * DAY)
    add_call(store, therapist, "h" * 32, "K-h", now - 100 * DAY, 50)
    done = subprocess.run(
        [sys.executable, "-m", "sprechzimmer", "purge"],
        env={
            "PATH": "/usr/bin:/bin",
            "SPRECHZIMMER_DATA_DIR": str(tmp_path),
            "SPRECHZIMMER_DATABASE_URL": database_url,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "2 expired token(s) deleted",
        "2 session(s) with 8 event(s) idle for more than 90 days deleted",
        "0 event(s) older than 90 days of 0 session(s) in use deleted",
        "1 billing line(s) kept in their place",
        "0 billing line(s) older than 400 days deleted",
        "0 quality sample(s) older than 90 days deleted",
    ]
