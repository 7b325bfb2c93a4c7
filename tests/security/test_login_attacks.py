"""Guessing a therapist's password (issue 10, point 2), in-process.

The review sent 60 guesses for one code at once: 36 of them reached the
password check (the attempt was counted only after it), each argon2 check
took 64 MiB in the thread pool that every request shares (RSS 87 -> 1,642
MiB), and an API-key request meanwhile took 10 s instead of 0.1 s.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import httpx2 as httpx
import pytest

from sprechzimmer import accounts, api
from sprechzimmer.app import create_app
from sprechzimmer.store import Store
from sprechzimmer.tokens import digest

from ..conftest import make_settings
from ..helpers import PASSWORD, add_therapist

GUESSES = 60
ATTEMPTS = 5
API_KEY = "szk_" + "B" * 43


async def test_parallel_guesses_are_counted_first_and_starve_nobody(
    tmp_path: Path, database_url: str, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_therapist(store, "dr-a")
    store.add_api_key_hash("dr-a", digest(API_KEY))
    settings = make_settings(tmp_path, database_url, login_attempts=ATTEMPTS)
    app = create_app(settings, store)

    checked: list[str] = []
    release = threading.Event()
    real = accounts.verify_password

    def slow_check(password_hash: str | None, password: str) -> bool:
        checked.append(password)
        release.wait(30)  # bounded: the test sets it long before
        return real(password_hash, password)

    monkeypatch.setattr(accounts, "verify_password", slow_check)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        guesses = [
            asyncio.create_task(
                http.post("/api/v1/login", json={"code": "dr-a", "password": f"guess-{n}"})
            )
            for n in range(GUESSES)
        ]
        await asyncio.sleep(0.5)  # every guess has arrived; the checks hang
        # Another request is served while the password checks are stuck.
        me = await asyncio.wait_for(
            http.get("/api/v1/me", headers={"Authorization": f"Bearer {API_KEY}"}), 5
        )
        assert me.status_code == 200
        release.set()
        answers = [r.status_code for r in await asyncio.gather(*guesses)]
    assert len(checked) <= ATTEMPTS, len(checked)
    assert answers.count(401) == len(checked)
    assert answers.count(429) == GUESSES - len(checked)


async def test_a_good_login_does_not_count_towards_the_limit(
    tmp_path: Path, database_url: str, store: Store
) -> None:
    add_therapist(store, "dr-a")
    app = create_app(make_settings(tmp_path, database_url, login_attempts=2), store)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        for _ in range(4):
            good = await http.post("/api/v1/login", json={"code": "dr-a", "password": PASSWORD})
            assert good.status_code == 200


# --- issue 10, point 1: the limiter must never lock out the right person -------

WRONG = "not the password"


class Clock:
    """The API's clock, moved by hand: waits are checked without sleeping."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(api, "time", fake)
    return fake


def _client(app: object) -> httpx.AsyncClient:
    """A browser of its own: its own cookie jar."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def _login(http: httpx.AsyncClient, code: str, password: str) -> httpx.Response:
    return await http.post("/api/v1/login", json={"code": code, "password": password})


async def test_the_owners_browser_gets_in_while_the_code_is_under_attack(
    tmp_path: Path, database_url: str, store: Store, clock: Clock
) -> None:
    add_therapist(store, "dr-a")
    app = create_app(make_settings(tmp_path, database_url, login_attempts=ATTEMPTS), store)
    async with _client(app) as owner, _client(app) as attacker:
        assert (await _login(owner, "dr-a", PASSWORD)).status_code == 200  # yesterday
        answers = []
        for _ in range(3 * ATTEMPTS):
            answers.append((await _login(attacker, "dr-a", WRONG)).status_code)
            clock.now += 0.01
        assert answers[:ATTEMPTS] == [401] * ATTEMPTS and 429 in answers, answers
        # On today's main the owner got 429 here for the rest of the window.
        assert (await _login(owner, "dr-a", PASSWORD)).status_code == 200
        # The attacker is still slowed down: the owner's login forgave nothing.
        assert (await _login(attacker, "dr-a", WRONG)).status_code == 429


async def test_failures_slow_the_next_attempt_more_and_more_but_never_lock(
    tmp_path: Path, database_url: str, store: Store, clock: Clock
) -> None:
    add_therapist(store, "dr-a")
    settings = make_settings(
        tmp_path, database_url, login_attempts=2, login_max_delay=8, login_window=600
    )
    app = create_app(settings, store)
    async with _client(app) as attacker, _client(app) as new_browser:
        for _ in range(2):
            assert (await _login(attacker, "dr-a", WRONG)).status_code == 401
        waits = []
        for _ in range(5):
            refused = await _login(attacker, "dr-a", WRONG)
            assert refused.status_code == 429
            wait = int(refused.headers["retry-after"])
            assert f"{wait} Sekunden" in refused.json()["error"]["message_de"]
            waits.append(wait)
            clock.now += wait
            assert (await _login(attacker, "dr-a", WRONG)).status_code == 401
        assert waits == [1, 2, 4, 8, 8]
        # The owner on a browser never used before waits as long as the last
        # failure asks, at most login_max_delay, and is then let in.
        refused = await _login(new_browser, "dr-a", PASSWORD)
        assert refused.status_code == 429
        clock.now += int(refused.headers["retry-after"])
        assert (await _login(new_browser, "dr-a", PASSWORD)).status_code == 200


async def test_made_up_codes_cannot_exhaust_the_cap_of_all_codes(
    tmp_path: Path, database_url: str, store: Store, clock: Clock
) -> None:
    add_therapist(store, "dr-a")
    app = create_app(make_settings(tmp_path, database_url, login_attempts=ATTEMPTS), store)
    async with _client(app) as attacker, _client(app) as owner:
        # More failures than the cap of all codes together (20 x 5 on today's main).
        for n in range(120):
            answer = await _login(attacker, f"made-up-{n}", WRONG)
            assert answer.status_code == 401, n
        # A therapist who never logged in on this browser is not held by it.
        assert (await _login(owner, "dr-a", PASSWORD)).status_code == 200


async def test_spraying_real_codes_is_capped_but_known_browsers_pass(
    tmp_path: Path, database_url: str, store: Store, clock: Clock
) -> None:
    codes = [f"dr-{n}" for n in range(25)]
    for code in codes:
        add_therapist(store, code)
    app = create_app(make_settings(tmp_path, database_url, login_attempts=ATTEMPTS), store)
    async with _client(app) as owner, _client(app) as attacker, _client(app) as other:
        assert (await _login(owner, "dr-0", PASSWORD)).status_code == 200
        answers = [
            (await _login(attacker, code, WRONG)).status_code
            for _ in range(ATTEMPTS)
            for code in codes
        ]
        assert answers.count(401) == 100 and answers.count(429) == 25  # the cap: 20 x 5
        # Unknown codes are refused alike, so the cap tells nothing about which exist.
        assert (await _login(attacker, "made-up", WRONG)).status_code == 429
        assert (await _login(other, "dr-1", PASSWORD)).status_code == 429
        assert (await _login(owner, "dr-0", PASSWORD)).status_code == 200


async def test_a_device_cookie_is_slowed_by_its_own_failures(
    tmp_path: Path, database_url: str, store: Store, clock: Clock
) -> None:
    add_therapist(store, "dr-a")
    add_therapist(store, "dr-b")
    app = create_app(make_settings(tmp_path, database_url, login_attempts=2), store)
    async with _client(app) as stolen:
        assert (await _login(stolen, "dr-a", PASSWORD)).status_code == 200
        answers = [(await _login(stolen, "dr-a", WRONG)).status_code for _ in range(4)]
        assert answers == [401, 401, 429, 429]
        # It names a browser of dr-a only: for dr-b it is an unknown browser.
        assert (await _login(stolen, "dr-b", PASSWORD)).status_code == 200


# --- issue 10, point 3: logout, a new password and disabling end every login ----


async def _logged_in(http: httpx.AsyncClient) -> str:
    answer = await _login(http, "dr-a", PASSWORD)
    assert answer.status_code == 200
    csrf: str = answer.json()["csrf_token"]
    return csrf


async def _can_act(http: httpx.AsyncClient, csrf: str) -> bool:
    me = await http.get("/api/v1/me")
    created = await http.post(
        "/api/v1/sessions", json={"client_id": "K-7"}, headers={"X-CSRF-Token": csrf}
    )
    assert me.status_code in (200, 401) and created.status_code in (201, 401)
    return me.status_code == 200 or created.status_code == 201


async def test_logout_ends_every_login_of_the_therapist(
    tmp_path: Path, database_url: str, store: Store
) -> None:
    add_therapist(store, "dr-a")
    app = create_app(make_settings(tmp_path, database_url), store)
    async with _client(app) as laptop, _client(app) as phone:
        laptop_csrf, phone_csrf = await _logged_in(laptop), await _logged_in(phone)
        stolen = laptop.cookies[accounts.COOKIE_NAME]
        assert await _can_act(laptop, laptop_csrf) and await _can_act(phone, phone_csrf)
        out = await laptop.post("/api/v1/logout", headers={"X-CSRF-Token": laptop_csrf})
        assert out.status_code == 204
        laptop.cookies.set(accounts.COOKIE_NAME, stolen)  # a copy kept from before
        assert not await _can_act(laptop, laptop_csrf)
        assert not await _can_act(phone, phone_csrf)
    async with _client(app) as again:
        assert await _can_act(again, await _logged_in(again))


@pytest.mark.parametrize("action", ["passwd", "disable"])
async def test_a_new_password_or_disabling_ends_every_login(
    tmp_path: Path, database_url: str, store: Store, action: str
) -> None:
    therapist_id = add_therapist(store, "dr-a")
    app = create_app(make_settings(tmp_path, database_url), store)
    async with _client(app) as http:
        csrf = await _logged_in(http)
        assert await _can_act(http, csrf)
        if action == "passwd":
            store.set_password_hash(therapist_id, accounts.hash_password(PASSWORD))
        else:
            store.set_disabled("dr-a", True)
            store.set_disabled("dr-a", False)  # enabling again does not revive it
        assert not await _can_act(http, csrf)
