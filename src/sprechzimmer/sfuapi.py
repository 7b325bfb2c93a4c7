"""The SFU's API as this server uses it (issue 16): a Janus session with VideoRoom
handles, the rooms of group calls, and a member's way in: publishing its (already
encrypted) media and subscribing to the others' (``sfucall.py`` drives it for a call).

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
import time
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
GetJson = Callable[[str], dict[str, Any]]
"""GET a URL and return the JSON answer: the long poll for the SFU's events."""
FeedId = int | str
"""A publisher's id in a room: a string where rooms have string names (ours do)."""
EVENT_WAIT = 10.0
"""Seconds an asynchronous request (a join, a publish) may take to be answered."""


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
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        conn.request(method, target, body=data, headers=headers)
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

    def __init__(
        self,
        url: str,
        secrets: SfuSecrets,
        post: PostJson,
        session: int,
        handle: int,
        get: GetJson = http_get_json,
    ):
        self._url, self._secrets, self._post = url.rstrip("/"), secrets, post
        self._session, self._handle, self._get = session, handle, get

    def attach(self) -> VideoRoomHandle:
        """Another VideoRoom handle in the same Janus session (a member publishes on one
        and subscribes on another)."""
        return VideoRoomHandle(
            self._url,
            self._secrets,
            self._post,
            self._session,
            _attach(self._url, self._secrets, self._post, self._session),
            self._get,
        )

    def asynchronous(
        self, body: dict[str, Any], jsep: dict[str, Any] | None = None, within: float = EVENT_WAIT
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """A VideoRoom request the SFU answers later, by an event (a join, a publish,
        a start): its ``plugindata.data`` and its ``jsep``, or SfuError."""
        tx = transaction()
        message: dict[str, Any] = {
            "janus": "message",
            "transaction": tx,
            "apisecret": self._secrets.api,
            "body": body,
        }
        if jsep is not None:
            message["jsep"] = jsep
        answer = self._post(f"{self._url}/{self._session}/{self._handle}", message)
        if answer.get("janus") == "success":
            return _plugin_data(body, answer), answer.get("jsep")
        if answer.get("janus") != "ack":
            raise SfuError(f"the SFU refused {body.get('request')!r}: {answer.get('error')}")
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            event = self._get(f"{self._url}/{self._session}?maxev=1&apisecret={self._secrets.api}")
            if event.get("transaction") == tx and event.get("janus") == "event":
                return _plugin_data(body, event), event.get("jsep")
        raise SfuError(f"no answer to {body.get('request')!r} within {within} s")

    def publish(self, room: str, offer: str) -> tuple[FeedId, str]:
        """Join ``room`` as a publisher and send media under the offer (SDP): the feed's
        id and the SFU's answer. Declared end-to-end encrypted, as the room requires:
        the SFU forwards the frames without looking into them."""
        joined, _ = self.asynchronous({"request": "join", "ptype": "publisher", "room": room})
        feed = joined.get("id")
        if joined.get("videoroom") != "joined" or not isinstance(feed, int | str):
            raise SfuError(f"not joined: {joined}")
        # Janus reads the declaration from the JSEP (as janus.js sends it with
        # insertable streams): the room refuses a publisher without it.
        # ``trickle: false``: the offer has all its candidates (the page waits for them),
        # so the SFU does not wait for more before it gives up on a pair.
        _, answer = self.asynchronous(
            {"request": "publish"},
            {"type": "offer", "sdp": offer, "e2ee": True, "trickle": False},
        )
        if answer is None or answer.get("type") != "answer":
            raise SfuError("the SFU sent no answer to the publish")
        return feed, str(answer["sdp"])

    def subscribe(self, room: str, feeds: list[FeedId]) -> str:
        """Subscribe to the feeds of ``room``: the SFU's offer (SDP), for ``start``."""
        body = {
            "request": "join",
            "ptype": "subscriber",
            "room": room,
            "streams": [{"feed": feed} for feed in feeds],
        }
        _, offer = self.asynchronous(body)
        if offer is None or offer.get("type") != "offer":
            raise SfuError("the SFU sent no offer for the subscription")
        return str(offer["sdp"])

    def start(self, answer: str) -> None:
        """The subscriber's answer to ``subscribe``'s offer: the media flows."""
        self.asynchronous({"request": "start"}, {"type": "answer", "sdp": answer, "trickle": False})

    def keepalive(self) -> None:
        """Keep the Janus session (all its handles) from timing out."""
        self._post(
            f"{self._url}/{self._session}",
            {"janus": "keepalive", "transaction": transaction(), "apisecret": self._secrets.api},
        )

    def end_session(self) -> None:
        """End the Janus session: its handles, and the media of its publisher and
        subscribers, go with it."""
        self._post(
            f"{self._url}/{self._session}",
            {"janus": "destroy", "transaction": transaction(), "apisecret": self._secrets.api},
        )

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
        if answer.get("janus") != "success":
            raise SfuError(f"the SFU refused {body.get('request')!r}: {answer.get('error')}")
        return _plugin_data(body, answer)

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


def _plugin_data(body: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
    """The plugin's answer in a success or an event, or SfuError when it refused."""
    data = answer.get("plugindata", {}).get("data")
    if not isinstance(data, dict):
        raise SfuError(f"the SFU refused {body.get('request')!r}: {answer.get('error')}")
    if "error_code" in data:
        raise SfuError(f"the SFU refused {body.get('request')!r}: {data.get('error')}")
    return data


def _attach(base: str, secrets: SfuSecrets, post: PostJson, session: int) -> int:
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
    return handle


def open_session(
    url: str,
    secrets: SfuSecrets,
    post: PostJson = http_post_json,
    get: GetJson = http_get_json,
) -> VideoRoomHandle:
    """A new Janus session with a VideoRoom handle; the caller keeps it alive
    (``keepalive``) and ends it (``end_session``)."""
    base = url.rstrip("/")
    created = post(
        base, {"janus": "create", "transaction": transaction(), "apisecret": secrets.api}
    )
    session = created.get("data", {}).get("id")
    if created.get("janus") != "success" or not isinstance(session, int):
        raise SfuError(f"no SFU session: {created.get('error')}")
    try:
        handle = _attach(base, secrets, post, session)
    except BaseException:
        # Without its handle the session is of no use: it ends at once.
        post(
            f"{base}/{session}",
            {"janus": "destroy", "transaction": transaction(), "apisecret": secrets.api},
        )
        raise
    return VideoRoomHandle(base, secrets, post, session, handle, get)


@contextmanager
def videoroom(
    url: str,
    secrets: SfuSecrets,
    post: PostJson = http_post_json,
    get: GetJson = http_get_json,
) -> Iterator[VideoRoomHandle]:
    """A Janus session with a VideoRoom handle for the block; destroyed after it."""
    handle = open_session(url, secrets, post, get)
    try:
        yield handle
    finally:
        handle.end_session()
