"""What the server keeps on disk (issue 10, point 9), against the real command.

The review found session-id prefixes with exact timestamps in the server's log
(714 lines for 18 sessions) and the SQLite database created world-readable
(0644) next to a key file of 0600.
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

from harness.server import CLI, PASSWORD, loopback_server
from harness.wsclient import Member, hello

WITHIN = 5.0


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_data_directory_and_its_files_are_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    earlier = data / "sprechzimmer.sqlite3"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPRECHZIMMER_")}
    env["SPRECHZIMMER_DATA_DIR"] = str(data)
    done = subprocess.run(
        [*CLI, "therapist", "add", "dr-files", "--password-stdin"],
        input=PASSWORD + "\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert earlier.exists()
    assert _mode(data) == 0o700
    files = [p for p in data.iterdir() if p.is_file()]
    assert files and all(_mode(p) == 0o600 for p in files), {p.name: oct(_mode(p)) for p in files}
    # A file an earlier version left readable is made private at the next start.
    earlier.chmod(0o644)
    done = subprocess.run(
        [*CLI, "therapist", "list"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert _mode(earlier) == 0o600


async def test_the_log_names_no_session(tmp_path: Path) -> None:
    with loopback_server(tmp_path, extra_env={"SPRECHZIMMER_REKEY_INTERVAL": "2"}) as server:
        server.add_therapist()
        session, t_token, c_token = server.invite()
        therapist = await Member.open(server.ws_url, server.port)
        await therapist.send(hello(session, t_token))
        await therapist.expect("welcome", WITHIN)
        client = await Member.open(server.ws_url, server.port)
        await client.send(hello(session, c_token))
        await therapist.expect("knock", WITHIN)
        await therapist.send({"type": "admit"})
        await client.expect("rekey", WITHIN)  # a renewal is logged too
        await client.send({"type": "bye"})
        await therapist.expect("peer-left", WITHIN)
        for member in (therapist, client):
            await member.close()
        log = server.log()
    assert "rekey epoch" in log  # the room did log what happened
    assert session[:8] not in log and session not in log
