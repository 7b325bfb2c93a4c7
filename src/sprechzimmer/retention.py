"""Retention: deleting what may no longer be kept, by itself and on the operator's command.

Expired invite tokens go at once. A session goes with its connection events
when it is idle (``is_idle``): its links expired and its last event lies more
than ``SPRECHZIMMER_METADATA_RETENTION_DAYS`` back (90 by default: KBV Anlage
31b wants all metadata gone after three months at the latest). A session still
in use loses its events from before that, month by month, where ``billing.cut``
finds a month start that no call spans. In the same
transaction its billable time is kept in reduced form, one billing line per
month (``billing.archive_lines``: day, seconds, client ID, short reference; no
time of day, no event, no role), for ``SPRECHZIMMER_BILLING_RETENTION_DAYS``
after that day. Quality samples go after ``SPRECHZIMMER_QUALITY_RETENTION_DAYS``
(docs/privacy.md). The rules below take the time as an argument; the server
runs ``purge_periodically``, ``sprechzimmer purge`` runs ``purge_once``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
from collections.abc import Collection, Iterable
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from . import billing
from .store import PurgeCounts, Store

if TYPE_CHECKING:  # config imports the defaults below
    from .config import Settings

log = logging.getLogger(__name__)

PURGE_INTERVAL = 3600.0
"""Seconds between two deletions of data past its retention (tokens, sessions, samples)."""

DEFAULT_METADATA_DAYS = 90
"""``SPRECHZIMMER_METADATA_RETENTION_DAYS`` by default: the KBV's three months."""

METADATA_DAYS_RANGE = (35, 3650)
"""Allowed metadata retention in days: at least a month and its export, at most ten years."""

NOTICE_DAYS = 14
"""Days ahead the dashboard names the months whose times of day the purge will delete,
so that their full CSV can be exported first."""


def metadata_cutoff(now: dt.datetime, days: int) -> dt.datetime:
    """A session idle since before this moment is purged (see ``is_idle``)."""
    return now - dt.timedelta(days=days)


def is_idle(expires_at: dt.datetime, last_event: dt.datetime | None, cutoff: dt.datetime) -> bool:
    """Whether a session is past its metadata retention: its links expired before
    ``cutoff`` and it has no event at or after it (``Store`` asks the same in SQL).

    Both, so that a session whose links are still valid is never purged under a
    call that may come, and a link used late keeps the whole session's events
    together: billing needs all of them to know where an interval ends."""
    return expires_at < cutoff and (last_event is None or last_event < cutoff)


def billing_first_day(now: dt.datetime, days: int, zone: ZoneInfo) -> dt.date:
    """The oldest billing day still kept: lines of earlier days are deleted.

    A day of the practice's calendar, as the lines carry it, so a line goes on
    the same local day everywhere in the practice."""
    return now.astimezone(zone).date() - dt.timedelta(days=days)


def notice_cutoff(now: dt.datetime, days: int, ahead: int = NOTICE_DAYS) -> dt.datetime:
    """Sessions idle since before this will be purged within ``ahead`` days."""
    return metadata_cutoff(now + dt.timedelta(days=ahead), days)


def months_due(
    sessions: Iterable[billing.SessionEvents],
    idle: Collection[str],
    before: dt.datetime,
    zone: ZoneInfo,
    tolerance: dt.timedelta = billing.DEFAULT_TOLERANCE,
) -> list[billing.Month]:
    """The months whose events a purge at ``before``'s cut-off replaces by billing lines:
    all billable months of the ``idle`` sessions, the months before the cut of the
    others (``billing.cut``). Oldest first."""
    months: set[billing.Month] = set()
    for session in sessions:
        if session.session_id in idle:
            lines = billing.archive_lines(session, zone, tolerance)
        else:
            found = billing.cut(session, before, zone, tolerance)
            lines = [] if found is None else found.lines
        months.update(billing.Month(x.date.year, x.date.month) for x in lines)
    return sorted(months, key=lambda m: (m.year, m.month))


def purge_once(store: Store, settings: Settings, now: dt.datetime) -> PurgeCounts:
    """Delete everything past its retention: expired tokens, idle sessions (keeping
    their billing lines), billing lines past the billing retention, old samples."""
    counts = store.purge(
        now,
        metadata_cutoff(now, settings.metadata_retention_days),
        billing_first_day(now, settings.billing_retention_days, settings.zone),
        settings.quality_retention_days,
        settings.zone,
        settings.reconnect_tolerance,
    )
    if any(dataclasses.astuple(counts)):
        log.info(
            "purged %d expired token(s), %d session(s) with %d event(s) idle for more than "
            "%d days, %d older event(s) of %d session(s) in use (%d billing line(s) kept), "
            "%d billing line(s) older than %d days, %d quality sample(s) older than %d days",
            counts.tokens,
            counts.sessions,
            counts.events,
            settings.metadata_retention_days,
            counts.trimmed_events,
            counts.trimmed,
            counts.archived,
            counts.billing_lines,
            settings.billing_retention_days,
            counts.quality_samples,
            settings.quality_retention_days,
        )
    return counts


async def purge_periodically(
    store: Store, settings: Settings, interval: float = PURGE_INTERVAL
) -> None:
    """Purge (``purge_once``) now, then every ``interval`` seconds."""
    while True:
        try:
            await asyncio.to_thread(purge_once, store, settings, dt.datetime.now(dt.UTC))
        except Exception:  # try again next time; the service goes on
            log.exception("purging data past its retention failed")
        await asyncio.sleep(interval)
