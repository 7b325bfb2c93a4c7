"""The dashboard's "Beitreten" (issue 10, point 10), in-process.

The review found that each join from the dashboard minted two new tokens
(a client link nobody asked for) and moved the session's expiry on by a day:
opening one's own room kept a client link alive forever. Joining now takes
the therapist's own seat: one therapist token, expiring with the session.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import httpx2 as httpx
from sqlalchemy import select

from sprechzimmer.app import create_app
from sprechzimmer.store import Store, Token

from ..conftest import make_settings
from ..helpers import PASSWORD, add_therapist


def _tokens(store: Store, session_id: str) -> list[tuple[str, dt.datetime]]:
    with store.engine.connect() as db:
        rows = db.execute(
            select(Token.role, Token.expires_at).where(Token.session_id == session_id)
        )
        return sorted((role, expires) for role, expires in rows)


async def test_joining_from_the_dashboard_mints_no_client_link_and_keeps_the_expiry(
    tmp_path: Path, database_url: str, store: Store
) -> None:
    add_therapist(store, "dr-a")
    app = create_app(make_settings(tmp_path, database_url, token_ttl=3600), store)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        login = await http.post("/api/v1/login", json={"code": "dr-a", "password": PASSWORD})
        csrf = {"X-CSRF-Token": login.json()["csrf_token"]}
        created = (
            await http.post("/api/v1/sessions", json={"client_id": "K-1"}, headers=csrf)
        ).json()
        session_id = created["session_id"]
        before = _tokens(store, session_id)
        expires = store.get_session(session_id).expires_at  # type: ignore[union-attr]

        for _ in range(3):
            seat = await http.post(f"/api/v1/sessions/{session_id}/join", headers=csrf)
            assert seat.status_code == 200
            assert seat.json()["therapist_url"].startswith(
                f"http://testserver/call#s={session_id}&t="
            )
        after = _tokens(store, session_id)
        assert store.get_session(session_id).expires_at == expires  # type: ignore[union-attr]
        added = list(after)
        for token in before:
            added.remove(token)
        assert [role for role, _ in added] == ["therapist"] * 3
        assert all(at <= expires for _, at in added)

        # Nobody else's session, and not one that was revoked.
        other = await http.post("/api/v1/sessions/" + "f" * 32 + "/join", headers=csrf)
        assert other.status_code == 404
        await http.delete(f"/api/v1/sessions/{session_id}", headers=csrf)
        gone = await http.post(f"/api/v1/sessions/{session_id}/join", headers=csrf)
        assert gone.status_code == 404


def test_the_dashboard_uses_the_seat_not_new_links() -> None:
    dashboard = Path(__file__).parents[2] / "src/sprechzimmer/static/js/dashboard.js"
    source = dashboard.read_text()
    body = source[source.index("async function joinSession") :]
    body = body[: body.index("\n}\n")]
    assert "api.joinSession(" in body and "newLinks" not in body
