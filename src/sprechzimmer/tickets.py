"""Resume tickets: how a browser proves, to any server process and after a restart,
that it holds a seat in a session.

A ticket is handed out with every ``welcome`` and lives only in that tab
(``sessionStorage``). It names the session, the role and a random nonce, and
carries its issue time, an expiry (the invite's) and an HMAC under a key derived from the
server's secret key, so a process that has never seen the seat, or has lost its
memory, can check it without any state. The room keeps the nonce of the
current holder; a ticket whose nonce is not the holder's is worth nothing
while the room remembers. A copied invite link has no ticket.

Pure: no clock, no I/O. Never log a ticket.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from .protocol import Role

VERSION = "r1"
MAX_LENGTH = 128
_ROLE_CODE = {Role.THERAPIST: "t", Role.CLIENT: "c"}
_FORMAT = re.compile(
    r"r1\.([tc])\.([A-Za-z0-9_-]{22})\.([0-9]{1,12})\.([0-9]{1,12})\.([A-Za-z0-9_-]{43})"
)


def ticket_key(secret_key: str | bytes) -> bytes:
    """The tickets' own key, so that no cookie MAC can pass for a ticket or back."""
    secret = secret_key.encode() if isinstance(secret_key, str) else secret_key
    return hmac.new(secret, b"sprechzimmer resume ticket v1", hashlib.sha256).digest()


def new_nonce() -> str:
    return secrets.token_urlsafe(16)


def _mac(key: bytes, session_id: str, role: Role, nonce: str, issued: int, expires: int) -> str:
    message = f"{VERSION}|{session_id}|{role.value}|{nonce}|{issued}|{expires}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


MAX_EXPIRY = 10**12 - 1
"""Expiries are at most 12 digits (year 33658); an unbounded one is clamped."""


def issue(
    key: bytes, session_id: str, role: Role, nonce: str, issued: float, expires: float
) -> str:
    """A ticket for the holder of ``nonce``, issued at ``issued`` (unix seconds)."""
    at, until = int(issued), int(min(expires, MAX_EXPIRY))
    mac = _mac(key, session_id, role, nonce, at, until)
    return f"{VERSION}.{_ROLE_CODE[role]}.{nonce}.{at}.{until}.{mac}"


@dataclass(frozen=True)
class Verified:
    nonce: str
    issued: int
    """When it was issued: a rebuilt room takes only tickets from its seat's last join on."""


def verify(key: bytes, ticket: str, session_id: str, role: Role, now: float) -> Verified | None:
    """The ticket's nonce when it is genuine, of this session and role, and not expired."""
    match = _FORMAT.fullmatch(ticket)
    if match is None:
        return None
    code, nonce, issued_text, expires_text, mac = match.groups()
    issued, expires = int(issued_text), int(expires_text)
    if code != _ROLE_CODE[role] or expires <= now:
        return None
    if not hmac.compare_digest(mac, _mac(key, session_id, role, nonce, issued, expires)):
        return None
    return Verified(nonce, issued)
