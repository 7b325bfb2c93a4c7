"""What an operator's command does to a running call (issue 10, point 5).

``sprechzimmer session revoke``, ``therapist disable`` and ``privacy delete``
write to the database from another process; the review found both sockets
open and relaying afterwards, and a delete during a call that made the next
message fail on a foreign key and logged the erased session's full id. Here
the store is changed the way those commands change it, beside a running app.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from sprechzimmer.app import create_app
from sprechzimmer.store import Store

from ..app.test_signaling import expect_close, join_call
from ..conftest import make_settings
from ..helpers import Invite, add_therapist, new_invite

Ending = Callable[[Store, Invite, int], object]

ENDINGS: dict[str, Ending] = {
    "session revoke": lambda store, invite, _: store.revoke_session(invite.session),
    "therapist disable": lambda store, _invite, __: store.set_disabled("dr-test", True),
    "privacy delete": lambda store, _, therapist: store.delete_client(therapist, "K-1"),
}


@pytest.fixture
def running(tmp_path: Path, database_url: str, store: Store) -> Iterator[tuple[TestClient, int]]:
    therapist = add_therapist(store)
    with TestClient(create_app(make_settings(tmp_path, database_url), store)) as client:
        yield client, therapist


@pytest.mark.parametrize("command", sorted(ENDINGS))
def test_a_command_from_outside_ends_the_running_call(
    running: tuple[TestClient, int],
    store: Store,
    command: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client, therapist = running
    invite = new_invite(store, client.app.state.settings, therapist)  # type: ignore[attr-defined]
    with ExitStack() as sockets, caplog.at_level(logging.INFO):
        t, c = join_call(client, invite, sockets)
        ENDINGS[command](store, invite, therapist)
        # Within the server's next look at the store (every 2 s); bounded, so
        # that a server that never looks fails here instead of hanging below.
        hub = client.app.state.hub  # type: ignore[attr-defined]
        for _ in range(100):
            if invite.session not in hub.rooms:
                break
            time.sleep(0.1)
        assert invite.session not in hub.rooms, "the call goes on"
        expect_close(t, "session-ended", 4003)
        expect_close(c, "session-ended", 4003)
    assert invite.session not in caplog.text and "Traceback" not in caplog.text
    if command == "privacy delete":
        assert store.events_of(invite.session) == []  # nothing written after the delete
    else:
        kinds = [(e.role.value, e.kind.value) for e in store.events_of(invite.session)]
        assert ("therapist", "left") in kinds and ("client", "left") in kinds
