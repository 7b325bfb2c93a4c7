"""Configuration: a wrong value stops start-up with one sentence naming the variable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sprechzimmer.config import ConfigError, load_settings
from sprechzimmer.outbox import OutboxLimits
from sprechzimmer.room import RoomConfig
from sprechzimmer.turn import IcePolicy


@pytest.mark.parametrize(
    ("name", "value", "variable"),
    [
        ("public_url", "video.example.org", "SPRECHZIMMER_PUBLIC_URL"),
        ("token_ttl", "12", "SPRECHZIMMER_TOKEN_TTL"),
        ("token_ttl", "a day", "SPRECHZIMMER_TOKEN_TTL"),
        ("heartbeat_interval", "-1", "SPRECHZIMMER_HEARTBEAT_INTERVAL"),
        ("log_level", "loud", "SPRECHZIMMER_LOG_LEVEL"),
        ("database_url", "mysql://x", "SPRECHZIMMER_DATABASE_URL"),
        ("secret_key", "short", "SPRECHZIMMER_SECRET_KEY"),
        ("allowed_origins", ["https://x.org/path"], "SPRECHZIMMER_ALLOWED_ORIGINS"),
        ("metadata_retention_days", "30", "SPRECHZIMMER_METADATA_RETENTION_DAYS"),
        ("metadata_retention_days", "3651", "SPRECHZIMMER_METADATA_RETENTION_DAYS"),
        ("metadata_retention_days", "ninety", "SPRECHZIMMER_METADATA_RETENTION_DAYS"),
    ],
)
def test_wrong_values_name_the_variable(name: str, value: object, variable: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(**{name: value})
    message = str(error.value)
    assert message.startswith(f"{variable} is invalid: ")
    assert message.endswith(".") and "\n" not in message


def test_environment_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SPRECHZIMMER_PUBLIC_URL", "https://video.example.org/")
    monkeypatch.setenv("SPRECHZIMMER_TOKEN_TTL", "7200")
    monkeypatch.setenv("SPRECHZIMMER_DATA_DIR", str(tmp_path))
    settings = load_settings()
    assert settings.public_url == "https://video.example.org"
    assert settings.origin == "https://video.example.org" and settings.secure_cookies
    assert settings.token_ttl == 7200
    assert settings.effective_database_url == f"sqlite:///{tmp_path / 'sprechzimmer.sqlite3'}"


def test_the_metadata_retention_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert load_settings().metadata_retention_days == 90
    # More than the KBV's 90 days is the operator's call; the audit, not start-up, objects.
    monkeypatch.setenv("SPRECHZIMMER_METADATA_RETENTION_DAYS", "120")
    assert load_settings().metadata_retention_days == 120


def test_defaults_use_no_ice_server_at_all() -> None:
    assert load_settings().ice_servers == []


def test_generated_secret_key_is_kept_private(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    key = settings.effective_secret_key()
    assert len(key) >= 32 and key == settings.effective_secret_key()
    assert (tmp_path / "secret.key").stat().st_mode & 0o077 == 0


def test_serve_refuses_to_start_on_a_wrong_value(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sprechzimmer", "serve"],
        env={
            "SPRECHZIMMER_TOKEN_TTL": "forever",
            "SPRECHZIMMER_DATA_DIR": str(tmp_path),
            "PATH": "/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "sprechzimmer: SPRECHZIMMER_TOKEN_TTL is invalid: Input should be a valid integer, "
        "unable to parse string as an integer."
    ]


def test_rooms_and_outboxes_get_the_settings_by_name_with_one_set_of_defaults() -> None:
    defaults = load_settings()
    assert defaults.room_config(IcePolicy()) == RoomConfig()
    assert defaults.outbox_limits() == OutboxLimits()
    # Each value lands in its own field: neighbours of one type cannot swap.
    chosen = load_settings(
        max_bitrate_kbps=3000,
        relay_max_bitrate_kbps=900,
        heartbeat_interval=7.0,
        resume_grace=70.0,
        media_debounce=3.0,
        rekey_interval=300.0,
        max_events_per_session=5000,
        send_queue_frames=300,
        send_queue_bytes=3 << 20,
        send_timeout=9.0,
    )
    room = chosen.room_config(IcePolicy())
    assert (room.max_bitrate_kbps, room.relay_max_bitrate_kbps) == (3000, 900)
    assert (room.heartbeat_interval, room.resume_grace, room.media_debounce) == (7.0, 70.0, 3.0)
    assert (room.rekey_interval, room.max_events) == (300.0, 5000)
    assert chosen.outbox_limits() == OutboxLimits(
        send_timeout=9.0, max_frames=300, max_bytes=3 << 20
    )
