"""Creating sessions and their invite links: shared by the API and the CLI.

The clear tokens exist only in the ``Invitation`` returned here; the store
gets their hashes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .config import Settings
from .protocol import Role
from .store import SessionInfo, Store
from .tokens import digest, invite_url, new_session_id, new_token


@dataclass(frozen=True)
class Invitation:
    session_id: str
    client_id: str
    therapist_url: str
    client_url: str
    created_at: dt.datetime
    expires_at: dt.datetime


def _invitation(settings: Settings, session: SessionInfo, tokens: dict[Role, str]) -> Invitation:
    return Invitation(
        session_id=session.id,
        client_id=session.client_id,
        therapist_url=invite_url(settings.public_url, session.id, tokens[Role.THERAPIST]),
        client_url=invite_url(settings.public_url, session.id, tokens[Role.CLIENT]),
        created_at=session.created_at,
        expires_at=session.expires_at,
    )


def create_session(
    store: Store, settings: Settings, therapist_id: int, client_id: str, now: dt.datetime
) -> Invitation:
    """Create a session and its two invite links."""
    tokens = {role: new_token() for role in Role}
    session = store.create_session(
        new_session_id(),
        therapist_id,
        client_id,
        now,
        now + dt.timedelta(seconds=settings.token_ttl),
        {role: digest(token) for role, token in tokens.items()},
    )
    return _invitation(settings, session, tokens)


def new_links(
    store: Store, settings: Settings, session: SessionInfo, now: dt.datetime
) -> Invitation:
    """Fresh invite links for an open session; the session's expiry moves with them."""
    tokens = {role: new_token() for role in Role}
    expires = max(session.expires_at, now + dt.timedelta(seconds=settings.token_ttl))
    store.extend_session(session.id, expires)
    store.add_tokens(session.id, {r: digest(t) for r, t in tokens.items()}, expires)
    refreshed = store.get_session(session.id)
    assert refreshed is not None
    return _invitation(settings, refreshed, tokens)


def therapist_link(store: Store, settings: Settings, session: SessionInfo) -> str:
    """The therapist's way into their own session from the dashboard.

    One new token, for the therapist's seat only, that expires with the session:
    joining mints no client link and never moves the expiry (new links do that,
    on purpose and visibly)."""
    token = new_token()
    store.add_tokens(session.id, {Role.THERAPIST: digest(token)}, session.expires_at)
    return invite_url(settings.public_url, session.id, token)
