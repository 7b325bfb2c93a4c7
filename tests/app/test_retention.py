"""Retention: expired tokens, idle sessions with their events, old samples go by themselves."""

from __future__ import annotations

import asyncio
import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest

from sprechzimmer import protocol as p
from sprechzimmer.billing import retention_cutoff
from sprechzimmer.config import ConfigError, Settings
from sprechzimmer.events import EventKind
from sprechzimmer.protocol import Role
from sprechzimmer.quality import Sample
from sprechzimmer.retention import purge_once, purge_periodically
from sprechzimmer.store import EventInfo, PurgeCounts, Store
from sprechzimmer.tokens import digest

from ..conftest import make_settings
from ..helpers import add_therapist

NOW = dt.datetime(2026, 11, 28, 10, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


def add_session(
    store: Store, therapist: int, sid: str, created: dt.datetime, last_event: dt.datetime | None
) -> None:
    store.create_session(
        sid, therapist, "K-" + sid[:4], created, created + DAY, {Role.CLIENT: digest(sid)}
    )
    if last_event is not None:
        store.add_events(
            [
                EventInfo(sid, Role.THERAPIST, EventKind.JOINED, created),
                EventInfo(sid, Role.THERAPIST, EventKind.LEFT, last_event),
            ]
        )


def test_default_retention_and_its_bounds(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.billing_retention_days == 400
    assert settings.billing_reconnect_tolerance == 30.0
    assert settings.practice_timezone == "Europe/Berlin"
    for bad in ({"billing_retention_days": 10}, {"practice_timezone": "Mars/Olympus"}):
        with pytest.raises(ConfigError, match="SPRECHZIMMER_"):
            make_settings(tmp_path, "", **bad)


def test_purge_deletes_what_is_past_its_retention(store: Store) -> None:
    therapist = add_therapist(store)
    old = NOW - 500 * DAY
    add_session(store, therapist, "a" * 32, old, old + dt.timedelta(hours=1))  # idle: goes
    add_session(store, therapist, "b" * 32, old, NOW - 10 * DAY)  # a recent event: stays
    add_session(store, therapist, "c" * 32, old, None)  # never used, long expired: goes
    add_session(store, therapist, "d" * 32, NOW - DAY / 2, None)  # fresh token: stays
    store.add_quality_samples([Sample.of("q" * 24, p.Quality(), (NOW - 100 * DAY).timestamp())])

    counts = store.purge(NOW, retention_cutoff(NOW, 400), 90)
    # Tokens of a, b and c are past their expiry; a's and c's sessions go too.
    assert counts == PurgeCounts(tokens=3, sessions=2, events=2, quality_samples=1)
    assert store.get_session("a" * 32) is None and store.get_session("c" * 32) is None
    assert store.events_of("a" * 32) == []
    assert len(store.events_of("b" * 32)) == 2
    assert store.lookup_token(digest("d" * 32)) is not None
    assert store.purge(NOW, retention_cutoff(NOW, 400), 90) == PurgeCounts(0, 0, 0, 0)


def test_purge_once_uses_the_settings(tmp_path: Path, database_url: str, store: Store) -> None:
    therapist = add_therapist(store)
    add_session(store, therapist, "e" * 32, NOW - 50 * DAY, NOW - 40 * DAY)
    keep = make_settings(tmp_path, database_url)
    assert purge_once(store, keep, NOW).sessions == 0
    short = make_settings(tmp_path, database_url, billing_retention_days=35)
    assert purge_once(store, short, NOW) == PurgeCounts(0, 1, 2, 0)


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
        "1 expired token(s) deleted",
        "1 session(s) with 2 event(s) idle for more than 400 days deleted",
        "0 quality sample(s) older than 90 days deleted",
    ]
