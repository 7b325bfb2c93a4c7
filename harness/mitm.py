"""A signaling man in the middle, for tests: what an attacker on the server's path can do.

The proxy stands in front of the real ``sprechzimmer serve`` inside the test's
network namespace. It forwards every plain HTTP ``GET`` (the pages, scripts,
styles) to the server unchanged and relays ``/ws`` frames both ways; in every
``offer`` and ``answer`` the server sends to a browser it replaces each
``a=fingerprint:sha-256`` line with one random fingerprint (one per SDP). That
is the first step of a real attack on DTLS-SRTP: whoever controls signaling
decides which certificate each browser accepts. Frame encryption with a
verified code (the SAS) is what must still protect the call.

Run it as a process inside the namespace (``running_mitm``), because a
namespace has its own loopback::

    python -m harness.mitm --listen 8766 --upstream 8765

It writes one JSON line per event to stdout (``listening``, ``rewrote`` with the
message type and how many lines), never the fingerprints themselves or any
other content of a message. The server must accept the proxy's origin
(``SPRECHZIMMER_ALLOWED_ORIGINS='["http://127.0.0.1:8766"]'``): the browser's
``Origin`` header is passed on as it is. Every wait is bounded; the process
stops on SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import re
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Origin

from .netns import Netns
from .server import TIME_SCALE, wait_for_port

HOST = "127.0.0.1"
UPSTREAM_TIMEOUT = 10.0
"""Seconds one forwarded HTTP request or the upstream WebSocket handshake may take."""
MAX_MESSAGE = 1 << 20
REWRITTEN_TYPES = frozenset({"offer", "answer"})

_FINGERPRINT = re.compile(r"a=fingerprint:sha-256 [0-9A-Fa-f:]+")
# Hop-by-hop and framing headers: the proxy answers each request on its own
# connection with the whole body, so these are its own to set.
_DROPPED = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-length", "upgrade", "te"}
)
_FORWARDED_REQUEST_HEADERS = ("Accept", "Accept-Language", "Cookie", "User-Agent", "Referer")


def random_fingerprint() -> str:
    """A well-formed SHA-256 fingerprint of no certificate anyone holds."""
    return ":".join(f"{b:02X}" for b in secrets.token_bytes(32))


def rewrite_fingerprints(sdp: str) -> tuple[str, int]:
    """``sdp`` with every sha-256 fingerprint line replaced by one random fingerprint.

    Returns the new SDP and the number of lines replaced; CRLF line endings stay.
    One fingerprint for all lines, as a browser's own SDP has one certificate.
    """
    fake = f"a=fingerprint:sha-256 {random_fingerprint()}"
    lines = sdp.split("\n")
    count = 0
    for i, line in enumerate(lines):
        body = line[:-1] if line.endswith("\r") else line
        if _FINGERPRINT.fullmatch(body):
            lines[i] = fake + line[len(body) :]
            count += 1
    return "\n".join(lines), count


def rewrite_message(text: str) -> tuple[str, str | None, int]:
    """A server-to-browser frame, rewritten if it is an offer or answer.

    Returns (frame, type or None, lines replaced). Anything that is not a JSON
    object with a string ``sdp`` passes unchanged.
    """
    try:
        message = json.loads(text)
    except ValueError:
        return text, None, 0
    if not isinstance(message, dict) or message.get("type") not in REWRITTEN_TYPES:
        return text, None, 0
    sdp = message.get("sdp")
    if not isinstance(sdp, str):
        return text, None, 0
    message["sdp"], count = rewrite_fingerprints(sdp)
    return json.dumps(message), str(message["type"]), count


def _say(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


class Mitm:
    """The proxy: HTTP pass-through and a rewriting WebSocket relay to ``upstream_port``."""

    def __init__(self, upstream_port: int, *, rewrite: bool = True) -> None:
        self.upstream_port = upstream_port
        self.rewrite = rewrite

    def _fetch(self, request: Request) -> Response:
        conn = http.client.HTTPConnection(HOST, self.upstream_port, timeout=UPSTREAM_TIMEOUT)
        try:
            headers = {
                name: request.headers[name]
                for name in _FORWARDED_REQUEST_HEADERS
                if name in request.headers
            }
            headers["Host"] = request.headers.get("Host", f"{HOST}:{self.upstream_port}")
            conn.request("GET", request.path, headers=headers)
            upstream = conn.getresponse()
            body = upstream.read()
            out = Headers()
            for name, value in upstream.getheaders():
                if name.lower() not in _DROPPED:
                    out[name] = value
            out["Content-Length"] = str(len(body))
            out["Connection"] = "close"
            return Response(upstream.status, upstream.reason, out, body)
        finally:
            conn.close()

    async def process_request(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        """Plain HTTP goes to the server; only ``/ws`` becomes a WebSocket here."""
        if request.path == "/ws" and "upgrade" in request.headers.get("Connection", "").lower():
            return None
        return await asyncio.to_thread(self._fetch, request)

    async def handle(self, browser: ServerConnection) -> None:
        header = browser.request.headers.get("Origin") if browser.request else None
        origin = None if header is None else Origin(header)  # the browser's, verbatim
        try:
            upstream = await connect(
                f"ws://{HOST}:{self.upstream_port}/ws",
                origin=origin,
                compression=None,
                max_size=MAX_MESSAGE,
                open_timeout=UPSTREAM_TIMEOUT,
                proxy=None,
            )
        except Exception as error:  # a refused handshake ends this browser's socket
            _say("upstream-refused", error=type(error).__name__)
            await browser.close(1011)
            return
        async with upstream:
            to_server = asyncio.create_task(self._pump_up(browser, upstream))
            to_browser = asyncio.create_task(self._pump_down(upstream, browser))
            _, pending = await asyncio.wait(
                {to_server, to_browser}, return_when=asyncio.FIRST_COMPLETED
            )
            for task in pending:
                task.cancel()
            for task in pending:
                with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                    await task
            # Pass the close code on, so the page sees what the server said.
            code = upstream.close_code or browser.close_code or 1000
            with contextlib.suppress(Exception):
                await browser.close(code if code != 1005 else 1000)
            with contextlib.suppress(Exception):
                await upstream.close()

    async def _pump_up(self, browser: ServerConnection, upstream: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for frame in browser:
                await upstream.send(frame)

    async def _pump_down(self, upstream: ClientConnection, browser: ServerConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for frame in upstream:
                if isinstance(frame, str) and self.rewrite:
                    frame, kind, count = rewrite_message(frame)
                    if kind is not None:
                        _say("rewrote", type=kind, lines=count)
                await browser.send(frame)


async def serve_mitm(listen_port: int, upstream_port: int, *, rewrite: bool = True) -> None:
    """Serve until SIGTERM or SIGINT."""
    mitm = Mitm(upstream_port, rewrite=rewrite)
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    async with serve(
        mitm.handle,
        HOST,
        listen_port,
        process_request=mitm.process_request,
        compression=None,
        max_size=MAX_MESSAGE,
    ):
        _say("listening", port=listen_port, upstream=upstream_port, rewrite=rewrite)
        await stop


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--listen", type=int, required=True)
    parser.add_argument("--upstream", type=int, required=True)
    parser.add_argument(
        "--pass-through", action="store_true", help="relay unchanged (the control case)"
    )
    args = parser.parse_args(argv)
    asyncio.run(serve_mitm(args.listen, args.upstream, rewrite=not args.pass_through))
    return 0


def rewrites(log_path: Path) -> list[dict[str, Any]]:
    """The ``rewrote`` events a running or finished proxy wrote to ``log_path``."""
    events: list[dict[str, Any]] = []
    for line in log_path.read_text(errors="replace").splitlines():
        with contextlib.suppress(ValueError):
            event = json.loads(line)
            if isinstance(event, dict) and event.get("event") == "rewrote":
                events.append(event)
    return events


@contextlib.contextmanager
def running_mitm(
    ns: Netns, listen_port: int, upstream_port: int, log_path: Path, *, rewrite: bool = True
) -> Iterator[subprocess.Popen[Any]]:
    """Start the proxy inside ``ns`` (stdout and stderr to ``log_path``); stop it on exit.

    ``rewrite=False`` relays every frame unchanged: the control that shows a
    call through the proxy works, so that a failed call is the attack's doing.
    """
    with log_path.open("w") as log:
        process = ns.popen(
            [
                sys.executable,
                "-m",
                "harness.mitm",
                "--listen",
                str(listen_port),
                "--upstream",
                str(upstream_port),
                *([] if rewrite else ["--pass-through"]),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=str(Path(__file__).resolve().parents[1]),
        )
        try:
            wait_for_port(ns, listen_port, timeout=20 * TIME_SCALE)
            yield process
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=5)
            if process in ns.processes:
                ns.processes.remove(process)


if __name__ == "__main__":
    sys.exit(main())
