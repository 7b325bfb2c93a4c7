"""Walks the real pages through the states a person meets, and hands each state to a callback.

One walk is one session of the real server (``running_server``) seen by two
people in real Chromium: a therapist, who logs in, looks at the dashboard and
opens the call, and a client, who checks the devices, knocks, talks, turns the
camera off, hangs up and later opens a dead link. At each state the walker stops
and awaits ``on_state(seen)``: the layout test measures there, the accessibility
test runs axe-core there, ``harness/screenshots.py`` takes a picture there.

The walker finds its way by ``data-testid`` and by the status of the page
(``[data-testid=call-status][data-status=...]``), never by layout, so that a
redesign of the page keeps it working. The hang-up asks once
(``hangup-confirm``); the other person's camera and microphone are read from
``remote-state``'s data attributes.

Every wait is bounded by ``WAIT_MS`` (scaled by ``SPRECHZIMMER_TEST_TIME_SCALE``)
and ends as soon as its condition holds; nothing sleeps a fixed time. A callback
may change the language (``switch_lang``) or the colour scheme
(``switch_scheme``) of the page it is given; the walker puts both back before it
goes on, so every state starts from the walk's own language and scheme.

It never leaves the network namespace of the server: the browser must be
launched inside it (``serving`` does both).
"""

from __future__ import annotations

import contextlib
import enum
import json
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from .chromium import launch_chromium
from .joinform import fill_join_form
from .server import PASSWORD, TIME_SCALE, RunningServer, running_server

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, Locator, Page

WAIT_MS = 20_000 * TIME_SCALE
"""Upper bound for one thing to happen in a page (a click's effect, a status)."""
POLL_S = 0.1
THERAPIST = "dr-walk"
CLIENT_ID = "K-0815"
"""A pseudonym, as the dashboard asks for; it shows in the screenshots."""
LANG_KEY = "sprechzimmer.lang"

Lang = Literal["de", "en"]
Scheme = Literal["light", "dark"]
LANGS: tuple[Lang, ...] = ("de", "en")
SCHEMES: tuple[Scheme, ...] = ("light", "dark")


@dataclass(frozen=True)
class Device:
    """A screen the pages are looked at on (Playwright context options)."""

    name: str
    width: int
    height: int
    is_mobile: bool = False
    has_touch: bool = False
    scale: float = 1
    """Device pixels per CSS pixel."""


DESKTOP = Device("desktop", 1280, 800)
PHONE = Device("phone", 390, 844, is_mobile=True, has_touch=True, scale=2)
DEVICES = (DESKTOP, PHONE)


class Role(enum.StrEnum):
    THERAPIST = "therapist"
    CLIENT = "client"


class Kind(enum.Enum):
    """What a state must offer, as the tests of issue 12 read it."""

    PAGE = "page"
    """Not the call: login, dashboard, a dead link."""
    SETUP = "setup"
    """Before or after media: device check, waiting, knocking, the other has left.
    Call controls may be shown; where they are, they must be in reach."""
    CALL = "call"
    """Media flows: mute, camera and hang-up must be shown and in reach."""
    ENDED = "ended"
    """The page's part in the session is over."""


@dataclass(frozen=True)
class State:
    """One state of the walk: a stable name (file names of screenshots use it)."""

    name: str
    role: Role | None
    kind: Kind
    description: str


def _state(name: str, role: Role | None, kind: Kind, description: str) -> State:
    return State(name, role, kind, description)


T, C = Role.THERAPIST, Role.CLIENT
LOGIN = _state("login", None, Kind.PAGE, "the login page")
DASHBOARD = _state("dashboard", T, Kind.PAGE, "the dashboard with one open session")
THERAPIST_DEVICE_CHECK = _state(
    "therapist-device-check", T, Kind.SETUP, "the therapist's device check"
)
THERAPIST_WAITING = _state(
    "therapist-waiting", T, Kind.SETUP, "the therapist in the room, nobody there yet"
)
CLIENT_DEVICE_CHECK = _state("client-device-check", C, Kind.SETUP, "the client's device check")
CLIENT_WAITING_ROOM = _state("client-waiting-room", C, Kind.SETUP, "the client waits to be let in")
THERAPIST_KNOCKING = _state("therapist-knocking", T, Kind.SETUP, "the client knocks")
DASHBOARD_CLIENT_WAITING = _state(
    "dashboard-client-waiting", T, Kind.PAGE, "the dashboard while the client waits"
)
THERAPIST_IN_CALL = _state("therapist-in-call", T, Kind.CALL, "in the call, connected")
CLIENT_IN_CALL = _state("client-in-call", C, Kind.CALL, "in the call, connected")
THERAPIST_SELF_OFF = _state(
    "therapist-self-off", T, Kind.CALL, "the therapist has muted and turned the camera off"
)
CLIENT_SEES_OTHER_OFF = _state(
    "client-sees-other-off", C, Kind.CALL, "the therapist is muted, camera off"
)
CLIENT_SELF_OFF = _state(
    "client-self-off", C, Kind.CALL, "the client has muted and turned the camera off"
)
THERAPIST_SEES_OTHER_OFF = _state(
    "therapist-sees-other-off", T, Kind.CALL, "the client is muted, camera off"
)
CLIENT_ENDED = _state("client-ended", C, Kind.ENDED, "the client has hung up")
THERAPIST_OTHER_LEFT = _state(
    "therapist-other-left", T, Kind.SETUP, "the client has hung up; the therapist's page"
)
THERAPIST_ENDED = _state("therapist-ended", T, Kind.ENDED, "the therapist has hung up")
INVALID_LINK = _state("invalid-link", C, Kind.PAGE, "a client link with a wrong token")

STATES: tuple[State, ...] = (
    LOGIN,
    DASHBOARD,
    THERAPIST_DEVICE_CHECK,
    THERAPIST_WAITING,
    CLIENT_DEVICE_CHECK,
    CLIENT_WAITING_ROOM,
    THERAPIST_KNOCKING,
    DASHBOARD_CLIENT_WAITING,
    THERAPIST_IN_CALL,
    CLIENT_IN_CALL,
    THERAPIST_SELF_OFF,
    CLIENT_SEES_OTHER_OFF,
    CLIENT_SELF_OFF,
    THERAPIST_SEES_OTHER_OFF,
    CLIENT_ENDED,
    THERAPIST_OTHER_LEFT,
    THERAPIST_ENDED,
    INVALID_LINK,
)
"""Every state, in the order of a walk."""
OPTIONAL = frozenset({THERAPIST_DEVICE_CHECK.name})
"""States a page may leave out (a walk over such a page does not see them)."""


def complete(visited: list[str]) -> bool:
    """Whether a walk saw every state, in order, leaving out only optional ones."""
    return visited == [s.name for s in STATES if s.name in visited or s.name not in OPTIONAL]


@dataclass(frozen=True)
class Seen:
    """What a callback is given: the state, its page and how it is looked at."""

    state: State
    page: Page
    device: Device
    lang: Lang
    """The walk's language; the callback may switch (``switch_lang``)."""
    scheme: Scheme
    """The walk's colour scheme; the callback may switch (``switch_scheme``)."""


OnState = Callable[[Seen], Awaitable[None]]


class WalkError(AssertionError):
    """The page did not reach the next state in time (it names which)."""


# --- the browser and the server -----------------------------------------------------------


@dataclass
class Serving:
    server: RunningServer
    browser: Browser
    directory: Path


@contextlib.asynccontextmanager
async def serving(directory: Path, **env: str) -> AsyncIterator[Serving]:
    """The real server with ``THERAPIST`` set up, and Chromium in its namespace; both stop."""
    with running_server(directory, extra_env=env) as server:
        server.add_therapist(THERAPIST)
        async with launch_chromium(server.ns, directory, contexts=1) as chromium:
            yield Serving(server, chromium.browser, directory)


# Only when nothing is stored yet: a language switched in the page stays switched
# when the page reloads or navigates.
_LANG_INIT = """(lang) => {
  try { if (!localStorage.getItem(%s)) localStorage.setItem(%s, lang); } catch (e) {}
}"""


async def new_context(
    browser: Browser,
    device: Device,
    *,
    lang: Lang = "de",
    scheme: Scheme = "light",
    bypass_csp: bool = False,
) -> BrowserContext:
    """A person's browser: fake camera and microphone granted, the screen of ``device``.

    ``bypass_csp`` lets a test add a script tag (axe-core) under the pages' CSP.
    """
    context = await browser.new_context(
        permissions=["camera", "microphone"],
        viewport={"width": device.width, "height": device.height},
        screen={"width": device.width, "height": device.height},
        is_mobile=device.is_mobile,
        has_touch=device.has_touch,
        device_scale_factor=device.scale,
        color_scheme=scheme,
        locale="de-DE" if lang == "de" else "en-GB",
        bypass_csp=bypass_csp,
    )
    context.set_default_timeout(WAIT_MS)
    key = json.dumps(LANG_KEY)
    script = _LANG_INIT % (key, key)
    await context.add_init_script(f"({script})({json.dumps(lang)})")
    return context


# --- waiting on the page ------------------------------------------------------------------


async def until(page: Page, predicate: str, arg: object = None, what: str = "") -> None:
    """Poll ``predicate`` (a JS function) in ``page`` until it is true; bounded by WAIT_MS.

    Not ``page.wait_for_function``: that uses ``eval``, which the pages' CSP forbids.
    """
    import asyncio

    loop = asyncio.get_running_loop()
    end = loop.time() + WAIT_MS / 1000
    for _ in range(int(WAIT_MS / POLL_S / 1000) + 1):
        if await page.evaluate(predicate, arg):
            return
        if loop.time() > end:
            break
        await asyncio.sleep(POLL_S)
    raise WalkError(f"timed out waiting for {what or predicate} on {page.url}")


def _status_selector(*statuses: str) -> str:
    return ", ".join(f'[data-testid="call-status"][data-status="{s}"]' for s in statuses)


async def wait_status(page: Page, *statuses: str) -> str:
    """Wait until the call page shows one of ``statuses``; return the one it shows."""
    try:
        await page.locator(_status_selector(*statuses)).first.wait_for(
            state="attached", timeout=WAIT_MS
        )
    except Exception as error:
        shown = await status_of(page)
        raise WalkError(f"status {shown!r}, waited for one of {statuses}") from error
    return await status_of(page) or ""


async def status_of(page: Page) -> str | None:
    return await page.get_by_test_id("call-status").get_attribute("data-status")


_STATUS_NOT = """(statuses) => {
  const el = document.querySelector('[data-testid="call-status"]');
  return !!el && !statuses.includes(el.dataset.status);
}"""


async def _enabled(locator: Locator) -> None:
    from playwright.async_api import expect  # not at import: a laptop may lack it

    await locator.wait_for(state="visible", timeout=WAIT_MS)
    await expect(locator).to_be_enabled(timeout=WAIT_MS)


async def _press(page: Page, testid: str) -> None:
    """Press the control a person would press, once it is shown and enabled."""
    control = page.get_by_test_id(testid)
    await _enabled(control)
    await control.click(timeout=WAIT_MS)


# What a toggle says about itself: its aria-pressed, or (a page may instead change
# the label, "Stummschalten" -> "Ton an") its label.
_TOGGLE_SAYS = """(testid) => {
  const el = document.querySelector(`[data-testid="${testid}"]`);
  if (!el) return null;
  const label = el.getAttribute('aria-label') || (el.textContent || '').trim();
  return `${el.getAttribute('aria-pressed')}|${label}`;
}"""

_TOGGLE_CHANGED = """([testid, before]) => {
  const el = document.querySelector(`[data-testid="${testid}"]`);
  if (!el) return false;
  const label = el.getAttribute('aria-label') || (el.textContent || '').trim();
  return `${el.getAttribute('aria-pressed')}|${label}` !== before;
}"""


async def _toggle(page: Page, testid: str) -> None:
    """Press a toggle (mute, camera); wait until it says that it changed."""
    before = await page.evaluate(_TOGGLE_SAYS, testid)
    await _press(page, testid)
    await until(page, _TOGGLE_CHANGED, [testid, before], f"{testid} to show its new state")


# A picture has arrived in the remote video (the screenshots show it, the layout
# is the one of a running call).
_REMOTE_PICTURE = """() => {
  const v = document.querySelector('[data-testid="remote-video"]');
  return !!v && v.videoWidth > 0 && v.webkitDecodedFrameCount > 0;
}"""

_SAS_SHOWN = """() => {
  const el = document.querySelector('[data-testid="sas"]');
  return !!el && (el.textContent || '').trim().length > 0;
}"""

# The other person's camera and microphone as `remote-state` says them: its
# data-camera / data-microphone attributes ("on", "off", "none").
_REMOTE_OFF = """() => {
  const el = document.querySelector('[data-testid="remote-state"]');
  if (!el || !el.checkVisibility()) return false;
  return el.dataset.camera === 'off' && el.dataset.microphone === 'off';
}"""


# Finite CSS animations and transitions finish, then two frames are drawn:
# what is measured is the layout at rest, not a panel half-way in.
_SETTLE = """async () => {
  const finite = document.getAnimations().filter((a) => {
    const end = a.effect ? a.effect.getComputedTiming().endTime : Infinity;
    return a.playState === 'running' && Number.isFinite(Number(end));
  });
  await Promise.race([
    Promise.all(finite.map((a) => a.finished.catch(() => null))),
    new Promise((r) => setTimeout(r, 3000)),
  ]);
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  return true;
}"""


async def settle(page: Page) -> None:
    """Let the page come to rest: finite animations end, two frames are drawn."""
    await page.evaluate(_SETTLE)


async def switch_lang(page: Page, lang: Lang) -> None:
    """Choose ``lang`` with the page's own switch; wait until the page is translated."""
    if await page.evaluate("() => document.documentElement.lang") == lang:
        return
    await page.get_by_test_id("lang-switch").select_option(lang, timeout=WAIT_MS)
    await until(
        page, "(lang) => document.documentElement.lang === lang", lang, f"the page in {lang}"
    )
    await page.evaluate("() => window.scrollTo(0, 0)")
    await settle(page)


async def switch_scheme(page: Page, scheme: Scheme) -> None:
    """Show the page in the light or dark colour scheme (as the system setting would)."""
    await page.emulate_media(color_scheme=scheme)
    await until(
        page,
        "(s) => matchMedia(`(prefers-color-scheme: ${s})`).matches",
        scheme,
        f"the {scheme} scheme",
    )
    await settle(page)


# --- the walk -----------------------------------------------------------------------------


@dataclass
class _Walk:
    serving: Serving
    device: Device
    lang: Lang
    scheme: Scheme
    on_state: OnState
    seen: list[str]

    async def emit(self, state: State, page: Page) -> None:
        """Hand ``state`` to the callback, scrolled to the top, at rest; restore after."""
        await page.bring_to_front()
        await page.evaluate("() => window.scrollTo(0, 0)")
        await settle(page)
        await self.on_state(Seen(state, page, self.device, self.lang, self.scheme))
        self.seen.append(state.name)
        await switch_scheme(page, self.scheme)
        await switch_lang(page, self.lang)


async def _open(context: BrowserContext, url: str) -> Page:
    page = await context.new_page()
    await page.goto(url, timeout=WAIT_MS)
    return page


async def _hang_up(page: Page) -> None:
    """Press hang-up; confirm if the page asks (``hangup-confirm``); wait for the end."""
    await _press(page, "hangup")
    confirm = page.locator('[data-testid="hangup-confirm"]:visible')
    ended = page.locator(_status_selector("ended"))
    await ended.or_(confirm).first.wait_for(state="attached", timeout=WAIT_MS)
    if await status_of(page) != "ended" and await confirm.count():
        await confirm.first.click(timeout=WAIT_MS)
    await wait_status(page, "ended")


async def _turn_off(page: Page, other: Page) -> None:
    """Mute and turn the camera off in ``page``; wait until ``other`` shows both."""
    for testid in ("mute", "camera"):
        await _toggle(page, testid)
    await until(other, _REMOTE_OFF, what="remote-state to tell muted and camera off")


async def _turn_on(page: Page) -> None:
    for testid in ("mute", "camera"):
        await _toggle(page, testid)


async def _in_call(page: Page) -> None:
    """Media flows, a picture has arrived, and the verification code is there."""
    await wait_status(page, "in-call")
    await until(page, _REMOTE_PICTURE, what="a remote picture")
    await until(page, _SAS_SHOWN, what="the verification code")


async def walk(
    serving: Serving,
    on_state: OnState,
    *,
    device: Device = DESKTOP,
    lang: Lang = "de",
    scheme: Scheme = "light",
    bypass_csp: bool = False,
    client_id: str = CLIENT_ID,
) -> list[str]:
    """Walk one new session through ``STATES`` for both roles; return the names seen.

    Every state is seen, except ``therapist-device-check`` on a page that takes
    the therapist into the room without one (see ``OPTIONAL``).

    Two browser contexts (therapist, client) with the screen of ``device``,
    the language ``lang`` and the colour scheme ``scheme``; they are closed at
    the end. ``on_state`` is awaited at each state.
    """
    server = serving.server
    links = server.create_session(THERAPIST, client_id)
    w = _Walk(serving, device, lang, scheme, on_state, [])
    contexts = [
        await new_context(serving.browser, device, lang=lang, scheme=scheme, bypass_csp=bypass_csp)
        for _ in range(2)
    ]
    therapist_ctx, client_ctx = contexts
    try:
        # The therapist logs in and sees the session on the dashboard.
        dashboard = await _open(therapist_ctx, f"{server.base_url}/")
        await dashboard.get_by_test_id("login-code").wait_for(state="visible")
        await w.emit(LOGIN, dashboard)
        await dashboard.get_by_test_id("login-code").fill(THERAPIST)
        await dashboard.get_by_test_id("login-password").fill(PASSWORD)
        await dashboard.get_by_test_id("login-submit").click()
        await dashboard.wait_for_url(f"{server.base_url}/dashboard", timeout=WAIT_MS)
        await dashboard.get_by_text(client_id).first.wait_for(state="visible")
        await w.emit(DASHBOARD, dashboard)

        # The therapist opens the call and waits in it.
        # (A page that takes the therapist straight into the room skips the check.)
        therapist = await _open(therapist_ctx, links["therapist_url"])
        # Its join button is never enabled, so "enabled" or "waiting" is certain.
        join = therapist.locator('[data-testid="join"]:visible:enabled')
        await join.or_(therapist.locator(_status_selector("waiting"))).first.wait_for()
        if await status_of(therapist) != "waiting":
            await w.emit(THERAPIST_DEVICE_CHECK, therapist)
            await _press(therapist, "join")
        await wait_status(therapist, "waiting")
        await w.emit(THERAPIST_WAITING, therapist)

        # The client checks the devices and knocks.
        client = await _open(client_ctx, links["client_url"])
        await _enabled(client.get_by_test_id("join"))
        await fill_join_form(client)
        await w.emit(CLIENT_DEVICE_CHECK, client)
        await _press(client, "join")
        await client.get_by_test_id("waiting-room").wait_for(state="visible")
        await wait_status(client, "waiting")
        await w.emit(CLIENT_WAITING_ROOM, client)
        await wait_status(therapist, "knocking")
        await _enabled(therapist.get_by_test_id("admit"))
        await w.emit(THERAPIST_KNOCKING, therapist)
        # The dashboard polls; it shows the waiting client (the new banner or the
        # badge of the session's row, whichever the page has).
        await dashboard.locator(
            '[data-testid="waiting-banner"]:visible, .badge-waiting:visible'
        ).first.wait_for(state="visible")
        await w.emit(DASHBOARD_CLIENT_WAITING, dashboard)

        # Let in: both in the call.
        await _press(therapist, "admit")
        for page in (therapist, client):
            await _in_call(page)
        await w.emit(THERAPIST_IN_CALL, therapist)
        await w.emit(CLIENT_IN_CALL, client)

        # Muted and camera off, one side at a time; the other sees it (if the page says it).
        await _turn_off(therapist, client)
        await w.emit(THERAPIST_SELF_OFF, therapist)
        await w.emit(CLIENT_SEES_OTHER_OFF, client)
        await _turn_on(therapist)
        await _turn_off(client, therapist)
        await w.emit(CLIENT_SELF_OFF, client)
        await w.emit(THERAPIST_SEES_OTHER_OFF, therapist)

        # The client hangs up; the therapist's page after that; then the therapist's end.
        await _hang_up(client)
        await w.emit(CLIENT_ENDED, client)
        await until(
            therapist,
            _STATUS_NOT,
            ["in-call", "reconnecting", "connecting", "no-connection"],
            "the therapist's page to notice that the client left",
        )
        await w.emit(THERAPIST_OTHER_LEFT, therapist)
        if await status_of(therapist) != "ended":
            await _hang_up(therapist)
        await w.emit(THERAPIST_ENDED, therapist)

        # A client link whose token is wrong (a typo, a revoked or expired link).
        bad = f"{server.base_url}/call#s={links['session_id']}&t={secrets.token_urlsafe(32)}"
        invalid = await _open(client_ctx, bad)
        join = invalid.locator('[data-testid="join"]:visible')
        error = invalid.locator(_status_selector("error"))
        await error.or_(join).first.wait_for(state="attached")
        if await status_of(invalid) != "error":
            # Today's page finds out only after the device check and a join.
            await _press(invalid, "join")
            await wait_status(invalid, "error")
        await w.emit(INVALID_LINK, invalid)
    finally:
        for context in contexts:
            with contextlib.suppress(Exception):  # the browser may be gone already
                await context.close()
    return w.seen
