"""Debian's Chromium, driven by Playwright (async API), inside a test's network namespace.

Playwright talks to the browser over a pipe, so the browser cannot simply be
moved into a namespace after its start: it is launched through a small wrapper
script that runs ``ip netns exec NAME /usr/bin/chromium "$@"``. Nothing here ever
runs ``playwright install`` (it would download a browser); the system's Chromium
is used as it is.

The flags keep the browser quiet and testable: fake camera and microphone with
no permission prompt, no background requests (component updates, sync), real
addresses in candidates instead of mDNS names, and loopback candidates allowed
(the namespace has only ``lo``).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shlex
import stat
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .netns import IP, Netns

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Page

CHROMIUM = "/usr/bin/chromium"
LAUNCH_TIMEOUT_MS = 30_000

CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--allow-loopback-in-peer-connection",
)

# Playwright passes its own `--disable-features=...` list and Chromium keeps only the
# last one of a repeated switch; the wrapper merges all of them into one, so that
# neither Playwright's nor ours is lost. The loop runs once per argument.
_WRAPPER = """#!/bin/sh
# Written by harness/chromium.py: runs Chromium inside network namespace {name}.
disabled=""
n=$#
i=0
while [ "$i" -lt "$n" ]; do
    arg=$1
    shift
    i=$((i + 1))
    case $arg in
        --disable-features=*) disabled="${{disabled:+$disabled,}}${{arg#--disable-features=}}" ;;
        *) set -- "$@" "$arg" ;;
    esac
done
if [ -n "$disabled" ]; then
    set -- "$@" "--disable-features=$disabled"
fi
exec {ip} netns exec {name} {chromium} "$@"
"""


def chromium_available() -> str | None:
    """None if Chromium and Playwright's Python package are there, else the reason why not."""
    if not os.access(CHROMIUM, os.X_OK):
        return f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    if importlib.util.find_spec("playwright") is None:
        return "the playwright Python package is not installed (pip install playwright)"
    return None


def write_wrapper(ns: Netns, directory: Path) -> Path:
    """Write the executable wrapper that starts Chromium inside ``ns``; return its path."""
    path = directory / f"chromium-{ns.name}"
    path.write_text(
        _WRAPPER.format(
            name=shlex.quote(ns.name), ip=shlex.quote(IP), chromium=shlex.quote(CHROMIUM)
        )
    )
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@dataclass
class ChromiumSession:
    """A running browser and its isolated contexts (one per simulated person)."""

    browser: Browser
    contexts: list[BrowserContext]


CONSOLE: list[str] = []
"""Every console line of every page of the browsers this test launched, as
``[context] type: text``: tests/conftest.py adds it to a failed test's report
(the pages log each step of the call at debug level), so that a failure seen
once can be read afterwards. Emptied before each test; the last lines kept."""
CONSOLE_KEEP = 400


def _record_console(context: BrowserContext, number: int) -> None:
    def on_page(page: Page) -> None:
        def on_console(message: ConsoleMessage) -> None:
            CONSOLE.append(f"[{number}] {message.type}: {message.text}")
            del CONSOLE[:-CONSOLE_KEEP]

        page.on("console", on_console)

    context.on("page", on_page)


@contextlib.asynccontextmanager
async def launch_chromium(
    ns: Netns,
    directory: Path,
    *,
    contexts: int = 1,
    extra_args: tuple[str, ...] = (),
) -> AsyncIterator[ChromiumSession]:
    """Start Chromium inside ``ns`` with ``contexts`` isolated contexts; always close it.

    Each context has camera and microphone granted, so ``getUserMedia`` gets the
    fake devices without a prompt. ``directory`` (e.g. pytest's ``tmp_path``) holds
    the wrapper script.
    """
    from playwright.async_api import async_playwright

    if not 1 <= contexts <= 8:
        raise ValueError("between 1 and 8 contexts")
    wrapper = write_wrapper(ns, directory)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(wrapper),
            headless=True,
            args=[*CHROMIUM_FLAGS, *extra_args],
            timeout=LAUNCH_TIMEOUT_MS,
            # Playwright must not route the browser through a proxy from the environment.
            env={k: v for k, v in os.environ.items() if "proxy" not in k.lower()},
        )
        try:
            made = [
                await browser.new_context(permissions=["camera", "microphone"])
                for _ in range(contexts)
            ]
            for number, context in enumerate(made):
                _record_console(context, number)
            yield ChromiumSession(browser=browser, contexts=made)
        finally:
            await browser.close()
