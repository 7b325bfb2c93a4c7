"""The store on SQLite and PostgreSQL: schema, migrations, and the promise of what it holds."""

from __future__ import annotations

import datetime as dt

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from sprechzimmer.migrate import downgrade, upgrade
from sprechzimmer.protocol import Role
from sprechzimmer.room import EventKind
from sprechzimmer.store import Base, EventInfo, SessionState, Store

NOW = dt.datetime(2026, 11, 28, 10, 0, tzinfo=dt.UTC)

# The whole schema, as the issue allows it. A new column fails here first.
EXPECTED = {
    "therapists": {"id", "code", "password_hash", "api_key_hashes", "created_at", "disabled"},
    "sessions": {"id", "therapist_id", "client_id", "created_at", "expires_at", "state"},
    "tokens": {"hash", "session_id", "role", "expires_at"},
    "events": {"id", "session_id", "role", "kind", "at"},
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
        {Role.THERAPIST: "1" * 64, Role.CLIENT: "2" * 64},
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
        "c" * 32, therapist.id, "K", NOW, NOW + dt.timedelta(hours=1), {Role.CLIENT: "3" * 64}
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
