"""Therapist accounts: password hashing (argon2id), login cookies and CSRF tokens.

The login cookie is ``<therapist id>.<generation>.<expiry>.<nonce>.<mac>``, an
HMAC-SHA256 under the deployment's secret key. The generation is the
therapist's counter in the database: logout, a new password or disabling raise
it, and every cookie made before stops working at once, on every device. The
CSRF token is a second MAC over the same cookie, so it is bound to one login
and needs no storage.

The device cookie ``<therapist id>.<issued>.<nonce>.<mac>`` says "this browser
has logged in as this therapist before". It opens nothing by itself; it lets
its browser's logins skip the delay that failed guesses from elsewhere put on
the therapist's code, so that nobody who knows a code can keep its owner out
(see ``ratelimit.Backoff``). It is kept by the browser only.

This module never logs a password, cookie or token.
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
DEVICE_COOKIE = "sz_device"
DEVICE_TTL = 180 * 24 * 3600
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


class _Lane:
    def __init__(self, workers: int, waiting: int, name: str) -> None:
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix=name)
        self.queued = 0
        self.waiting = waiting


class PasswordChecks:
    """Password checks on threads of their own, a few at a time.

    One argon2 check takes 64 MiB and about 0.1 s of a core. On the shared
    thread pool, 60 parallel guesses took 1.6 GiB and held up every other
    request for seconds; here at most ``workers`` run at once, at most
    ``waiting`` more queue (beyond that: ``busy`` answers at once), and no
    other request ever waits for them. Browsers that logged in before (a device
    cookie) have a lane of their own, so that a flood of guesses cannot keep a
    therapist out of their practice."""

    def __init__(self, workers: int = 2, waiting: int = 32) -> None:
        self._lanes = {
            False: _Lane(workers, waiting, "password"),
            True: _Lane(1, max(1, waiting // 4), "password-known"),
        }

    def busy(self, known_device: bool = False) -> bool:
        lane = self._lanes[known_device]
        return lane.queued >= lane.waiting

    async def verify(
        self, password_hash: str | None, password: str, known_device: bool = False
    ) -> bool:
        lane = self._lanes[known_device]
        lane.queued += 1
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(lane.pool, verify_password, password_hash, password)
        finally:
            lane.queued -= 1

    def close(self) -> None:
        for lane in self._lanes.values():
            lane.pool.shutdown(wait=False, cancel_futures=True)


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def _mac(key: bytes, purpose: bytes, message: str) -> str:
    raw = hmac.new(key, purpose + b"\0" + message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass(frozen=True)
class Login:
    therapist_id: int
    generation: int
    expires: int
    cookie: str


def make_cookie(key: bytes, therapist_id: int, generation: int, now: float, ttl: int) -> Login:
    expires = int(now) + ttl
    body = f"{therapist_id}.{generation}.{expires}.{secrets.token_urlsafe(12)}"
    return Login(therapist_id, generation, expires, f"{body}.{_mac(key, b'login', body)}")


def _signed(key: bytes, purpose: bytes, cookie: str, parts: int) -> list[int] | None:
    """The leading integers of a cookie whose MAC is ours, or None."""
    body, _, mac = cookie.rpartition(".")
    if not body or not same_secret(mac, _mac(key, purpose, body)):
        return None
    fields = body.split(".")
    if len(fields) != parts + 1:
        return None
    try:
        return [int(f) for f in fields[:parts]]
    except ValueError:
        return None


def read_cookie(key: bytes, cookie: str, now: float) -> Login | None:
    """The login, if the cookie is ours and not expired; the caller compares the
    generation with the therapist's."""
    fields = _signed(key, b"login", cookie, 3)
    if fields is None:
        return None
    login = Login(fields[0], fields[1], fields[2], cookie)
    return login if login.expires > now else None


def make_device_cookie(key: bytes, therapist_id: int, now: float) -> str:
    body = f"{therapist_id}.{int(now)}.{secrets.token_urlsafe(12)}"
    return f"{body}.{_mac(key, b'device', body)}"


def read_device_cookie(key: bytes, cookie: str, therapist_id: int, now: float) -> str | None:
    """A name for this browser if it logged in as ``therapist_id`` before, else None."""
    fields = _signed(key, b"device", cookie, 2)
    if fields is None or fields[0] != therapist_id or fields[1] + DEVICE_TTL <= now:
        return None
    return cookie.rsplit(".", 2)[1]  # the nonce: one key per browser, not per therapist


def csrf_token(key: bytes, cookie: str) -> str:
    return _mac(key, b"csrf", cookie)


def check_csrf(key: bytes, cookie: str, token: str | None) -> bool:
    return token is not None and same_secret(token, csrf_token(key, cookie))


def same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison of a secret from a request with ours.

    As bytes: ``hmac.compare_digest`` raises on a ``str`` with non-ASCII
    characters, and a header or cookie may carry any (latin-1) character."""
    return hmac.compare_digest(given.encode(), expected.encode())
