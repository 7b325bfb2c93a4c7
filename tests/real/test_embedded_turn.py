"""The embedded relay: `sprechzimmer serve` with SPRECHZIMMER_EMBEDDED_TURN=1 runs coturn.

The real server runs in a network namespace of the test's own (see
``harness/server.py``) with the relay on the namespace's second loopback
address. The test starts a call over real WebSockets, opened inside the
namespace (credentials come only with ``admitted``: the therapist's ``welcome``
before it has none), reads the therapist's TURN credentials and logs in to the
relay with them (``harness/turnclient.py``); then it stops the server and
looks for the relay.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from harness.netns import PEER_ADDRESS, Netns, netns_available, require_or_skip
from harness.server import TIME_SCALE, RunningServer, running_server

from harness import turnclient
from tests.helpers import token_of

pytestmark = [pytest.mark.netns]

CALL = """
import json, sys
from websockets.sync.client import connect

url, origin, hello_t, hello_c = sys.argv[1:5]

def until(ws, kind):
    for _ in range(20):
        message = json.loads(ws.recv(timeout=10))
        if message["type"] == kind:
            return message
    raise AssertionError(f"no {kind}")

with connect(url, origin=origin, open_timeout=10, close_timeout=2) as t:
    t.send(hello_t)
    welcome = until(t, "welcome")
    with connect(url, origin=origin, open_timeout=10, close_timeout=2) as c:
        c.send(hello_c)
        until(c, "waiting")
        until(t, "knock")
        t.send(json.dumps({"type": "admit"}))
        print(json.dumps({"welcome": welcome, "admitted": until(t, "admitted")}))
"""


def call_of(server: RunningServer, links: dict[str, str]) -> dict[str, Any]:
    """The therapist's ``welcome`` and ``admitted`` of a call started inside the namespace."""
    hellos = []
    for role in ("therapist", "client"):
        session, token = token_of(links[f"{role}_url"])
        hellos.append(
            {
                "type": "hello",
                "protocol": 1,
                "session": session,
                "token": token,
                "name": "Test Client",  # ignored from the therapist
                "consent": True,
            }
        )
    done = server.ns.run(
        [
            sys.executable,
            "-c",
            CALL,
            f"ws://127.0.0.1:{server.port}/ws",
            server.base_url,
            *(json.dumps(h) for h in hellos),
        ],
        timeout=30 * TIME_SCALE,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    messages: dict[str, Any] = json.loads(done.stdout)
    return messages


def turnserver_children(ns: Netns, parent: int) -> list[int]:
    """Pids of ``turnserver`` processes in ``ns`` whose parent is ``parent``."""
    found = []
    for pid in ns.pids():
        try:
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue  # gone meanwhile
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if comm == "turnserver" and ppid == parent:
            found.append(pid)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def changed(text: str, index: int) -> str:
    """``text`` with the character at ``index`` replaced by a different one."""
    new = "A" if text[index] != "A" else "B"
    return text[:index] + new + text[index + 1 :]


def test_embedded_relay_lives_with_the_server_and_takes_only_its_credentials(
    tmp_path: Path,
) -> None:
    reason = netns_available()
    if reason:
        require_or_skip(reason)
    if shutil.which("turnserver") is None:
        require_or_skip("coturn's turnserver is not installed (apt-get install coturn)")
    env = {"SPRECHZIMMER_EMBEDDED_TURN": "1", "SPRECHZIMMER_EMBEDDED_TURN_HOST": PEER_ADDRESS}
    with running_server(tmp_path, extra_env=env) as server:
        (relay_pid,) = turnserver_children(server.ns, server.process.pid)
        data = tmp_path / "data"
        for private in ("turnserver.conf", "turn-secret"):
            assert (data / private).stat().st_mode & 0o077 == 0, private

        server.add_therapist()
        call = call_of(server, server.create_session())
        welcome, admitted = call["welcome"], call["admitted"]
        # Alone in the room the therapist learns where the relay is, not how to use it.
        assert welcome["ice_servers"] == [], welcome
        assert [u.partition("?")[0] for u in welcome["relay_urls"]] == [
            f"turn:{PEER_ADDRESS}:3478"
        ] * 2
        turn = [s for s in admitted["ice_servers"] if s["urls"][0].startswith("turn:")]
        assert len(turn) == 1, admitted["ice_servers"]
        (entry,) = turn
        url = urlsplit(entry["urls"][0].replace("turn:", "turn://", 1))
        address = (url.hostname or "", url.port or 3478)
        assert address == (PEER_ADDRESS, 3478)
        username, credential = entry["username"], entry["credential"]
        assert turnclient.wait_ready(server.ns, address, 10 * TIME_SCALE)

        good = turnclient.ask(server.ns, address, username, credential)
        assert good["allocate"]["ok"], good
        assert good["allocate"]["relayed"][0] == PEER_ADDRESS
        for wrong_user, wrong_password in (
            (username, changed(credential, 3)),
            (changed(username, len(username) - 1), credential),  # the label
        ):
            bad = turnclient.ask(server.ns, address, wrong_user, wrong_password)
            assert bad["allocate"]["code"] == 401, bad

        # Stop the server alone (not its process group, which holds coturn
        # too): its shutdown must stop the relay.
        assert alive(relay_pid)
        os.kill(server.process.pid, signal.SIGTERM)
        # uvicorn re-raises the signal after its graceful shutdown: -SIGTERM.
        exit_code = server.process.wait(timeout=20 * TIME_SCALE)
        assert exit_code in (0, -signal.SIGTERM), server.log()[-2000:]
        assert "Application shutdown complete" in server.log()
        deadline = time.monotonic() + 10 * TIME_SCALE
        while alive(relay_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(relay_pid), "coturn outlived the server"
        assert "embedded TURN relay started" in server.log()
