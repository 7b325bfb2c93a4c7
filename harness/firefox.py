"""Debian's Firefox ESR inside a test's network namespace, driven over WebDriver BiDi.

Playwright cannot drive Debian's Firefox (it needs its own patched build,
which cannot be downloaded here). Firefox itself speaks WebDriver BiDi, a
JSON protocol over one WebSocket, so the harness talks to it directly: the
handful of commands the call tests need (open a page, navigate, run a
function in the page, click like a person, read the console) fit in this
module, and no Node process sits between pytest and the browser.

The remote agent listens on 127.0.0.1 *inside* the namespace, where the test
process is not. The socket to it is made by a short-lived thread that first
joins the namespace (``setns``): a socket keeps the namespace it was created
in, so the connection then works from the test's own event loop.

Firefox gathers no host candidates in a namespace with only loopback (see
``../shared/TESTING-NOTES.md``), so it runs in a namespace of
``harness.topology``, which has a veth link with a 10.x address and a
default route. The service's origins there are plain http on those
addresses: the preference ``dom.securecontext.allowlist`` makes them secure
contexts, as ``--unsafely-treat-insecure-origin-as-secure`` does for
Chromium, so ``getUserMedia`` works.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .netns import STOP_TIMEOUT, Netns
from .server import TIME_SCALE

FIREFOX = "/usr/bin/firefox-esr"
LAUNCH_TIMEOUT_S = 30.0 * TIME_SCALE
COMMAND_TIMEOUT_S = 30.0 * TIME_SCALE
"""Upper bound for one BiDi command (a navigation waits for the page's load)."""
WAIT_S = 20.0 * TIME_SCALE
"""Upper bound for one thing to happen in a page, as in the Chromium tests."""
POLL_S = 0.1
CLONE_NEWNET = 0x40000000
_LISTENING = re.compile(r"WebDriver BiDi listening on (ws://[\w.:\[\]-]+)")

# Fake camera and microphone without a prompt; real addresses in candidates;
# loopback candidates allowed; remote audio may play without a gesture, as a
# person's click on "join" allows in a real browser. Nothing of Firefox's own
# background traffic (updates, telemetry, safe browsing) is wanted: the remote
# agent's "recommended preferences" (on by default) switch most of it off, the
# rest is here, and the namespace has no route out anyway.
BASE_PREFS: dict[str, object] = {
    "media.navigator.streams.fake": True,
    "media.navigator.permission.disabled": True,
    "media.peerconnection.ice.loopback": True,
    "media.peerconnection.ice.obfuscate_host_addresses": False,
    "media.autoplay.default": 0,
    "media.autoplay.blocking_policy": 0,
    "app.update.enabled": False,
    "app.update.auto": False,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "browser.safebrowsing.downloads.enabled": False,
    "browser.shell.checkDefaultBrowser": False,
    "datareporting.healthreport.uploadEnabled": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "toolkit.telemetry.enabled": False,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "network.dns.disablePrefetch": True,
    "network.prefetch-next": False,
    "extensions.update.enabled": False,
    "browser.newtabpage.enabled": False,
    "browser.startup.page": 0,
}


async def poll_until(
    evaluate: Callable[[str, object], Awaitable[Any]], predicate: str, arg: object, within: float
) -> Any:
    """Evaluate ``predicate`` every POLL_S until it is true; its value, or the last false one
    after ``within`` seconds. Polled, not ``wait_for_function``: that needs ``eval``, which
    the pages' CSP forbids."""
    loop = asyncio.get_running_loop()
    end = loop.time() + within
    value: Any = None
    for _ in range(int(within / POLL_S) + 1):
        value = await evaluate(predicate, arg)
        if value or loop.time() > end:
            break
        await asyncio.sleep(POLL_S)
    return value


class FirefoxError(RuntimeError):
    """A BiDi command failed, or a page's function threw."""


def firefox_available() -> str | None:
    """None if Debian's Firefox ESR is there, else the reason why not."""
    if not os.access(FIREFOX, os.X_OK):
        return f"Firefox ESR is not installed at {FIREFOX} (apt-get install firefox-esr)"
    return None


def _user_js(prefs: dict[str, object]) -> str:
    return "".join(f"user_pref({json.dumps(k)}, {json.dumps(v)});\n" for k, v in prefs.items())


def _socket_in(ns: Netns, host: str, port: int) -> socket.socket:
    """A TCP connection to ``host:port`` as seen from inside ``ns``."""
    made: list[socket.socket] = []
    failed: list[BaseException] = []

    def connect() -> None:
        # setns moves only this thread, which ends right after: the test's
        # own threads never leave the machine's namespace.
        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(f"/var/run/netns/{ns.name}", os.O_RDONLY)
        try:
            if libc.setns(fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns into the test's namespace failed")
            made.append(socket.create_connection((host, port), timeout=COMMAND_TIMEOUT_S))
        except BaseException as error:  # handed to the caller's thread
            failed.append(error)
        finally:
            os.close(fd)

    thread = threading.Thread(target=connect, name="firefox-netns-connect")
    thread.start()
    thread.join(timeout=COMMAND_TIMEOUT_S + 5)
    if failed:
        raise failed[0]
    if not made:
        raise FirefoxError(f"no connection to {host}:{port} in {ns.name}")
    made[0].setblocking(False)
    return made[0]


@dataclass
class _Bidi:
    """One WebDriver BiDi connection: commands by id, events into a list."""

    ws: Any
    pending: dict[int, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)
    console: list[str] = field(default_factory=list)
    next_id: int = 1
    reader: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            async for raw in self.ws:
                message = json.loads(raw)
                if "id" in message and message["id"] in self.pending:
                    future = self.pending.pop(message["id"])
                    if not future.done():
                        future.set_result(message)
                elif message.get("method") == "log.entryAdded":
                    entry = message["params"]
                    self.console.append(f"[{entry.get('level')}] {entry.get('text')}")
        except ConnectionClosed:
            pass
        finally:
            for future in self.pending.values():
                if not future.done():
                    future.set_exception(FirefoxError("the browser's connection closed"))
            self.pending.clear()

    async def send(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        command_id = self.next_id
        self.next_id += 1
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[command_id] = future
        await self.ws.send(json.dumps({"id": command_id, "method": method, "params": params}))
        try:
            reply = await asyncio.wait_for(future, COMMAND_TIMEOUT_S)
        finally:
            self.pending.pop(command_id, None)
        if reply.get("type") == "error":
            raise FirefoxError(f"{method}: {reply.get('error')}: {reply.get('message')}")
        result: dict[str, Any] = reply.get("result", {})
        return result


def _call(source: str) -> str:
    """A function declaration that runs ``source`` (a function or an expression).

    The source is part of the declaration BiDi compiles (with the browser's
    privileges), not handed to the page's ``eval``, which its CSP forbids.
    The value travels back as JSON: all the tests read are numbers, strings
    and plain objects.
    """
    return (
        "async function (argJson) {\n"
        f"  const f = ({source});\n"
        "  const value = typeof f === 'function' ? await f(JSON.parse(argJson)) : await f;\n"
        "  return JSON.stringify(value === undefined ? null : value);\n"
        "}"
    )


@dataclass
class FirefoxPage:
    """One tab: the subset of Playwright's ``Page`` the engine tests use."""

    bidi: _Bidi
    context: str
    url: str = "about:blank"

    async def goto(self, url: str) -> None:
        await self.bidi.send(
            "browsingContext.navigate", {"context": self.context, "url": url, "wait": "complete"}
        )
        self.url = url

    async def evaluate(self, source: str, arg: object = None) -> Any:
        """``source`` (a function or an expression) evaluated in the page; its JSON value.

        BiDi evaluates with the browser's own privileges, so the page's CSP
        (which forbids ``eval`` to the page) does not stand in the way.
        """
        reply = await self.bidi.send(
            "script.callFunction",
            {
                "functionDeclaration": _call(source),
                "arguments": [{"type": "string", "value": json.dumps(arg)}],
                "target": {"context": self.context},
                "awaitPromise": True,
                "resultOwnership": "none",
            },
        )
        if reply.get("type") == "exception":
            details = reply.get("exceptionDetails", {})
            raise FirefoxError(f"in the page: {details.get('text')}")
        return json.loads(reply["result"]["value"])

    async def until(
        self, predicate: str, arg: object = None, what: str = "", within: float = WAIT_S
    ) -> Any:
        """Poll ``predicate`` until it returns something true; return that; bounded by
        ``within`` seconds."""
        value = await poll_until(self.evaluate, predicate, arg, within)
        if not value:
            raise FirefoxError(f"timed out waiting for {what or predicate} on {self.url}")
        return value

    async def click(self, selector: str) -> None:
        """Click as a person does, once the element is shown and enabled.

        A real pointer click (``input.performActions``), not ``el.click()``:
        it gives the page a user activation, as a person's click does.
        """
        ready = """(sel) => {
            const el = document.querySelector(sel);
            if (!el || el.offsetParent === null || el.disabled) return false;
            el.scrollIntoView({block: 'center'});
            return true;
        }"""
        await self.until(ready, selector, f"{selector} shown and enabled")
        found = await self.bidi.send(
            "script.evaluate",
            {
                "expression": f"document.querySelector({json.dumps(selector)})",
                "target": {"context": self.context},
                "awaitPromise": False,
                "resultOwnership": "none",
            },
        )
        node = found.get("result", {})
        if node.get("type") != "node":
            raise FirefoxError(f"{selector} is not in the page")
        origin = {"type": "element", "element": {"sharedId": node["sharedId"]}}
        await self.bidi.send(
            "input.performActions",
            {
                "context": self.context,
                "actions": [
                    {
                        "type": "pointer",
                        "id": "mouse",
                        "parameters": {"pointerType": "mouse"},
                        "actions": [
                            {"type": "pointerMove", "x": 0, "y": 0, "origin": origin},
                            {"type": "pointerDown", "button": 0},
                            {"type": "pointerUp", "button": 0},
                        ],
                    }
                ],
            },
        )

    async def add_init_script(self, source: str) -> None:
        """Run ``source`` (a statement or expression) in every document this tab loads
        from now on, before the page's own scripts (BiDi's preload script)."""
        await self.bidi.send(
            "script.addPreloadScript",
            {"functionDeclaration": f"() => {{ {source}; }}", "contexts": [self.context]},
        )

    async def close(self) -> None:
        with contextlib.suppress(FirefoxError):
            await self.bidi.send("browsingContext.close", {"context": self.context})


@dataclass
class FirefoxSession:
    """A running Firefox with its BiDi connection; ``new_page`` opens a tab."""

    bidi: _Bidi
    process: subprocess.Popen[bytes]

    async def new_page(self) -> FirefoxPage:
        made = await self.bidi.send("browsingContext.create", {"type": "tab"})
        return FirefoxPage(self.bidi, made["context"])

    @property
    def console(self) -> list[str]:
        """Everything the browser's pages logged to the console, oldest first."""
        return self.bidi.console


def _wait_for_listening(process: subprocess.Popen[bytes], log: Path) -> str:
    """The BiDi address Firefox prints on stderr (written to ``log``) once it listens."""
    import time

    end = time.monotonic() + LAUNCH_TIMEOUT_S
    while time.monotonic() < end:
        found = _LISTENING.search(log.read_text(errors="replace"))
        if found:
            return found.group(1)
        if process.poll() is not None:
            break
        time.sleep(0.1)
    raise FirefoxError(f"Firefox did not start its remote agent:\n{log.read_text()[-2000:]}")


@contextlib.asynccontextmanager
async def launch_firefox(
    ns: Netns,
    directory: Path,
    *,
    secure_origins: Iterable[str] = (),
    prefs: dict[str, object] | None = None,
) -> AsyncIterator[FirefoxSession]:
    """Start Firefox ESR headless inside ``ns`` with a fresh profile; always stop it.

    ``secure_origins``: hosts (e.g. ``10.231.1.1``) whose plain-http pages
    count as secure contexts. ``prefs`` adds or overrides preferences.
    """
    from websockets.asyncio.client import connect

    home = Path(tempfile.mkdtemp(prefix="firefox-", dir=directory))  # one per browser
    profile = home / "profile"
    profile.mkdir()
    all_prefs = dict(BASE_PREFS)
    hosts = ",".join(secure_origins)
    if hosts:
        all_prefs["dom.securecontext.allowlist"] = hosts
    all_prefs.update(prefs or {})
    (profile / "user.js").write_text(_user_js(all_prefs))
    log = home / "firefox.log"
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.update({"HOME": str(home), "MOZ_HEADLESS": "1", "MOZ_CRASHREPORTER_DISABLE": "1"})
    with log.open("wb") as log_file:
        process = ns.popen(
            [
                FIREFOX,
                "--headless",
                "--no-remote",
                "--profile",
                str(profile),
                "--remote-debugging-port",
                "0",
                "about:blank",
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        address = await asyncio.to_thread(_wait_for_listening, process, log)
        host, port = address.removeprefix("ws://").rsplit(":", 1)
        sock = await asyncio.to_thread(_socket_in, ns, host, int(port))
        async with connect(
            f"{address}/session", sock=sock, max_size=None, open_timeout=COMMAND_TIMEOUT_S
        ) as ws:
            bidi = _Bidi(ws)
            bidi.start()
            await bidi.send("session.new", {"capabilities": {}})
            await bidi.send("session.subscribe", {"events": ["log.entryAdded"]})
            try:
                yield FirefoxSession(bidi, process)
            finally:
                with contextlib.suppress(FirefoxError, asyncio.TimeoutError):
                    await asyncio.wait_for(bidi.send("session.end", {}), STOP_TIMEOUT)
                if bidi.reader:
                    bidi.reader.cancel()
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                await asyncio.to_thread(process.wait, STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                await asyncio.to_thread(process.wait, STOP_TIMEOUT)
        shutil.rmtree(home, ignore_errors=True)
