"""Anonymous quality samples: what is kept of a ``quality`` message, and how it stays anonymous.

A sample is tied to a random call id, made in memory when a call (re)starts
and new for every start, and to the start of its UTC hour. It holds the
measured numbers, the candidate types and error codes, and nothing else: no
session, role, address, user agent or exact time. The call id is never
stored, logged or sent next to a session id.

Samples wait in memory (``SampleBuffer``) until their hour is over and are
then written in random order, so that neither a row's position nor an
auto-increment reveals when within the hour a call began (which the billing
events would otherwise tie to a session). This module does no I/O and reads
no clock.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from dataclasses import dataclass

from . import protocol as p

log = logging.getLogger(__name__)

MAX_RETENTION_DAYS = 90
"""Samples are kept at most this long (``docs/operations.md``); config refuses more."""

MIN_INTERVAL = 10.0
"""Seconds between two samples one member may send; faster ones are dropped."""

MAX_BUFFERED = 200_000
"""Samples held in memory at most (about 800 calls for an hour); more are dropped."""


def new_call_id() -> str:
    """A fresh random call id: 96 bits, hex, unrelated to anything else."""
    return secrets.token_hex(12)


def hour_of(at: float) -> dt.datetime:
    """The start of the UTC hour ``at`` (seconds since the epoch) falls in."""
    moment = dt.datetime.fromtimestamp(at, dt.UTC)
    return moment.replace(minute=0, second=0, microsecond=0)


def next_hour(at: float) -> float:
    """When the hour bucket ``at`` falls in is over (seconds since the epoch)."""
    return (hour_of(at) + dt.timedelta(hours=1)).timestamp()


@dataclass(frozen=True, slots=True)
class Sample:
    """One stored row of ``quality_samples``; the fields are exactly its columns."""

    call_id: str
    bucket: dt.datetime
    """Start of the UTC hour the sample arrived in."""
    bitrate_out_kbps: float | None
    bitrate_in_kbps: float | None
    loss_pct: float | None
    rtt_ms: float | None
    jitter_ms: float | None
    fps: float | None
    height: int | None
    local_candidate: str
    remote_candidate: str
    errors: str
    """The reported error codes, sorted and without repeats (the order says nothing)."""

    @classmethod
    def of(cls, call_id: str, message: p.Quality, at: float) -> Sample:
        return cls(
            call_id=call_id,
            bucket=hour_of(at),
            bitrate_out_kbps=message.bitrate_out_kbps,
            bitrate_in_kbps=message.bitrate_in_kbps,
            loss_pct=message.loss_pct,
            rtt_ms=message.rtt_ms,
            jitter_ms=message.jitter_ms,
            fps=message.fps,
            height=message.height,
            local_candidate=message.local_candidate.value,
            remote_candidate=message.remote_candidate.value,
            errors=",".join(sorted(message.error_codes)),
        )


class SampleBuffer:
    """Samples of hours not yet over; handed out shuffled once their hour is."""

    def __init__(self, limit: int = MAX_BUFFERED) -> None:
        self.limit = limit
        self._samples: list[Sample] = []
        self._warned = False

    def __len__(self) -> int:
        return len(self._samples)

    def add(self, sample: Sample) -> None:
        if len(self._samples) >= self.limit:
            if not self._warned:
                log.warning("quality buffer full: samples dropped until the next write")
                self._warned = True
            return
        self._samples.append(sample)

    def take_finished(self, now: float) -> list[Sample]:
        """The samples of hours before ``now``'s, in random order; they leave the buffer."""
        current = hour_of(now)
        if not self._samples or self._samples[0].bucket >= current:
            return []  # samples arrive in time order: the oldest decides (every tick)
        done = [s for s in self._samples if s.bucket < current]
        if done:
            self._samples = [s for s in self._samples if s.bucket >= current]
            self._warned = False
        return _shuffled(done)

    def take_all(self) -> list[Sample]:
        """Everything, in random order (at shutdown)."""
        done, self._samples, self._warned = self._samples, [], False
        return _shuffled(done)


def _shuffled(samples: list[Sample]) -> list[Sample]:
    secrets.SystemRandom().shuffle(samples)
    return samples


def retention_cutoff(now: dt.datetime, days: int) -> dt.datetime:
    """Samples whose hour began before this are deleted."""
    if not 0 <= days <= MAX_RETENTION_DAYS:
        raise ValueError(f"quality samples are kept at most {MAX_RETENTION_DAYS} days")
    return now - dt.timedelta(days=days)
