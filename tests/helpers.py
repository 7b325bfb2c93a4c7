"""Small helpers shared by the in-process tests."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

# A hello as a call page sends it, and the name its client gives: one definition,
# in the harness, for the in-process tests, the browser tests and the benchmarks.
from harness.wsclient import CLIENT_NAME as CLIENT_NAME
from harness.wsclient import hello as hello

from sprechzimmer import accounts
from sprechzimmer.config import Settings
from sprechzimmer.sessions import create_session
from sprechzimmer.store import Store

PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class Invite:
    session: str
    therapist_token: str
    client_token: str


def token_of(url: str) -> tuple[str, str]:
    """(session, token) from an invite link's fragment."""
    fragment = parse_qs(urlsplit(url).fragment)
    return fragment["s"][0], fragment["t"][0]


def add_therapist(store: Store, code: str = "dr-test") -> int:
    now = dt.datetime.now(dt.UTC)
    return store.add_therapist(code, accounts.hash_password(PASSWORD), now).id


def new_invite(
    store: Store, settings: Settings, therapist_id: int, client_id: str = "K-1"
) -> Invite:
    invite = create_session(store, settings, therapist_id, client_id, dt.datetime.now(dt.UTC))
    session, t_token = token_of(invite.therapist_url)
    _, c_token = token_of(invite.client_url)
    return Invite(session, t_token, c_token)
