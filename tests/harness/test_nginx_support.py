"""The multi-process test support works without our server: nginx from the docs, Redis.

nginx runs the configuration of docs/operations.md in front of two tiny ASGI
backends (uvicorn, as the real server uses) that answer with their name and
the headers they were given, over plain HTTP and over a WebSocket on /ws.
Everything runs inside a namespace the test creates.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from harness.netns import Netns, netns, netns_available, require_or_skip
from harness.nginx import running_nginx
from harness.redis import private_redis
from harness.server import TIME_SCALE, stop_process, wait_for_port

pytestmark = [pytest.mark.netns]

# argv: name port. Says who it is and which of the headers nginx may add or
# change it saw: the Host, the Origin and any forwarded-for header.
BACKEND = """
import json, sys
import uvicorn

NAME, PORT = sys.argv[1], int(sys.argv[2])

def seen(scope):
    headers = {k.decode(): v.decode() for k, v in scope["headers"]}
    return json.dumps({
        "who": NAME, "host": headers.get("host"), "origin": headers.get("origin"),
        "forwarded": sorted(k for k in headers if k in ("x-forwarded-for", "x-real-ip")),
    })

async def app(scope, receive, send):
    if scope["type"] == "http":
        body = seen(scope).encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})
    elif scope["type"] == "websocket":
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": seen(scope)})
        await send({"type": "websocket.close", "code": 1000})

uvicorn.run(app, host="127.0.0.1", port=PORT, lifespan="off", log_level="warning")
"""

# argv: origin count first. GET /who `count` times and open /ws `count` times,
# the kind `first` first (each kind in a row: least_conn alternates between idle
# backends), then one POST just over the body limit. Failures are reported, not
# raised.
CLIENT = """
import json, sys, urllib.error, urllib.request
from websockets.sync.client import connect

ORIGIN, COUNT, FIRST = sys.argv[1], int(sys.argv[2]), sys.argv[3]
report = {"http": [], "ws": [], "big_post": None}

def http():
    with urllib.request.urlopen(ORIGIN + "/who", timeout=5) as response:
        return json.loads(response.read())

def ws():
    url = ORIGIN.replace("http", "ws", 1) + "/ws"
    with connect(url, origin=ORIGIN, open_timeout=5, close_timeout=2) as socket:
        return json.loads(socket.recv(timeout=5))

for kind in sorted(("http", "ws"), key=lambda kind: kind != FIRST):
    for _ in range(COUNT):
        try:
            report[kind].append({"http": http, "ws": ws}[kind]())
        except Exception as error:
            report[kind].append(repr(error))
request = urllib.request.Request(ORIGIN + "/who", data=b"x" * (64 * 1024 + 1), method="POST")
try:
    urllib.request.urlopen(request, timeout=5).close()
    report["big_post"] = 200
except urllib.error.HTTPError as error:
    report["big_post"] = error.code
print(json.dumps(report))
"""


def _need_netns() -> None:
    reason = netns_available()
    if reason is not None:
        require_or_skip(reason)


def _backend(ns: Netns, name: str, port: int) -> subprocess.Popen[Any]:
    process = ns.popen([sys.executable, "-c", BACKEND, name, str(port)])
    wait_for_port(ns, port, timeout=10 * TIME_SCALE)
    return process


def _through(ns: Netns, origin: str, count: int, first: str) -> dict[str, Any]:
    done = ns.run(
        [sys.executable, "-c", CLIENT, origin, str(count), first],
        timeout=30 * TIME_SCALE,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def _who(answers: list[Any]) -> list[str]:
    return [a["who"] if isinstance(a, dict) else a for a in answers]


def test_nginx_from_docs_spreads_and_skips_a_dead_backend(tmp_path: Path) -> None:
    _need_netns()
    with netns() as ns:
        backend_a = _backend(ns, "a", 8001)
        _backend(ns, "b", 8002)
        with running_nginx(tmp_path / "nginx", ns, [8001, 8002], 8080) as nginx:
            report = _through(ns, nginx.origin, 6, first="http")
            assert sorted(set(_who(report["http"]))) == ["a", "b"], report
            assert sorted(set(_who(report["ws"]))) == ["a", "b"], report
            for seen in report["http"] + report["ws"]:
                assert seen["host"] == "127.0.0.1"  # $host: without the port
                assert seen["forwarded"] == []
            assert {seen["origin"] for seen in report["ws"]} == {nginx.origin}
            assert report["big_post"] == 413  # client_max_body_size, before any backend

            stop_process(ns, backend_a)
            # WebSockets first, so that an upgrade request meets the dead one.
            report = _through(ns, nginx.origin, 6, first="ws")
            assert _who(report["ws"]) == ["b"] * 6, report
            assert _who(report["http"]) == ["b"] * 6, report
            # The dead one was tried and skipped, not merely never chosen.
            refused = [line for line in nginx.log().splitlines() if "Connection refused" in line]
            assert any('"GET /ws ' in line for line in refused), nginx.log()[-3000:]


def test_private_redis_restarts_empty(tmp_path: Path) -> None:
    _need_netns()
    with netns() as ns, private_redis(tmp_path / "redis", ns, 6379) as redis:
        assert redis.url == "redis://127.0.0.1:6379/0"
        assert redis.cli("ping").strip() == "PONG"
        assert redis.cli("set", "lease", "p1").strip() == "OK"
        redis.kill()
        assert not redis.ping()
        redis.start()
        assert redis.cli("ping").strip() == "PONG"
        assert redis.cli("exists", "lease").strip() == "0"  # nothing saved, nothing loaded
