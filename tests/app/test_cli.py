"""The operator's CLI contract, run as a real process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sprechzimmer.store import Store
from sprechzimmer.tokens import digest

from ..helpers import PASSWORD, token_of


def run(
    env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sprechzimmer", *args],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "SPRECHZIMMER_DATA_DIR": str(tmp_path),
        "SPRECHZIMMER_DATABASE_URL": database_url,
        "SPRECHZIMMER_PUBLIC_URL": "https://video.example.org",
    }


def test_therapist_session_and_key_lifecycle(env: dict[str, str], database_url: str) -> None:
    added = run(env, "therapist", "add", "dr-a", "--password-stdin", stdin=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    again = run(env, "therapist", "add", "dr-a", "--password-stdin", stdin=PASSWORD + "\n")
    assert again.returncode == 1 and "exists already" in again.stderr

    created = run(env, "session", "create", "--therapist", "dr-a", "--client-id", "K-9", "--json")
    assert created.returncode == 0, created.stderr
    invite = json.loads(created.stdout)
    assert set(invite) == {"session_id", "therapist_url", "client_url", "expires_at"}
    assert invite["client_url"].startswith("https://video.example.org/call#s=")
    _, token = token_of(invite["client_url"])

    store = Store.from_url(database_url)
    try:
        found = store.lookup_token(digest(token))
        assert found is not None and found.session.client_id == "K-9"

        key = run(env, "apikey", "create", "dr-a")
        assert key.returncode == 0 and key.stdout.startswith("szk_")
        assert store.therapist_by_api_key_hash(digest(key.stdout.strip())) is not None

        listed = json.loads(run(env, "session", "list", "--therapist", "dr-a", "--json").stdout)
        assert [s["session_id"] for s in listed] == [invite["session_id"]]

        assert run(env, "session", "revoke", invite["session_id"]).returncode == 0
        assert store.lookup_token(digest(token)) is None

        assert run(env, "therapist", "disable", "dr-a").returncode == 0
        refused = run(env, "session", "create", "--therapist", "dr-a", "--client-id", "K", "--json")
        assert refused.returncode == 1 and "disabled" in refused.stderr
        assert json.loads(run(env, "therapist", "list", "--json").stdout)[0]["disabled"] is True
    finally:
        store.close()


def test_short_password_and_unknown_therapist_are_clear_errors(env: dict[str, str]) -> None:
    short = run(env, "therapist", "add", "dr-b", "--password-stdin", stdin="short\n")
    assert short.returncode == 1 and "at least 10 characters" in short.stderr
    unknown = run(env, "session", "create", "--therapist", "nobody", "--client-id", "K", "--json")
    assert unknown.returncode == 1 and "no therapist with the code 'nobody'" in unknown.stderr


def test_every_command_has_help(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "SPRECHZIMMER_DATA_DIR": str(tmp_path)}
    for args in (
        [],
        ["serve"],
        ["therapist"],
        ["therapist", "add"],
        ["session", "create"],
        ["apikey", "create"],
        ["db"],
        ["peer"],
    ):
        done = run(env, *args, "--help")
        assert done.returncode == 0 and "usage:" in done.stdout, (args, done.stderr)
