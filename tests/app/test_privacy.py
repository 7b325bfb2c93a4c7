"""Data-subject requests: export everything about a therapist or client ID, delete a client."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

from sqlalchemy import MetaData, Table, inspect, select

from sprechzimmer import privacy
from sprechzimmer.events import EventKind
from sprechzimmer.protocol import Role
from sprechzimmer.store import EventInfo, Store
from sprechzimmer.tokens import digest

from ..helpers import add_therapist

NOW = dt.datetime(2026, 11, 28, 10, 0, tzinfo=dt.UTC)
GONE = "Klient-Zebra-417"  # distinctive, so a search of every row finds any trace
KEPT = "K-2"


def add_call(store: Store, therapist: int, sid: str, client_id: str, start: dt.datetime) -> None:
    store.create_session(
        sid,
        therapist,
        client_id,
        start,
        NOW + dt.timedelta(days=1),
        {0: digest(sid + "t"), 1: digest(sid + "c")},
    )
    end = start + dt.timedelta(minutes=50)
    store.add_events(
        [
            EventInfo(sid, Role.THERAPIST, EventKind.MEDIA_CONNECTED, start),
            EventInfo(sid, Role.CLIENT, EventKind.MEDIA_CONNECTED, start),
            EventInfo(sid, Role.CLIENT, EventKind.LEFT, end),
            EventInfo(sid, Role.THERAPIST, EventKind.LEFT, end),
        ]
    )


def setup(store: Store) -> tuple[int, int]:
    a, b = add_therapist(store, "dr-a"), add_therapist(store, "dr-b")
    add_call(store, a, "1" * 32, GONE, dt.datetime(2026, 10, 5, 9, tzinfo=dt.UTC))
    add_call(store, a, "2" * 32, GONE, dt.datetime(2026, 11, 2, 9, tzinfo=dt.UTC))
    add_call(store, a, "3" * 32, KEPT, dt.datetime(2026, 11, 3, 9, tzinfo=dt.UTC))
    # Another therapist may use the same pseudonym for somebody else: not theirs to delete.
    add_call(store, b, "4" * 32, GONE, dt.datetime(2026, 11, 4, 9, tzinfo=dt.UTC))
    return a, b


def every_row(store: Store) -> list[str]:
    """Every row of every table (migration bookkeeping included), as text."""
    rows = []
    with store.engine.connect() as c:
        for table in inspect(c).get_table_names():
            reflected = Table(table, MetaData(), autoload_with=c)
            rows += [repr(tuple(r)) for r in c.execute(select(reflected))]
    return rows


def test_export_of_a_client_holds_their_sessions_and_no_secret(store: Store) -> None:
    setup(store)
    therapist = store.therapist_by_code("dr-a")
    assert therapist is not None
    found = privacy.export(store, therapist, NOW, GONE)
    assert found["client_id"] == GONE and found["therapist"] == {"code": "dr-a"}
    assert [s["session_id"] for s in found["sessions"]] == ["1" * 32, "2" * 32]
    first = found["sessions"][0]
    assert first["events"][0] == {
        "role": "therapist",
        "seat": 0,
        "kind": "media_connected",
        "at": "2026-10-05T09:00:00Z",
    }
    assert first["seats"] == 1
    assert {(t["role"], t["seat"]) for t in first["tokens"]} == {("therapist", 0), ("client", 1)}
    dumped = json.dumps(found)
    assert digest("1" * 32 + "t") not in dumped and "4" * 32 not in dumped


def test_export_of_a_therapist_holds_the_account_and_all_sessions(store: Store) -> None:
    setup(store)
    therapist = store.therapist_by_code("dr-a")
    assert therapist is not None
    found = privacy.export(store, therapist, NOW)
    assert found["therapist"]["code"] == "dr-a" and found["therapist"]["api_keys"] == 0
    assert "$argon2" not in json.dumps(found)
    assert len(found["sessions"]) == 3


def test_deleting_a_client_leaves_no_trace(store: Store) -> None:
    setup(store)
    therapist = store.therapist_by_code("dr-a")
    assert therapist is not None
    totals = privacy.billing_totals(store, therapist, GONE, privacy.ZoneInfo("Europe/Berlin"))
    assert totals == {"2026-10": 3000, "2026-11": 3000}
    deleted = privacy.delete_client(store, therapist, GONE)
    assert (deleted.sessions, deleted.events, deleted.tokens) == (2, 8, 4)
    rows = every_row(store)
    # dr-b's client of the same pseudonym stays: one session row names it.
    assert [r for r in rows if GONE in r] == [r for r in rows if "4" * 32 in r and GONE in r]
    for sid in ("1" * 32, "2" * 32):
        assert not any(sid in r for r in rows)
    assert store.sessions_of(therapist.id) == store.sessions_of(therapist.id, KEPT)

    other = store.therapist_by_code("dr-b")
    assert other is not None
    privacy.delete_client(store, other, GONE)
    assert not any(GONE in r for r in every_row(store))


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sprechzimmer", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_export_and_delete(store: Store, database_url: str, tmp_path: Path) -> None:
    a, _ = setup(store)
    env = {
        "PATH": "/usr/bin:/bin",
        "SPRECHZIMMER_DATA_DIR": str(tmp_path),
        "SPRECHZIMMER_DATABASE_URL": database_url,
    }
    exported = run(env, "privacy", "export", "--therapist", "dr-a", "--client-id", GONE)
    assert exported.returncode == 0, exported.stderr
    assert len(json.loads(exported.stdout)["sessions"]) == 2

    refused = run(env, "privacy", "delete", "--therapist", "dr-a")
    assert refused.returncode == 1 and "--client-id" in refused.stderr

    deleted = run(
        env, "privacy", "delete", "--therapist", "dr-a", "--client-id", GONE,
        "--keep-billing-totals",
    )  # fmt: skip
    assert deleted.returncode == 0, deleted.stderr
    assert json.loads(deleted.stdout) == {
        "billable_seconds_by_month": {"2026-10": 3000, "2026-11": 3000}
    }
    assert "deleted 2 session(s), 8 event(s), 4 token(s)" in deleted.stderr
    assert store.sessions_of(a, GONE) == []

    account = run(env, "privacy", "delete", "--therapist", "dr-b", "--therapist-account")
    assert account.returncode == 0, account.stderr
    assert "1 therapist account(s)" in account.stdout
    assert not any(GONE in r or "dr-b" in r for r in every_row(store))
