"""The REST API in-process: login, CSRF, rate limit, API keys, sessions, schema."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from sprechzimmer.app import create_app
from sprechzimmer.config import Settings
from sprechzimmer.store import SessionState, Store
from sprechzimmer.tokens import digest

from ..conftest import make_settings
from ..helpers import PASSWORD, add_therapist, token_of

API_KEY = "szk_" + "A" * 43


@pytest.fixture
def app_settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url, login_attempts=3, token_ttl=3600)


@pytest.fixture
def client(app_settings: Settings, store: Store) -> Iterator[TestClient]:
    add_therapist(store, "dr-a")
    add_therapist(store, "dr-b")
    store.add_api_key_hash("dr-a", digest(API_KEY))
    with TestClient(create_app(app_settings, store)) as c:
        yield c


def login(client: TestClient, code: str = "dr-a") -> str:
    response = client.post("/api/v1/login", json={"code": code, "password": PASSWORD})
    assert response.status_code == 200, response.text
    csrf: str = response.json()["csrf_token"]
    return csrf


def test_login_sets_a_strict_http_only_cookie(client: TestClient) -> None:
    response = client.post("/api/v1/login", json={"code": "dr-a", "password": PASSWORD})
    assert response.status_code == 200
    cookie = response.headers["set-cookie"]
    assert "sz_session=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "Secure" not in cookie  # plain http on the test server; https adds it
    me = client.get("/api/v1/me")
    assert me.status_code == 200 and me.json()["code"] == "dr-a"


def test_secure_cookie_over_https(tmp_path: Path, database_url: str, store: Store) -> None:
    add_therapist(store, "dr-a")
    settings = make_settings(tmp_path, database_url, public_url="https://video.example.org")
    with TestClient(create_app(settings, store), base_url="https://video.example.org") as c:
        response = c.post("/api/v1/login", json={"code": "dr-a", "password": PASSWORD})
        assert "Secure" in response.headers["set-cookie"]
        assert "max-age=" in response.headers["strict-transport-security"]


def test_wrong_password_is_refused_in_both_languages(client: TestClient) -> None:
    response = client.post("/api/v1/login", json={"code": "dr-a", "password": "nope"})
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "invalid-login" and error["message"] and error["message_de"]
    unknown = client.post("/api/v1/login", json={"code": "nobody", "password": "nope"})
    assert unknown.json() == response.json()  # no hint whether the code exists


def test_login_is_rate_limited_per_code(client: TestClient) -> None:
    for _ in range(3):
        client.post("/api/v1/login", json={"code": "dr-a", "password": "wrong"})
    blocked = client.post("/api/v1/login", json={"code": "dr-a", "password": PASSWORD})
    assert blocked.status_code == 429 and blocked.json()["error"]["code"] == "rate-limited"
    # Another account is not locked out by the attack on dr-a.
    assert (
        client.post("/api/v1/login", json={"code": "dr-b", "password": PASSWORD}).status_code == 200
    )


def test_state_changes_need_the_csrf_token(client: TestClient) -> None:
    csrf = login(client)
    refused = client.post("/api/v1/sessions", json={"client_id": "K-1"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf-failed"
    wrong = client.post(
        "/api/v1/sessions", json={"client_id": "K-1"}, headers={"x-csrf-token": "x"}
    )
    assert wrong.status_code == 403
    ok = client.post("/api/v1/sessions", json={"client_id": "K-1"}, headers={"x-csrf-token": csrf})
    assert ok.status_code == 201


def test_unauthenticated_requests_are_refused(client: TestClient) -> None:
    assert client.get("/api/v1/sessions").status_code == 401
    assert client.post("/api/v1/sessions", json={"client_id": "K"}).status_code == 401
    bad_key = client.get("/api/v1/sessions", headers={"authorization": "Bearer szk_nope"})
    assert bad_key.status_code == 401


def test_forged_cookie_is_refused(client: TestClient) -> None:
    client.cookies.set("sz_session", "1.99999999999.nonce.forgedmac")
    assert client.get("/api/v1/me").status_code == 401


def test_api_key_creates_lists_and_revokes_sessions(client: TestClient, store: Store) -> None:
    auth = {"authorization": f"Bearer {API_KEY}"}
    created = client.post("/api/v1/sessions", json={"client_id": "  K-17 "}, headers=auth)
    assert created.status_code == 201
    body = created.json()
    assert body["client_id"] == "K-17"
    session, t_token = token_of(body["therapist_url"])
    session2, c_token = token_of(body["client_url"])
    assert session == session2 == body["session_id"] and t_token != c_token
    assert body["client_url"].startswith("http://testserver/call#")
    assert "?" not in body["client_url"]  # the token is in the fragment, never the query
    assert len(c_token) == 43  # 256 bits, base64url
    # Only hashes are stored.
    info = store.lookup_token(digest(c_token))
    assert info is not None and info.session.id == session
    assert store.lookup_token(c_token) is None

    listed = client.get("/api/v1/sessions", headers=auth).json()["sessions"]
    assert [s["session_id"] for s in listed] == [session]
    assert listed[0]["waiting"] is False and listed[0]["state"] == "open"

    links = client.post(f"/api/v1/sessions/{session}/links", headers=auth)
    assert links.status_code == 200
    _, fresh = token_of(links.json()["client_url"])
    assert fresh != c_token and store.lookup_token(digest(fresh)) is not None

    assert client.delete(f"/api/v1/sessions/{session}", headers=auth).status_code == 204
    assert store.lookup_token(digest(c_token)) is None
    assert store.lookup_token(digest(fresh)) is None
    revoked = store.get_session(session)
    assert revoked is not None and revoked.state is SessionState.REVOKED


def test_other_therapists_sessions_are_not_found(client: TestClient) -> None:
    auth = {"authorization": f"Bearer {API_KEY}"}
    session = client.post("/api/v1/sessions", json={"client_id": "K"}, headers=auth).json()
    csrf = login(client, "dr-b")
    headers = {"x-csrf-token": csrf}
    assert client.get("/api/v1/sessions").json()["sessions"] == []
    gone = client.delete(f"/api/v1/sessions/{session['session_id']}", headers=headers)
    assert gone.status_code == 404
    assert (
        client.post(f"/api/v1/sessions/{session['session_id']}/links", headers=headers).status_code
        == 404
    )


@pytest.mark.parametrize("client_id", ["", "   ", "x" * 65, "line\nbreak", "\x00"])
def test_bad_client_id_is_a_clear_error(client: TestClient, client_id: str) -> None:
    response = client.post(
        "/api/v1/sessions",
        json={"client_id": client_id},
        headers={"authorization": f"Bearer {API_KEY}"},
    )
    assert response.status_code == 422
    body = response.json()
    assert body["error"]["code"] == "invalid-input" and body["fields"] == ["client_id"]


def test_validation_errors_never_echo_passwords(client: TestClient) -> None:
    response = client.post("/api/v1/login", json={"code": "", "password": "s3cret-value"})
    assert response.status_code == 422
    assert "s3cret-value" not in response.text


def test_logout_clears_the_cookie(client: TestClient) -> None:
    csrf = login(client)
    response = client.post("/api/v1/logout", headers={"x-csrf-token": csrf})
    assert response.status_code == 204
    assert 'sz_session=""' in response.headers["set-cookie"]


def test_disabled_therapist_cannot_log_in_or_use_keys(client: TestClient, store: Store) -> None:
    store.set_disabled("dr-a", True)
    assert (
        client.post("/api/v1/login", json={"code": "dr-a", "password": PASSWORD}).status_code == 401
    )
    assert (
        client.get("/api/v1/sessions", headers={"authorization": f"Bearer {API_KEY}"}).status_code
        == 401
    )


def test_openapi_schema_is_served_and_no_third_party_docs(client: TestClient) -> None:
    schema = client.get("/api/v1/openapi.json").json()
    assert {"/api/v1/sessions", "/api/v1/sessions/{session_id}", "/api/v1/login"} <= set(
        schema["paths"]
    )
    assert client.get("/docs").status_code == 404  # Swagger UI would load a CDN


def test_the_quick_exits_neutral_page_names_nothing_and_loads_nothing(
    client: TestClient,
) -> None:
    """What the client's quick exit leaves in the tab (quickexit.js): an empty "new tab",
    whose source (view-source is one click away) does not say what it is for."""
    response = client.get("/static/neutral.html")
    assert response.status_code == 200
    page = response.text.lower()
    assert "<title>neuer tab</title>" in page
    for telltale in ("sprechzimmer", "<script", "<link", "src=", "href=", "therap", "exit", "<!--"):
        assert telltale not in page, telltale
    assert "default-src 'self'" in response.headers["content-security-policy"]


def test_pages_are_served_with_security_headers(client: TestClient) -> None:
    for path in ("/", "/dashboard", "/call"):
        response = client.get(path)
        assert response.status_code == 200 and "<html" in response.text.lower()
        csp = response.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "object-src 'none'" in csp
        assert response.headers["referrer-policy"] == "no-referrer"
