"""Private network namespaces for tests that run real WebRTC.

A call test must not gather candidates on the machine's real interfaces or send
mDNS there, so the server, the browsers and the headless peers run inside a
namespace the test creates and always removes. It has only ``lo``, with
127.0.0.1 and 127.0.0.2 (aiortc never offers 127.0.0.1, so it needs the second
address; Chromium needs ``--allow-loopback-in-peer-connection``).

Creating namespaces needs root. Without it the tests skip with a reason, unless
``SPRECHZIMMER_REQUIRE_ALL=1`` (CI), where a skip would hide a missing part and so
becomes a failure.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn

import pytest

IP = "ip"
COMMAND_TIMEOUT = 10.0
"""Seconds any single ``ip`` command may take."""
STOP_TIMEOUT = 5.0
"""Seconds a process started in the namespace gets between SIGTERM and SIGKILL."""
PEER_ADDRESS = "127.0.0.2"


def require_or_skip(reason: str) -> NoReturn:
    """Skip the test for ``reason``; fail instead when SPRECHZIMMER_REQUIRE_ALL=1."""
    if os.environ.get("SPRECHZIMMER_REQUIRE_ALL") == "1":
        pytest.fail(f"required part missing (SPRECHZIMMER_REQUIRE_ALL=1): {reason}")
    pytest.skip(reason)


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [IP, *args], capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=check
    )


def netns_available() -> str | None:
    """None if this process can create network namespaces, else the reason why not."""
    if shutil.which(IP) is None:
        return "the `ip` command (iproute2) is not installed"
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "creating network namespaces needs root"
    name = _unique_name()
    try:
        created = _ip("netns", "add", name, check=False)
        if created.returncode != 0:
            return f"cannot create a network namespace: {created.stderr.strip()}"
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot create a network namespace: {exc}"
    finally:
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            _ip("netns", "delete", name, check=False)
    return None


def _unique_name() -> str:
    return "sz-" + secrets.token_hex(5)


@dataclass
class Netns:
    """A network namespace of the test's own; processes started by ``popen`` die with it."""

    name: str
    processes: list[subprocess.Popen[Any]] = field(default_factory=list)

    def exec_argv(self, argv: Sequence[str]) -> list[str]:
        """``argv`` prefixed so that it runs inside the namespace."""
        return [IP, "netns", "exec", self.name, *argv]

    def popen(self, argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[Any]:
        """Start ``argv`` inside the namespace in its own process group; stopped on exit."""
        kwargs.setdefault("start_new_session", True)
        process: subprocess.Popen[Any] = subprocess.Popen(self.exec_argv(argv), **kwargs)
        self.processes.append(process)
        return process

    def run(
        self, argv: Sequence[str], *, timeout: float, **kwargs: Any
    ) -> subprocess.CompletedProcess[Any]:
        """Run ``argv`` inside the namespace to its end, bounded by ``timeout`` seconds."""
        return subprocess.run(self.exec_argv(argv), timeout=timeout, **kwargs)

    def stop_all(self) -> None:
        """Terminate, then kill, every process group this object started."""
        for process in self.processes:
            _signal_group(process, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=STOP_TIMEOUT)
        self.processes.clear()

    def pids(self) -> list[int]:
        """Pids of every process still inside the namespace (started by us or not)."""
        listed = _ip("netns", "pids", self.name, check=False)
        return [int(p) for p in listed.stdout.split() if p.isdigit()]


@dataclass
class HostNetwork(Netns):
    """The machine's own network, for a server that listens on loopback only: no root needed.

    The same interface as a namespace, so ``running_server`` and its helpers work
    unchanged; nothing started here can reach beyond 127.0.0.1 by itself.
    """

    name: str = "host"

    def exec_argv(self, argv: Sequence[str]) -> list[str]:
        return list(argv)

    def pids(self) -> list[int]:
        return [p.pid for p in self.processes if p.poll() is None]


def _signal_group(process: subprocess.Popen[Any], sig: signal.Signals) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, sig)  # the group leader is our own child
    except ProcessLookupError:
        pass
    except PermissionError:
        process.send_signal(sig)


@contextlib.contextmanager
def netns() -> Iterator[Netns]:
    """Create a namespace (``sz-`` + random) with lo up and 127.0.0.2; always remove it."""
    ns = Netns(_unique_name())
    _ip("netns", "add", ns.name)
    try:
        _ip("-n", ns.name, "link", "set", "lo", "up")
        _ip("-n", ns.name, "addr", "add", f"{PEER_ADDRESS}/8", "dev", "lo")
        yield ns
    finally:
        try:
            ns.stop_all()
            # Anything else still living in the namespace was started from our
            # processes (e.g. Chromium's helpers): it belongs to this test too.
            for pid in ns.pids():
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
        finally:
            _ip("netns", "delete", ns.name, check=False)
