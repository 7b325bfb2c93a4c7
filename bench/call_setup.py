"""Call set-up benchmark: admit to first decoded frame, against a minimal-signaling reference.

Run from the repository root (needs root, Chromium and Playwright, as the
end-to-end tests do)::

    .venv/bin/python -m bench.call_setup [--runs N] [--json] [--quick]

What it measures, in one command, in one private network namespace with one
``sprechzimmer serve`` and one headless Chromium:

* **full stack** (``--runs`` times, at least 10): a new session from the
  operator's CLI; a fresh browser context for the therapist opens the
  therapist link and joins, a fresh context for the client opens the client
  link, joins and waits in the waiting room. The clock starts when the
  therapist page clicks *admit* and stops when **both** pages have their first
  remote video frame (the later of the two).
* **reference** (as many runs, interleaved with the full-stack runs): the
  least code that connects two browsers (``bench/reference.html``): one page
  per person in fresh contexts as above, both with the call page's camera
  (``acquireMedia()``, got before the clock, as the device check does), a
  WebSocket relay that forwards every message to the other page
  (``bench/minimal_relay.py``, started in the namespace), one offer/answer and
  trickled candidates, no data channel, no frame encryption. The clock starts
  when page a "admits" (makes the connection and sends the offer, which tells
  page b to start) and stops when both pages have their first remote video
  frame. **full stack / reference** is the ratio the issue asks for.
* **floor** (as many runs, interleaved too; ``--floor-media none`` leaves it out): two
  ``RTCPeerConnection`` in one page (``bench/floor.html``), signaled directly
  in JavaScript with no ICE servers, both sending the fake camera. The clock
  starts right before the first ``addTrack``/``createOffer`` and stops when
  both connections have their first remote video frame. By default twice per
  round: with ``getUserMedia``'s default camera (*plain*: the browser's own
  floor, the ratio the issue asks for) and with the call page's own
  ``acquireMedia()`` (*call*: its 1280x720 constraints, which by themselves
  delay the first frame; the difference between the two floors is what the
  camera settings cost, the rest is ours).

All use the same first-frame probe (``bench/probe.js``), so the ratio of
the medians compares like with like. The probe also marks, in every page,
the first time each step of a set-up happens (signaling messages, peer
connection, descriptions, ICE, DTLS, SCTP, data-channel messages of the key
agreement, key installation in the worker; with ``--media-marks`` also the
first RTP packet and frame counters from getStats, which costs polling): the
breakdown table lists each step's median time after admit, per side.

All times are taken inside the pages as
``performance.timeOrigin + performance.now()``; the pages of a run are in one
browser process on one machine, so times of the therapist's and the client's
pages are comparable (the offset between the two pages' clocks is measured
each run and reported).

Everything is bounded: each step and each run has a timeout, the whole run
has ``--max-seconds``; all traffic stays inside the namespace, which is
removed at the end (also on failure).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.chromium import launch_chromium
from harness.joinform import fill_join_form
from harness.server import TIME_SCALE, RunningServer, running_server, wait_for_port

from bench.runner import Failed, emit, quantile, run_bounded

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, Page, Route

BENCH_DIR = Path(__file__).resolve().parent
STATIC_JS = BENCH_DIR.parent / "src" / "sprechzimmer" / "static" / "js"
PROBE_JS = (BENCH_DIR / "probe.js").read_text()
MIN_RUNS = 10
SERVER_PORT = 8765
REFERENCE_PORT = 8766
BENCH_FILES = {
    "floor.html": "text/html",
    "floor.js": "text/javascript",
}
STEP_TIMEOUT_MS = 15_000 * TIME_SCALE
"""Any single page step (load, join, waiting room, knock)."""
FRAME_TIMEOUT_MS = 15_000 * TIME_SCALE
"""Admit (or offer) to first frames on both sides."""
RUN_TIMEOUT_S = 60 * TIME_SCALE
"""One whole run, set-up and tear-down included."""
CLOCK_SAMPLES = 10
THERAPIST = "bench"

JOIN = '[data-testid="join"]'
ADMIT = '[data-testid="admit"]'
STATUS = '[data-testid="call-status"]'
REMOTE_VIDEO = '[data-testid="remote-video"]'

# Arms the probe on the call page: the <video> and the peer connection of
# call.js (the connection is created only after admit, so it is looked up on
# each poll).
ARM_CALL = f"""method => window.__bench.watch('call',
    document.querySelector('{REMOTE_VIDEO}'), () => window.sprechzimmer.pc, method)"""
# Reads the clock and clicks admit in the same task: the admit handler of
# call.js sends the message synchronously in the click.
CLICK_ADMIT = f"""() => {{
    window.__bench.resetMarks();
    const t = window.__bench.now();
    document.querySelector('{ADMIT}').click();
    return t;
}}"""


@dataclass
class FullRun:
    ms: float
    therapist_ms: float
    client_ms: float
    clock_offset_ms: float
    """Client page clock minus therapist page clock, estimated from Python ..."""
    clock_error_ms: float
    """... to within this (half the longer of the two best round trips)."""
    therapist_marks: Marks = field(default_factory=dict)
    client_marks: Marks = field(default_factory=dict)


Marks = dict[str, float]
"""Step name -> milliseconds after admit (see probe.js)."""


@dataclass
class ReferenceRun:
    ms: float
    a_ms: float
    b_ms: float
    a_marks: Marks = field(default_factory=dict)
    b_marks: Marks = field(default_factory=dict)


@dataclass
class FloorRun:
    ms: float
    pc1_ms: float
    pc2_ms: float
    connected_ms: float | None


@dataclass
class Results:
    method: str
    runs: int
    chromium: str
    full: list[FullRun] = field(default_factory=list)
    reference: list[ReferenceRun] = field(default_factory=list)
    compared: dict[str, list[FullRun]] = field(default_factory=dict)
    """With --compare-js: full-stack runs with the JS of this tree and of another."""
    floor: dict[str, list[FloorRun]] = field(default_factory=dict)
    """Floor runs by camera: 'plain' (browser defaults) and/or 'call' (call page's)."""
    warmup_ms: dict[str, list[float]] = field(default_factory=dict)


class BenchError(RuntimeError):
    pass


# ---------------------------------------------------------------------------
# One full-stack run


async def _new_context(browser: Browser) -> BrowserContext:
    context = await browser.new_context(permissions=["camera", "microphone"])
    await context.add_init_script(PROBE_JS)
    context.set_default_timeout(STEP_TIMEOUT_MS)
    return context


async def _status(page: Page, status: str) -> None:
    await page.wait_for_selector(f'{STATUS}[data-status="{status}"]', timeout=STEP_TIMEOUT_MS)


async def _join(page: Page, url: str, status: str) -> None:
    await page.goto(url, timeout=STEP_TIMEOUT_MS)
    # join is enabled once the device check has the fake camera; a therapist's
    # page joins by itself (its join button is never enabled).
    await page.wait_for_selector(
        f'{JOIN}:enabled, {STATUS}:not([data-status="device-check"])', timeout=STEP_TIMEOUT_MS
    )
    if await page.locator(f'{STATUS}[data-status="device-check"]').count():
        await fill_join_form(page)  # a client's name and consent; a therapist has no form
        await page.locator(f"{JOIN}:enabled").click(timeout=STEP_TIMEOUT_MS)
    await _status(page, status)


async def _page_clock_offset(page: Page) -> tuple[float, float]:
    """(page clock minus Python's wall clock in ms, round trip in ms), best of a few."""
    best: tuple[float, float] | None = None
    for _ in range(CLOCK_SAMPLES):
        before = time.time()
        page_ms = await page.evaluate("() => window.__bench.now()")
        after = time.time()
        rtt = (after - before) * 1000
        offset = page_ms - (before + after) / 2 * 1000
        if best is None or rtt < best[1]:
            best = (offset, rtt)
    assert best is not None
    return best


async def full_run(
    browser: Browser,
    server: RunningServer,
    n: int,
    method: str,
    media_marks: bool,
    static_js: Path | None = None,
) -> FullRun:
    invite = await asyncio.to_thread(server.create_session, THERAPIST, f"B-{n}")
    return await measure_call(
        browser, browser, invite, method, media_marks=media_marks, static_js=static_js
    )


def _js_from(folder: Path) -> Callable[[Route], Awaitable[None]]:
    """A route handler that answers /static/js/NAME.js from ``folder``."""

    async def answer(route: Route) -> None:
        name = route.request.url.split("?", 1)[0].rsplit("/", 1)[-1]
        path = folder / name
        if not name.endswith(".js") or not path.is_file():
            await route.fulfill(status=404)
            return
        await route.fulfill(status=200, content_type="text/javascript", body=path.read_bytes())

    return answer


async def _watch_media(page: Page, pc_expression: str) -> None:
    """Poll the page's peer connection (``pc_expression``) for the media marks."""
    await page.evaluate(
        f"() => window.__bench.watchMedia(() => {pc_expression}, {FRAME_TIMEOUT_MS})"
    )


async def _marks(page: Page, since: float) -> Marks:
    """The page's marks in ms after ``since`` (a time of the therapist's page clock)."""
    raw: dict[str, float] = await page.evaluate("() => window.__bench.marks()")
    return {name: at - since for name, at in raw.items()}


async def measure_call(
    therapist_browser: Browser,
    client_browser: Browser,
    invite: dict[str, str],
    method: str,
    inspect: Callable[[Page, Page], Awaitable[None]] | None = None,
    media_marks: bool = False,
    static_js: Path | None = None,
) -> FullRun:
    """One full-stack run on an existing session: fresh contexts, admit, first frames.

    The therapist's and the client's contexts may come from different browsers
    (e.g. in two network namespaces); ``invite`` holds the links each opens.
    ``inspect(therapist, client)``, if given, runs after the measurement while
    the call is still up (e.g. to read which path the media took).
    ``static_js``, if given, is the folder the pages' ``/static/js/`` files come
    from (answered by Playwright; see ``--compare-js``).
    """
    therapist_ctx = await _new_context(therapist_browser)
    client_ctx = await _new_context(client_browser)
    if static_js is not None:
        origin = "/".join(invite["therapist_url"].split("/", 3)[:3])
        for context in (therapist_ctx, client_ctx):
            await context.route(f"{origin}/static/js/**", _js_from(static_js))
    try:
        therapist = await therapist_ctx.new_page()
        client = await client_ctx.new_page()
        await _join(therapist, invite["therapist_url"], "waiting")
        await _join(client, invite["client_url"], "waiting")
        await therapist.wait_for_selector(f"{ADMIT}:enabled", timeout=STEP_TIMEOUT_MS)
        if not await client.locator('[data-testid="waiting-room"]').is_visible():
            raise BenchError("the client is not in the waiting room")

        await therapist.evaluate(ARM_CALL, method)
        await client.evaluate(ARM_CALL, method)
        await client.evaluate("() => window.__bench.resetMarks()")
        if media_marks:
            for page in (therapist, client):
                await _watch_media(page, "window.sprechzimmer.pc")
        admit_at: float = await therapist.evaluate(CLICK_ADMIT)

        done = "() => window.__bench.first('call') !== null"
        try:
            await asyncio.gather(
                therapist.wait_for_function(done, polling=20, timeout=FRAME_TIMEOUT_MS),
                client.wait_for_function(done, polling=20, timeout=FRAME_TIMEOUT_MS),
            )
        except Exception as error:
            t_state = await therapist.locator(STATUS).get_attribute("data-status")
            c_state = await client.locator(STATUS).get_attribute("data-status")
            raise BenchError(
                f"no first frame on both sides within {FRAME_TIMEOUT_MS:.0f} ms "
                f"(therapist {t_state}, client {c_state}): {error}"
            ) from error
        therapist_first: float = await therapist.evaluate("() => window.__bench.first('call')")
        client_first: float = await client.evaluate("() => window.__bench.first('call')")

        # The client's frame time is read on the client page's clock: check
        # that it agrees with the therapist page's clock.
        t_offset, t_rtt = await _page_clock_offset(therapist)
        c_offset, c_rtt = await _page_clock_offset(client)
        if inspect is not None:
            await inspect(therapist, client)
        therapist_marks = await _marks(therapist, admit_at)
        client_marks = await _marks(client, admit_at)
        therapist_marks["first frame"] = therapist_first - admit_at
        client_marks["first frame"] = client_first - admit_at

        return FullRun(
            ms=max(therapist_first, client_first) - admit_at,
            therapist_ms=therapist_first - admit_at,
            client_ms=client_first - admit_at,
            clock_offset_ms=c_offset - t_offset,
            clock_error_ms=max(t_rtt, c_rtt) / 2,
            therapist_marks=therapist_marks,
            client_marks=client_marks,
        )
    finally:
        with contextlib.suppress(Exception):
            await therapist_ctx.close()
        with contextlib.suppress(Exception):
            await client_ctx.close()


# ---------------------------------------------------------------------------
# One reference run


async def _serve_bench_file(route: Route) -> None:
    name = route.request.url.rsplit("/", 1)[-1]
    if name not in BENCH_FILES:
        await route.fulfill(status=404)
        return
    await route.fulfill(
        status=200, content_type=BENCH_FILES[name], body=(BENCH_DIR / name).read_bytes()
    )


def start_reference_relay(server: RunningServer, directory: Path) -> None:
    """``bench/minimal_relay.py`` in the server's namespace (stopped with it)."""
    with (directory / "relay.log").open("a") as log:
        server.ns.popen(
            [sys.executable, "-m", "bench.minimal_relay", str(REFERENCE_PORT)],
            cwd=BENCH_DIR.parent,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    wait_for_port(server.ns, REFERENCE_PORT, timeout=20 * TIME_SCALE)


async def reference_run(
    browser: Browser, server: RunningServer, n: int, method: str, media_marks: bool
) -> ReferenceRun:
    contexts = [await _new_context(browser), await _new_context(browser)]
    try:
        pages = []
        origin = f"http://127.0.0.1:{REFERENCE_PORT}"
        for role, context in zip(("a", "b"), contexts, strict=True):
            # The relay serves the page (and the call page's devices.js, for
            # the same camera constraints) and its socket.
            page = await context.new_page()
            await page.goto(f"{origin}/bench/reference.html", timeout=STEP_TIMEOUT_MS)
            await page.wait_for_function(
                "() => window.reference !== undefined", timeout=STEP_TIMEOUT_MS
            )
            url = f"ws://127.0.0.1:{REFERENCE_PORT}/r{n}/{role}"
            got = await page.evaluate("url => window.reference.prepare(url)", url)
            if not got.startswith("audio,video "):
                raise BenchError(f"reference page got {got!r} from getUserMedia")
            await page.evaluate(
                """method => window.__bench.watch('call', window.reference.video,
                    () => window.reference.pc(), method)""",
                method,
            )
            await page.evaluate("() => window.__bench.resetMarks()")
            if media_marks:
                await _watch_media(page, "window.reference.pc()")
            pages.append(page)
        a, b = pages
        admit_at: float = await a.evaluate("() => window.reference.admit()")
        done = "() => window.__bench.first('call') !== null"
        try:
            await asyncio.gather(
                *(p.wait_for_function(done, polling=20, timeout=FRAME_TIMEOUT_MS) for p in pages)
            )
        except Exception as error:
            raise BenchError(
                f"reference: no first frame on both sides within {FRAME_TIMEOUT_MS:.0f} ms"
            ) from error
        a_first: float = await a.evaluate("() => window.__bench.first('call')")
        b_first: float = await b.evaluate("() => window.__bench.first('call')")
        a_marks = await _marks(a, admit_at)
        b_marks = await _marks(b, admit_at)
        a_marks["first frame"] = a_first - admit_at
        b_marks["first frame"] = b_first - admit_at
        for page in pages:
            await page.evaluate("() => window.reference.close()")
        return ReferenceRun(
            ms=max(a_first, b_first) - admit_at,
            a_ms=a_first - admit_at,
            b_ms=b_first - admit_at,
            a_marks=a_marks,
            b_marks=b_marks,
        )
    finally:
        for context in contexts:
            with contextlib.suppress(Exception):
                await context.close()


# ---------------------------------------------------------------------------
# One floor run


async def floor_run(browser: Browser, server: RunningServer, method: str, media: str) -> FloorRun:
    context = await _new_context(browser)
    try:
        # The floor page lives on the service's origin, under a path that the
        # service does not have: Playwright answers it from bench/ without a
        # request leaving the browser. Same origin as the call page, so
        # `--floor-media call` can import the call page's devices.js.
        await context.route(f"{server.base_url}/bench/*", _serve_bench_file)
        page = await context.new_page()
        await page.goto(f"{server.base_url}/bench/floor.html", timeout=STEP_TIMEOUT_MS)
        await page.wait_for_function("() => window.floor !== undefined", timeout=STEP_TIMEOUT_MS)
        got = await page.evaluate("media => window.floor.prepare(media)", media)
        if not got.startswith("audio,video "):
            raise BenchError(f"floor page got {got!r} from getUserMedia")
        result: dict[str, Any] = await page.evaluate(
            "options => window.floor.run(options)",
            {"method": method, "timeoutMs": FRAME_TIMEOUT_MS},
        )
        start = result["start"]
        if result["first1"] is None or result["first2"] is None:
            raise BenchError(f"floor: no first frame within {FRAME_TIMEOUT_MS:.0f} ms: {result}")
        connected = result["connected"]
        return FloorRun(
            ms=max(result["first1"], result["first2"]) - start,
            pc1_ms=result["first1"] - start,
            pc2_ms=result["first2"] - start,
            connected_ms=None if connected is None else connected - start,
        )
    finally:
        with contextlib.suppress(Exception):
            await context.close()


# ---------------------------------------------------------------------------
# The whole benchmark


async def _bounded(coro: Any, what: str) -> Any:
    try:
        return await asyncio.wait_for(coro, RUN_TIMEOUT_S)
    except TimeoutError as error:
        raise BenchError(f"{what} took longer than {RUN_TIMEOUT_S:.0f} s") from error


async def bench(
    runs: int,
    warmup: int,
    method: str,
    floor_media: str,
    directory: Path,
    progress: bool,
    media_marks: bool = False,
    compare_js: tuple[Path, ...] = (),
) -> Results:
    def say(text: str) -> None:
        if progress:
            print(text, file=sys.stderr, flush=True)

    floors = {"both": ["plain", "call"], "none": []}.get(floor_media, [floor_media])
    with running_server(directory, port=SERVER_PORT) as server:
        await asyncio.to_thread(server.add_therapist, THERAPIST)
        await asyncio.to_thread(start_reference_relay, server, directory)
        async with launch_chromium(server.ns, directory) as chromium:
            browser = chromium.browser
            results = Results(method=method, runs=runs, chromium=browser.version)
            results.floor = {media: [] for media in floors}
            # The context launch_chromium made is not used: every run gets fresh ones.
            await chromium.contexts[0].close()
            compared = {}
            if compare_js:
                compared = {"js: this tree": STATIC_JS}
                compared.update({f"js: {folder}": folder for folder in compare_js})
                results.compared = {name: [] for name in compared}
            kinds = ["full", "reference", *compared, *floors]
            for i in range(-warmup, runs):
                label = "warm-up" if i < 0 else f"run {i + 1:2d}"
                # Rotate the order, so that no kind always runs right after
                # the browser has torn down the same other kind.
                shift = i % len(kinds)
                for kind in kinds[shift:] + kinds[:shift]:
                    if kind == "full":
                        full = await _bounded(
                            full_run(browser, server, i + warmup, method, media_marks),
                            "a full-stack run",
                        )
                        ms = full.ms
                        if i >= 0:
                            results.full.append(full)
                        say(
                            f"{label} full stack    {full.ms:7.1f} ms (therapist "
                            f"{full.therapist_ms:.1f}, client {full.client_ms:.1f}, "
                            f"page clock offset {full.clock_offset_ms:+.2f} "
                            f"± {full.clock_error_ms:.2f} ms)"
                        )
                    elif kind in compared:
                        full = await _bounded(
                            full_run(
                                browser, server, i + warmup, method, media_marks, compared[kind]
                            ),
                            "a full-stack run",
                        )
                        ms = full.ms
                        if i >= 0:
                            results.compared[kind].append(full)
                        say(f"{label} full, {kind}  {full.ms:7.1f} ms")
                    elif kind == "reference":
                        ref = await _bounded(
                            reference_run(browser, server, i + warmup, method, media_marks),
                            "a reference run",
                        )
                        ms = ref.ms
                        if i >= 0:
                            results.reference.append(ref)
                        say(
                            f"{label} reference     {ref.ms:7.1f} ms (a {ref.a_ms:.1f}, "
                            f"b {ref.b_ms:.1f})"
                        )
                    else:
                        floor = await _bounded(
                            floor_run(browser, server, method, kind), f"a floor run ({kind})"
                        )
                        ms = floor.ms
                        if i >= 0:
                            results.floor[kind].append(floor)
                        say(
                            f"{label} floor ({kind:5}) {floor.ms:7.1f} ms (pc1 "
                            f"{floor.pc1_ms:.1f}, pc2 {floor.pc2_ms:.1f})"
                        )
                    if i < 0:
                        results.warmup_ms.setdefault(kind, []).append(ms)
            return results


# ---------------------------------------------------------------------------
# Figures


def summary(values: list[float]) -> dict[str, float]:
    return {
        "runs": len(values),
        "median": statistics.median(values),
        "p90": quantile(values, 0.9),
        "min": min(values),
        "max": max(values),
    }


FLOOR_NAMES = {"plain": "floor, plain camera", "call": "floor, call page's camera"}
BREAKDOWN_MIN_SHARE = 0.5
"""A step is listed when it happened in at least this share of a kind's runs."""


def breakdown(marks: list[Marks]) -> list[dict[str, Any]]:
    """Each step's median and p90 time after admit over ``marks`` (one dict per run)."""
    names = {name for run in marks for name in run}
    rows = []
    for name in names:
        values = [run[name] for run in marks if name in run]
        if len(values) < BREAKDOWN_MIN_SHARE * len(marks):
            continue
        rows.append(
            {
                "step": name,
                "runs": len(values),
                "median": statistics.median(values),
                "p90": quantile(values, 0.9),
            }
        )
    return sorted(rows, key=lambda r: r["median"])


def report(results: Results) -> dict[str, Any]:
    full = summary([r.ms for r in results.full])
    reference = summary([r.ms for r in results.reference])
    figures: dict[str, Any] = {
        "method": results.method,
        "chromium": results.chromium,
        "full_stack": full,
        "full_stack_therapist": summary([r.therapist_ms for r in results.full]),
        "full_stack_client": summary([r.client_ms for r in results.full]),
        "reference": reference,
        "reference_a": summary([r.a_ms for r in results.reference]),
        "reference_b": summary([r.b_ms for r in results.reference]),
        "ratio_to_reference": {
            "median": full["median"] / reference["median"],
            "p90": full["p90"] / reference["p90"],
        },
        "floor": {},
        "ratio": {},
        "breakdown": {
            "therapist": breakdown([r.therapist_marks for r in results.full]),
            "client": breakdown([r.client_marks for r in results.full]),
            "reference a": breakdown([r.a_marks for r in results.reference]),
            "reference b": breakdown([r.b_marks for r in results.reference]),
        },
        "page_clock_offset_ms": summary([r.clock_offset_ms for r in results.full]),
        "warmup_ms": results.warmup_ms,
        "full_stack_runs": [asdict(r) for r in results.full],
        "reference_runs": [asdict(r) for r in results.reference],
        "floor_runs": {m: [asdict(r) for r in runs] for m, runs in results.floor.items()},
    }
    for media, runs in results.floor.items():
        floor = summary([r.ms for r in runs])
        figures["floor"][media] = floor
        figures["ratio"][media] = full["median"] / floor["median"]
    figures["compared"] = {
        name: {
            **summary([r.ms for r in runs]),
            "ratio_to_reference": statistics.median([r.ms for r in runs]) / reference["median"],
        }
        for name, runs in results.compared.items()
    }
    figures["compared_breakdown"] = {
        name: {
            "therapist": breakdown([r.therapist_marks for r in runs]),
            "client": breakdown([r.client_marks for r in runs]),
        }
        for name, runs in results.compared.items()
    }
    return figures


def print_breakdown(figures: dict[str, Any]) -> None:
    """Two columns per kind: the therapist's (page a's) steps, then the client's (b's)."""
    for title, sides in (
        ("full stack", ("therapist", "client")),
        ("reference", ("reference a", "reference b")),
    ):
        print(f"\n{title}: steps after admit, median (p90) ms, first occurrence per page")
        for side in sides:
            rows = figures["breakdown"][side]
            if not rows:
                continue
            n = max(r["runs"] for r in rows)
            print(f"  {side} ({n} runs)")
            for r in rows:
                seen = "" if r["runs"] == n else f"  [{r['runs']} runs]"
                print(f"    {r['median']:7.1f} ({r['p90']:6.1f})  {r['step']}{seen}")


def print_table(figures: dict[str, Any]) -> None:
    rows = [
        ("full stack: admit -> both decode", figures["full_stack"]),
        ("  therapist side", figures["full_stack_therapist"]),
        ("  client side", figures["full_stack_client"]),
        ("reference (minimal signaling): admit -> both", figures["reference"]),
        ("  page a (therapist's part)", figures["reference_a"]),
        ("  page b (client's part)", figures["reference_b"]),
    ]
    for media, floor in figures["floor"].items():
        rows.append((f"{FLOOR_NAMES[media]}: offer -> both decode", floor))
    print(
        f"call set-up, Chromium {figures['chromium']}, first frame by {figures['method']}, "
        f"page clock offset median {figures['page_clock_offset_ms']['median']:+.2f} ms"
    )
    print(f"{'':50} {'runs':>4} {'median':>7} {'p90':>7} {'min':>7} {'max':>7}")
    for name, s in rows:
        print(
            f"{name:50} {s['runs']:4d} {s['median']:7.1f} {s['p90']:7.1f} "
            f"{s['min']:7.1f} {s['max']:7.1f}"
        )
    print("(milliseconds)")
    ratio = figures["ratio_to_reference"]
    print(
        f"full stack median {figures['full_stack']['median']:.0f} ms, reference median "
        f"{figures['reference']['median']:.0f} ms: ratio {ratio['median']:.2f} "
        f"(p90 {ratio['p90']:.2f})"
    )
    for media, floor in figures["floor"].items():
        print(
            f"full stack median {figures['full_stack']['median']:.0f} ms, "
            f"{FLOOR_NAMES[media]} median {floor['median']:.0f} ms, "
            f"ratio {figures['ratio'][media]:.2f}"
        )
    for name, c in figures["compared"].items():
        print(
            f"full stack, {name} (answered by Playwright): median {c['median']:.0f} ms, "
            f"p90 {c['p90']:.0f} ms, ratio to the reference {c['ratio_to_reference']:.2f}"
        )
    print_breakdown(figures)


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every call set-up benchmark takes: runs, warm-up, how frames are seen."""
    parser.add_argument("--runs", type=int, default=MIN_RUNS, help="runs of each kind (>= 10)")
    parser.add_argument(
        "--quick", action="store_true", help=f"allow fewer than {MIN_RUNS} runs (a smoke test)"
    )
    parser.add_argument("--warmup", type=int, default=1, help="uncounted runs of each kind first")
    parser.add_argument(
        "--method",
        choices=("rvfc", "stats"),
        default="rvfc",
        help="first-frame detection: requestVideoFrameCallback (default) or getStats polling",
    )


def check_runs(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Fewer than MIN_RUNS runs only on request (a median of few runs says little)."""
    if args.runs < 1 or (args.runs < MIN_RUNS and not args.quick):
        parser.error(f"--runs must be at least {MIN_RUNS} (or use --quick)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.call_setup", description=__doc__)
    add_run_arguments(parser)
    parser.add_argument(
        "--floor-media",
        choices=("both", "plain", "call", "none"),
        default="both",
        help="camera of the floor runs: getUserMedia's defaults (plain), the call page's "
        "own acquireMedia() and its constraints (call), each in turn (both, default), "
        "or no floor runs (none)",
    )
    parser.add_argument(
        "--media-marks",
        action="store_true",
        help="also mark the first RTP packet and frame counters (polls getStats every "
        "10 ms on every page, both kinds alike)",
    )
    parser.add_argument(
        "--compare-js",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="A/B within one run: also full-stack runs whose pages get /static/js/ from "
        "this tree and from DIR (e.g. another worktree's src/sprechzimmer/static/js), "
        "both answered by Playwright so that both pay the same for it (repeatable)",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--max-seconds", type=float, default=900, help="bound on the whole benchmark"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no per-run lines on stderr")
    args = parser.parse_args(argv)
    check_runs(parser, args)
    if args.warmup < 0:
        parser.error("--warmup must not be negative")
    try:
        results = run_bounded(
            lambda tmp: bench(
                args.runs,
                args.warmup,
                args.method,
                args.floor_media,
                tmp,
                not args.quiet,
                args.media_marks,
                tuple(folder.resolve() for folder in args.compare_js),
            ),
            max_seconds=args.max_seconds,
            prefix="sz-bench-",
            errors=(BenchError,),
        )
    except Failed as failed:
        return failed.code
    return emit(report(results), args.json, print_table)


if __name__ == "__main__":
    sys.exit(main())
