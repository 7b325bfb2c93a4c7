"""The SFU's API as this server uses it (issue 16, being built: no call uses it yet):
a Janus session with a VideoRoom handle, and the rooms of group calls.

Only this server talks to the SFU's API (on loopback, behind the API secret; see
``sfu.py``). Every room it creates refuses unencrypted media (``require_e2ee``),
never records (``record`` off, and ``lock_record``: starting it would need the
room's own secret, which only this server holds and never uses for that), is
private (not listed to participants) and has a random name, so that nothing in
the SFU links a room to a session. The transport is a function passed in, so the
request bodies are tested without Janus and the real one in ``tests/real``.
"""

from __future__ import annotations

import http.client
import json
import secrets as random
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from .sfu import SfuSecrets

MAX_PUBLISHERS = 9
"""The therapist and eight clients."""
TIMEOUT = 5.0

PostJson = Callable[[str, dict[str, Any]], dict[str, Any]]
"""POST a JSON object to a URL and return the JSON answer (OSError when unreachable)."""


class SfuError(Exception):
    """The SFU refused a request or did not answer as its API says."""


def _json(method: str, url: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """One request to the SFU's API, http or https only, no proxies, no redirects."""
    parts = urlsplit(url)
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(
            parts.netloc, timeout=TIMEOUT, context=ssl.create_default_context()
        )
    elif parts.scheme == "http":
        conn = http.client.HTTPConnection(parts.netloc, timeout=TIMEOUT)
    else:
        raise ValueError(f"not an http(s) address: {url}")
    try:
        data = None if body is None else json.dumps(body).encode()
        headers = {} if body is None else {"Content-Type": "application/json"}
        conn.request(method, parts.path or "/", body=data, headers=headers)
        answer = json.loads(conn.getresponse().read(1 << 20))
    finally:
        conn.close()
    if not isinstance(answer, dict):
        raise ValueError("the answer is not a JSON object")
    return answer


def http_post_json(url: str, body: dict[str, Any]) -> dict[str, Any]:
    return _json("POST", url, body)


def http_get_json(url: str) -> dict[str, Any]:
    return _json("GET", url)


def transaction() -> str:
    return random.token_hex(8)


def new_room_name() -> str:
    """Random: the SFU learns nothing that links a room to a session."""
    return "r-" + random.token_hex(12)


def create_room_body(room: str, room_secret: str, room_key: str) -> dict[str, Any]:
    """The VideoRoom ``create`` request of a group call's room."""
    return {
        "request": "create",
        "room": room,
        "admin_key": room_key,
        "secret": room_secret,
        "description": "",
        "is_private": True,
        "publishers": MAX_PUBLISHERS,
        "require_e2ee": True,
        "record": False,
        "lock_record": True,
        "permanent": False,
        "notify_joining": False,
        "audiocodec": "opus",
        "videocodec": "vp8",
    }


class VideoRoomHandle:
    """A Janus session with the VideoRoom plugin attached, for plugin requests."""

    def __init__(self, url: str, secrets: SfuSecrets, post: PostJson, session: int, handle: int):
        self._url, self._secrets, self._post = url.rstrip("/"), secrets, post
        self._session, self._handle = session, handle

    def request(self, body: dict[str, Any]) -> dict[str, Any]:
        """A synchronous VideoRoom request; its ``plugindata.data``, or SfuError."""
        answer = self._post(
            f"{self._url}/{self._session}/{self._handle}",
            {
                "janus": "message",
                "transaction": transaction(),
                "apisecret": self._secrets.api,
                "body": body,
            },
        )
        data = answer.get("plugindata", {}).get("data")
        if answer.get("janus") != "success" or not isinstance(data, dict):
            raise SfuError(f"the SFU refused {body.get('request')!r}: {answer.get('error')}")
        if "error_code" in data:
            raise SfuError(f"the SFU refused {body.get('request')!r}: {data.get('error')}")
        return data

    def create_room(self, room: str, room_secret: str) -> None:
        data = self.request(create_room_body(room, room_secret, self._secrets.room_key))
        if data.get("videoroom") != "created":
            raise SfuError(f"no room created: {data}")

    def destroy_room(self, room: str, room_secret: str) -> None:
        self.request({"request": "destroy", "room": room, "secret": room_secret})

    def room_settings(self, room: str) -> dict[str, Any] | None:
        """The room as the SFU lists it to the holder of the room key (private rooms too)."""
        data = self.request({"request": "list", "admin_key": self._secrets.room_key})
        for entry in data.get("list", []):
            if isinstance(entry, dict) and entry.get("room") == room:
                return entry
        return None


@contextmanager
def videoroom(
    url: str, secrets: SfuSecrets, post: PostJson = http_post_json
) -> Iterator[VideoRoomHandle]:
    """A Janus session with a VideoRoom handle for the block; destroyed after it."""
    base = url.rstrip("/")
    created = post(
        base, {"janus": "create", "transaction": transaction(), "apisecret": secrets.api}
    )
    session = created.get("data", {}).get("id")
    if created.get("janus") != "success" or not isinstance(session, int):
        raise SfuError(f"no SFU session: {created.get('error')}")
    try:
        attached = post(
            f"{base}/{session}",
            {
                "janus": "attach",
                "plugin": "janus.plugin.videoroom",
                "transaction": transaction(),
                "apisecret": secrets.api,
            },
        )
        handle = attached.get("data", {}).get("id")
        if attached.get("janus") != "success" or not isinstance(handle, int):
            raise SfuError(f"the VideoRoom plugin did not attach: {attached.get('error')}")
        yield VideoRoomHandle(base, secrets, post, session, handle)
    finally:
        post(
            f"{base}/{session}",
            {"janus": "destroy", "transaction": transaction(), "apisecret": secrets.api},
        )
