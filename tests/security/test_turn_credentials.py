"""TURN credentials go to the members of a call only, and end with their
admission (issue 10, point 8).

The review found that every therapist join minted 3-hour relay credentials,
with no client there at all, so that a leaked 24-hour link meant relay access
for about 27 hours. Now credentials come only when a call starts (``admitted``,
or the ``welcome`` of a seat taken back during one), each member its own; they
expire ``turn_ttl`` after that at the latest, and never after the member's
admission ends (the earlier of its link's and its session's expiry). Before a
call a page learns only which relay URLs exist (``relay_urls``).

Pure room tests first, then the real app over its WebSocket, then two server
processes, where the client's join is proxied to the process that owns the room.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import time
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from sprechzimmer import protocol as p
from sprechzimmer.app import create_app
from sprechzimmer.protocol import IceServerInfo, Role
from sprechzimmer.room import Output, Room, RoomConfig, Send
from sprechzimmer.store import Store
from sprechzimmer.turn import IcePolicy, IceServerSpec

from ..conftest import make_settings
from ..helpers import add_therapist, hello, new_invite
from ..real.test_backplane import WITHIN, _deployment, _seat

CLIENT: dict[str, object] = {"name": "Klientin K.", "consent": True}
"""What a client's hello says before it takes its seat: its name and its consent."""
KNOCK = p.Knock(name="Klientin K.", consent=True)
"""The knock of that client, as the therapist gets it."""

T, C = 1, 2
NOW = 1_750_000_000.0
TTL = 3 * 3600
DAY = 24 * 3600.0
SECRET = "0123456789abcdef0123456789abcdef-turn"
STUN = IceServerSpec(("stun:stun.example.de:3478",), "DE")
REST = IceServerSpec(
    ("turn:turn.example.de:3478?transport=udp", "turns:turn.example.de:443?transport=tcp"),
    "DE",
    "rest",
)
STATIC = IceServerSpec(("turn:static.example.de:3478",), "DE", "static", "user", "pass")
POLICY = IcePolicy(servers=(STUN, REST, STATIC), secret=SECRET, ttl=TTL)
RELAY_URLS = [*REST.urls, *STATIC.urls]


def _room() -> Room:
    # Members that never time out: the tests move the clock by hours.
    return Room("a" * 32, "K-1", RoomConfig(heartbeat_interval=1e6, ice=POLICY.offer()))


def _delivered(send: Send) -> p.ServerMessage:
    """The message as the hub sends it: relay credentials minted for the room's grant."""
    if send.grant is None:
        return send.message
    return dataclasses.replace(send.message, ice_servers=POLICY.granted(send.grant))


def _sent(outputs: list[Output], conn: int) -> list[p.ServerMessage]:
    return [_delivered(o) for o in outputs if isinstance(o, Send) and o.conn == conn]


def _welcome(outputs: list[Output], conn: int) -> p.Welcome:
    (welcome,) = [m for m in _sent(outputs, conn) if isinstance(m, p.Welcome)]
    return welcome


def _admitted(outputs: list[Output], conn: int) -> p.Admitted:
    (admitted,) = [m for m in _sent(outputs, conn) if isinstance(m, p.Admitted)]
    return admitted


def _no_relay_access(servers: Sequence[IceServerInfo]) -> bool:
    """No credential and no TURN URL: nothing that opens the relay."""
    return all(
        s.username is None and s.credential is None and not u.startswith(("turn:", "turns:"))
        for s in servers
        for u in s.urls
    )


def _rest_expiry(servers: Sequence[IceServerInfo]) -> int:
    """The expiry of the one minted (REST) credential, checked as coturn would."""
    (rest,) = [s for s in servers if s.urls == list(REST.urls)]
    assert rest.username is not None and rest.credential is not None
    mac = hmac.new(SECRET.encode(), rest.username.encode(), hashlib.sha1).digest()
    assert rest.credential == base64.b64encode(mac).decode()
    return int(rest.username.partition(":")[0])


def _static(servers: Sequence[IceServerInfo]) -> list[tuple[str | None, str | None]]:
    return [(s.username, s.credential) for s in servers if s.urls == list(STATIC.urls)]


# --- the room, pure -----------------------------------------------------------------


def test_nobody_gets_turn_credentials_before_the_call_starts() -> None:
    room = _room()
    out = room.join(T, Role.THERAPIST, None, "t1", NOW, valid_until=NOW + DAY)
    welcome_t = _welcome(out, T)
    # The therapist alone (an opened link, a leaked one): the relays exist, their
    # credentials do not, neither minted nor the operator's static ones.
    assert welcome_t.ice_servers == [IceServerInfo(list(STUN.urls))]
    assert welcome_t.relay_urls == RELAY_URLS
    out = room.join(C, Role.CLIENT, None, "c1", NOW + 60, valid_until=NOW + DAY, **CLIENT)
    welcome_c = _welcome(out, C)
    assert not welcome_c.admitted and _no_relay_access(welcome_c.ice_servers)
    assert welcome_c.relay_urls == RELAY_URLS
    assert _sent(out, T) == [KNOCK]  # nothing with servers goes to the therapist


def test_each_member_of_a_starting_call_gets_credentials_ending_with_its_admission() -> None:
    room = _room()
    therapist_until = NOW + DAY  # the therapist's link lives longer than ``turn_ttl``
    client_until = NOW + 3600.5  # the client's ends within it
    room.join(T, Role.THERAPIST, None, "t1", NOW, valid_until=therapist_until)
    room.join(C, Role.CLIENT, None, "c1", NOW + 1, valid_until=client_until, **CLIENT)
    start = NOW + 2
    out = room.receive(T, p.Admit(), start)
    servers_t, servers_c = _admitted(out, T).ice_servers, _admitted(out, C).ice_servers
    expiry_t, expiry_c = _rest_expiry(servers_t), _rest_expiry(servers_c)
    assert start < expiry_t <= min(start + TTL, therapist_until)
    assert expiry_t == int(start) + TTL
    assert start < expiry_c <= min(start + TTL, client_until)
    assert expiry_c == int(client_until)  # the admission's end, not three hours
    assert _static(servers_t) == _static(servers_c) == [("user", "pass")]
    names = {s.username for s in (*servers_t, *servers_c) if s.urls == list(REST.urls)}
    assert len(names) == 2  # each member its own


def test_a_session_ending_in_ten_minutes_gives_credentials_for_ten_minutes_at_most() -> None:
    room = _room()
    session_end = NOW + 600
    room.join(T, Role.THERAPIST, None, "t1", NOW, valid_until=session_end)
    room.join(C, Role.CLIENT, None, "c1", NOW + 1, valid_until=session_end, **CLIENT)
    out = room.receive(T, p.Admit(), NOW + 5)
    for conn in (T, C):
        expiry = _rest_expiry(_admitted(out, conn).ice_servers)
        assert NOW + 5 < expiry <= session_end, expiry - NOW


def test_a_seat_taken_back_in_a_call_gets_credentials_until_its_admission_ends() -> None:
    room = _room()
    room.join(T, Role.THERAPIST, None, "t1", NOW, valid_until=NOW + DAY)
    room.join(C, Role.CLIENT, None, "c1", NOW + 1, valid_until=NOW + DAY, **CLIENT)
    room.receive(T, p.Admit(), NOW + 2)
    room.disconnect(C, NOW + 10)
    # Its browser comes back with its ticket; this time its link ends in 5 minutes.
    out = room.join(
        C + 10, Role.CLIENT, "c1", "c2", NOW + 20, epoch=1, valid_until=NOW + 320, **CLIENT
    )
    welcome = _welcome(out, C + 10)
    assert welcome.admitted and welcome.resumed
    assert NOW + 20 < _rest_expiry(welcome.ice_servers) <= NOW + 320


def test_the_room_holds_no_secret_and_mints_nothing() -> None:
    """The room decides who may relay and until when; the credentials are made
    at the edge, by the hub, with a secret the room never holds."""
    assert not hasattr(POLICY.offer(), "secret")
    room = _room()
    room.join(T, Role.THERAPIST, None, "t1", NOW, valid_until=NOW + DAY)
    room.join(C, Role.CLIENT, None, "c1", NOW + 1, valid_until=NOW + 600, **CLIENT)
    out = room.receive(T, p.Admit(), NOW + 2)
    raw = [o for o in out if isinstance(o, Send) and isinstance(o.message, p.Admitted)]
    assert len(raw) == 2
    for send in raw:
        assert isinstance(send.message, p.Admitted)
        assert _no_relay_access(send.message.ice_servers)  # what the room made
        assert send.grant is not None and send.grant.now == NOW + 2
    assert {(s.grant.role, s.grant.valid_until) for s in raw if s.grant} == {
        (Role.THERAPIST, NOW + DAY),
        (Role.CLIENT, NOW + 600),
    }


def test_a_member_whose_admission_has_ended_gets_no_turn_entry() -> None:
    for until in (NOW, NOW - 1, NOW + 0.5):
        servers = POLICY.servers_for("a" * 32, Role.CLIENT, NOW, valid_until=until)
        assert servers == [IceServerInfo(list(STUN.urls))], until
    # In a room: the therapist's admission ended before the call started (the hub
    # would have refused it a new join; its open socket stays, the relay does not).
    room = _room()
    room.join(T, Role.THERAPIST, None, "t1", NOW, valid_until=NOW + 10)
    room.join(C, Role.CLIENT, None, "c1", NOW + 1, valid_until=NOW + DAY, **CLIENT)
    out = room.receive(T, p.Admit(), NOW + 20)
    assert _no_relay_access(_admitted(out, T).ice_servers)
    assert _rest_expiry(_admitted(out, C).ice_servers) == int(NOW + 20) + TTL


# --- the real app, in process ---------------------------------------------------------


def _turn_settings(tmp_path: Path, database_url: str) -> Any:
    rest = {"urls": list(REST.urls), "region": "DE", "auth": "rest"}
    return make_settings(
        tmp_path, database_url, ice_servers=[rest], turn_secret=SECRET, turn_ttl=TTL
    )


def test_the_app_gives_credentials_only_to_the_call_and_within_the_session(
    tmp_path: Path, database_url: str, store: Store
) -> None:
    settings = _turn_settings(tmp_path, database_url)
    invite = new_invite(store, settings, add_therapist(store))
    # The links are valid for a day; the session itself ends in ten minutes.
    session_end = int(time.time()) + 600
    store.extend_session(invite.session, dt.datetime.fromtimestamp(session_end, dt.UTC))
    origin = {"origin": "http://testserver"}
    with TestClient(create_app(settings, store)) as client, ExitStack() as sockets:
        t = sockets.enter_context(client.websocket_connect("/ws", headers=origin))
        t.send_json(hello(invite.session, invite.therapist_token))
        welcome_t = t.receive_json()
        assert welcome_t["type"] == "welcome", welcome_t
        assert welcome_t["ice_servers"] == [] and welcome_t["relay_urls"] == list(REST.urls)
        c = sockets.enter_context(client.websocket_connect("/ws", headers=origin))
        c.send_json(hello(invite.session, invite.client_token))
        welcome_c = c.receive_json()
        assert welcome_c["type"] == "welcome" and welcome_c["ice_servers"] == []
        assert c.receive_json()["type"] == "waiting"
        assert t.receive_json()["type"] == "knock"
        t.send_json({"type": "admit"})
        started = time.time()
        for ws in (t, c):
            admitted = ws.receive_json()
            assert admitted["type"] == "admitted", admitted
            servers = [IceServerInfo(**s) for s in admitted["ice_servers"]]
            assert started < _rest_expiry(servers) <= session_end


# --- two processes: the client's join proxied to the room's owner ----------------------


async def test_a_join_proxied_to_another_process_gets_credentials_within_its_link(
    tmp_path: Path,
) -> None:
    rest = {"urls": list(REST.urls), "region": "DE", "auth": "rest"}
    env = {
        "SPRECHZIMMER_ICE_SERVERS": json.dumps([rest]),
        "SPRECHZIMMER_TURN_SECRET": SECRET,
        "SPRECHZIMMER_TURN_TTL": str(TTL),
        "SPRECHZIMMER_TOKEN_TTL": "600",  # links and session: ten minutes
    }
    with _deployment(tmp_path, **env) as d:
        session, t_token, c_token = d.servers[0].invite()
        invited = time.time()  # the links end at most ten minutes from here
        therapist = await _seat(d, d.servers[0], session, t_token)  # its room lives here
        client = await _seat(d, d.servers[1], session, c_token)  # proxied to it
        try:
            await therapist.member.expect("knock", WITHIN)
            await therapist.member.send({"type": "admit"})
            for seat in (therapist, client):
                admitted = await seat.member.expect("admitted", WITHIN)
                servers = [IceServerInfo(**s) for s in admitted["ice_servers"]]
                assert invited < _rest_expiry(servers) <= invited + 600
        finally:
            for seat in (therapist, client):
                await seat.member.close()
