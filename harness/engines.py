"""One way to drive a call page in either engine, for tests that mix browsers.

Chromium is driven by Playwright, Firefox over WebDriver BiDi
(``harness.firefox``); a test that holds a call between the two needs the
same few verbs on both: open a link, run a function in the page, wait for it
to be true, click an element. ``EnginePage`` is that interface;
``ChromiumPage`` wraps a Playwright page in it, ``FirefoxPage`` has it
already. Both browsers run inside the namespaces of ``harness.topology``
(A for the therapist, B for the client).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from .chromium import chromium_available, launch_chromium
from .firefox import WAIT_S, firefox_available, launch_firefox, poll_until
from .joinform import TEST_CLIENT_NAME, fill_join_form
from .topology import T_ADDR, Side, Topology

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, Page

Engine = Literal["chromium", "firefox"]
ENGINES: tuple[Engine, ...] = ("chromium", "firefox")


class EnginePage(Protocol):
    url: str

    async def goto(self, url: str) -> None: ...
    async def evaluate(self, source: str, arg: object = None) -> Any: ...
    async def until(
        self, predicate: str, arg: object = None, what: str = "", within: float = WAIT_S
    ) -> Any: ...
    async def click(self, selector: str) -> None: ...
    async def add_init_script(self, source: str) -> None: ...


class EngineBrowser(Protocol):
    engine: Engine

    async def new_page(self) -> EnginePage: ...
    def console(self) -> list[str]: ...


@dataclass
class ChromiumPage:
    """A Playwright page with the verbs of ``EnginePage``."""

    page: Page

    @property
    def url(self) -> str:
        return self.page.url

    async def goto(self, url: str) -> None:
        await self.page.goto(url)

    async def evaluate(self, source: str, arg: object = None) -> Any:
        return await self.page.evaluate(source, arg)

    async def until(
        self, predicate: str, arg: object = None, what: str = "", within: float = WAIT_S
    ) -> Any:
        value = await poll_until(self.page.evaluate, predicate, arg, within)
        if not value:
            raise AssertionError(f"timed out waiting for {what or predicate} on {self.page.url}")
        return value

    async def click(self, selector: str) -> None:
        await self.page.locator(selector).click()

    async def add_init_script(self, source: str) -> None:
        await self.page.add_init_script(source)


@dataclass
class _Chromium:
    context: BrowserContext
    engine: Engine = "chromium"
    lines: list[str] = field(default_factory=list)

    async def new_page(self) -> EnginePage:
        page = await self.context.new_page()
        page.on("console", lambda message: self.lines.append(f"[{message.type}] {message.text}"))
        return ChromiumPage(page)

    def console(self) -> list[str]:
        return self.lines


@dataclass
class _Firefox:
    session: Any
    engine: Engine = "firefox"

    async def new_page(self) -> EnginePage:
        page: EnginePage = await self.session.new_page()
        return page

    def console(self) -> list[str]:
        lines: list[str] = self.session.console
        return lines


def engine_missing(*engines: Engine) -> str | None:
    """None if every engine named can run here, else the reason why not."""
    for engine in engines:
        reason = chromium_available() if engine == "chromium" else firefox_available()
        if reason:
            return reason
    return None


@contextlib.asynccontextmanager
async def open_browser(
    engine: Engine, topo: Topology, side: Side, *, chromium_args: tuple[str, ...] = ()
) -> AsyncIterator[EngineBrowser]:
    """``engine`` started in ``side``'s namespace, the service's origins secure there."""
    if engine == "chromium":
        args = (*topo.chromium_args, *chromium_args)
        async with launch_chromium(topo.ns(side), topo.directory, extra_args=args) as session:
            yield _Chromium(session.contexts[0])
    else:
        origins = list(T_ADDR.values())
        async with launch_firefox(topo.ns(side), topo.directory, secure_origins=origins) as ff:
            yield _Firefox(ff)


STATUS = "() => document.querySelector('[data-testid=\"call-status\"]')?.dataset.status ?? null"
"""The call page's status as it shows it (``data-status``)."""

JOIN_READY = """() => {
  const status = document.querySelector('[data-testid="call-status"]').dataset.status;
  if (status !== 'device-check') return 'joined';
  const join = document.querySelector('[data-testid="join"]');
  return join.offsetParent !== null && !join.disabled ? 'press' : null;
}"""
"""The device check is done when the page is past it or its join button is enabled; a
therapist's page whose devices came up joins by itself."""

SAS_SHOWN = """() => {
  const el = document.querySelector('[data-testid="sas"]');
  if (!el || el.offsetParent === null || !/\\d/.test(el.textContent)) return null;
  return el.textContent.trim();
}"""
"""The verification code as the call bar shows it, once it is there."""


async def press_join(page: EnginePage, name: str = TEST_CLIENT_NAME) -> None:
    """Join from the device check: a client's name and consent first (a therapist's page
    has no form, and may have joined by itself)."""
    if await page.until(JOIN_READY, what="the device check to be done") == "press":
        await fill_join_form(page, name)
        await page.click('[data-testid="join"]')
