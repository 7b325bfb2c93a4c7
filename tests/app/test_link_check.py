"""``POST /api/v1/links/check``: the call page asks whether its link works before any
device prompt. In-process, with the store; nothing is joined, taken or logged."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from starlette.testclient import TestClient

from sprechzimmer.app import create_app
from sprechzimmer.config import ConfigError, Settings
from sprechzimmer.hub import LINK_CHECKS_PER_SESSION
from sprechzimmer.store import ConsultationSession, Store

from ..conftest import make_settings
from ..helpers import Invite, add_therapist, hello, new_invite

CHECK = "/api/v1/links/check"
ORIGIN = {"origin": "http://testserver"}
PRACTICE = "Praxis für Psychotherapie Dr. Beispiel"

Environment = tuple[TestClient, Invite, Store]


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(
        tmp_path, database_url, practice_name=f"  {PRACTICE} ", neutral_title=" Dokument "
    )


@pytest.fixture
def env(settings: Settings, store: Store) -> Iterator[Environment]:
    invite = new_invite(store, settings, add_therapist(store))
    with TestClient(create_app(settings, store)) as client:
        yield client, invite, store


def check(client: TestClient, session: str, token: str) -> Any:
    return client.post(CHECK, json={"session": session, "token": token})


def error_of(response: Any) -> str:
    body = response.json()["error"]
    assert body["message"] and body["message_de"]
    return str(body["code"])


def test_a_working_link_says_its_role_its_expiry_and_the_practice(env: Environment) -> None:
    client, invite, store = env
    response = check(client, invite.session, invite.client_token)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body.keys() == {"role", "expires_at", "practice_name", "neutral_title", "client_name"}
    assert body["role"] == "client" and body["practice_name"] == PRACTICE
    assert body["neutral_title"] == "Dokument"  # the client's page takes it as its tab title
    assert body["client_name"] == "required"  # the default: the page asks for the name
    session = store.get_session(invite.session)
    assert session is not None
    expires = dt.datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    assert abs(expires - session.expires_at) < dt.timedelta(seconds=1)
    therapist = check(client, invite.session, invite.therapist_token)
    assert therapist.status_code == 200 and therapist.json()["role"] == "therapist"


def test_the_check_joins_nothing_and_consumes_nothing(env: Environment) -> None:
    client, invite, store = env
    for _ in range(3):
        assert check(client, invite.session, invite.client_token).status_code == 200
    assert store.events_of(invite.session) == []
    assert client.app.state.hub.rooms == {}  # type: ignore[attr-defined]
    # The link still joins: the check took no seat and used up nothing.
    with client.websocket_connect("/ws", headers=ORIGIN) as ws:
        ws.send_json(hello(invite.session, invite.client_token))
        assert ws.receive_json()["type"] == "welcome"
        assert ws.receive_json()["type"] == "waiting"


def later(client: TestClient, seconds: float) -> None:
    """Move the hub's clock on: the link expires for the check, while the store's
    purge (real time, at start-up) does not delete its token under the test."""
    hub = client.app.state.hub  # type: ignore[attr-defined]
    hub.clock = lambda: time.time() + seconds


def test_an_expired_link(env: Environment, settings: Settings) -> None:
    client, invite, _ = env
    later(client, settings.token_ttl + 60)
    response = check(client, invite.session, invite.client_token)
    assert response.status_code == 410 and error_of(response) == "link-expired"


def test_an_expired_session(env: Environment) -> None:
    client, invite, store = env
    past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    store.extend_session(invite.session, past)
    response = check(client, invite.session, invite.therapist_token)
    assert response.status_code == 410 and error_of(response) == "link-expired"


def test_a_closed_session_or_account(env: Environment) -> None:
    client, invite, store = env
    # A genuine link whose session is no longer open (its tokens still there).
    with store.engine.begin() as c:
        c.execute(update(ConsultationSession).values(state="revoked"))
    response = check(client, invite.session, invite.client_token)
    assert response.status_code == 410 and error_of(response) == "link-revoked"
    with store.engine.begin() as c:
        c.execute(update(ConsultationSession).values(state="open"))
    store.set_disabled("dr-test", True)
    response = check(client, invite.session, invite.client_token)
    assert response.status_code == 410 and error_of(response) == "link-revoked"


def test_a_revoked_session_s_links_are_unknown(env: Environment) -> None:
    # Revoking deletes the tokens: what is left cannot be told from a made-up link.
    client, invite, store = env
    store.revoke_session(invite.session)
    response = check(client, invite.session, invite.client_token)
    assert response.status_code == 404 and error_of(response) == "link-invalid"


def test_a_wrong_token_and_an_unknown_session_get_the_same_answer(
    env: Environment, settings: Settings
) -> None:
    client, invite, store = env
    other = new_invite(store, settings, add_therapist(store, "dr-b"))
    answers = [
        check(client, invite.session, "A" * 43),  # wrong token
        check(client, "f" * 32, invite.client_token),  # unknown session
        check(client, other.session, invite.client_token),  # another session's
        check(client, invite.session, "short"),  # malformed token
        check(client, "not-hex", invite.client_token),  # malformed session
    ]
    for response in answers:
        assert response.status_code == 404 and error_of(response) == "link-invalid"
    assert len({r.text for r in answers}) == 1


def test_an_oversized_or_malformed_body_is_refused(env: Environment) -> None:
    client, invite, _ = env
    huge = client.post(
        CHECK,
        content=b'{"session": "' + b"a" * 100_000 + b'"}',
        headers={"content-type": "application/json"},
    )
    assert huge.status_code == 413 and error_of(huge) == "request-too-large"
    long = check(client, invite.session, "t" * 65)
    assert long.status_code == 422 and error_of(long) == "invalid-input"
    extra = client.post(CHECK, json={"session": invite.session, "token": "x", "role": "client"})
    assert extra.status_code == 422
    assert client.post(CHECK, json={"session": invite.session}).status_code == 422
    # Never in the URL: the query is not read.
    query = client.post(f"{CHECK}?session={invite.session}&token={invite.client_token}")
    assert query.status_code == 422


def test_checks_are_rate_limited_per_session(env: Environment, settings: Settings) -> None:
    client, invite, store = env
    for _ in range(LINK_CHECKS_PER_SESSION):
        assert check(client, invite.session, invite.client_token).status_code == 200
    blocked = check(client, invite.session, invite.client_token)
    assert blocked.status_code == 429 and error_of(blocked) == "rate-limited"
    assert int(blocked.headers["retry-after"]) > 0
    # Another session is not held up by it.
    other = new_invite(store, settings, add_therapist(store, "dr-b"))
    assert check(client, other.session, other.client_token).status_code == 200


def test_the_token_is_never_logged(
    env: Environment, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    client, invite, _ = env
    caplog.set_level(logging.DEBUG)
    check(client, invite.session, invite.client_token)
    check(client, invite.session, invite.client_token[:-1] + "A")
    later(client, settings.token_ttl + 60)
    check(client, invite.session, invite.client_token)
    check(client, invite.session, "t" * 65)
    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert invite.client_token not in logged and invite.client_token[:20] not in logged


@pytest.mark.parametrize("name", ["x" * 101, "Praxis\nZeile zwei", "Praxis\x00"])
def test_the_practice_name_is_checked_at_start_up(
    tmp_path: Path, database_url: str, name: str
) -> None:
    with pytest.raises(ConfigError, match="SPRECHZIMMER_PRACTICE_NAME"):
        make_settings(tmp_path, database_url, practice_name=name)
    with pytest.raises(ConfigError, match="SPRECHZIMMER_NEUTRAL_TITLE"):
        make_settings(tmp_path, database_url, neutral_title=name)


def test_without_a_practice_name_the_answer_has_an_empty_one(
    tmp_path: Path, database_url: str, store: Store
) -> None:
    settings = make_settings(tmp_path, database_url)
    assert settings.practice_name == ""
    invite = new_invite(store, settings, add_therapist(store))
    with TestClient(create_app(settings, store)) as client:
        assert check(client, invite.session, invite.client_token).json()["practice_name"] == ""
