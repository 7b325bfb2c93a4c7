"""The golden vectors of ``tests/vectors/protocol/`` against the Python codec.

``tests/js/protocol-vectors.test.js`` loads the same files for the browser's
codec (see the folder's README for the format). Here: what the browser sends,
the server decodes (``decode_client``) and re-encodes to the same object; what
the server sends, ``encode`` writes exactly as the vector says, and a Python
client (the headless peer) decodes it (``decode_server``) as the browser does
and re-encodes it to the same object. The data channels between the browsers
have no Python codec; their files are only checked for form here.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import types
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

import orjson
import pytest

from sprechzimmer import protocol as p
from sprechzimmer.config import Settings
from sprechzimmer.errors import ProtocolError, TooLarge

VECTORS = Path(__file__).parents[1] / "vectors" / "protocol"
FILES = (
    "client-to-server",
    "server-to-client",
    "quality-channel",
    "e2ee-channel",
    "session-channel",
    "group-keys",
)
KEYS = {"name", "valid", "message", "decoded", "tolerated", "bytes", "why"}


def expand(value: Any) -> Any:
    """The vector with every ``{"$repeat": unit, "times": n, "then": tail}`` written out."""
    if isinstance(value, dict):
        if "$repeat" in value:
            return value["$repeat"] * value["times"] + value.get("then", "")
        return {key: expand(item) for key, item in value.items()}
    if isinstance(value, list):
        return [expand(item) for item in value]
    return value


def load(name: str) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads((VECTORS / f"{name}.json").read_text())
    return [{**case, "message": expand(case["message"])} for case in cases]


def wire(message: Any) -> bytes:
    """The frame as ``JSON.stringify`` writes it (a string case is the frame itself).

    A lone surrogate, which no UTF-8 can carry, becomes its ``\\udXXX`` escape,
    as in ``JSON.stringify``."""
    text = (
        message
        if isinstance(message, str)
        else json.dumps(message, ensure_ascii=False, separators=(",", ":"))
    )
    return text.encode("utf-8", "backslashreplace")


def ids(cases: list[dict[str, Any]]) -> list[str]:
    return [case["name"] for case in cases]


CLIENT = load("client-to-server")
SERVER = load("server-to-client")
SERVER_SENT = [c for c in SERVER if c["valid"] and not c.get("tolerated")]

SERVER_TYPES: dict[str, type] = {
    cls.TYPE: cls
    for cls in (
        p.Welcome,
        p.Waiting,
        p.Knock,
        p.KnockCancelled,
        p.Admitted,
        p.Rekey,
        p.Declined,
        p.PeerJoined,
        p.PeerLeft,
        p.Notice,
        p.Pong,
        p.NetTestServers,
        p.SfuPublished,
        p.SfuSubscribe,
        p.Error,
    )
}
RELAYABLE_TYPES: dict[str, type] = {cls.TYPE: cls for cls in p.WITH_FROM}


@pytest.mark.parametrize("name", FILES)
def test_vector_files_have_their_form(name: str) -> None:
    cases = load(name)
    assert len({case["name"] for case in cases}) == len(cases), "names are unique"
    for case in cases:
        assert {"name", "valid", "message"} <= case.keys() <= KEYS, case["name"]
        assert isinstance(case["valid"], bool), case["name"]
        if not case["valid"]:
            assert not {"decoded", "tolerated"} & case.keys(), case["name"]


def test_every_message_type_has_vectors() -> None:
    """A valid case for every type in both directions; an invalid one for every
    type with fields (a field-less server message has nothing to get wrong)."""

    def types_of(cases: list[dict[str, Any]], valid: bool) -> set[str]:
        return {
            c["message"]["type"]
            for c in cases
            if c["valid"] is valid
            and isinstance(c["message"], dict)
            and isinstance(c["message"].get("type"), str)
        }

    client_types = set(p._CLIENT_TYPES)
    assert types_of(CLIENT, True) == client_types
    assert client_types <= types_of(CLIENT, False)
    server_types = set(SERVER_TYPES) | set(RELAYABLE_TYPES)
    assert types_of(SERVER_SENT, True) == server_types
    with_fields = {kind for kind, cls in SERVER_TYPES.items() if dataclasses.fields(cls)} | set(
        RELAYABLE_TYPES
    )
    assert with_fields <= types_of(SERVER, False)


# --- browser to server: the server decodes -------------------------------------------------


@pytest.mark.parametrize("case", CLIENT, ids=ids(CLIENT))
def test_client_to_server(case: dict[str, Any]) -> None:
    data = wire(case["message"])
    if "bytes" in case:
        assert len(data) == case["bytes"]
    if not case["valid"]:
        with pytest.raises(ProtocolError):
            p.decode_client(data, p.DEFAULT_MAX_MESSAGE_BYTES)
        return
    message = p.decode_client(data, p.DEFAULT_MAX_MESSAGE_BYTES)
    expected = case.get("decoded") or orjson.loads(data)
    again = orjson.loads(p.encode(message))
    # Every field given comes back unchanged; one left out comes back as its default
    # (or stays out, when the field is never null on the wire).
    assert {key: again.get(key, "(left out)") for key in expected} == expected
    defaults = {f.name: f.default for f in dataclasses.fields(message)}
    left_out = {key: value for key, value in again.items() if key not in expected}
    assert left_out == orjson.loads(orjson.dumps({key: defaults[key] for key in left_out}))
    assert p.decode_client(p.encode(message), p.DEFAULT_MAX_MESSAGE_BYTES) == message


# --- server to browser: the server encodes -------------------------------------------------


def _value(hint: Any, value: Any) -> Any:
    """``value`` of the wire as the dataclass field typed ``hint`` holds it."""
    if value is None:
        return None
    if get_origin(hint) in (Union, types.UnionType):
        (hint,) = [arg for arg in get_args(hint) if arg is not type(None)]
    if get_origin(hint) is list:
        (item,) = get_args(hint)
        return [_value(item, v) for v in value]
    if dataclasses.is_dataclass(hint):
        return _build(hint, value)  # type: ignore[arg-type]
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint(value)
    return value


def _build(cls: type, fields: dict[str, Any]) -> Any:
    """The dataclass of ``cls`` with exactly these fields: an unknown one or a
    missing required one is a ``TypeError``."""
    hints = get_type_hints(cls)
    return cls(**{name: _value(hints[name], value) for name, value in fields.items()})


def server_message(obj: dict[str, Any]) -> p.ServerMessage:
    fields = dict(obj)
    kind = fields.pop("type")
    if kind in RELAYABLE_TYPES:
        sender = p.Role(fields.pop("from"))
        seat = fields.pop("from_seat", p.ROLE_SEAT)
        message: p.ServerMessage = p.Relayed(_build(RELAYABLE_TYPES[kind], fields), sender, seat)
        return message
    built: p.ServerMessage = _build(SERVER_TYPES[kind], fields)
    return built


# What decode_server does with each case the browser only tolerates. All are taken,
# as the browser takes them: the headless peer, too, must get along with an older or
# newer server. A new tolerated case needs its line here.
TOLERATED = {
    "welcome: without resumed and relay_urls": "taken: resumed False, relay_urls [] "
    "(the defaults; the peer uses neither)",
    "welcome: an unknown field": "taken: the field is dropped",
    "welcome: ice server urls as one string": "taken: a list of one, as RTCIceServer does",
    "pong: an unknown field": "taken: the field is dropped",
    "admitted: without the bitrate caps": "taken: the dataclass's caps (the server's "
    "defaults; the browser keeps its own, the peer sets none)",
    "candidate: relayed as sent, without optional fields": "taken: sdpMid, sdpMLineIndex "
    "and usernameFragment None, as null",
    "pong: a frame of 1 MiB": "taken at MAX_SERVER_FRAME_BYTES, the browser's limit; "
    "the pad is dropped",
    "knock: from an older server": "taken: name None, consent False (the peer shows neither)",
    "media-state: relayed without paused": "taken: paused, screen False (an older server)",
}


def test_every_tolerated_case_has_a_decision() -> None:
    assert {case["name"] for case in SERVER if case.get("tolerated")} == TOLERATED.keys()


@pytest.mark.parametrize("case", SERVER, ids=ids(SERVER))
def test_server_to_client_decodes(case: dict[str, Any]) -> None:
    data = wire(case["message"])
    if "bytes" in case:
        assert len(data) == case["bytes"]
    if not case["valid"]:
        with pytest.raises(ProtocolError):
            p.decode_server(data, p.MAX_SERVER_FRAME_BYTES)
        return
    message = p.decode_server(data, p.MAX_SERVER_FRAME_BYTES)
    # What the browser makes of it; a field it leaves out is its dataclass's default.
    assert message == server_message(case.get("decoded") or case["message"])
    again = p.encode_bytes(message)
    if not case.get("tolerated"):
        assert orjson.loads(again) == case["message"]
    assert p.decode_server(again, p.MAX_SERVER_FRAME_BYTES) == message


def test_decode_server_refuses_a_frame_over_its_limit() -> None:
    frame = p.encode_bytes(p.Relayed(p.Offer("x" * 100), p.Role.CLIENT))
    assert p.decode_server(frame, len(frame)) == p.Relayed(p.Offer("x" * 100), p.Role.CLIENT)
    with pytest.raises(TooLarge):
        p.decode_server(frame, len(frame) - 1)


@pytest.mark.parametrize("case", SERVER_SENT, ids=ids(SERVER_SENT))
def test_server_to_client(case: dict[str, Any]) -> None:
    message = server_message(case["message"])
    data = p.encode_bytes(message)
    if "bytes" in case:
        assert len(data) == case["bytes"]
    assert orjson.loads(data) == case["message"]
    assert p.to_wire(message) == case["message"]


def test_the_frame_limits_are_the_documented_ones() -> None:
    assert Settings.model_fields["max_message_bytes"].default == p.DEFAULT_MAX_MESSAGE_BYTES
    doc = (Path(__file__).parents[2] / "docs" / "protocol.md").read_text()
    assert "`SPRECHZIMMER_MAX_MESSAGE_BYTES`" in doc
    for n in (
        p.DEFAULT_MAX_MESSAGE_BYTES,
        p.MAX_MESSAGE_BYTES_LIMIT,
        p.MAX_SERVER_FRAME_BYTES,
    ):
        assert f"{n:,}".replace(",", " ") in doc, n
