"""The dashboard's session API in-process: the list's fields, closing, erasing.

The list tells the therapist what each session is (open, expired, closed,
revoked), how many billable minutes it has so far and since when a client
waits; closing ends a session for good; erasing removes its record (issue 12,
points 3, 4 and 10). A live socket is part of each test, because ending the
live connection is half of what the two actions promise.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient, WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from sprechzimmer.app import create_app
from sprechzimmer.events import EventKind
from sprechzimmer.protocol import Role
from sprechzimmer.store import EventInfo, SessionState, Store
from sprechzimmer.tokens import digest

from ..conftest import make_settings
from ..helpers import PASSWORD, add_therapist, hello, token_of

API_KEY = "szk_" + "D" * 43
OTHER_KEY = "szk_" + "E" * 43
AUTH = {"authorization": f"Bearer {API_KEY}"}
OTHER = {"authorization": f"Bearer {OTHER_KEY}"}
ORIGIN = {"origin": "http://testserver"}


@pytest.fixture
def client(tmp_path: Path, database_url: str, store: Store) -> Iterator[TestClient]:
    add_therapist(store, "dr-a")
    add_therapist(store, "dr-b")
    store.add_api_key_hash("dr-a", digest(API_KEY))
    store.add_api_key_hash("dr-b", digest(OTHER_KEY))
    settings = make_settings(tmp_path, database_url, token_ttl=3600)
    with TestClient(create_app(settings, store)) as c:
        yield c


@pytest.fixture
def sockets(client: TestClient) -> Iterator[ExitStack]:
    """Sockets entered here are closed before the app stops, even when a test fails."""
    with ExitStack() as stack:
        yield stack


def create(client: TestClient, client_id: str = "K-2041") -> dict[str, Any]:
    response = client.post("/api/v1/sessions", json={"client_id": client_id}, headers=AUTH)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def listed(client: TestClient, session_id: str) -> dict[str, Any]:
    sessions = client.get("/api/v1/sessions", headers=AUTH).json()["sessions"]
    (found,) = [s for s in sessions if s["session_id"] == session_id]
    summary: dict[str, Any] = found
    return summary


def knock(client: TestClient, url: str, stack: ExitStack) -> WebSocketTestSession:
    """A client opens its link and waits in the waiting room."""
    ws = stack.enter_context(client.websocket_connect("/ws", headers=ORIGIN))
    ws.send_json(hello(*token_of(url)))
    assert ws.receive_json()["type"] == "welcome"
    assert ws.receive_json()["type"] == "waiting"
    return ws


def expect_forbidden(ws: WebSocketTestSession, code: str = "forbidden") -> None:
    """The socket is refused with ``code`` and closed with 4003: ``forbidden`` for a
    link that no longer works, ``session-ended`` for a member the therapist's
    action sent away (told as such, not as a dead link)."""
    message = ws.receive_json()
    assert message["type"] == "error" and message["code"] == code, message
    with pytest.raises(WebSocketDisconnect) as closed:
        ws.receive_json()
    assert closed.value.code == 4003


def a_call(store: Store, session_id: str, start: dt.datetime, minutes: float) -> None:
    end = start + dt.timedelta(minutes=minutes)
    store.add_events(
        [
            EventInfo(session_id, Role.THERAPIST, EventKind.MEDIA_CONNECTED, start),
            EventInfo(session_id, Role.CLIENT, EventKind.MEDIA_CONNECTED, start),
            EventInfo(session_id, Role.CLIENT, EventKind.LEFT, end),
            EventInfo(session_id, Role.THERAPIST, EventKind.LEFT, end),
        ]
    )


def test_the_list_says_state_minutes_and_reference(client: TestClient, store: Store) -> None:
    session = create(client)
    sid = session["session_id"]
    first = listed(client, sid)
    assert first["state"] == "open" and first["reference"] == sid[:8]
    assert first["billable_seconds"] == 0 and first["billable_minutes"] == 0
    assert first["waiting"] is False and first["waiting_since"] is None
    expires = dt.datetime.fromisoformat(first["expires_at"])
    assert expires == dt.datetime.fromisoformat(session["expires_at"])

    # Two calls in two months: "so far" is all of them.
    a_call(store, sid, dt.datetime(2026, 10, 30, 9, tzinfo=dt.UTC), 50)
    a_call(store, sid, dt.datetime(2026, 11, 3, 9, tzinfo=dt.UTC), 45.5)
    later = listed(client, sid)
    assert later["billable_seconds"] == 95.5 * 60 and later["billable_minutes"] == 95.5

    store.extend_session(sid, dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    assert listed(client, sid)["state"] == "expired"
    # New links revive an expired session (and its earlier links stay as they were).
    assert client.post(f"/api/v1/sessions/{sid}/links", headers=AUTH).status_code == 200
    assert listed(client, sid)["state"] == "open"


def test_the_list_says_since_when_a_client_waits(client: TestClient, sockets: ExitStack) -> None:
    session = create(client)
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    ws = knock(client, session["client_url"], sockets)
    after = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    answer = client.get("/api/v1/sessions", headers=AUTH).json()
    (waiting,) = answer["sessions"]
    assert waiting["waiting"] is True
    since = dt.datetime.fromisoformat(waiting["waiting_since"])
    assert before <= since <= after
    # The server's time comes along, so the dashboard measures the wait on its clock.
    assert since <= dt.datetime.fromisoformat(answer["now"]) <= after
    # The wait is the knock's, not the poll's: the next look says the same, also after
    # a copied link tried the occupied seat.
    time.sleep(0.05)
    with client.websocket_connect("/ws", headers=ORIGIN) as copy:
        copy.send_json(hello(*token_of(session["client_url"])))
        refused = copy.receive_json()
        assert refused["type"] == "error" and refused["code"] == "occupied", refused
    assert listed(client, session["session_id"])["waiting_since"] == waiting["waiting_since"]
    ws.send_json({"type": "bye"})
    with pytest.raises(WebSocketDisconnect):
        ws.receive_json()
    gone = listed(client, session["session_id"])
    assert gone["waiting"] is False and gone["waiting_since"] is None


def test_closing_ends_the_call_and_the_links(
    client: TestClient, store: Store, sockets: ExitStack
) -> None:
    session = create(client)
    sid = session["session_id"]
    a_call(store, sid, dt.datetime(2026, 11, 3, 9, tzinfo=dt.UTC), 50)
    ws = knock(client, session["client_url"], sockets)

    assert client.post(f"/api/v1/sessions/{sid}/close", headers=AUTH).status_code == 204
    expect_forbidden(ws, "session-ended")
    closed = listed(client, sid)
    assert closed["state"] == "closed" and closed["waiting"] is False
    assert closed["billable_seconds"] == 3000  # the minutes stay in the export
    assert store.tokens_of(sid) == []
    for url in (session["client_url"], session["therapist_url"]):
        with client.websocket_connect("/ws", headers=ORIGIN) as again:
            again.send_json(hello(*token_of(url)))
            expect_forbidden(again)
    # Nothing brings it back: no new links, no seat for the therapist.
    assert client.post(f"/api/v1/sessions/{sid}/links", headers=AUTH).status_code == 404
    assert client.post(f"/api/v1/sessions/{sid}/join", headers=AUTH).status_code == 404
    assert client.post(f"/api/v1/sessions/{sid}/close", headers=AUTH).status_code == 204


def test_closing_a_revoked_session_keeps_it_revoked(client: TestClient, store: Store) -> None:
    sid = create(client)["session_id"]
    assert client.delete(f"/api/v1/sessions/{sid}", headers=AUTH).status_code == 204
    assert client.post(f"/api/v1/sessions/{sid}/close", headers=AUTH).status_code == 204
    info = store.get_session(sid)
    assert info is not None and info.state is SessionState.REVOKED
    assert listed(client, sid)["state"] == "revoked"


def test_erasing_a_record_removes_session_tokens_and_events(
    client: TestClient, store: Store, sockets: ExitStack
) -> None:
    mistake = create(client, "Erika Mustermann")
    kept = create(client, "K-7")
    sid = mistake["session_id"]
    a_call(store, sid, dt.datetime(2026, 11, 3, 9, tzinfo=dt.UTC), 50)
    a_call(store, kept["session_id"], dt.datetime(2026, 11, 3, 11, tzinfo=dt.UTC), 50)
    ws = knock(client, mistake["client_url"], sockets)

    response = client.delete(f"/api/v1/sessions/{sid}/record", headers=AUTH)
    assert response.status_code == 204
    expect_forbidden(ws, "session-ended")  # the live connection ended first
    assert store.get_session(sid) is None
    assert store.events_of(sid) == [] and store.tokens_of(sid) == []
    sessions = client.get("/api/v1/sessions", headers=AUTH).json()["sessions"]
    assert [s["client_id"] for s in sessions] == ["K-7"]
    # Its minutes left the export; the other session's stayed.
    csv = client.get("/api/v1/billing", params={"month": "2026-11"}, headers=AUTH).text
    assert "Erika" not in csv and "K-7" in csv
    # Gone means gone: every action on it is "not found" now.
    for method, path in [
        ("DELETE", f"/api/v1/sessions/{sid}/record"),
        ("POST", f"/api/v1/sessions/{sid}/close"),
        ("POST", f"/api/v1/sessions/{sid}/links"),
    ]:
        assert client.request(method, path, headers=AUTH).status_code == 404


def test_another_therapists_session_stays_not_found(client: TestClient, store: Store) -> None:
    sid = create(client)["session_id"]
    for method, path in [
        ("POST", f"/api/v1/sessions/{sid}/close"),
        ("DELETE", f"/api/v1/sessions/{sid}/record"),
    ]:
        response = client.request(method, path, headers=OTHER)
        assert response.status_code == 404 and response.json()["error"]["code"] == "not-found"
    info = store.get_session(sid)
    assert info is not None and info.state is SessionState.OPEN
    assert len(store.tokens_of(sid)) == 2


def test_close_and_erase_from_the_browser_need_the_csrf_token(
    client: TestClient, store: Store
) -> None:
    sid = create(client)["session_id"]
    login = client.post("/api/v1/login", json={"code": "dr-a", "password": PASSWORD})
    csrf = {"x-csrf-token": login.json()["csrf_token"]}
    assert client.post(f"/api/v1/sessions/{sid}/close").status_code == 403
    assert client.delete(f"/api/v1/sessions/{sid}/record").status_code == 403
    assert store.get_session(sid) is not None
    assert client.post(f"/api/v1/sessions/{sid}/close", headers=csrf).status_code == 204
    assert client.delete(f"/api/v1/sessions/{sid}/record", headers=csrf).status_code == 204
    assert store.get_session(sid) is None
