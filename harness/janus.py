"""Janus (the SFU of group sessions) for tests: started with a configuration folder
inside a network namespace of the test's own, stopped with it.

Needs the Debian package ``janus``; a test that needs it and finds it missing skips
(and fails in CI, ``SPRECHZIMMER_REQUIRE_ALL=1``).
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from .netns import Netns, require_or_skip

JANUS = "janus"
START_TIMEOUT = 15.0
"""Seconds Janus may take to listen (it loads one plugin and one transport)."""
POLL = 0.1


def need_janus() -> None:
    if shutil.which(JANUS) is None:
        require_or_skip("Janus is not installed (Debian package `janus`; `bash .ci/setup`)")


def listening(ns: Netns) -> list[str]:
    """The TCP addresses listening inside ``ns`` (``ss -ltnH``), as ``address:port``."""
    out = ns.run(["ss", "-ltnH"], timeout=10, capture_output=True, text=True, check=True).stdout
    return [line.split()[3] for line in out.splitlines() if line.strip()]


@contextlib.contextmanager
def running_janus(ns: Netns, folder: Path, log: Path, port: int = 8088) -> Iterator[None]:
    """Janus with the configuration in ``folder``, its output in ``log``, until it listens."""
    need_janus()
    with log.open("w") as out:
        process = ns.popen(
            [JANUS, "-F", str(folder), "-C", str(folder / "janus.jcfg")],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + START_TIMEOUT
    while not any(a.endswith(f":{port}") for a in listening(ns)):
        if process.poll() is not None:
            raise AssertionError(f"Janus ended at start:\n{log.read_text()}")
        if time.monotonic() > deadline:
            raise AssertionError(
                f"Janus did not listen within {START_TIMEOUT} s:\n{log.read_text()}"
            )
        time.sleep(POLL)
    yield


def media_interface(ns: Netns, address: str) -> None:
    """A veth pair inside ``ns`` with ``address`` on one end: the SFU's media address
    (``sfu-config --ice-ip``), which a loopback address cannot be."""
    for argv in (
        ["ip", "link", "add", "sfu0", "type", "veth", "peer", "name", "sfu1"],
        ["ip", "addr", "add", f"{address}/24", "dev", "sfu0"],
        ["ip", "link", "set", "sfu0", "up"],
        ["ip", "link", "set", "sfu1", "up"],
    ):
        ns.run(argv, timeout=10, check=True)
