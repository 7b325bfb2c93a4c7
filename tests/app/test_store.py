"""The store on SQLite and PostgreSQL: schema, migrations, and the promise of what it holds."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from sprechzimmer import protocol as p
from sprechzimmer.events import EventKind
from sprechzimmer.migrate import downgrade, upgrade
from sprechzimmer.protocol import Role
from sprechzimmer.quality import Sample
from sprechzimmer.store import Base, EventInfo, SessionState, Store, quality_samples

NOW = dt.datetime(2026, 11, 28, 10, 0, tzinfo=dt.UTC)

# The whole schema, as the issue allows it. A new column fails here first.
EXPECTED = {
    "therapists": {
        "id",
        "code",
        "password_hash",
        "api_key_hashes",
        "created_at",
        "disabled",
        "login_generation",
    },
    # Seats (issue 16) are numbers: how many a session has, which one a token,
    # an event or a billing line belongs to. Never a name.
    "sessions": {"id", "therapist_id", "client_id", "created_at", "expires_at", "state", "seats"},
    "tokens": {"hash", "session_id", "role", "seat", "expires_at"},
    "events": {"id", "session_id", "role", "seat", "kind", "at"},
    # What billing keeps of a purged session: no time of day, no event, no role.
    "billing_lines": {"id", "therapist_id", "client_id", "reference", "seat", "day", "seconds"},
    # Anonymous: a random call id, the hour, the measurements. No key, nothing else.
    "quality_samples": {
        "call_id",
        "bucket",
        "bitrate_out_kbps",
        "bitrate_in_kbps",
        "loss_pct",
        "rtt_ms",
        "jitter_ms",
        "fps",
        "height",
        "local_candidate",
        "remote_candidate",
        "errors",
    },
}


def test_migrations_make_exactly_the_model(store: Store) -> None:
    with store.engine.connect() as c:
        assert compare_metadata(MigrationContext.configure(c), Base.metadata) == []


def test_only_the_allowed_tables_and_columns(store: Store) -> None:
    inspector = inspect(store.engine)
    tables = set(inspector.get_table_names()) - {"alembic_version"}
    assert tables == set(EXPECTED)
    for table, columns in EXPECTED.items():
        assert {c["name"] for c in inspector.get_columns(table)} == columns


def test_downgrade_and_upgrade_again(store: Store) -> None:
    downgrade(store.engine, "base")
    assert set(inspect(store.engine).get_table_names()) <= {"alembic_version"}
    upgrade(store.engine)
    assert set(EXPECTED) <= set(inspect(store.engine).get_table_names())


def test_sqlite_runs_in_wal_mode(store: Store) -> None:
    if store.engine.dialect.name != "sqlite":
        return
    with store.engine.connect() as c:
        assert c.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert c.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_times_come_back_as_utc(store: Store) -> None:
    berlin = dt.timezone(dt.timedelta(hours=1))
    therapist = store.add_therapist("dr-a", "hash", NOW.astimezone(berlin))
    info = store.create_session("a" * 32, therapist.id, "K-1", NOW, NOW + dt.timedelta(days=1), {})
    again = store.get_session(info.id)
    assert again is not None and again.created_at == NOW and again.created_at.tzinfo == dt.UTC


def test_tokens_are_found_by_hash_and_deleted_on_revoke(store: Store) -> None:
    therapist = store.add_therapist("dr-a", "hash", NOW)
    store.create_session(
        "b" * 32,
        therapist.id,
        "K-2",
        NOW,
        NOW + dt.timedelta(hours=1),
        {0: "1" * 64, 1: "2" * 64},
    )
    found = store.lookup_token("2" * 64)
    assert found is not None and found.role is Role.CLIENT and found.session.client_id == "K-2"
    store.revoke_session("b" * 32)
    assert store.lookup_token("2" * 64) is None
    session = store.get_session("b" * 32)
    assert session is not None and session.state is SessionState.REVOKED


def test_expired_tokens_are_purged(store: Store) -> None:
    therapist = store.add_therapist("dr-a", "hash", NOW)
    store.create_session(
        "c" * 32, therapist.id, "K", NOW, NOW + dt.timedelta(hours=1), {1: "3" * 64}
    )
    assert store.delete_expired_tokens(NOW) == 0
    assert store.delete_expired_tokens(NOW + dt.timedelta(hours=2)) == 1


def test_events_keep_order_and_time(store: Store) -> None:
    therapist = store.add_therapist("dr-a", "hash", NOW)
    store.create_session("d" * 32, therapist.id, "K", NOW, NOW + dt.timedelta(hours=1), {})
    events = [
        EventInfo("d" * 32, Role.CLIENT, EventKind.JOINED, NOW),
        EventInfo("d" * 32, Role.CLIENT, EventKind.ADMITTED, NOW + dt.timedelta(seconds=3)),
    ]
    store.add_events(events)
    assert store.events_of("d" * 32) == events


def test_api_keys_are_matched_exactly(store: Store) -> None:
    store.add_therapist("dr-a", "hash", NOW)
    store.add_therapist("dr-b", "hash", NOW)
    assert store.add_api_key_hash("dr-a", "a" * 64)
    assert store.add_api_key_hash("dr-b", "b" * 64)
    found = store.therapist_by_api_key_hash("b" * 64)
    assert found is not None and found.code == "dr-b"
    assert store.therapist_by_api_key_hash("a" * 63) is None
    assert store.clear_api_keys("dr-b")
    assert store.therapist_by_api_key_hash("b" * 64) is None


# --- quality samples ------------------------------------------------------------


@pytest.fixture
def quality_store(store: Store) -> Store:
    """The store with no samples left from an earlier test (PostgreSQL is shared)."""
    with store.engine.begin() as c:
        c.execute(quality_samples.delete())
    return store


def sample(call_id: str, at: float, **fields: object) -> Sample:
    message = p.Quality(
        bitrate_out_kbps=1200.5,
        bitrate_in_kbps=900.0,
        loss_pct=0.5,
        rtt_ms=42.0,
        jitter_ms=3.25,
        fps=30.0,
        height=720,
        local_candidate=p.CandidateType.SRFLX,
        remote_candidate=p.CandidateType.RELAY,
        errors="ice-restart,compat-mode",
    )
    return dataclasses.replace(Sample.of(call_id, message, at), **fields)


def test_quality_samples_have_no_key_and_no_link(store: Store) -> None:
    inspector = inspect(store.engine)
    assert inspector.get_foreign_keys("quality_samples") == []
    # Not even a primary key: an auto-increment would give away the arrival order.
    assert not inspector.get_pk_constraint("quality_samples")["constrained_columns"]
    assert [i["column_names"] for i in inspector.get_indexes("quality_samples")] == [["bucket"]]


def test_quality_samples_are_stored_without_anything_of_the_session(
    quality_store: Store,
) -> None:
    store = quality_store
    therapist = store.add_therapist("dr-a", "hash", NOW)
    session = store.create_session(
        "e" * 32, therapist.id, "K-77", NOW, NOW + dt.timedelta(hours=1), {1: "4" * 64}
    )
    at = NOW.timestamp() + 1234.5
    stored = sample("0123456789abcdef01234567", at)
    store.add_quality_samples([stored])
    (again,) = store.quality_samples()
    assert again == stored
    assert again.bucket == dt.datetime(2026, 11, 28, 10, 0, tzinfo=dt.UTC)
    assert again.errors == "compat-mode,ice-restart"
    with store.engine.connect() as c:
        (row,) = c.execute(quality_samples.select()).mappings()
    assert set(row) == EXPECTED["quality_samples"]
    identifying = {session.id, session.client_id, "4" * 64, "dr-a", Role.CLIENT.value}
    for value in row.values():
        assert str(value) not in identifying
        assert session.id not in str(value) and session.client_id not in str(value)


def test_unmeasured_values_stay_null(quality_store: Store) -> None:
    empty = Sample.of("ab" * 12, p.Quality(), NOW.timestamp())
    quality_store.add_quality_samples([empty])
    (again,) = quality_store.quality_samples()
    assert again == empty and again.rtt_ms is None and again.local_candidate == "unknown"


def test_purge_deletes_old_samples_and_keeps_new(quality_store: Store) -> None:
    store = quality_store
    day = 24 * 3600.0
    now = NOW.timestamp()
    store.add_quality_samples(
        [
            sample("old1" * 6, now - 91 * day),
            sample("old2" * 6, now - 90 * day - 3600),
            sample("new1" * 6, now - 89 * day),
            sample("new2" * 6, now),
        ]
    )
    assert store.purge_quality(NOW) == 2
    assert sorted(s.call_id for s in store.quality_samples()) == ["new1" * 6, "new2" * 6]
    assert store.purge_quality(NOW) == 0
    assert store.purge_quality(NOW + dt.timedelta(days=1), retention_days=1) == 1
    assert store.purge_quality(NOW + dt.timedelta(hours=1), retention_days=0) == 1
    assert store.quality_samples() == []
    with pytest.raises(ValueError, match="at most 90 days"):
        store.purge_quality(NOW, retention_days=91)
