"""The SQL store: six tables and the queries on them.

Only these facts are kept: therapists (code, password hash, API key hashes,
created, disabled), sessions (id, therapist, client ID as entered, number of
client seats, created, expires, state), token hashes (session, role, seat,
expiry), billing events (session, role, seat, kind, time), archived billing
lines of sessions past the metadata retention (therapist, client ID, short
reference, seat, day, seconds: no time of day, no event, no role) and anonymous
quality samples (random call id, hour, measurements; no key, no column and no
table ties them to a session, and at most 90 days). Never an address, a user
agent, a name beyond the client ID the therapist typed, or a token in clear.
SQLite (WAL) by default, PostgreSQL by URL; the schema is made by the Alembic migrations in
``migrations/``, and ``metadata`` here must match them (a test checks).
"""

from __future__ import annotations

import datetime as dt
import enum
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Boolean,
    Column,
    ColumnElement,
    Date,
    DateTime,
    Dialect,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    Text,
    create_engine,
    delete,
    event,
    exists,
    func,
    select,
    update,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator

from . import billing, seats
from .events import EventKind
from .protocol import Role
from .quality import Sample, retention_cutoff


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Stores aware datetimes as UTC and gives them back aware (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class SessionState(enum.StrEnum):
    OPEN = "open"
    REVOKED = "revoked"
    """Its links were withdrawn (``DELETE /api/v1/sessions/{id}``, ``session revoke``)."""
    CLOSED = "closed"
    """The therapist ended it (the dashboard's "Sitzung beenden"). For access the same
    as revoked, nobody gets in any more; the two differ only in what the list says."""


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Therapist(Base):
    __tablename__ = "therapists"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    api_key_hashes: Mapped[str] = mapped_column(Text, default="[]")
    """JSON list of SHA-256 hex digests of the therapist's API keys."""
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    login_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Part of every login cookie's MAC: raised by logout, a new password or
    disabling, which ends every earlier login of the therapist at once."""


# Raised in the database itself, so two processes cannot both write the same number.
_NEXT_GENERATION = Therapist.login_generation + 1


class ConsultationSession(Base):
    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    therapist_id: Mapped[int] = mapped_column(
        ForeignKey("therapists.id", ondelete="CASCADE"), index=True
    )
    client_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(16), default=SessionState.OPEN.value)
    seats: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    """Client seats (1 to 8, ``seats.py``): one for a one-to-one session."""


class Token(Base):
    __tablename__ = "tokens"

    hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_id: Mapped[str] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(16))
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    seat: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    """0 for the therapist's token, else the client seat whose link it is."""


class Event(Base):
    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[str] = mapped_column(
        ForeignKey("sessions.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(32))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    seat: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    """0 for the therapist, else the client seat (billing is per client seat)."""


class BillingLine(Base):
    """What billing keeps of a session once its events are past the metadata
    retention: one line per month with billable time (``billing.archive_lines``)."""

    __tablename__ = "billing_lines"
    __table_args__ = (Index("ix_billing_lines_therapist_id_day", "therapist_id", "day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    therapist_id: Mapped[int] = mapped_column(ForeignKey("therapists.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(String(64))
    reference: Mapped[str] = mapped_column(String(billing.REFERENCE_LENGTH))
    """The session's short reference, as the CSV shows it; the full id is gone."""
    day: Mapped[dt.date] = mapped_column(Date)
    """The billing day in the practice's time zone; no time of day on purpose."""
    seconds: Mapped[int] = mapped_column(Integer)
    seat: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    """The client seat billed (1 in a one-to-one session)."""


# No primary key on purpose: an auto-increment would number the samples in the
# order they arrived, and that order would tie a call id to a session's events.
quality_samples = Table(
    "quality_samples",
    Base.metadata,
    Column("call_id", String(32), nullable=False),
    Column("bucket", UTCDateTime, nullable=False),
    Column("bitrate_out_kbps", Float, nullable=True),
    Column("bitrate_in_kbps", Float, nullable=True),
    Column("loss_pct", Float, nullable=True),
    Column("rtt_ms", Float, nullable=True),
    Column("jitter_ms", Float, nullable=True),
    Column("fps", Float, nullable=True),
    Column("height", Integer, nullable=True),
    Column("local_candidate", String(8), nullable=False),
    Column("remote_candidate", String(8), nullable=False),
    Column("errors", String(256), nullable=False),
    Index("ix_quality_samples_bucket", "bucket"),
)
QUALITY_COLUMNS = tuple(c.name for c in quality_samples.columns)


# --- plain results, so callers never hold ORM objects across threads ---------


@dataclass(frozen=True)
class TherapistInfo:
    id: int
    code: str
    password_hash: str
    disabled: bool
    login_generation: int = 0


@dataclass(frozen=True)
class SessionInfo:
    id: str
    therapist_id: int
    client_id: str
    created_at: dt.datetime
    expires_at: dt.datetime
    state: SessionState
    seats: int = 1
    """Client seats."""


@dataclass(frozen=True)
class TokenInfo:
    session: SessionInfo
    role: Role
    expires_at: dt.datetime
    seat: int = seats.FIRST_CLIENT
    """The seat the token lets in: 0 for the therapist's."""


@dataclass(frozen=True)
class EventInfo:
    session_id: str
    role: Role
    kind: EventKind
    at: dt.datetime
    seat: int = seats.ROLE_SEAT
    """0 for the therapist, else the client seat; left out, the role's one-to-one seat."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "seat", seats.of(self.role, self.seat))


@dataclass(frozen=True)
class BillingSession:
    """A session with its events, as billing needs it."""

    session_id: str
    therapist_id: int
    client_id: str
    events: list[EventInfo]


@dataclass(frozen=True)
class PurgeCounts:
    """What one purge deleted (and, ``archived``, the billing lines it kept instead)."""

    tokens: int
    sessions: int
    events: int
    quality_samples: int
    archived: int = 0
    """Billing lines written for the deleted sessions."""
    billing_lines: int = 0
    """Billing lines deleted because their day is past the billing retention."""
    trimmed: int = 0
    """Sessions still in use whose older events went (``billing.cut``)."""
    trimmed_events: int = 0
    """The events of those sessions that went."""


@dataclass(frozen=True)
class Deleted:
    """What a data-subject deletion removed."""

    sessions: int
    events: int
    tokens: int
    therapists: int = 0
    billing_lines: int = 0


def _session_info(row: ConsultationSession) -> SessionInfo:
    return SessionInfo(
        row.id,
        row.therapist_id,
        row.client_id,
        row.created_at,
        row.expires_at,
        SessionState(row.state),
        row.seats,
    )


def _therapist_info(row: Therapist) -> TherapistInfo:
    return TherapistInfo(row.id, row.code, row.password_hash, row.disabled, row.login_generation)


def _rowcount(result: Any) -> int:
    return int(result.rowcount)


_CHUNK = 500
"""Sessions deleted per statement (and, by the purge, per transaction)."""


def _lines_of(session: ConsultationSession) -> tuple[Any, ...]:
    """The billing lines of a session still stored: the full id is not in them, its
    reference, therapist and client ID are (two sessions sharing all three are a
    32-bit coincidence among one therapist's sessions of one client ID)."""
    return (
        BillingLine.therapist_id == session.therapist_id,
        BillingLine.reference == billing.reference(session.id),
        BillingLine.client_id == session.client_id,
    )


def _billing_line(therapist_id: int, line: billing.SessionLine) -> BillingLine:
    return BillingLine(
        therapist_id=therapist_id,
        client_id=line.client_id,
        reference=line.session_id,
        day=line.date,
        seconds=line.seconds,
        seat=line.seat,
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the dashboard read while signaling writes events.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def _billing_events(
    sessions: ColumnElement[bool],
) -> Select[str, int, str, str, int, str, dt.datetime]:
    """The events of the ``sessions`` with their therapist and client ID, in session order:
    what billing reads, for the export and for the purge that keeps billing lines."""
    return (
        select(
            Event.session_id,
            ConsultationSession.therapist_id,
            ConsultationSession.client_id,
            Event.role,
            Event.seat,
            Event.kind,
            Event.at,
        )
        .join(ConsultationSession, ConsultationSession.id == Event.session_id)
        .where(sessions)
        .order_by(Event.session_id, Event.id)
    )


class Store:
    """All reads and writes of the service. Synchronous; call it from a thread in async code."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def from_url(cls, url: str) -> Store:
        return cls(make_engine(url))

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision."""
        from .migrate import upgrade

        upgrade(self.engine)

    @contextmanager
    def _tx(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    def close(self) -> None:
        self.engine.dispose()

    # --- therapists -------------------------------------------------------------

    def add_therapist(self, code: str, password_hash: str, now: dt.datetime) -> TherapistInfo:
        with self._tx() as s:
            row = Therapist(code=code, password_hash=password_hash, created_at=now)
            s.add(row)
            s.flush()
            return _therapist_info(row)

    def therapist_by_code(self, code: str) -> TherapistInfo | None:
        with self._tx() as s:
            row = s.scalar(select(Therapist).where(Therapist.code == code))
            return None if row is None else _therapist_info(row)

    def therapist_by_id(self, therapist_id: int) -> TherapistInfo | None:
        with self._tx() as s:
            row = s.get(Therapist, therapist_id)
            return None if row is None else _therapist_info(row)

    def set_password_hash(self, therapist_id: int, password_hash: str) -> None:
        """A new password ends every login made with the old one."""
        with self._tx() as s:
            s.execute(
                update(Therapist)
                .where(Therapist.id == therapist_id)
                .values(password_hash=password_hash, login_generation=_NEXT_GENERATION)
            )

    def set_disabled(self, code: str, disabled: bool) -> bool:
        """Disabling (and enabling) ends every login of the therapist."""
        with self._tx() as s:
            result = s.execute(
                update(Therapist)
                .where(Therapist.code == code)
                .values(disabled=disabled, login_generation=_NEXT_GENERATION)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def end_logins(self, therapist_id: int) -> None:
        """Logout: every login cookie of the therapist stops working, on every device."""
        with self._tx() as s:
            s.execute(
                update(Therapist)
                .where(Therapist.id == therapist_id)
                .values(login_generation=_NEXT_GENERATION)
            )

    def list_therapists(self) -> list[tuple[str, bool, dt.datetime, int]]:
        """Code, disabled, created, number of API keys."""
        with self._tx() as s:
            rows = s.scalars(select(Therapist).order_by(Therapist.code))
            return [
                (r.code, r.disabled, r.created_at, len(json.loads(r.api_key_hashes))) for r in rows
            ]

    def add_api_key_hash(self, code: str, key_hash: str) -> bool:
        with self._tx() as s:
            row = s.scalar(select(Therapist).where(Therapist.code == code).with_for_update())
            if row is None:
                return False
            row.api_key_hashes = json.dumps([*json.loads(row.api_key_hashes), key_hash])
            return True

    def clear_api_keys(self, code: str) -> bool:
        with self._tx() as s:
            result = s.execute(
                update(Therapist).where(Therapist.code == code).values(api_key_hashes="[]")
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def therapist_by_api_key_hash(self, key_hash: str) -> TherapistInfo | None:
        with self._tx() as s:
            # Digests are 64 hex characters and unique, so a substring match on the
            # JSON text finds exactly one list; the exact check below makes sure.
            rows = s.scalars(select(Therapist).where(Therapist.api_key_hashes.contains(key_hash)))
            for row in rows:
                if key_hash in json.loads(row.api_key_hashes):
                    return _therapist_info(row)
            return None

    # --- sessions and tokens ----------------------------------------------------

    def create_session(
        self,
        session_id: str,
        therapist_id: int,
        client_id: str,
        now: dt.datetime,
        expires_at: dt.datetime,
        token_hashes: dict[int, str],
        *,
        client_seats: int = 1,
    ) -> SessionInfo:
        """A new open session with ``client_seats`` client seats and the tokens'
        hashes, by seat number (0: the therapist's)."""
        seats.check_count(client_seats)
        with self._tx() as s:
            row = ConsultationSession(
                id=session_id,
                therapist_id=therapist_id,
                client_id=client_id,
                created_at=now,
                expires_at=expires_at,
                state=SessionState.OPEN.value,
                seats=client_seats,
            )
            s.add(row)
            s.flush()
            self._add_tokens(s, row, token_hashes, expires_at)
            return _session_info(row)

    def add_tokens(
        self, session_id: str, token_hashes: dict[int, str], expires_at: dt.datetime
    ) -> None:
        """More tokens, by seat number (0: the therapist's), for an existing session."""
        with self._tx() as s:
            row = s.get(ConsultationSession, session_id)
            if row is None:
                raise KeyError(session_id)
            self._add_tokens(s, row, token_hashes, expires_at)

    @staticmethod
    def _add_tokens(
        s: Session, row: ConsultationSession, hashes: dict[int, str], expires_at: dt.datetime
    ) -> None:
        for seat, digest in hashes.items():
            if seat not in seats.all_seats(row.seats):
                raise ValueError(f"session has no seat {seat}")
            role = seats.role_of(seat).value
            s.add(
                Token(hash=digest, session_id=row.id, role=role, seat=seat, expires_at=expires_at)
            )

    def get_session(self, session_id: str) -> SessionInfo | None:
        with self._tx() as s:
            row = s.get(ConsultationSession, session_id)
            return None if row is None else _session_info(row)

    def extend_session(self, session_id: str, expires_at: dt.datetime) -> None:
        with self._tx() as s:
            s.execute(
                update(ConsultationSession)
                .where(ConsultationSession.id == session_id)
                .values(expires_at=expires_at)
            )

    def list_sessions(self, therapist_id: int, limit: int = 200) -> list[SessionInfo]:
        with self._tx() as s:
            rows = s.scalars(
                select(ConsultationSession)
                .where(ConsultationSession.therapist_id == therapist_id)
                .order_by(ConsultationSession.created_at.desc(), ConsultationSession.id)
                .limit(limit)
            )
            return [_session_info(r) for r in rows]

    def revoke_session(self, session_id: str) -> None:
        self._end_session(session_id, SessionState.REVOKED, only_open=False)

    def close_session(self, session_id: str) -> None:
        """The therapist ended the session: links gone, nobody gets in any more.

        A revoked session stays revoked: it ended already, and the reason on
        record (its links were withdrawn) is the stronger one."""
        self._end_session(session_id, SessionState.CLOSED, only_open=True)

    def _end_session(self, session_id: str, state: SessionState, *, only_open: bool) -> None:
        with self._tx() as s:
            s.execute(delete(Token).where(Token.session_id == session_id))
            query = update(ConsultationSession).where(ConsultationSession.id == session_id)
            if only_open:
                query = query.where(ConsultationSession.state == SessionState.OPEN.value)
            s.execute(query.values(state=state.value))

    def ended_sessions(self, session_ids: Sequence[str]) -> tuple[set[str], set[str]]:
        """Of these sessions, (those that may not go on: revoked, or their therapist
        disabled; those deleted, with their therapist or alone). ``sprechzimmer``
        commands change these from outside the server."""
        if not session_ids:
            return set(), set()
        with self._tx() as s:
            rows = s.execute(
                select(ConsultationSession.id, ConsultationSession.state, Therapist.disabled)
                .join(Therapist, Therapist.id == ConsultationSession.therapist_id)
                .where(ConsultationSession.id.in_(list(session_ids)))
            ).all()
        ended = {
            session_id
            for session_id, state, disabled in rows
            if state != SessionState.OPEN.value or disabled
        }
        return ended, set(session_ids) - {row[0] for row in rows}

    def lookup_token(self, token_hash: str) -> TokenInfo | None:
        """The token's session and role, whatever its expiry (the caller decides)."""
        with self._tx() as s:
            row = s.get(Token, token_hash)
            if row is None:
                return None
            session = s.get(ConsultationSession, row.session_id)
            if session is None:
                return None
            return TokenInfo(_session_info(session), Role(row.role), row.expires_at, row.seat)

    def delete_expired_tokens(self, now: dt.datetime) -> int:
        with self._tx() as s:
            result = s.execute(delete(Token).where(Token.expires_at <= now))
            return int(result.rowcount)  # type: ignore[attr-defined]

    # --- events -----------------------------------------------------------------

    def add_events(self, events: Sequence[EventInfo]) -> None:
        if not events:
            return
        with self._tx() as s:
            s.add_all(
                Event(
                    session_id=e.session_id,
                    role=e.role.value,
                    seat=e.seat,
                    kind=e.kind.value,
                    at=e.at,
                )
                for e in events
            )

    def events_of(self, session_id: str) -> list[EventInfo]:
        with self._tx() as s:
            rows = s.scalars(select(Event).where(Event.session_id == session_id).order_by(Event.id))
            return [
                EventInfo(r.session_id, Role(r.role), EventKind(r.kind), r.at, r.seat) for r in rows
            ]

    # --- quality samples --------------------------------------------------------

    def add_quality_samples(self, samples: Sequence[Sample]) -> None:
        if not samples:
            return
        with self._tx() as s:
            s.execute(
                quality_samples.insert(),
                [{name: getattr(x, name) for name in QUALITY_COLUMNS} for x in samples],
            )

    def quality_samples(self) -> list[Sample]:
        """All samples, by hour and call (for reports and tests)."""
        with self._tx() as s:
            rows = s.execute(
                select(quality_samples).order_by(
                    quality_samples.c.bucket, quality_samples.c.call_id
                )
            )
            return [Sample(**row._asdict()) for row in rows]

    def purge_quality(self, now: dt.datetime, retention_days: int = 90) -> int:
        """Delete the samples of hours that began more than ``retention_days`` ago."""
        cutoff = retention_cutoff(now, retention_days)
        with self._tx() as s:
            result = s.execute(delete(quality_samples).where(quality_samples.c.bucket < cutoff))
            return int(result.rowcount)  # type: ignore[attr-defined]

    # --- billing, retention, data-subject requests -------------------------------

    def billing_sessions(
        self,
        start: dt.datetime,
        end: dt.datetime,
        therapist_id: int | None = None,
        client_id: str | None = None,
        session_ids: Sequence[str] | None = None,
    ) -> Iterator[BillingSession]:
        """Sessions whose events span any part of ``[start, end)``, with all their events.

        ``session_ids`` narrows it to these sessions (the dashboard's list, a few
        hundred at most).

        All events of such a session come along (an interval may begin before
        ``start``, and an open one ends at the session's last event). One
        query, streamed in session order, so a report over millions of events
        holds one session at a time.
        """
        spans = select(Event.session_id).join(
            ConsultationSession, ConsultationSession.id == Event.session_id
        )
        if therapist_id is not None:
            spans = spans.where(ConsultationSession.therapist_id == therapist_id)
        if client_id is not None:
            spans = spans.where(ConsultationSession.client_id == client_id)
        if session_ids is not None:
            spans = spans.where(Event.session_id.in_(list(session_ids)))
        spans = spans.group_by(Event.session_id).having(
            func.min(Event.at) < end, func.max(Event.at) >= start
        )
        query = _billing_events(Event.session_id.in_(spans))
        with self.engine.connect() as c:
            current: BillingSession | None = None
            result = c.execution_options(yield_per=10_000).execute(query)
            for sid, tid, cid, role, seat, kind, at in result:
                if current is None or current.session_id != sid:
                    if current is not None:
                        yield current
                    current = BillingSession(sid, tid, cid, [])
                current.events.append(EventInfo(sid, Role(role), EventKind(kind), at, seat))
            if current is not None:
                yield current

    def archived_lines(
        self,
        first: dt.date,
        after: dt.date,
        *,
        therapist_id: int,
        client_id: str | None = None,
    ) -> list[billing.SessionLine]:
        """The therapist's (or one client ID's) archived billing lines of the days
        ``first`` to before ``after``, by day and reference."""
        query = select(BillingLine).where(
            BillingLine.therapist_id == therapist_id,
            BillingLine.day >= first,
            BillingLine.day < after,
        )
        if client_id is not None:
            query = query.where(BillingLine.client_id == client_id)
        with self._tx() as s:
            rows = s.scalars(query.order_by(BillingLine.day, BillingLine.reference, BillingLine.id))
            return [
                billing.SessionLine.archived(r.reference, r.client_id, r.day, r.seconds, r.seat)
                for r in rows
            ]

    @staticmethod
    def _idle(cutoff: dt.datetime) -> Any:
        """Sessions whose links expired and whose last event is before ``cutoff``
        (``retention.is_idle`` says the same in Python)."""
        recent = exists().where(Event.session_id == ConsultationSession.id, Event.at >= cutoff)
        return select(ConsultationSession.id).where(
            ConsultationSession.expires_at < cutoff, ~recent
        )

    def sessions_with_events_before(self, cutoff: dt.datetime, therapist_id: int) -> list[str]:
        """Ids of the therapist's sessions with an event from before ``cutoff``."""
        old = exists().where(Event.session_id == ConsultationSession.id, Event.at < cutoff)
        with self._tx() as s:
            query = select(ConsultationSession.id).where(
                ConsultationSession.therapist_id == therapist_id, old
            )
            return list(s.scalars(query))

    def idle_sessions(self, cutoff: dt.datetime, therapist_id: int) -> list[str]:
        """Ids of the therapist's sessions idle since before ``cutoff``, oldest first."""
        with self._tx() as s:
            query = self._idle(cutoff).where(ConsultationSession.therapist_id == therapist_id)
            return list(s.scalars(query.order_by(ConsultationSession.created_at)))

    def purge(
        self,
        now: dt.datetime,
        metadata_cutoff: dt.datetime,
        billing_first_day: dt.date,
        quality_retention_days: int,
        zone: ZoneInfo,
        tolerance: dt.timedelta = billing.DEFAULT_TOLERANCE,
    ) -> PurgeCounts:
        """Delete expired tokens; sessions idle since before ``metadata_cutoff``, with
        their events, keeping their billing lines from ``billing_first_day`` on; the
        older months' events of sessions still in use, likewise (``_trim``); billing
        lines of days before ``billing_first_day``; quality samples past their retention."""
        tokens = self.delete_expired_tokens(now)
        sessions = events = archived = 0
        while True:
            # A chunk per transaction: the first purge after an upgrade may convert a
            # year of events, and one transaction would hold them all. Within one, a
            # session's lines are written and its events deleted together.
            with self._tx() as s:
                # Locked, and skipped when locked: with several server processes
                # purging at once, two must never both write a session's lines.
                # (SQLite has one writer at a time and ignores the clause.)
                idle = self._idle(metadata_cutoff).limit(_CHUNK)
                ids = list(s.scalars(idle.with_for_update(skip_locked=True)))
                if not ids:
                    break
                for found in self._billing_sessions_in(s, ids):
                    for line in billing.archive_lines(found, zone, tolerance):
                        if line.date >= billing_first_day:
                            s.add(_billing_line(found.therapist_id, line))
                            archived += 1
                counts = self._delete_sessions(s, ids)
                sessions += counts.sessions
                events += counts.events
        trimmed = self._trim(metadata_cutoff, billing_first_day, zone, tolerance)
        with self._tx() as s:
            lines = _rowcount(
                s.execute(delete(BillingLine).where(BillingLine.day < billing_first_day))
            )
        quality = self.purge_quality(now, quality_retention_days)
        return PurgeCounts(
            tokens,
            sessions,
            events,
            quality,
            archived + trimmed.archived,
            lines,
            trimmed.sessions,
            trimmed.events,
        )

    def _trim(
        self,
        cutoff: dt.datetime,
        billing_first_day: dt.date,
        zone: ZoneInfo,
        tolerance: dt.timedelta,
    ) -> PurgeCounts:
        """Sessions still in use with events from before ``cutoff``: their older events
        go, month by month, where ``billing.cut`` allows it, leaving billing lines."""
        old = exists().where(Event.session_id == ConsultationSession.id, Event.at < cutoff)
        with self._tx() as s:
            candidates = list(s.scalars(select(ConsultationSession.id).where(old)))
        sessions = events = archived = 0
        for i in range(0, len(candidates), _CHUNK):
            with self._tx() as s:
                query = select(ConsultationSession.id).where(
                    ConsultationSession.id.in_(candidates[i : i + _CHUNK]), old
                )
                ids = list(s.scalars(query.with_for_update(skip_locked=True)))
                for found in self._billing_sessions_in(s, ids):
                    where = billing.cut(found, cutoff, zone, tolerance)
                    if where is None:
                        continue
                    for line in where.lines:
                        if line.date >= billing_first_day:
                            s.add(_billing_line(found.therapist_id, line))
                            archived += 1
                    gone = delete(Event).where(
                        Event.session_id == found.session_id, Event.at < where.at
                    )
                    events += _rowcount(s.execute(gone))
                    sessions += 1
        return PurgeCounts(0, sessions, events, 0, archived)

    @staticmethod
    def _billing_sessions_in(s: Session, ids: list[str]) -> list[BillingSession]:
        rows = s.execute(_billing_events(Event.session_id.in_(ids)))
        found: dict[str, BillingSession] = {}
        for sid, tid, cid, role, seat, kind, at in rows:
            session = found.setdefault(sid, BillingSession(sid, tid, cid, []))
            session.events.append(EventInfo(sid, Role(role), EventKind(kind), at, seat))
        return list(found.values())

    @staticmethod
    def _delete_sessions(s: Session, ids: list[str]) -> Deleted:
        # Explicit deletes rather than relying on ON DELETE CASCADE, so that the
        # counts are reported and SQLite without the foreign-key pragma is safe.
        sessions = events = tokens = 0
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i : i + _CHUNK]
            events += _rowcount(s.execute(delete(Event).where(Event.session_id.in_(chunk))))
            tokens += _rowcount(s.execute(delete(Token).where(Token.session_id.in_(chunk))))
            sessions += _rowcount(
                s.execute(delete(ConsultationSession).where(ConsultationSession.id.in_(chunk)))
            )
        return Deleted(sessions, events, tokens)

    def sessions_of(self, therapist_id: int, client_id: str | None = None) -> list[SessionInfo]:
        """All sessions of a therapist (or of one client ID of theirs), oldest first."""
        with self._tx() as s:
            query = select(ConsultationSession).where(
                ConsultationSession.therapist_id == therapist_id
            )
            if client_id is not None:
                query = query.where(ConsultationSession.client_id == client_id)
            rows = s.scalars(query.order_by(ConsultationSession.created_at, ConsultationSession.id))
            return [_session_info(r) for r in rows]

    def tokens_of(self, session_id: str) -> list[tuple[Role, int, dt.datetime]]:
        """Role, seat and expiry of a session's tokens (never the hashes: of no use to anyone)."""
        with self._tx() as s:
            rows = s.execute(
                select(Token.role, Token.seat, Token.expires_at)
                .where(Token.session_id == session_id)
                .order_by(Token.expires_at, Token.seat)
            )
            return [(Role(role), seat, expires) for role, seat, expires in rows]

    def therapist_export_row(self, therapist_id: int) -> dict[str, Any] | None:
        """The therapist's row for a data-subject export; hashes replaced by what they are."""
        with self._tx() as s:
            row = s.get(Therapist, therapist_id)
            if row is None:
                return None
            return {
                "code": row.code,
                "created_at": row.created_at,
                "disabled": row.disabled,
                "password_hash": "argon2id hash (kept, not exported)",
                "api_keys": len(json.loads(row.api_key_hashes)),
            }

    def delete_client(self, therapist_id: int, client_id: str) -> Deleted:
        """Delete every session of ``client_id`` of this therapist, with events and
        tokens, and the client ID's archived billing lines."""
        with self._tx() as s:
            ids = list(
                s.scalars(
                    select(ConsultationSession.id).where(
                        ConsultationSession.therapist_id == therapist_id,
                        ConsultationSession.client_id == client_id,
                    )
                )
            )
            counts = self._delete_sessions(s, ids)
            lines = _rowcount(
                s.execute(
                    delete(BillingLine).where(
                        BillingLine.therapist_id == therapist_id,
                        BillingLine.client_id == client_id,
                    )
                )
            )
            return replace(counts, billing_lines=lines)

    def delete_session(self, session_id: str) -> Deleted:
        """Erase one session with its events, tokens and the billing lines of its
        older months (a client ID typed by mistake: afterwards it is in no table)."""
        with self._tx() as s:
            row = s.get(ConsultationSession, session_id)
            lines = (
                0
                if row is None
                else _rowcount(s.execute(delete(BillingLine).where(*_lines_of(row))))
            )
            return replace(self._delete_sessions(s, [session_id]), billing_lines=lines)

    def archived_seconds(self, sessions: Sequence[SessionInfo]) -> dict[str, int]:
        """Seconds in the billing lines of these sessions' older months (``billing.cut``),
        by session id; 0 for most, whose events are all still there."""
        seconds = dict.fromkeys((x.id for x in sessions), 0)
        by_key = {(x.therapist_id, billing.reference(x.id), x.client_id): x.id for x in sessions}
        if not sessions:
            return seconds
        with self._tx() as s:
            rows = s.execute(
                select(
                    BillingLine.therapist_id,
                    BillingLine.reference,
                    BillingLine.client_id,
                    BillingLine.seconds,
                ).where(BillingLine.reference.in_({key[1] for key in by_key}))
            )
            for therapist_id, ref, client_id, count in rows:
                session_id = by_key.get((therapist_id, ref, client_id))
                if session_id is not None:
                    seconds[session_id] += count
        return seconds

    def delete_therapist(self, therapist_id: int) -> Deleted:
        """Delete the therapist's account and all their sessions, events and tokens."""
        with self._tx() as s:
            ids = list(
                s.scalars(
                    select(ConsultationSession.id).where(
                        ConsultationSession.therapist_id == therapist_id
                    )
                )
            )
            counts = self._delete_sessions(s, ids)
            lines = _rowcount(
                s.execute(delete(BillingLine).where(BillingLine.therapist_id == therapist_id))
            )
            gone = _rowcount(s.execute(delete(Therapist).where(Therapist.id == therapist_id)))
            return Deleted(counts.sessions, counts.events, counts.tokens, int(gone), lines)
