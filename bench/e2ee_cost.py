"""Frame encryption cost: SFrame per frame in a Worker, and a call's CPU with and without it.

Run from the repository root (needs root, Chromium and Playwright, as the
end-to-end tests do)::

    .venv/bin/python -m bench.e2ee_cost [--frames N] [--duration S] [--json]

What it measures, in one command, in one private network namespace with one
``sprechzimmer serve`` and one headless Chromium:

* **per frame** (``--frames``, at least 1000, after 100 uncounted): a module
  Worker (``bench/e2ee_worker.js``) imports the project's own
  ``static/js/sframe.js`` and ``framing.js`` from the running server and
  encrypts (``protect``) and decrypts (``unprotect``) synthetic frames one after
  the other, as the call's transform worker does: VP8 key frames of 30-60 KB,
  VP8 delta frames of 5-15 KB (720p-sized) and Opus frames of ~100 bytes.
  Each frame is timed with ``performance.now()`` in the worker; the page is
  cross-origin isolated so that the timer's resolution is 5 µs, not 100 µs.
  Median and p99 in microseconds.
* **call CPU**: the real call page, therapist and client in two contexts of
  the same browser, once with frame encryption (state ``active``) and once
  without (the page's encoded-transform APIs removed by an init script, so
  the call runs DTLS-SRTP only: state ``dtls-only``; the server allows that
  with ``SPRECHZIMMER_E2EE_REQUIRED=0``). After both sides decode video, the
  user+system CPU time of every Chromium process (``/proc/PID/stat``) is read
  before and after ``--duration`` seconds; the decoded frame counts of both
  pages are printed along, so that the two runs are seen to carry the same
  media. Printed: both CPU figures and their ratio.

Everything is bounded (each step, each run, and ``--max-seconds`` for all);
all traffic stays inside the namespace, which is removed at the end (also on
failure). No key leaves the worker or the pages.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.chromium import launch_chromium
from harness.joinform import fill_join_form
from harness.netns import Netns
from harness.server import TIME_SCALE, RunningServer, running_server

from bench.runner import Failed, emit, quantile, run_bounded

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, Page, Route

BENCH_DIR = Path(__file__).resolve().parent
SERVER_PORT = 8765
THERAPIST = "bench-e2ee"
MIN_FRAMES = 1000
WARMUP_FRAMES = 100
POOL = 64
"""Distinct synthetic frames per kind, used in turn."""
KINDS = ("video-key", "video-delta", "audio")
KIND_NAMES = {
    "video-key": "VP8 key frame 30-60 KB",
    "video-delta": "VP8 delta frame 5-15 KB",
    "audio": "Opus frame ~100 B",
}
STEP_TIMEOUT_S = 20 * TIME_SCALE
"""Any single page step (load, join, knock, state, first frame)."""
WORKER_TIMEOUT_S = 120 * TIME_SCALE
POLL_S = 0.1
SETTLE_S = 2.0
"""Seconds after the first frames before the CPU clock starts."""

# The bench page is answered by Playwright on the service's origin (so the
# worker can import /static/js/... from the server), cross-origin isolated.
ISOLATION = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
}
BENCH_FILES = {
    "e2ee_cost.html": ("text/html", b"<!doctype html><meta charset=utf-8><title>e2ee cost</title>"),
    "e2ee_worker.js": ("text/javascript", (BENCH_DIR / "e2ee_worker.js").read_bytes()),
}
RUN_WORKER = """async (job) => {
  const worker = new Worker('/bench/e2ee_worker.js', {type: 'module'});
  try {
    return await new Promise((resolve, reject) => {
      worker.onmessage = (event) => resolve(event.data);
      worker.onerror = (event) => reject(new Error(event.message || 'worker failed to load'));
      worker.postMessage(job);
    });
  } finally {
    worker.terminate();
  }
}"""

# Removes the encoded-transform APIs before the call page's scripts run: the
# page then finds frame encryption unsupported and (when the server allows it)
# runs the call on DTLS-SRTP alone. Everything else is the same page.
NO_TRANSFORM = """(() => {
  try { delete window.RTCRtpScriptTransform; } catch (e) {}
  for (const proto of [RTCRtpSender.prototype, RTCRtpReceiver.prototype]) {
    try { delete proto.createEncodedStreams; } catch (e) {}
  }
})()"""
E2EE_STATE = "() => window.sprechzimmer?.e2ee?.state ?? null"
DECODED = """() => {
  const v = document.querySelector('[data-testid="remote-video"]');
  return v && v.videoWidth > 0 ? v.webkitDecodedFrameCount : 0;
}"""
COUNTERS = "async () => await window.sprechzimmer.e2ee.counters()"


class BenchError(Exception):
    pass


# ---------------------------------------------------------------------------
# Per-frame cost


@dataclass
class FrameCost:
    kind: str
    frames: int
    mean_bytes: float
    mean_overhead_bytes: float
    encrypt_median_us: float
    encrypt_p99_us: float
    decrypt_median_us: float
    decrypt_p99_us: float
    isolated: bool


async def _serve_bench_file(route: Route) -> None:
    name = route.request.url.split("?", 1)[0].rsplit("/", 1)[-1]
    if name not in BENCH_FILES:
        await route.fulfill(status=404)
        return
    content_type, body = BENCH_FILES[name]
    await route.fulfill(status=200, content_type=content_type, headers=ISOLATION, body=body)


async def frame_costs(browser: Browser, server: RunningServer, frames: int) -> list[FrameCost]:
    context = await browser.new_context()
    try:
        await context.route(f"{server.base_url}/bench/*", _serve_bench_file)
        page = await context.new_page()
        await page.goto(f"{server.base_url}/bench/e2ee_cost.html", timeout=STEP_TIMEOUT_S * 1000)
        costs = []
        for kind in KINDS:
            job = {"kind": kind, "frames": frames, "warmup": WARMUP_FRAMES, "pool": POOL}
            try:
                out = await asyncio.wait_for(page.evaluate(RUN_WORKER, job), WORKER_TIMEOUT_S)
            except TimeoutError as error:
                raise BenchError(f"the worker took over {WORKER_TIMEOUT_S:.0f} s") from error
            if "error" in out:
                raise BenchError(f"worker: {out['error']}")
            enc: list[float] = out["enc"]
            dec: list[float] = out["dec"]
            if len(enc) != frames or len(dec) != frames:
                raise BenchError(f"worker measured {len(enc)}/{len(dec)} of {frames} frames")
            costs.append(
                FrameCost(
                    kind=kind,
                    frames=frames,
                    mean_bytes=out["meanBytes"],
                    mean_overhead_bytes=out["meanOverhead"],
                    encrypt_median_us=statistics.median(enc),
                    encrypt_p99_us=quantile(enc, 0.99),
                    decrypt_median_us=statistics.median(dec),
                    decrypt_p99_us=quantile(dec, 0.99),
                    isolated=out["isolated"],
                )
            )
        return costs
    finally:
        with contextlib.suppress(Exception):
            await context.close()


# ---------------------------------------------------------------------------
# A call's CPU


def chromium_cpu_seconds(ns: Netns) -> dict[int, float]:
    """User+system CPU seconds of every Chromium process in ``ns``, by pid."""
    tick = os.sysconf("SC_CLK_TCK")
    cpu: dict[int, float] = {}
    for pid in ns.pids():
        try:
            if "chrom" not in os.readlink(f"/proc/{pid}/exe"):
                continue
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:  # gone in between
            continue
        fields = stat.rsplit(")", 1)[1].split()
        cpu[pid] = (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return cpu


@dataclass
class CallRun:
    mode: str
    e2ee_state: str
    seconds: float
    cpu_seconds: float
    processes: int
    therapist_frames: int
    client_frames: int
    encrypted_video: int | None


async def _poll(page: Page, script: str, want: Any, what: str) -> Any:
    loop = asyncio.get_running_loop()
    end = loop.time() + STEP_TIMEOUT_S
    value = None
    for _ in range(int(STEP_TIMEOUT_S / POLL_S) + 1):
        value = await page.evaluate(script)
        if want(value):
            return value
        if loop.time() > end:
            break
        await asyncio.sleep(POLL_S)
    raise BenchError(f"timed out waiting for {what} (last: {value!r})")


async def _click(page: Page, testid: str) -> None:
    selector = f'[data-testid="{testid}"]:enabled'
    await page.wait_for_selector(selector, state="visible", timeout=STEP_TIMEOUT_S * 1000)
    await page.click(selector, timeout=STEP_TIMEOUT_S * 1000)


async def call_cpu(
    browser: Browser, server: RunningServer, encrypted: bool, seconds: float
) -> CallRun:
    invite = await asyncio.to_thread(server.create_session, THERAPIST, "Bench-E2EE")
    contexts: list[BrowserContext] = []
    try:
        for _ in range(2):
            context = await browser.new_context(permissions=["camera", "microphone"])
            if not encrypted:
                await context.add_init_script(NO_TRANSFORM)
            contexts.append(context)
        therapist = await contexts[0].new_page()
        await therapist.goto(invite["therapist_url"], timeout=STEP_TIMEOUT_S * 1000)
        # The therapist's page joins by itself once its link and devices check out.
        await therapist.wait_for_selector(
            '[data-testid="call-status"][data-status="waiting"]',
            state="attached",
            timeout=STEP_TIMEOUT_S * 1000,
        )
        client = await contexts[1].new_page()
        await client.goto(invite["client_url"], timeout=STEP_TIMEOUT_S * 1000)
        # The join button comes up once the link check has shown the client's form.
        await client.wait_for_selector(
            '[data-testid="join"]:enabled', state="visible", timeout=STEP_TIMEOUT_S * 1000
        )
        await fill_join_form(client)
        await _click(client, "join")
        await _click(therapist, "admit")
        want = "active" if encrypted else "dtls-only"
        for page in (therapist, client):
            await _poll(page, E2EE_STATE, lambda s, w=want: s == w, f"e2ee state {want!r}")
            await _poll(page, DECODED, lambda n: n > 0, "a first remote frame")
        await asyncio.sleep(SETTLE_S)

        frames0 = [await p.evaluate(DECODED) for p in (therapist, client)]
        cpu0 = chromium_cpu_seconds(server.ns)
        enc0 = (await therapist.evaluate(COUNTERS))["encrypted"]["video"] if encrypted else None
        start = asyncio.get_running_loop().time()
        await asyncio.sleep(seconds)
        cpu1 = chromium_cpu_seconds(server.ns)
        elapsed = asyncio.get_running_loop().time() - start
        frames1 = [await p.evaluate(DECODED) for p in (therapist, client)]
        enc1 = (await therapist.evaluate(COUNTERS))["encrypted"]["video"] if encrypted else None
        states = [await p.evaluate(E2EE_STATE) for p in (therapist, client)]
        if states != [want, want]:
            raise BenchError(f"the e2ee state changed during the run: {states}")
        return CallRun(
            mode="SFrame + DTLS-SRTP" if encrypted else "DTLS-SRTP only",
            e2ee_state=want,
            seconds=elapsed,
            cpu_seconds=sum(cpu1[p] - cpu0.get(p, 0.0) for p in cpu1),
            processes=len(cpu1),
            therapist_frames=frames1[0] - frames0[0],
            client_frames=frames1[1] - frames0[1],
            encrypted_video=None if enc0 is None or enc1 is None else enc1 - enc0,
        )
    finally:
        for context in contexts:
            with contextlib.suppress(Exception):
                await context.close()


# ---------------------------------------------------------------------------
# The whole benchmark


async def bench(frames: int, seconds: float, directory: Path) -> dict[str, Any]:
    env = {"SPRECHZIMMER_E2EE_REQUIRED": "0"}  # lets the unencrypted run go on
    with running_server(directory, port=SERVER_PORT, extra_env=env) as server:
        await asyncio.to_thread(server.add_therapist, THERAPIST)
        async with launch_chromium(server.ns, directory) as chromium:
            await chromium.contexts[0].close()  # every run gets fresh contexts
            browser = chromium.browser
            print("per-frame cost ...", file=sys.stderr, flush=True)
            costs = await frame_costs(browser, server, frames)
            runs = []
            for encrypted in (False, True):
                print(
                    f"call, {'with' if encrypted else 'without'} frame encryption, "
                    f"{seconds:.0f} s ...",
                    file=sys.stderr,
                    flush=True,
                )
                runs.append(await call_cpu(browser, server, encrypted, seconds))
            return {
                "chromium": browser.version,
                "cpus": os.cpu_count(),
                "frame_costs": [asdict(c) for c in costs],
                "calls": [asdict(r) for r in runs],
                "cpu_ratio": runs[1].cpu_seconds / runs[0].cpu_seconds,
            }


def print_table(figures: dict[str, Any]) -> None:
    costs = figures["frame_costs"]
    isolated = all(c["isolated"] for c in costs)
    print(
        f"SFrame (AES_128_GCM_SHA256_128) per frame in a Worker, Chromium {figures['chromium']}, "
        f"timer {'5 µs (cross-origin isolated)' if isolated else '100 µs (NOT isolated)'}"
    )
    print(
        f"{'':26} {'frames':>6} {'mean B':>7} {'+B':>4} "
        f"{'enc med':>8} {'enc p99':>8} {'dec med':>8} {'dec p99':>8}"
    )
    for c in costs:
        print(
            f"{KIND_NAMES[c['kind']]:26} {c['frames']:6d} {c['mean_bytes']:7.0f} "
            f"{c['mean_overhead_bytes']:4.0f} {c['encrypt_median_us']:8.1f} "
            f"{c['encrypt_p99_us']:8.1f} {c['decrypt_median_us']:8.1f} {c['decrypt_p99_us']:8.1f}"
        )
    print("(microseconds; +B = bytes added per frame)")
    print()
    print(f"call CPU, all Chromium processes (both pages), {figures['cpus']} CPUs")
    print(f"{'':20} {'seconds':>7} {'CPU s':>7} {'CPU %':>6} {'frames t/c':>11} {'encrypted':>9}")
    for r in figures["calls"]:
        encrypted = "-" if r["encrypted_video"] is None else str(r["encrypted_video"])
        print(
            f"{r['mode']:20} {r['seconds']:7.1f} {r['cpu_seconds']:7.2f} "
            f"{100 * r['cpu_seconds'] / r['seconds']:6.1f} "
            f"{r['therapist_frames']:5d}/{r['client_frames']:<5d} {encrypted:>9}"
        )
    print(f"CPU ratio, with / without frame encryption: {figures['cpu_ratio']:.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.e2ee_cost", description=__doc__)
    parser.add_argument("--frames", type=int, default=MIN_FRAMES, help="frames per kind (>= 1000)")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of each call")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--max-seconds", type=float, default=600, help="bound on everything")
    args = parser.parse_args(argv)
    if args.frames < MIN_FRAMES:
        parser.error(f"--frames must be at least {MIN_FRAMES}")
    if not 1 <= args.duration <= 300:
        parser.error("--duration must be between 1 and 300 seconds")
    try:
        figures = run_bounded(
            lambda tmp: bench(args.frames, args.duration, tmp),
            max_seconds=args.max_seconds,
            prefix="sz-bench-",
            errors=(BenchError,),
        )
    except Failed as failed:
        return failed.code
    return emit(figures, args.json, print_table)


if __name__ == "__main__":
    sys.exit(main())
