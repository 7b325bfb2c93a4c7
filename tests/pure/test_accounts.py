"""Passwords, login cookies, CSRF tokens, the rate limiter and token helpers: pure code."""

from __future__ import annotations

from sprechzimmer import accounts
from sprechzimmer.ratelimit import Backoff, RateLimiter
from sprechzimmer.tokens import digest, invite_url, looks_like_token, new_token

KEY = b"k" * 40


def test_passwords_are_argon2id_and_verified() -> None:
    stored = accounts.hash_password("correct horse battery")
    assert stored.startswith("$argon2id$") and "correct horse" not in stored
    assert accounts.verify_password(stored, "correct horse battery")
    assert not accounts.verify_password(stored, "wrong")
    assert not accounts.verify_password(None, "anything")  # unknown code
    assert not accounts.verify_password("garbage", "anything")


def test_cookie_round_trip_expiry_and_forgery() -> None:
    login = accounts.make_cookie(KEY, 7, 3, now=1000.0, ttl=60)
    assert accounts.read_cookie(KEY, login.cookie, 1059.0) == login
    assert login.generation == 3
    assert accounts.read_cookie(KEY, login.cookie, 1061.0) is None  # expired
    assert accounts.read_cookie(b"x" * 40, login.cookie, 1000.0) is None  # other key
    body, _, mac = login.cookie.rpartition(".")
    forged = body.replace("7.", "8.", 1) + "." + mac
    assert accounts.read_cookie(KEY, forged, 1000.0) is None
    newer = body.replace("7.3.", "7.4.", 1) + "." + mac  # a generation is not chosen by the holder
    assert accounts.read_cookie(KEY, newer, 1000.0) is None
    assert accounts.read_cookie(KEY, "no-dots", 1000.0) is None


def test_csrf_token_is_bound_to_the_login() -> None:
    a = accounts.make_cookie(KEY, 7, 0, 0.0, 60).cookie
    b = accounts.make_cookie(KEY, 7, 0, 0.0, 60).cookie
    assert accounts.check_csrf(KEY, a, accounts.csrf_token(KEY, a))
    assert not accounts.check_csrf(KEY, a, accounts.csrf_token(KEY, b))
    assert not accounts.check_csrf(KEY, a, None)


def test_device_cookie_names_a_browser_of_one_therapist() -> None:
    cookie = accounts.make_device_cookie(KEY, 7, 1000.0)
    device = accounts.read_device_cookie(KEY, cookie, 7, 2000.0)
    assert device and device in cookie
    assert accounts.make_device_cookie(KEY, 7, 1000.0) != cookie  # one per browser
    assert accounts.read_device_cookie(KEY, cookie, 8, 2000.0) is None  # another therapist
    assert accounts.read_device_cookie(b"x" * 40, cookie, 7, 2000.0) is None
    assert accounts.read_device_cookie(KEY, cookie, 7, 1000.0 + accounts.DEVICE_TTL) is None
    login = accounts.make_cookie(KEY, 7, 0, 1000.0, 60).cookie
    assert accounts.read_device_cookie(KEY, login, 7, 1000.0) is None  # another purpose
    assert accounts.read_cookie(KEY, cookie, 1000.0) is None


def test_backoff_grows_and_never_locks() -> None:
    backoff = Backoff(free=2, forget=300.0, cap=8.0)
    for at in (0.0, 1.0):
        assert backoff.start("dr-a", at) == 0.0
        backoff.finish("dr-a", False, at)
    # Past the free ones: 1 s, 2 s, 4 s, 8 s, 8 s after the last failure.
    now = 1.0
    for expected in (1.0, 2.0, 4.0, 8.0, 8.0):
        assert backoff.start("dr-a", now) == expected
        now += expected
        assert backoff.start("dr-a", now) == 0.0
        backoff.finish("dr-a", False, now)
    assert backoff.wait("dr-b", now) == 0.0  # other codes are not slowed down
    assert backoff.wait("dr-a", now + 300.0) == 0.0  # forgotten after quiet
    assert backoff.start("dr-a", now + 8.0) == 0.0
    backoff.finish("dr-a", True, now + 8.0)  # a success forgets the failures
    assert backoff.wait("dr-a", now + 8.0) == 0.0 and not backoff._tries


def test_backoff_counts_attempts_when_they_start() -> None:
    backoff = Backoff(free=3, forget=300.0, cap=60.0)
    started = [backoff.start("dr-a", 0.0) for _ in range(10)]
    assert started.count(0.0) == 3  # the rest must wait: the first three are running
    for _ in range(3):
        backoff.finish("dr-a", False, 0.5)
    assert backoff.start("dr-a", 0.5) == 1.0


def test_backoff_memory_is_bounded_and_keeps_running_attempts() -> None:
    backoff = Backoff(free=1, forget=300.0, cap=60.0, max_keys=3)
    backoff.start("running", 0.0)
    for i in range(10):
        backoff.start(f"code-{i}", 0.0)
        backoff.finish(f"code-{i}", False, 0.0)
    assert len(backoff._tries) == 3 and "running" in backoff._tries


def test_rate_limiter_window() -> None:
    limiter = RateLimiter(limit=2, window=10.0)
    limiter.hit("a", 0.0)
    limiter.hit("a", 1.0)
    assert limiter.blocked("a", 5.0) and not limiter.blocked("b", 5.0)
    assert not limiter.blocked("a", 10.5)  # the first hit left the window
    limiter.reset("a")
    assert not limiter.blocked("a", 1.0)


def test_rate_limiter_memory_is_bounded() -> None:
    limiter = RateLimiter(limit=1, window=100.0, max_keys=3)
    for i in range(10):
        limiter.hit(f"code-{i}", float(i))
    assert len(limiter._hits) == 3


def test_tokens_are_long_random_and_in_the_fragment() -> None:
    tokens = {new_token() for _ in range(100)}
    assert len(tokens) == 100 and all(looks_like_token(t) for t in tokens)
    token = tokens.pop()
    assert len(digest(token)) == 64 and token not in digest(token)
    url = invite_url("https://v.example", "a" * 32, token)
    assert url == f"https://v.example/call#s={'a' * 32}&t={token}"
