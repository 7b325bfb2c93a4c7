"""Rate limits, pure: time is passed in.

``RateLimiter`` is a sliding-window counter of attempts keyed by a name (logins
per therapist code, joins per seat); ``TokenBucket`` bounds one socket's
messages. Nothing is ever keyed by an IP address: we keep no addresses, not
even in memory.
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
