"""A private redis-server for one test: its own port, directory and log, nothing kept.

It runs inside the test's namespace (see ``netns.py``) on 127.0.0.1, or on the
machine's loopback with ``HostNetwork``, so a test never touches the machine's
own Redis. No snapshots and no append-only file: a restart after ``kill()``
starts empty, like a Redis that lost its memory. Where redis-server is not
installed the test skips (CI: fails) with the reason.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .netns import STOP_TIMEOUT, Netns, require_or_skip
from .server import TIME_SCALE, stop_process

REDIS_SERVER = "/usr/bin/redis-server"
REDIS_CLI = "redis-cli"
START_TIMEOUT = 10.0
"""Seconds redis-server may take to answer PING (times TIME_SCALE)."""


class PrivateRedis:
    """One redis-server process on 127.0.0.1:``port`` inside ``ns``; restartable."""

    def __init__(self, directory: Path, ns: Netns, port: int) -> None:
        self.directory = directory
        self.ns = ns
        self.port = port
        self.log_path = directory / "redis.log"
        self.process: subprocess.Popen[Any] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def argv(self) -> list[str]:
        return [
            REDIS_SERVER,
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.directory),
            "--logfile",
            str(self.log_path),
        ]

    def start(self) -> None:
        """Start redis-server; return once it answers PING (bounded wait)."""
        if not os.path.exists(REDIS_SERVER) or shutil.which(REDIS_CLI) is None:
            require_or_skip("redis-server is not installed (apt-get install redis-server)")
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = self.ns.popen(
            self.argv(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + START_TIMEOUT * TIME_SCALE
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited at start: {self.log()[-2000:]}")
            if self.ping():
                return
            time.sleep(0.05)
        raise RuntimeError(f"redis-server did not answer PING in time: {self.log()[-2000:]}")

    def cli(self, *args: str) -> str:
        """Run one ``redis-cli`` command against this server; its stdout."""
        done = self.ns.run(
            [REDIS_CLI, "-h", "127.0.0.1", "-p", str(self.port), *args],
            timeout=5 * TIME_SCALE,
            capture_output=True,
            text=True,
        )
        return str(done.stdout)

    def ping(self) -> bool:
        try:
            return self.cli("ping").strip() == "PONG"
        except subprocess.TimeoutExpired:
            return False

    def kill(self) -> None:
        """Kill redis-server the hard way, as a crash or an OOM kill would."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=STOP_TIMEOUT)
        self._forget()

    def stop(self) -> None:
        if self.process is None:
            return
        stop_process(self.ns, self.process)
        self.process = None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def _forget(self) -> None:
        if self.process is not None and self.process in self.ns.processes:
            self.ns.processes.remove(self.process)
        self.process = None


@contextlib.contextmanager
def private_redis(directory: Path, ns: Netns, port: int) -> Iterator[PrivateRedis]:
    """A started ``PrivateRedis``; always stopped on exit, whatever the test did to it."""
    redis = PrivateRedis(directory, ns, port)
    try:
        redis.start()
        yield redis
    finally:
        redis.stop()
