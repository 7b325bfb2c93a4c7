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

from sprechzimmer import accounts
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
