"""Limits per socket, per seat, per session and per request, in-process and pure.

Each attack gets its documented error, and the well-behaved member next to it
loses nothing: its socket stays open, its call goes on, its events are kept.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient, WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect

from sprechzimmer import protocol as p
from sprechzimmer.app import create_app
from sprechzimmer.events import EventKind
from sprechzimmer.protocol import Role
from sprechzimmer.ratelimit import TokenBucket
from sprechzimmer.room import BillingEvent, Room, RoomConfig
from sprechzimmer.store import Store

from ..conftest import make_settings
from ..helpers import Invite, add_therapist, hello, new_invite
from .test_signaling import ORIGIN, expect_close, join_call

CLIENT: dict[str, object] = {"name": "Klientin K.", "consent": True}
"""What a client's hello says before it takes its seat: its name and its consent."""


def kinds(store: Store, session: str) -> Counter[tuple[str, str]]:
    return Counter((e.role.value, e.kind.value) for e in store.events_of(session))


@pytest.fixture
def limited(tmp_path: Path, database_url: str, store: Store) -> Iterator[tuple[TestClient, Invite]]:
    settings = make_settings(
        tmp_path,
        database_url,
        rate_messages=5,
        rate_burst=20,
        seat_joins=5,
        max_pending_sockets=2,
        max_events_per_session=100,
        max_body_bytes=4096,
    )
    invite = new_invite(store, settings, add_therapist(store))
    with TestClient(create_app(settings, store)) as client:
        yield client, invite


def connect(client: TestClient) -> Any:
    return client.websocket_connect("/ws", headers=ORIGIN)


# --- pure ---------------------------------------------------------------------------------


def test_token_bucket_allows_a_burst_then_the_rate() -> None:
    bucket = TokenBucket(rate=2.0, burst=5)
    assert [bucket.take(0.0) for _ in range(6)] == [True] * 5 + [False]
    assert bucket.take(0.4) is False  # 0.8 of a token
    assert bucket.take(0.5) is True
    assert [bucket.take(10.0) for _ in range(6)] == [True] * 5 + [False]  # never above burst


def test_media_flapping_is_recorded_once_per_debounce_and_the_last_state_wins() -> None:
    r = Room("d" * 32, "K", RoomConfig(heartbeat_interval=1000.0, media_debounce=2.0))
    r.join(1, Role.THERAPIST, None, "rt", 0.0)
    r.join(2, Role.CLIENT, None, "rc", 0.0, **CLIENT)
    r.receive(1, p.Admit(), 0.0)
    records: list[BillingEvent] = []
    state = p.MediaState.CONNECTED
    for i in range(100):  # 100 toggles within one second
        out = r.receive(2, p.Media(state), i / 100)
        records += [o for o in out if isinstance(o, BillingEvent)]
        state = (
            p.MediaState.DISCONNECTED if state is p.MediaState.CONNECTED else p.MediaState.CONNECTED
        )
    assert [(o.kind, o.at) for o in records] == [(EventKind.MEDIA_CONNECTED, 0.0)]
    # The last report (disconnected, at 0.99 s) goes on file when the debounce is over.
    assert r.next_deadline() == 2.0
    out = r.tick(2.0)
    assert [(o.kind, o.at) for o in out if isinstance(o, BillingEvent)] == [
        (EventKind.MEDIA_DISCONNECTED, 0.99)
    ]
    # A loss still waiting for the debounce counts from when it was reported.
    r.receive(2, p.Media(p.MediaState.CONNECTED), 3.0)  # pending until 4.0
    out = r.tick(4.0)
    assert [o.kind for o in out if isinstance(o, BillingEvent)] == [EventKind.MEDIA_CONNECTED]
    r.receive(2, p.Media(p.MediaState.DISCONNECTED), 4.5)
    out = r.receive(2, p.Bye(), 5.0)
    assert [(o.kind, o.at) for o in out if isinstance(o, BillingEvent)] == [
        (EventKind.MEDIA_DISCONNECTED, 4.5),
        (EventKind.LEFT, 5.0),
    ]


# --- in-process ---------------------------------------------------------------------------


def test_a_flooding_member_is_closed_and_the_other_keeps_its_seat(
    limited: tuple[TestClient, Invite], store: Store
) -> None:
    client, invite = limited
    with ExitStack() as stack:
        t, c = join_call(client, invite, stack)
        t.send_json({"type": "media", "state": "connected"})
        for _ in range(60):  # far over a burst of 20 at 5 a second
            c.send_json({"type": "ping"})
        message: dict[str, Any] = {"type": "pong"}
        pongs = -1
        while message["type"] == "pong":
            message = c.receive_json()
            pongs += 1
        assert message["code"] == "slow-down" and message["fatal"] is True
        assert message["message_de"].startswith("Zu viele Nachrichten")
        assert 20 <= pongs < 60
        with pytest.raises(WebSocketDisconnect) as closed:
            c.receive_json()
        assert closed.value.code == 4429
        assert t.receive_json() == {
            "type": "peer-left",
            "role": "client",
            "reason": "disconnected",
            "seat": 1,
        }
        t.send_json({"type": "ping"})
        assert t.receive_json() == {"type": "pong"}
    events = kinds(store, invite.session)
    assert events[("therapist", "media_connected")] == 1
    assert events[("client", "left")] == 1


def test_a_seat_that_joins_in_a_loop_is_refused(
    limited: tuple[TestClient, Invite], store: Store
) -> None:
    client, invite = limited
    with connect(client) as t:
        t.send_json(hello(invite.session, invite.therapist_token))
        t.receive_json()
        for _ in range(5):
            with connect(client) as c:
                c.send_json(hello(invite.session, invite.client_token))
                assert c.receive_json()["type"] == "welcome"
                assert c.receive_json()["type"] == "waiting"
            assert t.receive_json()["type"] == "knock"
            assert t.receive_json()["type"] == "knock-cancelled"
        with connect(client) as c:
            c.send_json(hello(invite.session, invite.client_token))
            expect_close(c, "slow-down", 4429)
        t.send_json({"type": "ping"})
        assert t.receive_json() == {"type": "pong"}  # no sixth knock before it
    events = kinds(store, invite.session)
    assert events[("client", "joined")] == events[("client", "left")] == 5


def test_sockets_that_never_sign_in_are_capped(limited: tuple[TestClient, Invite]) -> None:
    client, invite = limited
    with connect(client) as first, connect(client):
        with pytest.raises(WebSocketDenialResponse) as denied, connect(client):
            pass
        assert denied.value.status_code == 503
        assert denied.value.json()["error"]["code"] == "server-busy"
        first.send_json(hello(invite.session, invite.therapist_token))
        assert first.receive_json()["type"] == "welcome"
        with connect(client) as third:  # one place is free again
            third.send_json(hello(invite.session, invite.client_token))
            assert third.receive_json()["type"] == "welcome"


def test_a_session_keeps_at_most_its_bound_of_events(
    tmp_path: Path, database_url: str, store: Store
) -> None:
    settings = make_settings(tmp_path, database_url, max_events_per_session=100, seat_joins=1000)
    invite = new_invite(store, settings, add_therapist(store))
    with TestClient(create_app(settings, store)) as client:
        for _ in range(50):  # 100 events
            with connect(client) as c:
                c.send_json(hello(invite.session, invite.client_token))
                c.receive_json(), c.receive_json()
        for _ in range(10):  # at the bound: no new join
            with connect(client) as c:
                c.send_json(hello(invite.session, invite.client_token))
                expect_close(c, "slow-down", 4429)
    events = kinds(store, invite.session)
    assert events == {("client", "joined"): 50, ("client", "left"): 50}


def test_a_request_body_over_the_bound_gets_413(limited: tuple[TestClient, Invite]) -> None:
    client, _ = limited
    big = {"code": "dr-test", "password": "x" * 10_000}
    response = client.post("/api/v1/login", json=big)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request-too-large"
    assert response.headers["x-content-type-options"] == "nosniff"

    def chunks() -> Iterator[bytes]:  # no Content-Length: the stream is counted
        yield b'{"code": "dr-test", "password": "'
        for _ in range(10):
            yield b"x" * 1000
        yield b'"}'

    streamed = client.post(
        "/api/v1/login", content=chunks(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413
    assert streamed.json()["error"]["code"] == "request-too-large"
    # A normal login still works.
    ok = client.post("/api/v1/login", json={"code": "dr-test", "password": "wrong password"})
    assert ok.status_code == 401
