"""A real name typed as client ID by mistake can be erased (issue 12, point 10), in-process.

The review found that such a name could only be revoked: it stayed in the list
and in the database. After ``DELETE /api/v1/sessions/{id}/record`` the name is in
no column of any table (every table the migrations made, read back whole), the
session id is nowhere either, and the service's log never held either. Runs on SQLite
and PostgreSQL alike.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import MetaData, select
from starlette.testclient import TestClient

from sprechzimmer.app import create_app
from sprechzimmer.store import Store
from sprechzimmer.tokens import digest

from ..conftest import make_settings
from ..helpers import add_therapist, hello, token_of

NAME = "Erika Zauberflöte-Mustermann"
"""Distinctive, so that a hit is this name and nothing else."""
API_KEY = "szk_" + "F" * 43
AUTH = {"authorization": f"Bearer {API_KEY}"}
ORIGIN = {"origin": "http://testserver"}


def everything_stored(store: Store) -> str:
    """Every row of every table in the database, as one text to search."""
    tables = MetaData()
    tables.reflect(store.engine)
    assert {"sessions", "tokens", "events", "therapists"} <= set(tables.tables)
    with store.engine.connect() as c:
        return "\n".join(
            repr(tuple(row)) for table in tables.sorted_tables for row in c.execute(select(table))
        )


def test_after_erasing_the_name_is_in_no_table(
    tmp_path: Path, database_url: str, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    add_therapist(store, "dr-erase")
    store.add_api_key_hash("dr-erase", digest(API_KEY))
    settings = make_settings(tmp_path, database_url)
    with TestClient(create_app(settings, store)) as client:
        created = client.post("/api/v1/sessions", json={"client_id": NAME}, headers=AUTH).json()
        sid = created["session_id"]
        # A whole call, so that every kind of row exists: tokens, a seat's token,
        # events of both roles, media connected.
        seat = client.post(f"/api/v1/sessions/{sid}/join", headers=AUTH).json()
        with (
            client.websocket_connect("/ws", headers=ORIGIN) as therapist,
            client.websocket_connect("/ws", headers=ORIGIN) as patient,
        ):
            therapist.send_json(hello(*token_of(seat["therapist_url"])))
            assert therapist.receive_json()["type"] == "welcome"
            patient.send_json(hello(*token_of(created["client_url"])))
            assert patient.receive_json()["type"] == "welcome"
            assert therapist.receive_json()["type"] == "knock"
            therapist.send_json({"type": "admit"})
            assert therapist.receive_json()["type"] == "admitted"
            for ws in (therapist, patient):
                ws.send_json({"type": "media", "state": "connected"})
            assert NAME in everything_stored(store) and sid in everything_stored(store)

            erased = client.delete(f"/api/v1/sessions/{sid}/record", headers=AUTH)
            assert erased.status_code == 204

        stored = everything_stored(store)
        assert NAME not in stored
        assert sid not in stored
        listed = client.get("/api/v1/sessions", headers=AUTH).json()["sessions"]
        assert listed == []
    # The service's own log lines (the test client logs the URLs it requests itself).
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("sprechzimmer"))
    assert ours and NAME not in ours and sid not in ours
