"""Rate limits, pure: time is passed in.

``RateLimiter`` is a sliding-window counter of attempts keyed by a name (all
logins together, joins per seat); ``Backoff`` slows down failed logins per
therapist code (and per known browser) without ever locking them;
``TokenBucket`` bounds one socket's messages. Nothing is ever keyed by an IP
address: we keep no addresses, not even in memory.
"""

from __future__ import annotations

import contextlib
from collections import deque
from dataclasses import dataclass, field


@dataclass
class RateLimiter:
    limit: int
    window: float
    max_keys: int = 10_000
    _hits: dict[str, deque[float]] = field(default_factory=dict)

    def _prune(self, key: str, now: float) -> deque[float]:
        hits = self._hits.get(key)
        if hits is None:
            return deque()
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if not hits:
            del self._hits[key]
        return hits

    def blocked(self, key: str, now: float) -> bool:
        return len(self._prune(key, now)) >= self.limit

    def hit(self, key: str, now: float) -> None:
        self._prune(key, now)
        if key not in self._hits and len(self._hits) >= self.max_keys:
            # Bounded memory under a flood of made-up codes: forget the oldest key.
            del self._hits[next(iter(self._hits))]
        self._hits.setdefault(key, deque()).append(now)

    def reset(self, key: str) -> None:
        self._hits.pop(key, None)

    def unhit(self, key: str, at: float) -> None:
        """Take back the hit counted ``at`` (an attempt counted before it turned
        out to be a good one)."""
        hits = self._hits.get(key)
        if hits is not None:
            with contextlib.suppress(ValueError):
                hits.remove(at)
            if not hits:
                del self._hits[key]


@dataclass
class _Tries:
    failures: int = 0
    last_failure: float = 0.0
    in_flight: int = 0


@dataclass
class Backoff:
    """Failed attempts make the next one wait, growing, never locked for good.

    The first ``free`` failures cost nothing. After them, the next attempt may
    start ``base * 2**k`` seconds after the last failure (``k`` failures past the
    free ones), at most ``cap`` seconds. An attempt counts from the moment it
    starts, so that guesses sent in parallel cannot slip past while the first
    ones are still being checked: beyond the free ones, one at a time. A
    success forgets the key's failures, and so does ``forget`` seconds of quiet.
    """

    free: int
    forget: float
    cap: float
    base: float = 1.0
    max_keys: int = 10_000
    _tries: dict[str, _Tries] = field(default_factory=dict)

    def delay(self, failures: int) -> float:
        over = failures - self.free
        return 0.0 if over < 0 else min(self.cap, self.base * 2.0**over)

    def wait(self, key: str, now: float) -> float:
        """Seconds until an attempt for ``key`` may start (0: now)."""
        tries = self._current(key, now)
        if tries is None or tries.failures + tries.in_flight < self.free:
            return 0.0
        if tries.in_flight:
            return max(self.base, self.delay(tries.failures + tries.in_flight))
        return max(0.0, tries.last_failure + self.delay(tries.failures) - now)

    def start(self, key: str, now: float) -> float:
        """Start an attempt if it may start now (0.0), else the seconds to wait."""
        waiting = self.wait(key, now)
        if waiting > 0:
            return waiting
        tries = self._tries.get(key)
        if tries is None:
            self._make_room()
            tries = self._tries[key] = _Tries()
        tries.in_flight += 1
        return 0.0

    def finish(self, key: str, ok: bool, now: float) -> None:
        tries = self._tries.get(key)
        if tries is None:
            return
        tries.in_flight = max(0, tries.in_flight - 1)
        if ok:
            tries.failures = 0
        else:
            tries.failures += 1
            tries.last_failure = now
        if tries.failures == 0 and tries.in_flight == 0:
            del self._tries[key]

    def _current(self, key: str, now: float) -> _Tries | None:
        tries = self._tries.get(key)
        if tries is not None and not tries.in_flight and now - tries.last_failure >= self.forget:
            del self._tries[key]
            return None
        return tries

    def _make_room(self) -> None:
        # Bounded memory under a flood of made-up codes: forget the oldest key
        # that has no attempt running.
        if len(self._tries) < self.max_keys:
            return
        for key, tries in self._tries.items():
            if not tries.in_flight:
                del self._tries[key]
                return


@dataclass
class TokenBucket:
    """``rate`` messages a second on average, ``burst`` at once (a call's first ICE candidates)."""

    rate: float
    burst: float
    tokens: float = -1.0
    updated: float = 0.0

    def take(self, now: float) -> bool:
        if self.tokens < 0:
            self.tokens, self.updated = self.burst, now
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True
