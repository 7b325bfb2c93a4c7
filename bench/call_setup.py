"""Call set-up benchmark: admit to first decoded frame, against the browser's own floor.

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
* **floor** (as many runs, interleaved with the full-stack runs): two
  ``RTCPeerConnection`` in one page (``bench/floor.html``), signaled directly
  in JavaScript with no ICE servers, both sending the fake camera. The clock
  starts right before the first ``addTrack``/``createOffer`` and stops when
  both connections have their first remote video frame. By default twice per
  round: with ``getUserMedia``'s default camera (*plain*: the browser's own
  floor, the ratio the issue asks for) and with the call page's own
  ``acquireMedia()`` (*call*: its 1280x720 constraints, which by themselves
  delay the first frame; the difference between the two floors is what the
  camera settings cost, the rest is ours).

Both use the same first-frame probe (``bench/probe.js``), so the ratio of
the medians compares like with like. All times are taken inside the pages as
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
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.chromium import launch_chromium
from harness.server import TIME_SCALE, RunningServer, running_server

from bench.runner import Failed, emit, quantile, run_bounded

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, Page, Route

BENCH_DIR = Path(__file__).resolve().parent
PROBE_JS = (BENCH_DIR / "probe.js").read_text()
MIN_RUNS = 10
SERVER_PORT = 8765
FLOOR_FILES = {"floor.html": "text/html", "floor.js": "text/javascript"}
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


async def full_run(browser: Browser, server: RunningServer, n: int, method: str) -> FullRun:
    invite = await asyncio.to_thread(server.create_session, THERAPIST, f"B-{n}")
    return await measure_call(browser, browser, invite, method)


async def measure_call(
    therapist_browser: Browser,
    client_browser: Browser,
    invite: dict[str, str],
    method: str,
    inspect: Callable[[Page, Page], Awaitable[None]] | None = None,
) -> FullRun:
    """One full-stack run on an existing session: fresh contexts, admit, first frames.

    The therapist's and the client's contexts may come from different browsers
    (e.g. in two network namespaces); ``invite`` holds the links each opens.
    ``inspect(therapist, client)``, if given, runs after the measurement while
    the call is still up (e.g. to read which path the media took).
    """
    therapist_ctx = await _new_context(therapist_browser)
    client_ctx = await _new_context(client_browser)
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

        return FullRun(
            ms=max(therapist_first, client_first) - admit_at,
            therapist_ms=therapist_first - admit_at,
            client_ms=client_first - admit_at,
            clock_offset_ms=c_offset - t_offset,
            clock_error_ms=max(t_rtt, c_rtt) / 2,
        )
    finally:
        with contextlib.suppress(Exception):
            await therapist_ctx.close()
        with contextlib.suppress(Exception):
            await client_ctx.close()


# ---------------------------------------------------------------------------
# One floor run


async def _serve_floor_file(route: Route) -> None:
    name = route.request.url.rsplit("/", 1)[-1]
    if name not in FLOOR_FILES:
        await route.fulfill(status=404)
        return
    await route.fulfill(
        status=200, content_type=FLOOR_FILES[name], body=(BENCH_DIR / name).read_bytes()
    )


async def floor_run(browser: Browser, server: RunningServer, method: str, media: str) -> FloorRun:
    context = await _new_context(browser)
    try:
        # The floor page lives on the service's origin, under a path that the
        # service does not have: Playwright answers it from bench/ without a
        # request leaving the browser. Same origin as the call page, so
        # `--floor-media call` can import the call page's devices.js.
        await context.route(f"{server.base_url}/bench/*", _serve_floor_file)
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
    runs: int, warmup: int, method: str, floor_media: str, directory: Path, progress: bool
) -> Results:
    def say(text: str) -> None:
        if progress:
            print(text, file=sys.stderr, flush=True)

    floors = ["plain", "call"] if floor_media == "both" else [floor_media]
    with running_server(directory, port=SERVER_PORT) as server:
        await asyncio.to_thread(server.add_therapist, THERAPIST)
        async with launch_chromium(server.ns, directory) as chromium:
            browser = chromium.browser
            results = Results(method=method, runs=runs, chromium=browser.version)
            results.floor = {media: [] for media in floors}
            # The context launch_chromium made is not used: every run gets fresh ones.
            await chromium.contexts[0].close()
            kinds = ["full", *floors]
            for i in range(-warmup, runs):
                label = "warm-up" if i < 0 else f"run {i + 1:2d}"
                # Rotate the order, so that no kind always runs right after
                # the browser has torn down the same other kind.
                shift = i % len(kinds)
                for kind in kinds[shift:] + kinds[:shift]:
                    if kind == "full":
                        full = await _bounded(
                            full_run(browser, server, i + warmup, method), "a full-stack run"
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


def report(results: Results) -> dict[str, Any]:
    full = summary([r.ms for r in results.full])
    figures: dict[str, Any] = {
        "method": results.method,
        "chromium": results.chromium,
        "full_stack": full,
        "full_stack_therapist": summary([r.therapist_ms for r in results.full]),
        "full_stack_client": summary([r.client_ms for r in results.full]),
        "floor": {},
        "ratio": {},
        "page_clock_offset_ms": summary([r.clock_offset_ms for r in results.full]),
        "warmup_ms": results.warmup_ms,
        "full_stack_runs": [asdict(r) for r in results.full],
        "floor_runs": {m: [asdict(r) for r in runs] for m, runs in results.floor.items()},
    }
    for media, runs in results.floor.items():
        floor = summary([r.ms for r in runs])
        figures["floor"][media] = floor
        figures["ratio"][media] = full["median"] / floor["median"]
    return figures


def print_table(figures: dict[str, Any]) -> None:
    rows = [
        ("full stack: admit -> both decode", figures["full_stack"]),
        ("  therapist side", figures["full_stack_therapist"]),
        ("  client side", figures["full_stack_client"]),
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
    for media, floor in figures["floor"].items():
        print(
            f"full stack median {figures['full_stack']['median']:.0f} ms, "
            f"{FLOOR_NAMES[media]} median {floor['median']:.0f} ms, "
            f"ratio {figures['ratio'][media]:.2f}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.call_setup", description=__doc__)
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
    parser.add_argument(
        "--floor-media",
        choices=("both", "plain", "call"),
        default="both",
        help="camera of the floor runs: getUserMedia's defaults (plain), the call page's "
        "own acquireMedia() and its constraints (call), or each in turn (both, default)",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--max-seconds", type=float, default=900, help="bound on the whole benchmark"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no per-run lines on stderr")
    args = parser.parse_args(argv)
    if args.runs < 1 or (args.runs < MIN_RUNS and not args.quick):
        parser.error(f"--runs must be at least {MIN_RUNS} (or use --quick)")
    if args.warmup < 0:
        parser.error("--warmup must not be negative")
    try:
        results = run_bounded(
            lambda tmp: bench(
                args.runs, args.warmup, args.method, args.floor_media, tmp, not args.quiet
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
