"""The reference's signaling server: the least that connects two browsers.

Run by ``bench/call_setup.py`` inside its network namespace::

    python -m bench.minimal_relay PORT

A WebSocket at ``ws://127.0.0.1:PORT/ROOM/ROLE`` (ROLE ``a`` or ``b``); every
text message from one member of a room goes unchanged to the other one. No
hello, no authentication, no parsing, no encryption, no state beyond the two
sockets of a room: it is the yardstick the full stack is measured against,
and must stay that small. Bounded all the same: at most ``MAX_ROOMS`` rooms,
two members each, messages up to ``MAX_MESSAGE`` bytes.

It also serves the reference page's three files over plain HTTP (``FILES``):
a page that Playwright answered itself counts as public to Chromium's local
network access checks, which then refuse its socket to a loopback relay.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

MAX_ROOMS = 64
MAX_MESSAGE = 64 * 1024
ROLES = ("a", "b")
_HERE = Path(__file__).resolve().parent
FILES = {
    "/bench/reference.html": (_HERE / "reference.html", "text/html"),
    "/bench/reference.js": (_HERE / "reference.js", "text/javascript"),
    # The call page's own camera constraints (acquireMedia).
    "/static/js/devices.js": (
        _HERE.parent / "src" / "sprechzimmer" / "static" / "js" / "devices.js",
        "text/javascript",
    ),
}

rooms: dict[str, dict[str, ServerConnection]] = {}


async def relay(ws: ServerConnection) -> None:
    parts = (ws.request.path if ws.request else "").strip("/").split("/")
    if len(parts) != 2 or parts[1] not in ROLES:
        await ws.close(4000, "path must be /ROOM/a or /ROOM/b")
        return
    name, role = parts
    room = rooms.setdefault(name, {}) if len(rooms) < MAX_ROOMS or name in rooms else None
    if room is None or role in room:
        await ws.close(4001, "no room for you")
        return
    room[role] = ws
    other = ROLES[1 - ROLES.index(role)]
    try:
        async for message in ws:
            peer = room.get(other)
            if peer is not None:
                await peer.send(message)
    finally:
        room.pop(role, None)
        if not room:
            rooms.pop(name, None)


def serve_file(_: ServerConnection, request: Request) -> Response | None:
    """One of FILES for a plain GET; None lets the WebSocket handshake go on."""
    if "upgrade" in request.headers.get("Connection", "").lower():
        return None
    path, kind = FILES.get(request.path, (None, ""))
    if path is None:
        return Response(404, "Not Found", Headers({"Content-Length": "0"}), b"")
    body = path.read_bytes()
    headers = Headers(
        {"Content-Type": kind, "Content-Length": str(len(body)), "Cache-Control": "no-store"}
    )
    return Response(200, "OK", headers, body)


async def main(port: int) -> None:
    # No compression: the service runs without it too (PERFORMANCE-NOTES.md).
    async with serve(
        relay,
        "127.0.0.1",
        port,
        compression=None,
        max_size=MAX_MESSAGE,
        process_request=serve_file,
    ):
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
