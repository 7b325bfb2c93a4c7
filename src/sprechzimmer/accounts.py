"""Therapist accounts: password hashing (argon2id), login cookies and CSRF tokens.

The login cookie is stateless: ``<therapist id>.<expiry>.<nonce>.<mac>``, an
HMAC-SHA256 under the deployment's secret key. The CSRF token is a second MAC
over the same cookie, so it is bound to one login and needs no storage. This
module never logs a password, cookie or token.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

COOKIE_NAME = "sz_session"
_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """Verifying against this when the code is unknown keeps the answer time the same."""
    return _hasher.hash(secrets.token_urlsafe(16))


MIN_PASSWORD = 10


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


class PasswordChecks:
    """Password checks on threads of their own, a few at a time.

    One argon2 check takes 64 MiB and about 0.1 s of a core. On the shared
    thread pool, 60 parallel guesses took 1.6 GiB and held up every other
    request for seconds; here at most ``workers`` run at once, at most
    ``waiting`` more queue (beyond that: ``busy`` answers at once), and no
    other request ever waits for them."""

    def __init__(self, workers: int = 2, waiting: int = 32) -> None:
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="password")
        self._queued = 0
        self._waiting = waiting

    @property
    def busy(self) -> bool:
        return self._queued >= self._waiting

    async def verify(self, password_hash: str | None, password: str) -> bool:
        self._queued += 1
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._pool, verify_password, password_hash, password)
        finally:
            self._queued -= 1

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def _mac(key: bytes, purpose: bytes, message: str) -> str:
    raw = hmac.new(key, purpose + b"\0" + message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass(frozen=True)
class Login:
    therapist_id: int
    expires: int
    cookie: str


def make_cookie(key: bytes, therapist_id: int, now: float, ttl: int) -> Login:
    expires = int(now) + ttl
    body = f"{therapist_id}.{expires}.{secrets.token_urlsafe(12)}"
    return Login(therapist_id, expires, f"{body}.{_mac(key, b'login', body)}")


def read_cookie(key: bytes, cookie: str, now: float) -> Login | None:
    body, _, mac = cookie.rpartition(".")
    if not body or not same_secret(mac, _mac(key, b"login", body)):
        return None
    try:
        therapist_id, expires, _nonce = body.split(".")
        login = Login(int(therapist_id), int(expires), cookie)
    except ValueError:
        return None
    return login if login.expires > now else None


def csrf_token(key: bytes, cookie: str) -> str:
    return _mac(key, b"csrf", cookie)


def check_csrf(key: bytes, cookie: str, token: str | None) -> bool:
    return token is not None and same_secret(token, csrf_token(key, cookie))


def same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison of a secret from a request with ours.

    As bytes: ``hmac.compare_digest`` raises on a ``str`` with non-ASCII
    characters, and a header or cookie may carry any (latin-1) character."""
    return hmac.compare_digest(given.encode(), expected.encode())
