"""Retention: deleting what may no longer be kept, by itself and on the operator's command.

Expired invite tokens go at once; a session with its billing events when both
its links and its last event are older than ``SPRECHZIMMER_BILLING_RETENTION_DAYS``;
quality samples after ``SPRECHZIMMER_QUALITY_RETENTION_DAYS`` (docs/privacy.md).
The server runs ``purge_periodically``; ``sprechzimmer purge`` runs ``purge_once``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging

from . import billing
from .config import Settings
from .store import PurgeCounts, Store

log = logging.getLogger(__name__)

PURGE_INTERVAL = 3600.0
"""Seconds between two deletions of data past its retention (tokens, sessions, samples)."""


def purge_once(store: Store, settings: Settings, now: dt.datetime) -> PurgeCounts:
    """Delete everything past its retention: expired tokens, idle sessions, old samples."""
    counts = store.purge(
        now,
        billing.retention_cutoff(now, settings.billing_retention_days),
        settings.quality_retention_days,
    )
    if any(dataclasses.astuple(counts)):
        log.info(
            "purged %d expired token(s), %d session(s) with %d event(s) idle for more than "
            "%d days, %d quality sample(s) older than %d days",
            counts.tokens,
            counts.sessions,
            counts.events,
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
