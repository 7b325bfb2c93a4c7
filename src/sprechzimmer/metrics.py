"""Operator metrics: live counts from the hub and quality histograms, as Prometheus text.

``GET /metrics`` answers only with the bearer token ``SPRECHZIMMER_METRICS_TOKEN``
(unset: 404, as if there were no such endpoint). Everything here is a count
over the whole service: no label ever carries a session, client, call id,
role or address, only histogram bounds (``le``) and error codes from the
fixed list of ``protocol.QUALITY_ERROR_CODES``. Counters live in memory and
start from zero with the process.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from fastapi import Request, Response
from fastapi.responses import JSONResponse

from . import protocol as p
from .accounts import same_secret
from .errors import NotAuthenticated, NotFound, error_body

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

RTT_BOUNDS_MS = (25.0, 50.0, 100.0, 150.0, 200.0, 300.0, 500.0, 1000.0, 2000.0)
LOSS_BOUNDS_PCT = (0.0, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0)
BITRATE_BOUNDS_KBPS = (50.0, 100.0, 250.0, 500.0, 1000.0, 1500.0, 2500.0, 4000.0, 8000.0)


class Histogram:
    """A cumulative Prometheus histogram with fixed upper bounds."""

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self.buckets = [0] * len(self.bounds)
        self.count = 0
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.count += 1
        self.sum += value
        for i, bound in enumerate(self.bounds):
            if value <= bound:
                self.buckets[i] += 1

    def lines(self, name: str, help_text: str) -> list[str]:
        out = [f"# HELP {name} {help_text}", f"# TYPE {name} histogram"]
        for bound, n in zip(self.bounds, self.buckets, strict=True):
            out.append(f'{name}_bucket{{le="{_number(bound)}"}} {n}')
        out.append(f'{name}_bucket{{le="+Inf"}} {self.count}')
        out.append(f"{name}_sum {_number(self.sum)}")
        out.append(f"{name}_count {self.count}")
        return out


class Counters:
    """What happened since the process started."""

    def __init__(self) -> None:
        self.rekeys = 0
        self.samples = 0
        self.errors = dict.fromkeys(sorted(p.QUALITY_ERROR_CODES), 0)
        self.rtt = Histogram(RTT_BOUNDS_MS)
        self.loss = Histogram(LOSS_BOUNDS_PCT)
        self.bitrate_out = Histogram(BITRATE_BOUNDS_KBPS)

    def observe(self, sample: p.Quality) -> None:
        self.samples += 1
        if sample.rtt_ms is not None:
            self.rtt.observe(sample.rtt_ms)
        if sample.loss_pct is not None:
            self.loss.observe(sample.loss_pct)
        if sample.bitrate_out_kbps is not None:
            self.bitrate_out.observe(sample.bitrate_out_kbps)
        for code in sample.error_codes:
            self.errors[code] += 1


@dataclass(frozen=True)
class Live:
    """The hub's state right now."""

    connections: int
    """Open signaling sockets, authenticated or not."""
    calls: int
    """Rooms with both members present and the client admitted."""
    waiting: int
    """Clients in a waiting room."""
    calls_relayed: int
    """Calls whose latest quality sample reports a relay candidate on either end."""


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(int(value)) if value == int(value) else repr(value)


def _single(name: str, kind: str, help_text: str, value: float) -> list[str]:
    return [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", f"{name} {_number(value)}"]


def render(live: Live, counters: Counters) -> str:
    """The Prometheus text exposition (format 0.0.4)."""
    ratio = live.calls_relayed / live.calls if live.calls else 0.0
    lines = [
        *_single(
            "sprechzimmer_signaling_connections",
            "gauge",
            "Open signaling WebSocket connections.",
            live.connections,
        ),
        *_single("sprechzimmer_calls", "gauge", "Calls in progress.", live.calls),
        *_single(
            "sprechzimmer_waiting_clients", "gauge", "Clients in a waiting room.", live.waiting
        ),
        *_single(
            "sprechzimmer_calls_relayed",
            "gauge",
            "Calls in progress whose latest quality sample goes through the TURN relay.",
            live.calls_relayed,
        ),
        *_single(
            "sprechzimmer_calls_relayed_ratio",
            "gauge",
            "Share of the calls in progress that go through the TURN relay (0 without calls).",
            ratio,
        ),
        *_single(
            "sprechzimmer_rekeys_total",
            "counter",
            "Key renewals the server asked calls for.",
            counters.rekeys,
        ),
        *_single(
            "sprechzimmer_quality_samples_total",
            "counter",
            "Quality samples received from browsers.",
            counters.samples,
        ),
        "# HELP sprechzimmer_quality_errors_total Error codes reported in quality samples.",
        "# TYPE sprechzimmer_quality_errors_total counter",
        *(
            f'sprechzimmer_quality_errors_total{{code="{code}"}} {n}'
            for code, n in counters.errors.items()
        ),
        *counters.rtt.lines(
            "sprechzimmer_quality_rtt_milliseconds", "Round-trip time reported by browsers."
        ),
        *counters.loss.lines(
            "sprechzimmer_quality_loss_percent", "Inbound packet loss reported by browsers."
        ),
        *counters.bitrate_out.lines(
            "sprechzimmer_quality_bitrate_out_kbps", "Outgoing bitrate reported by browsers."
        ),
    ]
    return "\n".join(lines) + "\n"


def _bearer(request: Request) -> str | None:
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else None


async def metrics_endpoint(request: Request) -> Response:
    token: str = request.app.state.settings.metrics_token
    if not token:
        return JSONResponse(error_body(NotFound()), status_code=NotFound.http_status)
    given = _bearer(request)
    if given is None or not same_secret(given, token):
        return JSONResponse(
            error_body(NotAuthenticated()),
            status_code=NotAuthenticated.http_status,
            headers={"WWW-Authenticate": 'Bearer realm="metrics"', "Cache-Control": "no-store"},
        )
    hub = request.app.state.hub
    return Response(
        render(hub.live(), hub.counters),
        media_type=CONTENT_TYPE,
        headers={"Cache-Control": "no-store"},
    )
