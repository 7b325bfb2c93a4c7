"""The signaling socket in-process (ASGI test client): the happy path and every attack."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from starlette.testclient import TestClient, WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from sprechzimmer.app import create_app
from sprechzimmer.config import Settings
from sprechzimmer.store import Store, Token
from sprechzimmer.tokens import digest

from ..conftest import make_settings
from ..helpers import Invite, add_therapist, hello, new_invite

Environment = tuple[TestClient, Invite, Settings, Store]
ORIGIN = {"origin": "http://testserver"}


@pytest.fixture
def env(tmp_path: Path, database_url: str, store: Store) -> Iterator[Environment]:
    # The default deadline (5 s): a shorter one would race the test's own pace on a busy
    # machine (two sockets opened, then the first hello); test_no_hello_in_time_closes
    # shortens it for itself.
    settings = make_settings(tmp_path, database_url)
    therapist_id = add_therapist(store)
    invite = new_invite(store, settings, therapist_id)
    with TestClient(create_app(settings, store)) as client:
        yield client, invite, settings, store


def connect(client: TestClient, headers: dict[str, str] = ORIGIN) -> Any:
    return client.websocket_connect("/ws", headers=headers)


def expect_close(ws: WebSocketTestSession, error_code: str, close_code: int) -> None:
    message = ws.receive_json()
    assert message["type"] == "error" and message["code"] == error_code, message
    assert message["fatal"] is True and message["message"] and message["message_de"]
    with pytest.raises(WebSocketDisconnect) as closed:
        ws.receive_json()
    assert closed.value.code == close_code


@pytest.fixture
def sockets(env: Environment) -> Iterator[ExitStack]:
    """Sockets entered here are closed before the app stops, even when a test fails."""
    with ExitStack() as stack:
        yield stack


def join_call(
    client: TestClient, invite: Invite, stack: ExitStack
) -> tuple[WebSocketTestSession, WebSocketTestSession]:
    t = stack.enter_context(connect(client))
    c = stack.enter_context(connect(client))
    t.send_json(hello(invite.session, invite.therapist_token))
    welcome = t.receive_json()
    assert welcome["type"] == "welcome", welcome
    c.send_json(hello(invite.session, invite.client_token))
    welcome = c.receive_json()
    assert welcome["type"] == "welcome" and welcome["role"] == "client", welcome
    assert c.receive_json()["type"] == "waiting"
    assert t.receive_json()["type"] == "knock"
    t.send_json({"type": "admit"})
    assert t.receive_json()["type"] == "admitted"
    assert c.receive_json()["type"] == "admitted"
    return t, c


def test_a_quick_exit_reaches_the_therapist_as_such_and_is_stored_as_a_left(
    env: Environment, sockets: ExitStack
) -> None:
    client, invite, _, store = env
    t, c = join_call(client, invite, sockets)
    c.send_json({"type": "bye", "reason": "quick-exit"})
    assert t.receive_json() == {
        "type": "peer-left",
        "role": "client",
        "reason": "quick-exit",
        "seat": 1,
    }
    with pytest.raises(WebSocketDisconnect) as closed:
        c.receive_json()
    assert closed.value.code == 1000
    kinds = [(e.role.value, e.kind.value) for e in store.events_of(invite.session)]
    assert kinds[-1] == ("client", "left")


def test_call_relay_and_events(env: Environment, sockets: ExitStack) -> None:
    client, invite, _, store = env
    t, c = join_call(client, invite, sockets)
    t.send_json({"type": "offer", "sdp": "v=0 offer"})
    assert c.receive_json() == {
        "type": "offer",
        "sdp": "v=0 offer",
        "from": "therapist",
        "from_seat": 0,
    }
    c.send_json({"type": "answer", "sdp": "v=0 answer"})
    assert t.receive_json() == {
        "type": "answer",
        "sdp": "v=0 answer",
        "from": "client",
        "from_seat": 1,
    }
    c.send_json(
        {"type": "candidate", "candidate": "candidate:1", "sdpMid": "0", "sdpMLineIndex": 0}
    )
    assert t.receive_json()["candidate"] == "candidate:1"
    c.send_json({"type": "ping"})
    assert c.receive_json() == {"type": "pong"}
    for ws in (t, c):
        ws.send_json({"type": "media", "state": "connected"})
    c.send_json({"type": "bye"})
    assert t.receive_json() == {
        "type": "peer-left",
        "role": "client",
        "reason": "hangup",
        "seat": 1,
    }
    t.send_json({"type": "bye"})
    for ws in (t, c):
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
        assert closed.value.code == 1000
    kinds = [(e.role.value, e.kind.value) for e in store.events_of(invite.session)]
    assert kinds[:3] == [("therapist", "joined"), ("client", "joined"), ("client", "admitted")]
    assert set(kinds[3:]) == {
        ("therapist", "media_connected"),
        ("client", "media_connected"),
        ("client", "media_disconnected"),
        ("client", "left"),
        ("therapist", "media_disconnected"),
        ("therapist", "left"),
    }


def test_wrong_origin_is_refused_at_the_handshake(env: Environment) -> None:
    client, *_ = env
    for headers in ({"origin": "https://evil.example"}, {}):
        with pytest.raises(WebSocketDisconnect) as refused, connect(client, headers):
            pass
        assert refused.value.code == 1008  # the test client's view of an HTTP 403


def test_no_hello_in_time_closes(tmp_path: Path, database_url: str, store: Store) -> None:
    settings = make_settings(tmp_path, database_url, auth_deadline=0.5)
    with TestClient(create_app(settings, store)) as client, connect(client) as ws:
        started = time.monotonic()
        expect_close(ws, "auth-timeout", 4001)
        # Well before the default deadline (5 s): the setting, not the default, closed it.
        assert time.monotonic() - started < 4


def test_first_message_must_be_hello(env: Environment) -> None:
    client, *_ = env
    with connect(client) as ws:
        ws.send_json({"type": "offer", "sdp": "v=0"})
        expect_close(ws, "not-authenticated", 4001)


@pytest.mark.parametrize(
    "frame",
    ["not json", "[]", '{"type":"hello"}', '{"type":"hello","protocol":1,"session":1,"token":"x"}'],
)
def test_malformed_message_closes_with_4000(env: Environment, frame: str) -> None:
    client, *_ = env
    with connect(client) as ws:
        ws.send_text(frame)
        expect_close(ws, "bad-message", 4000)


def test_binary_frame_is_a_bad_message(env: Environment) -> None:
    client, *_ = env
    with connect(client) as ws:
        ws.send_bytes(b"\x00\x01")
        expect_close(ws, "bad-message", 4000)


def test_oversized_message_closes_with_1009(env: Environment, sockets: ExitStack) -> None:
    client, invite, settings, _ = env
    t, c = join_call(client, invite, sockets)
    t.send_text('{"type":"offer","sdp":"' + "x" * settings.max_message_bytes + '"}')
    expect_close(t, "too-large", 1009)
    assert c.receive_json() == {
        "type": "peer-left",
        "role": "therapist",
        "reason": "disconnected",
        "seat": 0,
    }


def test_token_of_another_session_is_forbidden(env: Environment) -> None:
    client, invite, settings, store = env
    other = new_invite(store, settings, add_therapist(store, "dr-other"))
    with connect(client) as ws:
        ws.send_json(hello(invite.session, other.client_token))
        expect_close(ws, "forbidden", 4003)


def test_unknown_token_is_forbidden(env: Environment) -> None:
    client, invite, *_ = env
    with connect(client) as ws:
        ws.send_json(hello(invite.session, "A" * 43))
        expect_close(ws, "forbidden", 4003)


def test_forged_role_is_forbidden(env: Environment) -> None:
    client, invite, *_ = env
    with connect(client) as ws:
        ws.send_json(hello(invite.session, invite.client_token, role="therapist"))
        expect_close(ws, "forbidden", 4003)


def test_expired_token_is_forbidden(env: Environment) -> None:
    client, invite, _, store = env
    past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    with store.engine.begin() as c:
        c.execute(update(Token).values(expires_at=past))
    with connect(client) as ws:
        ws.send_json(hello(invite.session, invite.client_token))
        expect_close(ws, "forbidden", 4003)


def test_revoked_session_is_forbidden_and_kicks_members(
    env: Environment, sockets: ExitStack
) -> None:
    client, invite, _, store = env
    t, c = join_call(client, invite, sockets)
    key = "szk_" + "k" * 43
    store.add_api_key_hash("dr-test", digest(key))
    response = client.delete(
        f"/api/v1/sessions/{invite.session}", headers={"authorization": f"Bearer {key}"}
    )
    assert response.status_code == 204
    # The people in the room are told that the session ended, not that a link is dead.
    expect_close(t, "session-ended", 4003)
    expect_close(c, "session-ended", 4003)
    with connect(client) as ws:
        ws.send_json(hello(invite.session, invite.client_token))
        expect_close(ws, "forbidden", 4003)


def test_third_browser_with_the_used_client_token_is_refused(
    env: Environment, sockets: ExitStack
) -> None:
    client, invite, *_ = env
    t, c = join_call(client, invite, sockets)
    with connect(client) as intruder:
        intruder.send_json(hello(invite.session, invite.client_token))
        error = intruder.receive_json()
        # Fatal, with its own code and a next step, so the page offers no retry.
        assert error["code"] == "occupied" and error["fatal"] is True
        assert "new link" in error["message"] and "neuen Link" in error["message_de"]
        with pytest.raises(WebSocketDisconnect) as refused:
            intruder.receive_json()
        assert refused.value.code == 4009
    # The therapist is told that the client link was tried, naming nobody; the
    # client notices nothing.
    assert t.receive_json() == {"type": "notice", "notice": "link-in-use"}
    with connect(client) as intruder:
        intruder.send_json(hello(invite.session, invite.therapist_token, resume="guess"))
        expect_close(intruder, "occupied", 4009)
    # A second tab of the therapist is no news for the therapist: no notice.
    t.send_json({"type": "ping"})
    assert t.receive_json() == {"type": "pong"}
    c.send_json({"type": "ping"})
    assert c.receive_json() == {"type": "pong"}
    t.send_json({"type": "offer", "sdp": "v=0"})
    assert c.receive_json()["type"] == "offer"


def test_reconnect_with_resume_takes_the_place_back(env: Environment) -> None:
    client, invite, *_ = env
    with connect(client) as t, connect(client) as c:
        t.send_json(hello(invite.session, invite.therapist_token))
        t.receive_json()
        c.send_json(hello(invite.session, invite.client_token))
        resume = c.receive_json()["resume"]
        c.receive_json()  # waiting
        t.receive_json()  # knock
        t.send_json({"type": "admit"})
        t.receive_json(), c.receive_json()
        with connect(client) as c2:
            c2.send_json(hello(invite.session, invite.client_token, resume=resume, epoch=1))
            welcome = c2.receive_json()
            assert welcome["type"] == "welcome" and welcome["admitted"] is True
            # The same nonce again: a welcome lost with its socket costs nothing.
            assert welcome["resumed"] is True and welcome["resume"].startswith("r1.c.")
            expect_close(c, "replaced", 4009)
            # The call goes on as it is: no new `admitted`, the therapist hears nothing.
            t.send_json({"type": "offer", "sdp": "v=0"})
            assert c2.receive_json()["type"] == "offer"
            t.send_json({"type": "ping"})
            assert t.receive_json() == {"type": "pong"}


def test_a_forged_or_foreign_ticket_takes_no_seat(env: Environment) -> None:
    client, invite, settings, store = env
    other = new_invite(store, settings, add_therapist(store, "dr-other"))
    with connect(client) as t, connect(client) as c:
        t.send_json(hello(other.session, other.therapist_token))
        foreign = t.receive_json()["resume"]  # genuine, but of another session
        c.send_json(hello(invite.session, invite.client_token))
        genuine = c.receive_json()["resume"]
        forged = genuine[:-4] + ("AAAA" if not genuine.endswith("AAAA") else "BBBB")
        for ticket in (forged, foreign):
            with connect(client) as c2:
                c2.send_json(hello(invite.session, invite.client_token, resume=ticket))
                expect_close(c2, "occupied", 4009)


def test_waiting_client_cannot_send_to_the_therapist(env: Environment) -> None:
    client, invite, *_ = env
    with connect(client) as t, connect(client) as c:
        t.send_json(hello(invite.session, invite.therapist_token))
        t.receive_json()
        c.send_json(hello(invite.session, invite.client_token))
        c.receive_json(), c.receive_json()
        assert t.receive_json()["type"] == "knock"
        c.send_json({"type": "offer", "sdp": "v=0 sneaky"})
        expect_close(c, "not-allowed", 4003)
        assert t.receive_json() == {"type": "knock-cancelled", "seat": 1}


def test_client_cannot_admit_itself(env: Environment) -> None:
    client, invite, *_ = env
    with connect(client) as c:
        c.send_json(hello(invite.session, invite.client_token))
        c.receive_json(), c.receive_json()
        c.send_json({"type": "admit"})
        expect_close(c, "not-allowed", 4003)


def test_messages_reach_only_the_own_session(env: Environment, sockets: ExitStack) -> None:
    client, invite, settings, store = env
    other = new_invite(store, settings, add_therapist(store, "dr-other"))
    _t, c = join_call(client, invite, sockets)
    with connect(client) as ot:
        ot.send_json(hello(other.session, other.therapist_token))
        ot.receive_json()
        # A therapist of another session cannot address this one: messages carry no
        # session, and one naming a session is malformed.
        ot.send_json({"type": "offer", "sdp": "v=0 cross"})
        error = ot.receive_json()
        assert error["code"] == "no-peer" and error["fatal"] is False
        ot.send_json({"type": "offer", "sdp": "v=0", "session": invite.session})
        expect_close(ot, "bad-message", 4000)
    c.send_json({"type": "ping"})
    assert c.receive_json() == {"type": "pong"}  # nothing else arrived before the pong


# --- quality samples (issue 5) ----------------------------------------------------------

SAMPLE = {"type": "quality", "rtt_ms": 80, "loss_pct": 0.5, "local_candidate": "host"}


def test_a_waiting_client_cannot_send_quality(env: Environment) -> None:
    client, invite, *_ = env
    with connect(client) as t, connect(client) as c:
        t.send_json(hello(invite.session, invite.therapist_token))
        t.receive_json()
        c.send_json(hello(invite.session, invite.client_token))
        c.receive_json(), c.receive_json()
        assert t.receive_json()["type"] == "knock"
        c.send_json(SAMPLE)
        expect_close(c, "not-allowed", 4003)
        assert t.receive_json() == {"type": "knock-cancelled", "seat": 1}


def test_quality_in_a_call_gets_no_answer(env: Environment, sockets: ExitStack) -> None:
    client, invite, *_ = env
    t, c = join_call(client, invite, sockets)
    c.send_json(SAMPLE)
    t.send_json(SAMPLE)
    for ws in (t, c):
        ws.send_json({"type": "ping"})
        assert ws.receive_json() == {"type": "pong"}  # nothing relayed, nothing answered


def test_an_out_of_bounds_sample_is_a_bad_message(env: Environment, sockets: ExitStack) -> None:
    client, invite, *_ = env
    t, c = join_call(client, invite, sockets)
    c.send_json({**SAMPLE, "loss_pct": 101})
    expect_close(c, "bad-message", 4000)
    assert t.receive_json() == {
        "type": "peer-left",
        "role": "client",
        "reason": "disconnected",
        "seat": 1,
    }


def _a_call_in_a_process_that_then_goes(
    settings: Settings, store: Store, invite: Invite
) -> tuple[str, str]:
    """A call with media on both sides in one app; the app stops. The two tickets."""
    with (
        TestClient(create_app(settings, store)) as before,
        connect(before) as t,
        connect(before) as c,
    ):
        t.send_json(hello(invite.session, invite.therapist_token))
        t_ticket = t.receive_json()["resume"]
        c.send_json(hello(invite.session, invite.client_token))
        c_ticket = c.receive_json()["resume"]
        c.receive_json(), t.receive_json()  # waiting, knock
        t.send_json({"type": "admit"})
        assert t.receive_json()["epoch"] == c.receive_json()["epoch"] == 1
        for ws in (t, c):
            ws.send_json({"type": "media", "state": "connected"})
        t.send_json({"type": "ping"})
        assert t.receive_json() == {"type": "pong"}  # the media events are stored
        # The process goes; its sockets with it (nothing is recorded for them).
    return t_ticket, c_ticket


def test_a_call_outlives_a_server_restart(tmp_path: Path, database_url: str, store: Store) -> None:
    """A new process (a fresh hub) on the same database and secret key: both members
    take their seats back with their tickets, without a knock, a new connection or
    a billing event; the call then ends normally."""
    settings = make_settings(tmp_path, database_url)
    invite = new_invite(store, settings, add_therapist(store))
    t_ticket, c_ticket = _a_call_in_a_process_that_then_goes(settings, store, invite)
    before_kinds = [(e.role.value, e.kind.value) for e in store.events_of(invite.session)]

    with TestClient(create_app(settings, store)) as after, connect(after) as t, connect(after) as c:
        t.send_json(hello(invite.session, invite.therapist_token, resume=t_ticket, epoch=3))
        welcome = t.receive_json()
        assert welcome["resumed"] is True and welcome["peer_present"] is True
        c.send_json(hello(invite.session, invite.client_token, resume=c_ticket, epoch=3))
        welcome = c.receive_json()
        assert welcome["resumed"] is True and welcome["admitted"] is True
        for ws in (t, c):
            ws.send_json({"type": "media", "state": "connected"})
        # Relaying works at once; the therapist heard of no knock and no rejoin.
        t.send_json({"type": "candidate", "candidate": "candidate:1"})
        assert c.receive_json()["candidate"] == "candidate:1"
        t.send_json({"type": "ping"})
        assert t.receive_json() == {"type": "pong"}
        assert [(e.role.value, e.kind.value) for e in store.events_of(invite.session)] == (
            before_kinds
        )
        c.send_json({"type": "bye"})
        assert t.receive_json() == {
            "type": "peer-left",
            "role": "client",
            "reason": "hangup",
            "seat": 1,
        }
    kinds = [(e.role.value, e.kind.value) for e in store.events_of(invite.session)]
    assert kinds[: len(before_kinds)] == before_kinds
    assert before_kinds[:3] == [
        ("therapist", "joined"),
        ("client", "joined"),
        ("client", "admitted"),
    ]
    assert set(before_kinds[3:]) == {
        ("therapist", "media_connected"),
        ("client", "media_connected"),
    }
    assert kinds[len(before_kinds) :][:2] == [("client", "media_disconnected"), ("client", "left")]


def test_after_a_restart_a_copied_client_link_finds_the_seat_taken(
    tmp_path: Path, database_url: str, store: Store
) -> None:
    settings = make_settings(tmp_path, database_url)
    invite = new_invite(store, settings, add_therapist(store))
    t_ticket, _ = _a_call_in_a_process_that_then_goes(settings, store, invite)
    with (
        TestClient(create_app(settings, store)) as after,
        connect(after) as t,
        connect(after) as intruder,
    ):
        # The first to arrive after the restart has no ticket: the rebuilt room
        # keeps the admitted client's seat for its own browser.
        intruder.send_json(hello(invite.session, invite.client_token))
        expect_close(intruder, "occupied", 4009)
        t.send_json(hello(invite.session, invite.therapist_token, resume=t_ticket, epoch=1))
        welcome = t.receive_json()
        assert welcome["resumed"] is True and welcome["admitted"] is True
        # The therapist hears, once back, that the client link was tried meanwhile.
        assert t.receive_json() == {"type": "notice", "notice": "link-in-use"}
        t.send_json({"type": "ping"})
        assert t.receive_json() == {"type": "pong"}  # no knock, no peer-left


def test_media_state_reaches_the_other_side_and_a_returning_tab(
    env: Environment, sockets: ExitStack
) -> None:
    client, invite, *_ = env
    t = sockets.enter_context(connect(client))
    c = sockets.enter_context(connect(client))
    t.send_json(hello(invite.session, invite.therapist_token))
    assert t.receive_json()["type"] == "welcome"
    c.send_json(hello(invite.session, invite.client_token))
    ticket = c.receive_json()["resume"]
    assert c.receive_json()["type"] == "waiting"
    assert t.receive_json()["type"] == "knock"
    # A knocking client without camera and microphone: the therapist knows before admitting.
    none = {"type": "media-state", "camera": "none", "microphone": "none", "audio_only": False}
    c.send_json(none)
    assert t.receive_json() == {
        **none,
        "paused": False,
        "screen": False,
        "from": "client",
        "from_seat": 1,
    }
    muted = {"type": "media-state", "camera": "on", "microphone": "off", "audio_only": False}
    t.send_json(muted)  # the waiting client hears nothing of it yet
    t.send_json({"type": "admit"})
    assert t.receive_json()["type"] == "admitted"
    assert t.receive_json() == {
        **none,
        "paused": False,
        "screen": False,
        "from": "client",
        "from_seat": 1,
    }
    assert c.receive_json()["type"] == "admitted"
    assert c.receive_json() == {
        **muted,
        "paused": False,
        "screen": False,
        "from": "therapist",
        "from_seat": 0,
    }
    # During the call, as it happens.
    camera_off = {"type": "media-state", "camera": "off", "microphone": "on", "audio_only": True}
    t.send_json(camera_off)
    assert c.receive_json() == {
        **camera_off,
        "paused": False,
        "screen": False,
        "from": "therapist",
        "from_seat": 0,
    }
    # Screen sharing travels with it; a relay always says ``paused`` and ``screen``.
    sharing = {**camera_off, "screen": True}
    t.send_json(sharing)
    assert c.receive_json() == {**sharing, "paused": False, "from": "therapist", "from_seat": 0}
    # The privacy pause too.
    paused = {**camera_off, "paused": True}
    t.send_json(paused)
    assert c.receive_json() == {**paused, "screen": False, "from": "therapist", "from_seat": 0}
    # The client's tab reloads (a new socket with its ticket, no call): the call
    # starts anew and the therapist's current state follows its ``admitted``.
    c.close()
    c2 = sockets.enter_context(connect(client))
    c2.send_json(hello(invite.session, invite.client_token, resume=ticket, epoch=0))
    assert c2.receive_json()["type"] == "welcome"
    assert c2.receive_json()["type"] == "admitted"
    assert c2.receive_json() == {**paused, "screen": False, "from": "therapist", "from_seat": 0}


def test_media_state_is_strictly_checked(env: Environment, sockets: ExitStack) -> None:
    client, invite, *_ = env
    _, c = join_call(client, invite, sockets)
    c.send_json(
        {"type": "media-state", "camera": "blocked", "microphone": "on", "audio_only": False}
    )
    expect_close(c, "bad-message", 4000)


# --- the client's name and consent -----------------------------------------------------

NAME = "Quirinia Zwetschgenbühl"


def test_a_client_hello_without_consent_or_name_is_refused_with_a_sentence(
    env: Environment, sockets: ExitStack
) -> None:
    client, invite, _, store = env
    for missing, code, says in (
        ({"consent": None}, "consent-required", "Datenschutzhinweise"),
        ({"name": None}, "name-required", "angesprochen"),
    ):
        with connect(client) as ws:
            ws.send_json(hello(invite.session, invite.client_token, **missing))
            message = ws.receive_json()
            assert message["code"] == code and says in message["message_de"], message
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()
            assert closed.value.code == 4000
    for bad in ("a" * 81, "Maria\nMüller", "Maria\u202eM", "   "):
        with connect(client) as ws:
            ws.send_json(hello(invite.session, invite.client_token, name=bad))
            expect_close(ws, "name-invalid", 4000)
    # Refused before taking a seat: nothing on record.
    assert store.events_of(invite.session) == []


def test_the_name_is_optional_when_the_operator_says_so(
    tmp_path: Path, database_url: str, store: Store
) -> None:
    settings = make_settings(tmp_path, database_url, client_name="optional")
    invite = new_invite(store, settings, add_therapist(store))
    with (
        TestClient(create_app(settings, store)) as client,
        connect(client) as t,
        connect(client) as c,
    ):
        t.send_json(hello(invite.session, invite.therapist_token))
        assert t.receive_json()["type"] == "welcome"
        c.send_json(hello(invite.session, invite.client_token, name=None))
        assert [c.receive_json()["type"] for _ in range(2)] == ["welcome", "waiting"]
        assert t.receive_json() == {"type": "knock", "name": None, "consent": True, "seat": 1}
        assert (
            client.post(
                "/api/v1/links/check",
                json={"session": invite.session, "token": invite.client_token},
            ).json()["client_name"]
            == "optional"
        )
        # Consent is never optional.
        with connect(client) as other:
            other.send_json(hello(invite.session, invite.client_token, consent=None))
            expect_close(other, "consent-required", 4000)


def test_the_name_reaches_the_therapist_and_no_log_record_nor_table(
    env: Environment, sockets: ExitStack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client, invite, _, store = env
    t = sockets.enter_context(connect(client))
    t.send_json(hello(invite.session, invite.therapist_token))
    assert t.receive_json()["type"] == "welcome"
    c = sockets.enter_context(connect(client))
    c.send_json(hello(invite.session, invite.client_token, name=NAME))
    welcome = c.receive_json()
    assert welcome["peer_name"] is None  # the client is told no name
    assert c.receive_json()["type"] == "waiting"
    assert t.receive_json() == {"type": "knock", "name": NAME, "consent": True, "seat": 1}
    # A second tab of the therapist would be refused; its page reloaded instead: the
    # welcome names the waiting client again.
    t.close()
    t2 = sockets.enter_context(connect(client))
    t2.send_json(hello(invite.session, invite.therapist_token))
    assert t2.receive_json()["peer_name"] == NAME
    assert t2.receive_json()["type"] == "knock"
    t2.send_json({"type": "admit"})
    assert t2.receive_json()["type"] == "admitted"
    news = c.receive_json()
    while news["type"] != "admitted":  # the therapist's old tab left, its new one joined
        assert news["type"] in ("peer-left", "peer-joined") and news.get("name") is None
        news = c.receive_json()
    assert news["room_check"] is True
    t2.send_json({"type": "room-check-done"})
    assert c.receive_json() == {"type": "room-check-done", "from": "therapist", "from_seat": 0}
    # A protocol error of the client after the name went by: its log line names nobody.
    c.send_json({"type": "admit"})
    assert c.receive_json()["code"] == "not-allowed"
    t2.send_json({"type": "bye"})

    assert caplog.records, "the session was logged"
    for record in caplog.records:
        assert "Zwetschgen" not in record.getMessage(), record.getMessage()
        assert "Zwetschgen" not in repr(record.args) and not record.exc_info
    rows = "\n".join(repr(e) for e in store.events_of(invite.session))
    assert "joined" in rows and "Zwetschgen" not in rows
