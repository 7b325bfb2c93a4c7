"""Resume tickets: how a browser proves, to any server process and after a restart,
that it holds a seat in a session.

A ticket is handed out with every ``welcome`` and lives only in that tab
(``sessionStorage``). It names the session, the seat and a random nonce, and
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

from . import seats

VERSION = "r1"
MAX_LENGTH = 128
_FORMAT = re.compile(
    r"r1\.(t|c[2-8]?)\.([A-Za-z0-9_-]{22})\.([0-9]{1,12})\.([0-9]{1,12})\.([A-Za-z0-9_-]{43})"
)


def _seat_code(seat: int) -> str:
    """``t`` the therapist's, ``c`` the first client seat's (both as before seats had
    numbers, so tickets issued then still work), ``c2`` to ``c8`` the others'."""
    if seat == seats.THERAPIST:
        return "t"
    return "c" if seat == seats.FIRST_CLIENT else f"c{seat}"


def _seat_label(seat: int) -> str:
    if seat in (seats.THERAPIST, seats.FIRST_CLIENT):
        return seats.role_of(seat).value
    return f"client:{seat}"


def ticket_key(secret_key: str | bytes) -> bytes:
    """The tickets' own key, so that no cookie MAC can pass for a ticket or back."""
    secret = secret_key.encode() if isinstance(secret_key, str) else secret_key
    return hmac.new(secret, b"sprechzimmer resume ticket v1", hashlib.sha256).digest()


def new_nonce() -> str:
    return secrets.token_urlsafe(16)


def _mac(key: bytes, session_id: str, seat: int, nonce: str, issued: int, expires: int) -> str:
    message = f"{VERSION}|{session_id}|{_seat_label(seat)}|{nonce}|{issued}|{expires}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


MAX_EXPIRY = 10**12 - 1
"""Expiries are at most 12 digits (year 33658); an unbounded one is clamped."""


def issue(key: bytes, session_id: str, seat: int, nonce: str, issued: float, expires: float) -> str:
    """A ticket for the holder of ``nonce`` in ``seat``, issued at ``issued`` (unix seconds)."""
    at, until = int(issued), int(min(expires, MAX_EXPIRY))
    mac = _mac(key, session_id, seat, nonce, at, until)
    return f"{VERSION}.{_seat_code(seat)}.{nonce}.{at}.{until}.{mac}"


@dataclass(frozen=True)
class Verified:
    nonce: str
    issued: int
    """When it was issued: a rebuilt room takes only tickets from its seat's last join on."""


def verify(key: bytes, ticket: str, session_id: str, seat: int, now: float) -> Verified | None:
    """The ticket's nonce when it is genuine, of this session and seat, and not expired."""
    match = _FORMAT.fullmatch(ticket)
    if match is None:
        return None
    code, nonce, issued_text, expires_text, mac = match.groups()
    issued, expires = int(issued_text), int(expires_text)
    if code != _seat_code(seat) or expires <= now:
        return None
    if not hmac.compare_digest(mac, _mac(key, session_id, seat, nonce, issued, expires)):
        return None
    return Verified(nonce, issued)
