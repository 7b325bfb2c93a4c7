"""Seats in the store and the signaling server, on SQLite and PostgreSQL (issue 16):
a link per client seat, the limit, the seat on every token and event, and a
migration that cannot lose a group's seats."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, text
from starlette.testclient import TestClient

from sprechzimmer import seats, sessions
from sprechzimmer.app import create_app
from sprechzimmer.errors import TooManySeats
from sprechzimmer.events import EventKind
from sprechzimmer.migrate import downgrade, upgrade
from sprechzimmer.protocol import Role
from sprechzimmer.store import EventInfo, Store
from sprechzimmer.tokens import digest

from ..conftest import make_settings
from ..helpers import add_therapist, hello, token_of

NOW = dt.datetime.now(dt.UTC)
ORIGIN = {"origin": "http://testserver"}


def _stored_events(store: Store, session_id: str) -> list[tuple[str, int, str]]:
    """The session's events as the table holds them: role, seat, kind, in order."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT role, seat, kind FROM events WHERE session_id = :s ORDER BY id"),
            {"s": session_id},
        ).all()
    return [(role, seat, kind) for role, seat, kind in rows]


def test_a_group_session_has_a_link_for_each_seat(
    tmp_path: Path, database_url: str, store: Store
) -> None:
    settings = make_settings(tmp_path, database_url, group_sessions=True)
    therapist = add_therapist(store)
    invite = sessions.create_session(store, settings, therapist, "Gruppe-Mo", NOW, 3)
    assert len(invite.client_urls) == 3 and invite.client_url == invite.client_urls[0]
    links = [token_of(url) for url in (invite.therapist_url, *invite.client_urls)]
    assert len({token for _, token in links}) == 4
    for seat, (session_id, token) in enumerate(links):
        found = store.lookup_token(digest(token))
        assert found is not None and found.session.id == session_id == invite.session_id
        assert (found.seat, found.role) == (seat, seats.role_of(seat))
        assert found.session.seats == 3
    assert sorted(seat for _, seat, _ in store.tokens_of(invite.session_id)) == [0, 1, 2, 3]

    session = store.get_session(invite.session_id)
    assert session is not None
    renewed = sessions.new_links(store, settings, session, NOW)
    assert len(renewed.client_urls) == 3
    every = sorted(seat for _, seat, _ in store.tokens_of(invite.session_id))
    assert every == [0, 0, 1, 1, 2, 2, 3, 3]


def test_nine_client_seats_are_refused_and_nothing_is_stored(
    tmp_path: Path, database_url: str, store: Store
) -> None:
    settings = make_settings(tmp_path, database_url, group_sessions=True)
    therapist = add_therapist(store)
    for wrong in (0, 9):
        with pytest.raises(TooManySeats):
            sessions.create_session(store, settings, therapist, "Gruppe", NOW, wrong)
    assert store.list_sessions(therapist) == []
    with pytest.raises(TooManySeats):
        store.create_session("a" * 32, therapist, "G", NOW, NOW, {}, client_seats=9)
    assert store.list_sessions(therapist) == []
    # A token for a seat the session does not have is refused, not stored.
    store.create_session("b" * 32, therapist, "G", NOW, NOW, {}, client_seats=2)
    with pytest.raises(ValueError, match="no seat 3"):
        store.add_tokens("b" * 32, {3: "3" * 64}, NOW)
    assert store.tokens_of("b" * 32) == []


def test_events_keep_their_seat(store: Store) -> None:
    therapist = add_therapist(store)
    store.create_session("c" * 32, therapist, "G", NOW, NOW, {}, client_seats=8)
    events = [
        EventInfo("c" * 32, Role.THERAPIST, EventKind.JOINED, NOW),
        EventInfo("c" * 32, Role.CLIENT, EventKind.JOINED, NOW, 8),
        EventInfo("c" * 32, Role.CLIENT, EventKind.JOINED, NOW, 3),
    ]
    store.add_events(events)
    assert store.events_of("c" * 32) == events
    assert [e.seat for e in events] == [0, 8, 3]


def test_the_downgrade_refuses_to_fold_a_group_s_seats_together(store: Store) -> None:
    therapist = add_therapist(store)
    store.create_session("d" * 32, therapist, "G", NOW, NOW, {}, client_seats=2)
    store.add_events([EventInfo("d" * 32, Role.CLIENT, EventKind.JOINED, NOW, 2)])
    try:
        with pytest.raises(RuntimeError, match="group sessions"):
            downgrade(store.engine, "0004")
        # Refused before anything changed: the seat is still there.
        columns = {c["name"] for c in inspect(store.engine).get_columns("events")}
        assert "seat" in columns
        assert [e.seat for e in store.events_of("d" * 32)] == [2]
    finally:
        upgrade(store.engine)


def test_the_link_of_seat_two_joins_as_seat_two(
    tmp_path: Path, database_url: str, store: Store
) -> None:
    """Its events name seat 2, and its resume ticket is good for seat 2 only."""
    settings = make_settings(tmp_path, database_url, group_sessions=True)
    therapist = add_therapist(store)
    invite = sessions.create_session(store, settings, therapist, "Gruppe", NOW, 2)
    session_id, t_token = token_of(invite.therapist_url)
    _, c_token = token_of(invite.client_urls[1])
    with (
        TestClient(create_app(settings, store)) as client,
        client.websocket_connect("/ws", headers=ORIGIN) as t,
        client.websocket_connect("/ws", headers=ORIGIN) as c,
    ):
        t.send_json(hello(session_id, t_token))
        assert t.receive_json()["type"] == "welcome"
        c.send_json(hello(session_id, c_token))
        welcome = c.receive_json()
        assert welcome["role"] == "client" and welcome["resume"].startswith("r1.c2.")
        assert c.receive_json()["type"] == "waiting"
        assert t.receive_json()["type"] == "knock"
        t.send_json({"type": "admit"})
        assert t.receive_json()["type"] == "admitted"
        assert c.receive_json()["type"] == "admitted"
        c.send_json({"type": "bye"})
        assert t.receive_json()["type"] == "peer-left"
    stored = _stored_events(store, session_id)
    client_rows = [(seat, kind) for role, seat, kind in stored if role == "client"]
    assert client_rows[:3] == [(2, "joined"), (2, "admitted"), (2, "left")]
    assert {seat for role, seat, _ in stored if role == "therapist"} == {0}


def test_a_group_meets_through_the_server_each_message_to_its_seat(
    tmp_path: Path, database_url: str, store: Store
) -> None:
    """Three client seats knock, the therapist admits two, one by one: each knock
    names its seat, ``admitted`` names the others, an offer reaches only the seat it
    names, and the third client, still waiting, hears nothing of the call."""
    settings = make_settings(tmp_path, database_url, group_sessions=True)
    therapist = add_therapist(store)
    invite = sessions.create_session(store, settings, therapist, "Gruppe", NOW, 3)
    session_id, t_token = token_of(invite.therapist_url)
    tokens = [token_of(url)[1] for url in invite.client_urls]
    with (
        TestClient(create_app(settings, store)) as client,
        client.websocket_connect("/ws", headers=ORIGIN) as t,
        client.websocket_connect("/ws", headers=ORIGIN) as c1,
        client.websocket_connect("/ws", headers=ORIGIN) as c2,
        client.websocket_connect("/ws", headers=ORIGIN) as c3,
    ):
        t.send_json(hello(session_id, t_token))
        welcome = t.receive_json()
        # Each page knows the session is a group's (its keys and tiles).
        assert (welcome["seat"], welcome["seats"]) == (0, 3)
        for seat, ws in enumerate((c1, c2, c3), start=1):
            ws.send_json(hello(session_id, tokens[seat - 1]))
            welcome = ws.receive_json()
            assert (welcome["seat"], welcome["seats"]) == (seat, 3)
            assert ws.receive_json()["type"] == "waiting"
            knock = t.receive_json()
            assert (knock["type"], knock["seat"]) == ("knock", seat)
        t.send_json({"type": "admit", "seat": 1})
        assert [p["seat"] for p in t.receive_json()["peers"]] == [1]
        assert [p["seat"] for p in c1.receive_json()["peers"]] == [0]
        t.send_json({"type": "admit", "seat": 2})
        # The call starts anew with the second client: everyone gets the others.
        assert [p["seat"] for p in t.receive_json()["peers"]] == [1, 2]
        assert [p["seat"] for p in c1.receive_json()["peers"]] == [0, 2]
        assert [p["seat"] for p in c2.receive_json()["peers"]] == [0, 1]
        c2.send_json({"type": "offer", "sdp": "v=0\r\n", "to": 1})
        relayed = c1.receive_json()
        assert relayed == {"type": "offer", "sdp": "v=0\r\n", "from": "client", "from_seat": 2}
        # A ping answered in order shows nothing else was queued for the others.
        for ws in (t, c3):
            ws.send_json({"type": "ping"})
            assert ws.receive_json()["type"] == "pong"
        c1.send_json({"type": "bye"})
        for ws in (t, c2):
            left = ws.receive_json()
            assert (left["type"], left["seat"], left["reason"]) == ("peer-left", 1, "hangup")
        c3.send_json({"type": "ping"})
        assert c3.receive_json()["type"] == "pong"
    stored = [(seat, kind) for role, seat, kind in _stored_events(store, session_id)]
    clients = [(seat, kind) for seat, kind in stored if seat != 0]
    assert sorted({seat for seat, _ in clients}) == [1, 2, 3]
    assert sorted(seat for seat, kind in clients if kind == "admitted") == [1, 2]


def test_a_group_call_outlives_a_server_restart(
    tmp_path: Path, database_url: str, store: Store
) -> None:
    """A group of three in a call, the process goes; a new one on the same database
    rebuilds the room from the events: each member takes its own seat back with its
    ticket (no knock, no event), messages are routed by seat again, and a ticket of
    one client seat is no good for another."""
    settings = make_settings(tmp_path, database_url, group_sessions=True)
    therapist = add_therapist(store)
    invite = sessions.create_session(store, settings, therapist, "Gruppe", NOW, 2)
    session_id, t_token = token_of(invite.therapist_url)
    tokens = [t_token, *(token_of(url)[1] for url in invite.client_urls)]
    tickets: list[str] = []
    with (
        TestClient(create_app(settings, store)) as before,
        before.websocket_connect("/ws", headers=ORIGIN) as t,
        before.websocket_connect("/ws", headers=ORIGIN) as c1,
        before.websocket_connect("/ws", headers=ORIGIN) as c2,
    ):
        for ws, token in zip((t, c1, c2), tokens, strict=True):
            ws.send_json(hello(session_id, token))
            tickets.append(ws.receive_json()["resume"])
        for ws in (c1, c2):
            assert ws.receive_json()["type"] == "waiting"
        assert [t.receive_json()["seat"] for _ in range(2)] == [1, 2]  # two knocks
        t.send_json({"type": "admit"})
        for ws in (t, c1, c2):
            assert ws.receive_json()["type"] == "admitted"
            ws.send_json({"type": "media", "state": "connected"})
        t.send_json({"type": "ping"})
        assert t.receive_json() == {"type": "pong"}
    stored = len(store.events_of(session_id))

    with (
        TestClient(create_app(settings, store)) as after,
        after.websocket_connect("/ws", headers=ORIGIN) as t,
        after.websocket_connect("/ws", headers=ORIGIN) as c1,
        after.websocket_connect("/ws", headers=ORIGIN) as c2,
        after.websocket_connect("/ws", headers=ORIGIN) as swapped,
    ):
        # Seat 2's ticket on seat 1's link is somebody else's: it knocks no one's door.
        swapped.send_json(hello(session_id, tokens[1], resume=tickets[2], epoch=1))
        assert swapped.receive_json()["code"] == "occupied"
        for ws, token, ticket in zip((t, c1, c2), tokens, tickets, strict=True):
            ws.send_json(hello(session_id, token, resume=ticket, epoch=1))
            welcome = ws.receive_json()
            assert welcome["resumed"] is True and welcome["admitted"] is True
        assert t.receive_json() == {"type": "notice", "notice": "link-in-use"}
        c2.send_json({"type": "candidate", "candidate": "candidate:2", "to": 1})
        relayed = c1.receive_json()
        assert (relayed["candidate"], relayed["from_seat"]) == ("candidate:2", 2)
        t.send_json({"type": "ping"})
        assert t.receive_json() == {"type": "pong"}  # no knock, no peer-joined
        assert len(store.events_of(session_id)) == stored


API_KEY = "szk_" + "S" * 43


@pytest.mark.parametrize("groups", [False, True])
def test_the_api_takes_the_number_of_seats_and_says_the_limit(
    tmp_path: Path, database_url: str, store: Store, groups: bool
) -> None:
    settings = make_settings(tmp_path, database_url, group_sessions=groups)
    therapist = add_therapist(store, "dr-g")
    store.add_api_key_hash("dr-g", digest(API_KEY))
    auth = {"authorization": f"Bearer {API_KEY}"}
    with TestClient(create_app(settings, store)) as client:

        def create(seats: object) -> Any:
            body = {"client_id": "Gruppe", "seats": seats}
            return client.post("/api/v1/sessions", json=body, headers=auth)

        # The dashboard offers seats only where groups are on (it reads ``max_seats``).
        assert client.get("/api/v1/me", headers=auth).json()["max_seats"] == (8 if groups else 1)
        one = create(1)
        assert one.status_code == 201 and len(one.json()["client_urls"]) == 1
        assert one.json()["client_urls"] == [one.json()["client_url"]]
        for too_many in (0, 9, 40):
            refused = create(too_many)
            error = refused.json()["error"]
            assert refused.status_code == 422 and error["code"] == "too-many-seats"
            assert "9" in error["message"] and "9" in error["message_de"]
        assert create("drei").json()["error"]["code"] == "invalid-input"
        three = create(3)
        if groups:
            assert three.status_code == 201
            urls = three.json()["client_urls"]
            assert len(set(urls)) == 3 and three.json()["client_url"] == urls[0]
        else:
            error = three.json()["error"]
            assert three.status_code == 422 and error["code"] == "group-sessions-off"
            assert "Gruppensitzungen" in error["message_de"]
    # Refused means nothing stored: one session, or two with groups on.
    assert len(store.list_sessions(therapist)) == (2 if groups else 1)


def test_the_cli_takes_seats_and_refuses_more_than_eight(
    tmp_path: Path, database_url: str, store: Store
) -> None:
    add_therapist(store, "dr-g")
    env = {
        "PATH": "/usr/bin:/bin",
        "SPRECHZIMMER_DATA_DIR": str(tmp_path),
        "SPRECHZIMMER_DATABASE_URL": database_url,
        "SPRECHZIMMER_PUBLIC_URL": "https://video.example.org",
    }

    def create(seats: str, **more: str) -> subprocess.CompletedProcess[str]:
        argv = ["session", "create", "--therapist", "dr-g", "--client-id", "G", "--json"]
        return subprocess.run(
            [sys.executable, "-m", "sprechzimmer", *argv, "--seats", seats],
            env={**env, **more},
            capture_output=True,
            text=True,
            timeout=120,
        )

    off = create("2", SPRECHZIMMER_GROUP_SESSIONS="false")
    assert off.returncode == 1 and "Group sessions are not switched on" in off.stderr
    on: dict[str, str] = {}  # on by default
    nine = create("9", **on)
    assert nine.returncode == 1 and "at most 9 people" in nine.stderr
    made = create("4", **on)
    assert made.returncode == 0, made.stderr
    assert len(set(json.loads(made.stdout)["client_urls"])) == 4
