"""Data-subject requests: everything stored about a therapist or a client ID, and its deletion.

A therapist may ask what the service holds about them (GDPR art. 15) and
have a client's data erased (art. 17) — the client ID is the therapist's
pseudonym, so only the therapist can say whose it is. Exports are plain JSON
of the stored rows; secrets are named, never copied: a password hash or a
token hash in an export file would only be something to crack. The billing
lines kept of sessions past the metadata retention (``retention``) belong to
the client ID as much as its sessions do: exported and deleted with them.
Deleting a client leaves nothing of the client ID in the database; ``billing_totals``
lets the operator take the monthly totals out first, if the practice needs
them for its books. This module does no logging of client IDs.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from . import billing
from .store import Deleted, SessionInfo, Store, TherapistInfo

EVERYTHING = (
    dt.datetime(1970, 1, 1, tzinfo=dt.UTC),
    dt.datetime(9999, 1, 1, tzinfo=dt.UTC),
)


_ALL_DAYS = (EVERYTHING[0].date(), EVERYTHING[1].date())


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _session(store: Store, session: SessionInfo) -> dict[str, Any]:
    return {
        "session_id": session.id,
        "client_id": session.client_id,
        "created_at": _iso(session.created_at),
        "expires_at": _iso(session.expires_at),
        "state": session.state.value,
        "seats": session.seats,
        "tokens": [
            {
                "role": role.value,
                "seat": seat,
                "expires_at": _iso(expires),
                "hash": "SHA-256, not exported",
            }
            for role, seat, expires in store.tokens_of(session.id)
        ],
        "events": [
            {"role": e.role.value, "seat": e.seat, "kind": e.kind.value, "at": _iso(e.at)}
            for e in store.events_of(session.id)
        ],
    }


def export(
    store: Store, therapist: TherapistInfo, now: dt.datetime, client_id: str | None = None
) -> dict[str, Any]:
    """Everything stored about ``therapist`` or, with ``client_id``, about that client of theirs."""
    sessions = [_session(store, s) for s in store.sessions_of(therapist.id, client_id)]
    result: dict[str, Any] = {"exported_at": _iso(now)}
    if client_id is None:
        row = store.therapist_export_row(therapist.id) or {}
        row["created_at"] = _iso(row["created_at"]) if "created_at" in row else None
        result["therapist"] = row
    else:
        result["therapist"] = {"code": therapist.code}
        result["client_id"] = client_id
    result["sessions"] = sessions
    result["billing_lines"] = [
        {
            "day": line.date.isoformat(),
            "client_id": line.client_id,
            "reference": line.session_id,
            "seat": line.seat,
            "seconds": line.seconds,
        }
        for line in store.archived_lines(*_ALL_DAYS, therapist_id=therapist.id, client_id=client_id)
    ]
    result["quality_samples"] = (
        "none attributable: quality samples carry a random call id and no session"
    )
    return result


def billing_totals(
    store: Store,
    therapist: TherapistInfo,
    client_id: str,
    zone: ZoneInfo,
    tolerance: dt.timedelta = billing.DEFAULT_TOLERANCE,
) -> dict[str, int]:
    """Billable seconds per month (``YYYY-MM``) of one client, over all stored time:
    its sessions' events and the billing lines of its purged sessions."""
    sessions = store.billing_sessions(*EVERYTHING, therapist_id=therapist.id, client_id=client_id)
    archived = store.archived_lines(*_ALL_DAYS, therapist_id=therapist.id, client_id=client_id)
    totals = billing.monthly_totals(sessions, zone, tolerance, archived)
    return {str(month): seconds for month, seconds in totals.items()}


def delete_client(store: Store, therapist: TherapistInfo, client_id: str) -> Deleted:
    """Erase every session of the client ID, with its events and tokens, and its
    billing lines."""
    return store.delete_client(therapist.id, client_id)


def delete_session(store: Store, session_id: str) -> Deleted:
    """Erase one session, with its events and tokens: the dashboard's "Datensatz
    löschen", for a real name typed as client ID by mistake; with the billing
    lines of its older months, if it is in use for longer than the metadata
    retention (``billing.cut``)."""
    return store.delete_session(session_id)


def delete_therapist(store: Store, therapist: TherapistInfo) -> Deleted:
    """Erase the therapist's account with all sessions, events, tokens and billing lines."""
    return store.delete_therapist(therapist.id)
