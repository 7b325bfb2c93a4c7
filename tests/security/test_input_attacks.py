"""Attacks with malformed input (issue 10, points 6 and 10), in-process.

Each test is an attack from the review that worked on the landed main: a
non-ASCII cookie or header that made a comparison raise (HTTP 500 with a
traceback per request), a message with a key twice (the last one won), and
identifiers accepted with a trailing newline.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from sprechzimmer import protocol as p
from sprechzimmer.app import create_app
from sprechzimmer.config import Settings
from sprechzimmer.errors import BadMessage
from sprechzimmer.store import Store
from sprechzimmer.tokens import looks_like_session_id, looks_like_token

from ..conftest import make_settings
from ..helpers import PASSWORD, add_therapist


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url, metrics_token="m" * 32)


@pytest.fixture
def client(settings: Settings, store: Store) -> Iterator[TestClient]:
    add_therapist(store, "dr-a")
    app = create_app(settings, store)

    @app.get("/boom", include_in_schema=False)
    async def boom() -> None:
        raise RuntimeError("a bug of ours")

    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def test_a_non_ascii_cookie_or_header_is_refused_cleanly(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    cookie = "sz_session=1.9999999999.x.\u00e9\u00e9\u00e9".encode("latin-1")
    assert client.get("/api/v1/me", headers={"Cookie": cookie}).status_code == 401
    # A genuine login with a non-ASCII CSRF token on a change.
    login = client.post("/api/v1/login", json={"code": "dr-a", "password": PASSWORD})
    assert login.status_code == 200
    changed = client.post(
        "/api/v1/sessions",
        json={"client_id": "K-9"},
        headers={"X-CSRF-Token": "\u00e9t\u00e9".encode("latin-1")},
    )
    assert changed.status_code == 403, changed.text
    metrics = client.get("/metrics", headers={"Authorization": "Bearer \u00e9".encode("latin-1")})
    assert metrics.status_code == 401
    assert "Traceback" not in caplog.text


def test_a_server_error_is_neutral_and_carries_the_security_headers(
    client: TestClient,
) -> None:
    response = client.get("/boom")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal"
    assert "a bug of ours" not in response.text
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    "text",
    [
        '{"type":"admit","type":"ping"}',
        '{"type" : "admit", "type":"ping"}',
        '{"type":"media","state":"connected","state":"disconnected"}',
        '{"type":"offer","sdp":"v=0\\r\\n","sdp":"v=0\\r\\nsneaky"}',
    ],
)
def test_a_key_twice_is_a_bad_message(text: str) -> None:
    with pytest.raises(BadMessage, match="a key twice"):
        p.decode_client(text, 65536)


def test_quotes_and_colons_inside_strings_are_no_keys() -> None:
    offer = p.decode_client('{"type":"offer","sdp":"a\\":b \\\\\\" x"}', 65536)
    assert offer == p.Offer('a":b \\" x')
    spaced = p.decode_client('{ "type" : "candidate" , "candidate" : "c:1" }', 65536)
    assert spaced == p.Candidate("c:1")


def test_identifiers_with_a_trailing_newline_are_no_identifiers() -> None:
    assert looks_like_session_id("0" * 32) and not looks_like_session_id("0" * 32 + "\n")
    assert looks_like_token("A" * 43) and not looks_like_token("A" * 43 + "\n")
