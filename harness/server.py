"""The real service for end-to-end tests and benchmarks: `sprechzimmer serve` in a namespace.

``running_server`` starts the server inside a network namespace of the test's
own (see ``netns.py``), with its own SQLite file, or with
``SPRECHZIMMER_TEST_E2E_POSTGRES=1`` a throw-away PostgreSQL database reached
over the unix socket (a namespace has its own loopback, but shares the file
system), and offers the operator's CLI for setting up therapists and sessions.
Everything stops and is removed on exit.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .netns import STOP_TIMEOUT, HostNetwork, Netns, netns

TIME_SCALE = float(os.environ.get("SPRECHZIMMER_TEST_TIME_SCALE", "1"))
"""Multiplies every timeout in the end-to-end tests (slow machines set it higher)."""

CLI = [sys.executable, "-m", "sprechzimmer"]
PASSWORD = "correct horse battery"


def wait_for_port(ns: Netns, port: int, timeout: float, host: str = "127.0.0.1") -> None:
    """Wait until something listens on host:port (default 127.0.0.1) inside ``ns`` (bounded)."""
    probe = (
        "import socket,sys,time\n"
        f"end=time.monotonic()+{timeout}\n"
        "while time.monotonic()<end:\n"
        "    try:\n"
        f"        socket.create_connection(({host!r},{port}),timeout=1).close(); sys.exit(0)\n"
        "    except OSError:\n"
        "        time.sleep(0.05)\n"
        "sys.exit(1)\n"
    )
    done = ns.run([sys.executable, "-c", probe], timeout=timeout + 5)
    if done.returncode != 0:
        raise RuntimeError(f"nothing listens on {host}:{port} in the namespace")


@dataclass
class RunningServer:
    ns: Netns
    port: int
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[Any]
    argv: list[str]
    probe_host: str = "127.0.0.1"

    def kill(self, sig: signal.Signals = signal.SIGKILL) -> None:
        """Stop the server process the hard way (SIGKILL) or gracefully (SIGTERM)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)
        self.process.wait(timeout=STOP_TIMEOUT * 4)
        if self.process in self.ns.processes:
            self.ns.processes.remove(self.process)

    def start(self) -> None:
        """Start the server again on the same data, port and settings; return once it listens."""
        with self.log_path.open("a") as log:
            self.process = self.ns.popen(
                self.argv, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        wait_for_port(self.ns, self.port, timeout=20 * TIME_SCALE, host=self.probe_host)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def admin(self, *args: str, stdin: str | None = None) -> str:
        """Run an operator command against the same database; return its stdout."""
        done = subprocess.run(
            [*CLI, *args], input=stdin, env=self.env, capture_output=True, text=True, timeout=60
        )
        if done.returncode != 0:
            raise RuntimeError(f"sprechzimmer {' '.join(args)} failed: {done.stderr[-2000:]}")
        return done.stdout

    def add_therapist(self, code: str = "dr-test", password: str = PASSWORD) -> None:
        self.admin("therapist", "add", code, "--password-stdin", stdin=password + "\n")

    def create_session(self, therapist: str = "dr-test", client_id: str = "K-1") -> dict[str, str]:
        out = self.admin(
            "session", "create", "--therapist", therapist, "--client-id", client_id, "--json"
        )
        result: dict[str, str] = json.loads(out)
        return result

    def create_group_session(self, therapist: str, client_id: str, seats: int) -> dict[str, Any]:
        """A session with ``seats`` client seats: ``therapist_url`` and ``client_urls``."""
        out = self.admin(
            "session", "create", "--therapist", therapist, "--client-id", client_id,
            "--seats", str(seats), "--json",
        )  # fmt: skip
        result: dict[str, Any] = json.loads(out)
        return result

    def events(self, session_id: str) -> list[dict[str, str]]:
        result: list[dict[str, str]] = json.loads(
            self.admin("session", "events", session_id, "--json")
        )
        return result

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def invite(self, therapist: str = "dr-test", client_id: str = "K-1") -> tuple[str, str, str]:
        """A new session: (session id, therapist token, client token)."""
        created = self.create_session(therapist, client_id)
        session, therapist_token = token_of(created["therapist_url"])
        _, client_token = token_of(created["client_url"])
        return session, therapist_token, client_token

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"


@contextlib.contextmanager
def running_server(
    directory: Path,
    *,
    port: int = 8765,
    extra_env: Mapping[str, str] | None = None,
    ns: Netns | None = None,
    host: str = "127.0.0.1",
) -> Iterator[RunningServer]:
    """Start ``sprechzimmer serve`` inside a fresh namespace; stop and remove all on exit.

    With ``ns`` the server runs in that namespace instead (the caller owns it and
    removes it; the server process is stopped here), listening on ``host`` (e.g.
    ``0.0.0.0`` to be reached on every address of a namespace with veth links).
    """
    with contextlib.ExitStack() as stack:
        if os.environ.get("SPRECHZIMMER_TEST_E2E_POSTGRES") == "1":
            database = stack.enter_context(_postgres_database())
        else:
            database = f"sqlite:///{directory / 'e2e.sqlite3'}"
        yield stack.enter_context(_serve(directory, port, database, extra_env, ns, host))


def token_of(url: str) -> tuple[str, str]:
    """(session, token) from an invite link's fragment."""
    fragment = parse_qs(urlsplit(url).fragment)
    return fragment["s"][0], fragment["t"][0]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def loopback_server(
    directory: Path, *, extra_env: Mapping[str, str] | None = None
) -> Iterator[RunningServer]:
    """``sprechzimmer serve`` on 127.0.0.1 of this machine (no namespace, no root).

    For tests whose clients are plain sockets of the test process; browsers and
    WebRTC peers need a namespace (``running_server``).
    """
    with contextlib.ExitStack() as stack:
        if os.environ.get("SPRECHZIMMER_TEST_E2E_POSTGRES") == "1":
            database = stack.enter_context(_postgres_database())
        else:
            database = f"sqlite:///{directory / 'e2e.sqlite3'}"
        host = HostNetwork()
        try:
            yield stack.enter_context(
                _serve(directory, free_port(), database, extra_env, host, "127.0.0.1")
            )
        finally:
            host.stop_all()


@contextlib.contextmanager
def server_processes(
    directory: Path,
    count: int,
    *,
    extra_env: Mapping[str, str] | None = None,
    ns: Netns | None = None,
    ports: list[int] | None = None,
    public_url: str | None = None,
) -> Iterator[list[RunningServer]]:
    """``count`` processes of one deployment: one database, one secret key, one
    public origin (the first process's, or ``public_url``: a load balancer's).

    With ``ns`` they run in that namespace (the caller owns it), else on the
    machine's loopback. Pass the shared Redis in ``extra_env``. They start one
    after another, so that only the first one migrates the database.
    """
    with contextlib.ExitStack() as stack:
        if os.environ.get("SPRECHZIMMER_TEST_E2E_POSTGRES") == "1" or count > 1:
            database = (
                stack.enter_context(_postgres_database())
                if _postgres_reachable()
                else f"sqlite:///{directory / 'e2e.sqlite3'}"
            )
        else:
            database = f"sqlite:///{directory / 'e2e.sqlite3'}"
        if ns is None:
            host = HostNetwork()
            stack.callback(host.stop_all)
            ns = host
        ports = ports or [free_port() for _ in range(count)]
        env = {
            "SPRECHZIMMER_PUBLIC_URL": public_url or f"http://127.0.0.1:{ports[0]}",
            "SPRECHZIMMER_SECRET_KEY": os.urandom(24).hex(),
            **(extra_env or {}),
        }
        servers = [
            stack.enter_context(
                _serve(directory, port, database, env, ns, "127.0.0.1", f"server-{i}.log")
            )
            for i, port in enumerate(ports)
        ]
        yield servers


def _postgres_reachable() -> bool:
    """Whether the test PostgreSQL answers (several processes need a real database)."""
    try:
        from sqlalchemy import create_engine, text

        admin_url = os.environ.get(
            "SPRECHZIMMER_TEST_POSTGRES", "postgresql+psycopg://root@/test?host=/var/run/postgresql"
        )
        engine = create_engine(admin_url)
        try:
            with engine.connect() as c:
                c.execute(text("SELECT 1"))
        finally:
            engine.dispose()
    except Exception:
        return os.environ.get("SPRECHZIMMER_REQUIRE_ALL") == "1"  # then fail loudly later
    return True


@contextlib.contextmanager
def _postgres_database() -> Iterator[str]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin_url = os.environ.get(
        "SPRECHZIMMER_TEST_POSTGRES", "postgresql+psycopg://root@/test?host=/var/run/postgresql"
    )
    name = f"sz_e2e_{os.getpid()}_{os.urandom(3).hex()}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def stop_process(ns: Netns, process: subprocess.Popen[Any]) -> None:
    """Stop one process of a namespace the caller owns (its other processes go on)."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=STOP_TIMEOUT)
    if process in ns.processes:
        ns.processes.remove(process)


@contextlib.contextmanager
def _own_netns(ns: Netns | None) -> Iterator[Netns]:
    """``ns`` as it is, or a fresh namespace removed on exit."""
    if ns is not None:
        yield ns
        return
    with netns() as fresh:
        yield fresh


@contextlib.contextmanager
def _serve(
    directory: Path,
    port: int,
    database: str,
    extra_env: Mapping[str, str] | None,
    given_ns: Netns | None = None,
    host: str = "127.0.0.1",
    log_name: str = "server.log",
) -> Iterator[RunningServer]:
    env = {
        **os.environ,
        "SPRECHZIMMER_DATA_DIR": str(directory / "data"),
        "SPRECHZIMMER_DATABASE_URL": database,
        "SPRECHZIMMER_PUBLIC_URL": f"http://127.0.0.1:{port}",
        **(extra_env or {}),
    }
    log_path = directory / log_name
    wildcard = host in ("0.0.0.0", "::")  # noqa: S104 (a comparison, not a bind)
    probe_host = "127.0.0.1" if wildcard else host
    argv = [*CLI, "serve", "--host", host, "--port", str(port)]
    with _own_netns(given_ns) as ns, log_path.open("w") as log:
        process = ns.popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
        server = RunningServer(ns, port, env, log_path, process, argv, probe_host)
        try:
            wait_for_port(ns, port, timeout=20 * TIME_SCALE, host=probe_host)
            yield server
        finally:
            if given_ns is not None:
                stop_process(ns, server.process)
