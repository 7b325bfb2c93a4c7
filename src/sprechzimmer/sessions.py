"""Creating sessions and their invite links: shared by the API and the CLI.

A session has the therapist's seat and one to eight client seats
(``seats.py``), each with its own link. The clear tokens exist only in the
``Invitation`` returned here; the store gets their hashes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from . import seats
from .config import Settings
from .errors import GroupSessionsOff
from .store import SessionInfo, Store
from .tokens import digest, invite_url, new_session_id, new_token


@dataclass(frozen=True)
class Invitation:
    session_id: str
    client_id: str
    therapist_url: str
    client_urls: tuple[str, ...]
    """One link per client seat, seat 1 first."""
    created_at: dt.datetime
    expires_at: dt.datetime

    @property
    def client_url(self) -> str:
        """The first client seat's link: the only one of a one-to-one session."""
        return self.client_urls[0]


def _invitation(settings: Settings, session: SessionInfo, tokens: dict[int, str]) -> Invitation:
    def url(seat: int) -> str:
        return invite_url(settings.public_url, session.id, tokens[seat])

    return Invitation(
        session_id=session.id,
        client_id=session.client_id,
        therapist_url=url(seats.THERAPIST),
        client_urls=tuple(url(seat) for seat in seats.client_seats(session.seats)),
        created_at=session.created_at,
        expires_at=session.expires_at,
    )


def create_session(
    store: Store,
    settings: Settings,
    therapist_id: int,
    client_id: str,
    now: dt.datetime,
    client_seats: int = 1,
) -> Invitation:
    """Create a session with ``client_seats`` client seats and a link for each seat;
    ``TooManySeats`` beyond the limit, ``GroupSessionsOff`` for a group the operator
    has not switched on."""
    seats.check_count(client_seats)
    if client_seats > 1 and not settings.group_sessions:
        raise GroupSessionsOff(f"{client_seats} client seats")
    tokens = {seat: new_token() for seat in seats.all_seats(seats.check_count(client_seats))}
    session = store.create_session(
        new_session_id(),
        therapist_id,
        client_id,
        now,
        now + dt.timedelta(seconds=settings.token_ttl),
        {seat: digest(token) for seat, token in tokens.items()},
        client_seats=client_seats,
    )
    return _invitation(settings, session, tokens)


def new_links(
    store: Store, settings: Settings, session: SessionInfo, now: dt.datetime
) -> Invitation:
    """Fresh invite links for every seat of an open session; the session's expiry
    moves with them."""
    tokens = {seat: new_token() for seat in seats.all_seats(session.seats)}
    expires = max(session.expires_at, now + dt.timedelta(seconds=settings.token_ttl))
    store.extend_session(session.id, expires)
    store.add_tokens(session.id, {x: digest(t) for x, t in tokens.items()}, expires)
    refreshed = store.get_session(session.id)
    assert refreshed is not None
    return _invitation(settings, refreshed, tokens)


def therapist_link(store: Store, settings: Settings, session: SessionInfo) -> str:
    """The therapist's way into their own session from the dashboard.

    One new token, for the therapist's seat only, that expires with the session:
    joining mints no client link and never moves the expiry (new links do that,
    on purpose and visibly)."""
    token = new_token()
    store.add_tokens(session.id, {seats.THERAPIST: digest(token)}, session.expires_at)
    return invite_url(settings.public_url, session.id, token)
