"""Operator metrics: the text format, the token, and live counts during a real in-process call."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient, WebSocketTestSession

from sprechzimmer import protocol as p
from sprechzimmer.app import create_app
from sprechzimmer.config import Settings
from sprechzimmer.hub import Admission, Hub
from sprechzimmer.metrics import Counters, Histogram, Live, render
from sprechzimmer.quality import hour_of
from sprechzimmer.room import RoomConfig
from sprechzimmer.store import Store, quality_samples

from ..conftest import make_settings
from ..helpers import Invite, add_therapist, hello, new_invite

TOKEN = "m" * 40
AUTH = {"authorization": f"Bearer {TOKEN}"}
ORIGIN = {"origin": "http://testserver"}
SAMPLE = {
    "type": "quality",
    "bitrate_out_kbps": 1200,
    "bitrate_in_kbps": 1100.5,
    "loss_pct": 0.4,
    "rtt_ms": 80,
    "jitter_ms": 4.5,
    "fps": 30,
    "height": 720,
    "local_candidate": "relay",
    "remote_candidate": "srflx",
    "errors": "ice-restart",
}
LINE = re.compile(r'^[a-z_]+(\{[a-z]+="[^"]*"\})? -?[0-9.e+Inf]+$')


def values(text: str) -> dict[str, float]:
    """``name{labels}`` -> value, for every sample line of a Prometheus text."""
    out = {}
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        assert LINE.match(line), line
        name, value = line.rsplit(" ", 1)
        out[name] = float(value)
    return out


# --- the text format, pure ---------------------------------------------------------


def test_histogram_buckets_are_cumulative() -> None:
    h = Histogram((10.0, 100.0))
    for v in (5.0, 10.0, 50.0, 500.0):
        h.observe(v)
    assert h.lines("x", "help")[2:] == [
        'x_bucket{le="10"} 2',
        'x_bucket{le="100"} 3',
        'x_bucket{le="+Inf"} 4',
        "x_sum 565",
        "x_count 4",
    ]


def test_render_counts_samples_and_only_measured_values() -> None:
    counters = Counters()
    counters.observe(p.Quality(rtt_ms=30.0, loss_pct=0.0, errors="no-key,ice-failed"))
    counters.observe(p.Quality(bitrate_out_kbps=900.0))
    counters.rekeys = 3
    got = values(render(Live(connections=5, calls=4, waiting=1, calls_relayed=1), counters))
    assert got["sprechzimmer_signaling_connections"] == 5
    assert got["sprechzimmer_calls"] == 4
    assert got["sprechzimmer_waiting_clients"] == 1
    assert got["sprechzimmer_calls_relayed"] == 1
    assert got["sprechzimmer_calls_relayed_ratio"] == 0.25
    assert got["sprechzimmer_rekeys_total"] == 3
    assert got["sprechzimmer_quality_samples_total"] == 2
    assert got["sprechzimmer_quality_rtt_milliseconds_count"] == 1
    assert got['sprechzimmer_quality_rtt_milliseconds_bucket{le="25"}'] == 0
    assert got['sprechzimmer_quality_rtt_milliseconds_bucket{le="50"}'] == 1
    assert got['sprechzimmer_quality_loss_percent_bucket{le="0"}'] == 1
    assert got["sprechzimmer_quality_bitrate_out_kbps_sum"] == 900
    assert got['sprechzimmer_quality_errors_total{code="no-key"}'] == 1
    assert got['sprechzimmer_quality_errors_total{code="gum-failed"}'] == 0


def test_no_calls_is_a_ratio_of_zero_and_labels_are_only_bounds_and_codes() -> None:
    text = render(Live(0, 0, 0, 0), Counters())
    assert values(text)["sprechzimmer_calls_relayed_ratio"] == 0
    labels = set(re.findall(r"\{([a-z]+)=", text))
    assert labels == {"le", "code"}


# --- the endpoint, in-process --------------------------------------------------------

Environment = tuple[TestClient, Invite, Store]


@contextmanager
def running_app(tmp_path: Path, database_url: str, store: Store) -> Iterator[Environment]:
    with store.engine.begin() as c:
        c.execute(quality_samples.delete())  # PostgreSQL is shared between tests
    settings = make_settings(tmp_path, database_url, metrics_token=TOKEN)
    invite = new_invite(store, settings, add_therapist(store))
    with TestClient(create_app(settings, store)) as client:
        yield client, invite, store


@pytest.fixture
def env(tmp_path: Path, database_url: str, store: Store) -> Iterator[Environment]:
    with running_app(tmp_path, database_url, store) as environment:
        yield environment


def test_metrics_are_absent_without_a_token_setting(settings: Settings, store: Store) -> None:
    with TestClient(create_app(settings, store)) as client:
        for headers in ({}, AUTH):
            response = client.get("/metrics", headers=headers)
            assert response.status_code == 404
            assert response.json()["error"]["code"] == "not-found"


def test_metrics_refuse_a_missing_or_wrong_token(env: Environment) -> None:
    client, *_ = env
    for headers in (
        {},
        {"authorization": "Bearer " + "x" * 40},
        {"authorization": "Bearer " + TOKEN[:-1]},
        {"authorization": "Bearer " + TOKEN + "x"},
        {"authorization": "Basic " + TOKEN},
        {"authorization": TOKEN},
        {"authorization": "Bearer"},
    ):
        response = client.get("/metrics", headers=headers)
        assert response.status_code == 401, headers
        error = response.json()["error"]
        assert error["code"] == "not-authenticated" and error["message"] and error["message_de"]
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert "sprechzimmer_" not in response.text
    assert client.get("/metrics", headers={"authorization": "bearer " + TOKEN}).status_code == 200


def scrape(client: TestClient) -> dict[str, float]:
    response = client.get("/metrics", headers=AUTH)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert response.headers["cache-control"] == "no-store"
    return values(response.text)


def connect(client: TestClient) -> Any:
    return client.websocket_connect("/ws", headers=ORIGIN)


def join_call(
    client: TestClient, invite: Invite, stack: ExitStack
) -> tuple[WebSocketTestSession, WebSocketTestSession]:
    t = stack.enter_context(connect(client))
    c = stack.enter_context(connect(client))
    t.send_json(hello(invite.session, invite.therapist_token))
    assert t.receive_json()["type"] == "welcome"
    c.send_json(hello(invite.session, invite.client_token))
    assert [c.receive_json()["type"] for _ in range(2)] == ["welcome", "waiting"]
    assert t.receive_json()["type"] == "knock"
    return t, c


def test_a_call_shows_in_the_metrics_and_its_samples_are_anonymous(
    tmp_path: Path, database_url: str, store: Store
) -> None:
    with running_app(tmp_path, database_url, store) as (client, invite, _):
        run_a_call_with_one_sample(client, invite)
        # The sample waits in memory for its hour to end; stopping the app writes it.
        assert store.quality_samples() == []
    (row,) = store.quality_samples()
    assert row.rtt_ms == 80.0 and row.local_candidate == "relay" and row.errors == "ice-restart"
    assert row.bucket == hour_of(row.bucket.timestamp())
    assert len(row.call_id) == 24
    forbidden = {invite.session, invite.therapist_token, invite.client_token, "K-1", "client"}
    assert not {str(v) for v in dataclasses.astuple(row)} & forbidden


def run_a_call_with_one_sample(client: TestClient, invite: Invite) -> None:
    before = scrape(client)
    assert before["sprechzimmer_signaling_connections"] == 0
    assert before["sprechzimmer_quality_samples_total"] == 0
    with ExitStack() as stack:
        t, c = join_call(client, invite, stack)
        waiting = scrape(client)
        assert waiting["sprechzimmer_waiting_clients"] == 1 and waiting["sprechzimmer_calls"] == 0

        t.send_json({"type": "admit"})
        admitted = t.receive_json()
        assert admitted["max_bitrate_kbps"] == 2500
        assert admitted["relay_max_bitrate_kbps"] == 1000
        assert c.receive_json()["type"] == "admitted"
        c.send_json(SAMPLE)
        c.send_json({"type": "ping"})  # the pong says the sample went through the hub
        assert c.receive_json() == {"type": "pong"}

        during = scrape(client)
        assert during["sprechzimmer_signaling_connections"] == 2
        assert during["sprechzimmer_calls"] == 1
        assert during["sprechzimmer_waiting_clients"] == 0
        assert during["sprechzimmer_calls_relayed"] == 1
        assert during["sprechzimmer_calls_relayed_ratio"] == 1
        assert during["sprechzimmer_quality_samples_total"] == 1
        assert during["sprechzimmer_quality_rtt_milliseconds_count"] == 1
        assert during['sprechzimmer_quality_rtt_milliseconds_bucket{le="100"}'] == 1
        assert during['sprechzimmer_quality_rtt_milliseconds_bucket{le="50"}'] == 0
        assert during["sprechzimmer_quality_loss_percent_count"] == 1
        assert during["sprechzimmer_quality_bitrate_out_kbps_sum"] == 1200
        assert during['sprechzimmer_quality_errors_total{code="ice-restart"}'] == 1
        text = client.get("/metrics", headers=AUTH).text
        assert invite.session not in text and "K-1" not in text

        c.send_json({"type": "bye"})
        assert t.receive_json()["type"] == "peer-left"
    after = scrape(client)
    assert after["sprechzimmer_calls"] == 0
    assert after["sprechzimmer_quality_samples_total"] == 1  # a counter stays


# --- the hub, with its own clock: rekeys and writing samples once their hour is over -----


class FakeSocket:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def try_send_now(self, data: bytes) -> bool:
        self.sent.append(data)
        return True

    async def send_text(self, data: bytes) -> None:
        self.sent.append(data)

    async def close(self, code: int) -> None:
        pass

    def abort(self) -> None:
        pass


async def test_hub_counts_rekeys_and_writes_finished_hours(
    store: Store, settings: Settings
) -> None:
    with store.engine.begin() as c:
        c.execute(quality_samples.delete())
    invite = new_invite(store, settings, add_therapist(store))
    start = dt.datetime(2026, 12, 5, 9, 59, 0, tzinfo=dt.UTC).timestamp()
    now = [start]
    ids = iter(["first-call", "second-call"])
    hub = Hub(
        store,
        room=RoomConfig(rekey_interval=20.0, call_ids=lambda: next(ids)),
        clock=lambda: now[0],
    )
    t, c = hub.attach(FakeSocket()), hub.attach(FakeSocket())
    await hub.join(t, Admission(invite.session, "K-1", p.Role.THERAPIST), None)
    await hub.join(
        c, Admission(invite.session, "K-1", p.Role.CLIENT), None, name="Frau K", consent=True
    )
    await hub.receive(t, p.Admit())
    await hub.receive(c, p.Quality(rtt_ms=20.0))
    assert hub.live() == Live(connections=2, calls=1, waiting=0, calls_relayed=0)

    for step in (10.0, 20.0, 30.0, 40.0):  # at 20 and 40 s the keys are renewed
        now[0] = start + step
        for conn in (t, c):
            await hub.receive(conn, p.Ping())
        await hub.tick()
    assert hub.counters.rekeys == 2
    assert store.quality_samples() == []  # 09:59:40: the hour is not over

    now[0] = start + 61  # 10:00:01
    await hub.receive(t, p.Quality(rtt_ms=30.0))
    await hub.tick()
    (written,) = store.quality_samples()
    assert written.call_id == "first-call" and written.rtt_ms == 20.0
    assert written.bucket == dt.datetime(2026, 12, 5, 9, 0, tzinfo=dt.UTC)
    await hub.flush_samples()
    assert [s.rtt_ms for s in store.quality_samples()] == [20.0, 30.0]


async def test_retention_zero_keeps_nothing_but_counts(store: Store, settings: Settings) -> None:
    with store.engine.begin() as c:
        c.execute(quality_samples.delete())
    invite = new_invite(store, settings, add_therapist(store))
    hub = Hub(store, keep_quality=False)
    t, c = hub.attach(FakeSocket()), hub.attach(FakeSocket())
    await hub.join(t, Admission(invite.session, "K-1", p.Role.THERAPIST), None)
    await hub.join(
        c, Admission(invite.session, "K-1", p.Role.CLIENT), None, name="Frau K", consent=True
    )
    await hub.receive(t, p.Admit())
    await hub.receive(c, p.Quality(rtt_ms=20.0))
    await hub.flush_samples()
    assert hub.counters.samples == 1 and store.quality_samples() == []
