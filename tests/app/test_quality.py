"""Anonymous quality samples: what is kept, when it is written, how long it stays."""

from __future__ import annotations

import dataclasses
import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest

from sprechzimmer import protocol as p
from sprechzimmer.config import ConfigError, load_settings
from sprechzimmer.quality import (
    MAX_RETENTION_DAYS,
    Sample,
    SampleBuffer,
    hour_of,
    new_call_id,
    retention_cutoff,
)
from sprechzimmer.store import Store, quality_samples

T0 = dt.datetime(2026, 12, 5, 14, 0, tzinfo=dt.UTC).timestamp()


def test_the_bucket_is_the_start_of_the_utc_hour() -> None:
    assert hour_of(T0) == dt.datetime(2026, 12, 5, 14, 0, tzinfo=dt.UTC)
    assert hour_of(T0 + 3599.99) == dt.datetime(2026, 12, 5, 14, 0, tzinfo=dt.UTC)
    assert hour_of(T0 + 3600) == dt.datetime(2026, 12, 5, 15, 0, tzinfo=dt.UTC)


def test_a_sample_keeps_the_measurements_and_nothing_about_who_or_when() -> None:
    message = p.Quality(
        bitrate_out_kbps=800.0,
        rtt_ms=55.5,
        height=480,
        local_candidate=p.CandidateType.HOST,
        errors="no-key,compat-mode,no-key",
    )
    sample = Sample.of("c" * 24, message, T0 + 1234.567)
    assert sample.bucket == hour_of(T0)
    assert sample.errors == "compat-mode,no-key"  # sorted, once: the order says nothing
    assert sample.local_candidate == "host" and sample.remote_candidate == "unknown"
    assert sample.bitrate_in_kbps is None
    assert {f.name for f in dataclasses.fields(Sample)} == {c.name for c in quality_samples.c}


def test_call_ids_are_fresh_random_hex() -> None:
    ids = {new_call_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(len(i) == 24 and int(i, 16) >= 0 for i in ids)


def samples(*offsets: float) -> list[Sample]:
    return [Sample.of(f"{i:024x}", p.Quality(), T0 + o) for i, o in enumerate(offsets)]


def test_the_buffer_hands_out_an_hour_only_when_it_is_over() -> None:
    buffer = SampleBuffer()
    for s in samples(10, 20, 3590, 3610):
        buffer.add(s)
    assert buffer.take_finished(T0 + 3599) == []
    done = buffer.take_finished(T0 + 3600)
    assert sorted(s.call_id for s in done) == [f"{i:024x}" for i in range(3)]
    assert len(buffer) == 1
    assert buffer.take_finished(T0 + 3700) == []
    assert [s.call_id for s in buffer.take_all()] == [f"{3:024x}"]
    assert len(buffer) == 0


def test_the_buffer_writes_in_random_order() -> None:
    """The order of the rows must not tell which call started first."""
    orders = set()
    for _ in range(20):
        buffer = SampleBuffer()
        for s in samples(*range(20)):
            buffer.add(s)
        orders.add(tuple(s.call_id for s in buffer.take_finished(T0 + 3600)))
    assert len(orders) > 1


def test_the_buffer_is_bounded(caplog: pytest.LogCaptureFixture) -> None:
    buffer = SampleBuffer(limit=3)
    for s in samples(1, 2, 3, 4, 5):
        buffer.add(s)
    assert len(buffer) == 3
    assert caplog.text.count("quality buffer full") == 1


def test_retention_is_at_most_90_days() -> None:
    now = dt.datetime(2026, 12, 5, tzinfo=dt.UTC)
    assert retention_cutoff(now, 90) == now - dt.timedelta(days=90)
    assert retention_cutoff(now, 0) == now
    with pytest.raises(ValueError, match="at most 90 days"):
        retention_cutoff(now, 91)


# --- settings ----------------------------------------------------------------------


def test_config_refuses_a_longer_retention_with_a_sentence() -> None:
    assert load_settings().quality_retention_days == MAX_RETENTION_DAYS
    with pytest.raises(ConfigError) as error:
        load_settings(quality_retention_days=120)
    assert str(error.value) == (
        "SPRECHZIMMER_QUALITY_RETENTION_DAYS is invalid: quality samples may be kept at most "
        "90 days; use a number from 0 (keep none) to 90."
    )
    with pytest.raises(ConfigError, match="QUALITY_RETENTION_DAYS is invalid"):
        load_settings(quality_retention_days=-1)


def test_bitrate_policy_settings() -> None:
    settings = load_settings()
    assert (settings.max_bitrate_kbps, settings.relay_max_bitrate_kbps) == (2500, 1000)
    with pytest.raises(ConfigError) as error:
        load_settings(max_bitrate_kbps=800, relay_max_bitrate_kbps=1000)
    assert str(error.value).startswith("SPRECHZIMMER_RELAY_MAX_BITRATE_KBPS is invalid: ")
    with pytest.raises(ConfigError, match=r"^SPRECHZIMMER_MAX_BITRATE_KBPS is invalid: "):
        load_settings(max_bitrate_kbps=10)


def test_metrics_token_must_be_long_and_is_never_echoed() -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(metrics_token="short-secret")
    assert str(error.value).startswith("SPRECHZIMMER_METRICS_TOKEN is invalid: ")
    assert "short-secret" not in str(error.value)


# --- the operator's purge command ----------------------------------------------------


def test_purge_command_deletes_old_samples(tmp_path: Path, database_url: str) -> None:
    store = Store.from_url(database_url)
    store.migrate()
    with store.engine.begin() as c:
        c.execute(quality_samples.delete())  # PostgreSQL is shared between tests
    now = dt.datetime.now(dt.UTC).timestamp()
    old, new = (
        Sample.of("a" * 24, p.Quality(), now - 31 * 86400),
        Sample.of("b" * 24, p.Quality(), now),
    )
    store.add_quality_samples([old, new])
    done = subprocess.run(
        [sys.executable, "-m", "sprechzimmer", "purge"],
        env={
            "PATH": "/usr/bin:/bin",
            "SPRECHZIMMER_DATA_DIR": str(tmp_path),
            "SPRECHZIMMER_DATABASE_URL": database_url,
            "SPRECHZIMMER_QUALITY_RETENTION_DAYS": "30",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "1 quality sample(s) older than 30 days deleted\n" in done.stdout
    assert store.quality_samples() == [new]
    store.close()
