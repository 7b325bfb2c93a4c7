"""Shared fixtures: settings, stores on SQLite and PostgreSQL, the in-process app.

Backends: the ``store`` fixture runs each test once per backend named in
``SPRECHZIMMER_TEST_BACKENDS`` (default ``sqlite,postgres``). PostgreSQL is
reached at ``SPRECHZIMMER_TEST_POSTGRES`` (default ``postgresql+psycopg://
root@/test?host=/var/run/postgresql`` — a unix socket, so tests inside network
namespaces reach it too). Where it is missing, those tests skip with the
reason; with ``SPRECHZIMMER_REQUIRE_ALL=1`` (CI) they fail instead.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from harness import chromium
from sprechzimmer.config import Settings, load_settings
from sprechzimmer.store import Store

REQUIRE_ALL = os.environ.get("SPRECHZIMMER_REQUIRE_ALL") == "1"
POSTGRES_ADMIN_URL = os.environ.get(
    "SPRECHZIMMER_TEST_POSTGRES", "postgresql+psycopg://root@/test?host=/var/run/postgresql"
)
BACKENDS = [
    b.strip() for b in os.environ.get("SPRECHZIMMER_TEST_BACKENDS", "sqlite,postgres").split(",")
]


def require_or_skip(reason: str) -> None:
    """Skip on a developer's machine; fail in CI, where every part must be there."""
    if REQUIRE_ALL:
        pytest.fail(f"required for CI: {reason}")
    pytest.skip(reason)


class PostgresDatabase:
    """One throw-away database for the whole test run, emptied between tests."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.name = f"sz_test_{os.getpid()}_{secrets.token_hex(3)}"
        self.url = make_url(admin_url).set(database=self.name).render_as_string(hide_password=False)
        self._admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with self._admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{self.name}"'))
        self.store = Store.from_url(self.url)
        self.store.migrate()

    def empty(self) -> None:
        with self.store.engine.begin() as c:
            c.execute(
                text(
                    "TRUNCATE therapists, sessions, tokens, events, billing_lines, quality_samples"
                    " RESTART IDENTITY CASCADE"
                )
            )

    def drop(self) -> None:
        self.store.close()
        with self._admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self._admin.dispose()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresDatabase | str]:
    """The test database, or the reason it is not there."""
    try:
        db = PostgresDatabase(POSTGRES_ADMIN_URL)
    except Exception as error:  # any failure to reach it is a reason to skip
        yield f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}: {type(error).__name__}"
        return
    try:
        yield db
    finally:
        db.drop()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, tmp_path: Path, postgres: PostgresDatabase | str) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'test.sqlite3'}"
    if isinstance(postgres, str):
        require_or_skip(postgres)
    assert isinstance(postgres, PostgresDatabase)
    postgres.empty()
    return postgres.url


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    s = Store.from_url(database_url)
    s.migrate()
    try:
        yield s
    finally:
        s.close()


def make_settings(tmp_path: Path, database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path,
        "database_url": database_url,
        "public_url": "http://testserver",
        "secret_key": "k" * 40,
    }
    values.update(overrides)
    return load_settings(**values)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url)


@pytest.fixture(autouse=True)
def _fresh_browser_console() -> Iterator[None]:
    """Each test's report shows only its own browsers' console (harness/chromium.py)."""
    chromium.CONSOLE.clear()
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failed browser test's report ends with its pages' console: each step of the
    call, at debug level, so that a failure seen once (in CI, under load) can be read."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.when == "call" and report.failed and chromium.CONSOLE:
        report.sections.append(("browser console (last lines)", "\n".join(chromium.CONSOLE)))
