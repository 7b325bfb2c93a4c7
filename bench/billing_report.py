"""Billing report benchmark: one million connection events on SQLite and PostgreSQL.

Run from the repository root::

    .venv/bin/python -m bench.billing_report [--events N] [--backends sqlite,postgres]

For each backend it makes a fresh database (a temporary SQLite file; a
throw-away PostgreSQL database over the unix socket, as ``tests/conftest.py``
does, dropped at the end, also on failure), migrates it, and bulk-inserts
synthetic sessions: 50 therapists, sessions spread over October to December
2026 in the practice's zone, ten events each (joins, admission, media up, a
reconnect within the tolerance, media down, leaving), every 50th left open as
if the server had crashed. Inserts go through the driver's bulk path
(``executemany`` on SQLite, ``COPY`` on PostgreSQL), timed separately from
the reports. Then it times:

* **all months**: the monthly report of every therapist for each of the three
  months, i.e. every event read through ``Store.billing_sessions`` and billed
  by ``billing.month_report``;
* **one therapist-month**: what ``GET /api/v1/billing`` does for one request.

Bounded: ``--max-seconds`` (default 900) stops the run with an alarm.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import random
import secrets
import signal
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

from sprechzimmer import billing
from sprechzimmer.store import BillingSession, ConsultationSession, Store, Therapist

ZONE = ZoneInfo("Europe/Berlin")
MONTHS = [billing.Month(2026, 10), billing.Month(2026, 11), billing.Month(2026, 12)]
THERAPISTS = 50
EVENTS_PER_SESSION = 10
POSTGRES_ADMIN_URL = os.environ.get(
    "SPRECHZIMMER_TEST_POSTGRES", "postgresql+psycopg://root@/test?host=/var/run/postgresql"
)
Row = tuple[str, str, str, dt.datetime]


def synthetic(sessions: int, seed: int = 1) -> tuple[list[dict[str, Any]], list[Row]]:
    """Session rows and (session, role, kind, at) event rows, deterministic for a seed."""
    rnd = random.Random(seed)
    start = MONTHS[0].bounds(ZONE).start
    span = (MONTHS[-1].bounds(ZONE).end - start).total_seconds() - 4 * 3600
    rows, events = [], []
    for n in range(sessions):
        sid = f"{n:032x}"
        t0 = start + dt.timedelta(seconds=rnd.uniform(0, span))
        rows.append(
            {
                "id": sid,
                "therapist_id": 1 + n % THERAPISTS,
                "client_id": f"K-{rnd.randrange(2000)}",
                "created_at": t0 - dt.timedelta(days=1),
                "expires_at": t0 + dt.timedelta(days=1),
                "state": "open",
            }
        )

        def at(seconds: float, t0: dt.datetime = t0) -> dt.datetime:
            return t0 + dt.timedelta(seconds=seconds)

        length = rnd.uniform(20 * 60, 60 * 60)
        drop = rnd.uniform(60, length - 60)
        events += [
            (sid, "therapist", "joined", at(0)),
            (sid, "therapist", "media_connected", at(2)),
            (sid, "client", "joined", at(rnd.uniform(10, 300))),
            (sid, "client", "admitted", at(301)),
            (sid, "client", "media_connected", at(303)),
            (sid, "client", "media_disconnected", at(303 + drop)),
            (sid, "client", "media_connected", at(303 + drop + rnd.uniform(1, 29))),
        ]
        if n % 50 == 49:  # crashed: nothing after the last heartbeat-ish event
            events += [(sid, "therapist", "joined", at(303 + length + k)) for k in range(3)]
        else:
            events += [
                (sid, "client", "left", at(303 + length)),
                (sid, "therapist", "media_disconnected", at(310 + length)),
                (sid, "therapist", "left", at(310 + length)),
            ]
    return rows, events


def _therapist_rows(now: dt.datetime) -> list[dict[str, Any]]:
    return [
        {"code": f"dr-{i}", "password_hash": "x", "api_key_hashes": "[]", "created_at": now}
        for i in range(1, THERAPISTS + 1)
    ]


def insert_all(store: Store, sessions: list[dict[str, Any]], events: list[Row]) -> None:
    now = dt.datetime.now(dt.UTC)
    with store.engine.begin() as c:
        c.execute(insert(Therapist), _therapist_rows(now))
        c.execute(insert(ConsultationSession), sessions)
    raw = store.engine.raw_connection()
    try:
        cursor = raw.cursor()
        if store.engine.dialect.name == "sqlite":
            # The text form SQLAlchemy's SQLite DateTime writes (UTC, no zone).
            fmt = "%Y-%m-%d %H:%M:%S.%f"
            cursor.executemany(
                "INSERT INTO events (session_id, role, kind, at) VALUES (?, ?, ?, ?)",
                ((s, r, k, a.strftime(fmt)) for s, r, k, a in events),
            )
        else:
            buffer = io.StringIO()
            for s, r, k, a in events:
                buffer.write(f"{s}\t{r}\t{k}\t{a.isoformat()}\n")
            with cursor.copy("COPY events (session_id, role, kind, at) FROM STDIN") as copy:
                copy.write(buffer.getvalue())
        raw.commit()
        cursor.close()
    finally:
        raw.close()
    if store.engine.dialect.name == "postgresql":
        with store.engine.begin() as c:
            c.execute(text("ANALYZE"))


def report_all(store: Store) -> tuple[int, int, int]:
    """Every therapist's report for every month: (lines, billable seconds, events read)."""
    lines = seconds = events = 0
    for month in MONTHS:
        bounds = month.bounds(ZONE)
        by_therapist: dict[int, list[BillingSession]] = defaultdict(list)
        for found in store.billing_sessions(bounds.start, bounds.end):
            events += len(found.events)
            by_therapist[found.therapist_id].append(found)
        for found_sessions in by_therapist.values():
            report = billing.month_report(found_sessions, month, ZONE)
            lines += len(report)
            seconds += sum(line.seconds for line in report)
    return lines, seconds, events


def report_one(store: Store) -> int:
    month = MONTHS[1]
    bounds = month.bounds(ZONE)
    found = store.billing_sessions(bounds.start, bounds.end, therapist_id=7)
    return len(billing.to_csv(billing.month_report(found, month, ZONE)))


def run(store: Store, sessions: list[dict[str, Any]], events: list[Row]) -> dict[str, float]:
    store.migrate()
    t = time.perf_counter()
    insert_all(store, sessions, events)
    inserted = time.perf_counter() - t
    t = time.perf_counter()
    lines, seconds, read = report_all(store)
    reported = time.perf_counter() - t
    t = time.perf_counter()
    report_one(store)
    one = time.perf_counter() - t
    return {
        "insert_s": inserted,
        "report_all_s": reported,
        "report_one_s": one,
        "lines": lines,
        "billable_h": seconds / 3600,
        "events_read": read,
    }


def sqlite_store() -> Iterator[Store]:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.from_url(f"sqlite:///{Path(tmp) / 'bench.sqlite3'}")
        try:
            yield store
        finally:
            store.close()


def postgres_store() -> Iterator[Store]:
    name = f"sz_bench_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    store = Store.from_url(
        make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    )
    try:
        yield store
    finally:
        store.close()
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _timeout(_signum: int, _frame: FrameType | None) -> None:
    raise TimeoutError("the benchmark ran past --max-seconds")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--max-seconds", type=int, default=900)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGALRM, _timeout)
    signal.alarm(args.max_seconds)

    t = time.perf_counter()
    sessions, events = synthetic(max(1, args.events // EVENTS_PER_SESSION))
    print(
        f"{len(events)} events in {len(sessions)} sessions of {THERAPISTS} therapists, "
        f"{MONTHS[0]} to {MONTHS[-1]} ({time.perf_counter() - t:.1f} s to generate)"
    )
    makers = {"sqlite": sqlite_store, "postgres": postgres_store}
    for backend in args.backends.split(","):
        for store in makers[backend.strip()]():
            r = run(store, sessions, events)
            print(
                f"{backend:9s} insert {r['insert_s']:6.1f} s | report all months "
                f"{r['report_all_s']:6.1f} s ({r['events_read']:.0f} events read, "
                f"{r['lines']:.0f} lines, {r['billable_h']:.0f} h billable) | "
                f"one therapist-month {r['report_one_s'] * 1000:6.0f} ms"
            )
    signal.alarm(0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
