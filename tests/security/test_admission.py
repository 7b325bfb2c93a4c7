"""Admission stays with the admitted browser and ends with the therapist's
hang-up (issue 10, point 4), pure.

The review found that the therapist's own hang-up did not end the client's
admission: the client link, entered again later, went straight into the call.
(That a copied link knocks while the admitted browser is away is covered by
tests/pure/test_room.py and tests/app/test_signaling.py since the resume tickets.)
"""

from __future__ import annotations

from sprechzimmer import protocol as p
from sprechzimmer.protocol import Role
from sprechzimmer.room import CallState, Room, Send

CLIENT: dict[str, object] = {"name": "Klientin K.", "consent": True}
"""What a client's hello says before it takes its seat: its name and its consent."""
KNOCK = p.Knock(name="Klientin K.", consent=True)
"""The knock of that client, as the therapist gets it."""

T, C = 1, 2


def _messages(outputs: list[object], conn: int) -> list[p.ServerMessage]:
    return [o.message for o in outputs if isinstance(o, Send) and o.conn == conn]


def test_the_therapists_hang_up_ends_the_admission_of_the_admitted_browser() -> None:
    room = Room("a" * 32, "K-1")
    room.join(T, Role.THERAPIST, None, "t1", 0.0)
    room.join(C, Role.CLIENT, None, "c1", 1.0, **CLIENT)
    room.receive(T, p.Admit(), 2.0)
    assert room.state is CallState.ADMITTED
    out = room.receive(T, p.Bye(), 3.0)
    assert p.PeerLeft(Role.THERAPIST, p.LeaveReason.HANGUP) in _messages(out, C)
    room.receive(C, p.Bye(), 3.5)
    assert room.state is CallState.IDLE
    # The therapist opens the room again; the very browser that was admitted
    # comes back with its ticket's nonce: it knocks like anybody else.
    room.join(T, Role.THERAPIST, None, "t2", 10.0)
    out = room.join(C + 10, Role.CLIENT, "c1", "c2", 11.0, **CLIENT)
    assert p.Waiting() in _messages(out, C + 10)
    assert KNOCK in _messages(out, T)
    assert room.state is CallState.WAITING


def test_a_client_still_there_after_the_hang_up_waits_to_be_admitted_again() -> None:
    room = Room("a" * 32, "K-1")
    room.join(T, Role.THERAPIST, None, "t1", 0.0)
    room.join(C, Role.CLIENT, None, "c1", 1.0, **CLIENT)
    room.receive(T, p.Admit(), 2.0)
    room.receive(T, p.Bye(), 3.0)
    assert room.state is CallState.WAITING and room.admitted_resume == {}
    out = room.join(T + 10, Role.THERAPIST, None, "t2", 10.0)
    assert KNOCK in _messages(out, T + 10)
