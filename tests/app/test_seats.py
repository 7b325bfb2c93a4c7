"""Seats in the store and the signaling server, on SQLite and PostgreSQL (issue 16):
a link per client seat, the limit, the seat on every token and event, and a
migration that cannot lose a group's seats."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

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


def test_a_group_session_has_a_link_for_each_seat(
    tmp_path: Path, database_url: str, store: Store
) -> None:
    settings = make_settings(tmp_path, database_url)
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
    settings = make_settings(tmp_path, database_url)
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
    settings = make_settings(tmp_path, database_url)
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
    with store.engine.connect() as conn:
        stored = conn.execute(
            text("SELECT role, seat, kind FROM events WHERE session_id = :s ORDER BY id"),
            {"s": session_id},
        ).all()
    client_rows = [(seat, kind) for role, seat, kind in stored if role == "client"]
    assert client_rows[:3] == [(2, "joined"), (2, "admitted"), (2, "left")]
    assert {seat for role, seat, _ in stored if role == "therapist"} == {0}
