"""A room's outputs reach the database and the sockets in the order the room made them.

Each batch of billing events is written on a thread of its own. Two batches
of one room used to be written by two threads at once, and under load the
later one was committed first: the events of a call on record out of time
order (seen once in test_e2e_processes under a loaded CI machine). In-process,
with the first write held back on purpose.
"""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

from sprechzimmer import protocol as p
from sprechzimmer.events import EventKind
from sprechzimmer.hub import Hub
from sprechzimmer.protocol import Role
from sprechzimmer.room import BillingEvent, Room, Send
from sprechzimmer.store import EventInfo, Store

from ..conftest import make_settings
from ..helpers import add_therapist, new_invite

CONN = 7


class Outbox:
    def __init__(self) -> None:
        self.frames: list[bytes] = []

    def put(self, data: bytes) -> None:
        self.frames.append(data)


async def test_a_later_batch_waits_for_the_earlier_write(
    store: Store, tmp_path: Path, database_url: str
) -> None:
    therapist = add_therapist(store)
    settings = make_settings(tmp_path, database_url)
    session_id = new_invite(store, settings, therapist).session
    hub = Hub(store)
    room = Room(session_id, "K-1")
    hub.rooms[session_id] = room
    outbox = Outbox()
    hub._sockets[CONN] = outbox  # type: ignore[assignment]

    release = threading.Event()
    first_started = threading.Event()
    real = store.add_events
    calls = 0

    def held_first(events: list[EventInfo]) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            first_started.set()
            release.wait(10)  # bounded: set below
        real(events)

    store.add_events = held_first  # type: ignore[method-assign]
    at = 1_800_000_000.0
    first = [BillingEvent(Role.CLIENT, EventKind.ADMITTED, at), Send(CONN, p.Pong())]
    second = [BillingEvent(Role.THERAPIST, EventKind.MEDIA_CONNECTED, at + 0.001)]
    third = [Send(CONN, p.Waiting())]  # no event, but after the others
    tasks = [asyncio.create_task(hub._apply(room, first))]
    await asyncio.to_thread(first_started.wait, 10)
    tasks.append(asyncio.create_task(hub._apply(room, second)))
    tasks.append(asyncio.create_task(hub._apply(room, third)))
    await asyncio.sleep(0.2)  # the later batches had every chance to overtake
    assert outbox.frames == []  # nobody heard of a change that is not on record
    release.set()
    await asyncio.gather(*tasks)

    kinds = [(e.role, e.kind) for e in store.events_of(session_id)]
    assert kinds == [(Role.CLIENT, EventKind.ADMITTED), (Role.THERAPIST, EventKind.MEDIA_CONNECTED)]
    assert [json.loads(f)["type"] for f in outbox.frames] == ["pong", "waiting"]
