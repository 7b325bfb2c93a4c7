"""Call set-up through the TURN relay vs direct (P2P): admit to first decoded frame.

Run from the repository root (needs root, Chromium, Playwright and coturn)::

    .venv/bin/python -m bench.relay_setup [--runs N] [--json] [--quick]

Both kinds run in the same firewall topology (``harness/topology.py``):
the therapist's Chromium in namespace A, the client's in B, ``sprechzimmer
serve`` and coturn in T, the same TURN servers handed to both browsers in
both kinds. The only difference is T:

* **p2p**: T forwards between A and B, so the browsers reach each other's
  host candidates and ICE picks the direct pair (checked after each run);
* **relay**: forwarding off in T, A and B reach T but not each other, so the
  only working pair goes through coturn (checked after each run).

Each run is a full-stack run of ``bench/call_setup.py`` (its measuring code,
imported): a new session, fresh contexts, therapist and client join, the
clock starts when the therapist clicks *admit* and stops when both pages have
their first remote video frame. The kinds alternate (order rotated per round),
at least 10 runs each after one uncounted warm-up each. The medians and their
ratio (relay / p2p) are printed.

The two pages live in two Chromium processes on one machine; their clocks are
both ``performance.timeOrigin + performance.now()`` and their offset is
measured each run and reported, as in ``bench.call_setup``.

Everything is bounded (each step, each run, the whole benchmark with
``--max-seconds``); all traffic stays inside the three namespaces, which are
removed at the end, also on failure.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.chromium import launch_chromium
from harness.topology import Topology, diagnostics, topology

from bench.call_setup import (
    RUN_TIMEOUT_S,
    BenchError,
    FullRun,
    add_run_arguments,
    check_runs,
    measure_call,
    summary,
)
from bench.runner import Failed, emit, run_bounded

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

THERAPIST = "bench"
KINDS = ("p2p", "relay")

# The path of the selected candidate pair, read from the call page's own peer
# connection (independent of the page's indicator).
SELECTED_PATH = """async () => {
  const pc = window.sprechzimmer.pc;
  if (!pc) return null;
  const report = await pc.getStats();
  const all = new Map([...report.values()].map((s) => [s.id, s]));
  for (const s of all.values()) {
    if (s.type !== 'transport' || !s.selectedCandidatePairId) continue;
    const pair = all.get(s.selectedCandidatePairId);
    const local = all.get(pair.localCandidateId);
    const remote = all.get(pair.remoteCandidateId);
    const relayed = local.candidateType === 'relay' || remote.candidateType === 'relay';
    return {
      path: relayed ? 'relay' : 'p2p',
      local: local.candidateType,
      remote: remote.candidateType,
      protocol: local.relayProtocol || local.protocol,
    };
  }
  return null;
}"""


@dataclass
class Run:
    kind: str
    measured: FullRun
    therapist_path: dict[str, Any] | None
    client_path: dict[str, Any] | None


@dataclass
class Results:
    method: str
    chromium: str
    tls: bool
    runs: dict[str, list[Run]] = field(default_factory=lambda: {k: [] for k in KINDS})
    warmup_ms: dict[str, list[float]] = field(default_factory=dict)


async def _run(
    topo: Topology, therapist: Browser, client: Browser, kind: str, n: int, method: str
) -> Run:
    topo.set_forwarding(kind == "p2p")
    invite = await asyncio.to_thread(topo.links, THERAPIST, f"R-{kind}-{n}")
    paths: dict[str, dict[str, Any] | None] = {}

    async def inspect(therapist_page: Page, client_page: Page) -> None:
        paths["therapist"] = await therapist_page.evaluate(SELECTED_PATH)
        paths["client"] = await client_page.evaluate(SELECTED_PATH)

    try:
        measured = await asyncio.wait_for(
            measure_call(therapist, client, invite, method, inspect), RUN_TIMEOUT_S
        )
    except TimeoutError as error:
        raise BenchError(f"a {kind} run took longer than {RUN_TIMEOUT_S:.0f} s") from error
    for role in ("therapist", "client"):
        got = paths.get(role)
        if got is None or got["path"] != kind:
            raise BenchError(f"a {kind} run took another path on the {role}'s side: {got}")
    return Run(kind, measured, paths["therapist"], paths["client"])


async def bench(runs: int, warmup: int, method: str, directory: Path, progress: bool) -> Results:
    def say(text: str) -> None:
        if progress:
            print(text, file=sys.stderr, flush=True)

    with topology(directory) as topo:
        try:
            await asyncio.to_thread(topo.server.add_therapist, THERAPIST)
            async with (
                launch_chromium(topo.a, directory, extra_args=topo.chromium_args) as in_a,
                launch_chromium(topo.b, directory, extra_args=topo.chromium_args) as in_b,
            ):
                # Every run makes fresh contexts; the ones made at launch are not used.
                await in_a.contexts[0].close()
                await in_b.contexts[0].close()
                results = Results(method=method, chromium=in_a.browser.version, tls=topo.tls)
                for i in range(-warmup, runs):
                    label = "warm-up" if i < 0 else f"run {i + 1:2d}"
                    shift = i % len(KINDS)
                    for kind in KINDS[shift:] + KINDS[:shift]:
                        run = await _run(topo, in_a.browser, in_b.browser, kind, i + warmup, method)
                        m = run.measured
                        if i < 0:
                            results.warmup_ms.setdefault(kind, []).append(m.ms)
                        else:
                            results.runs[kind].append(run)
                        say(
                            f"{label} {kind:5} {m.ms:7.1f} ms (therapist {m.therapist_ms:.1f}, "
                            f"client {m.client_ms:.1f}, clock offset {m.clock_offset_ms:+.2f} "
                            f"± {m.clock_error_ms:.2f} ms; client path "
                            f"{(run.client_path or {}).get('local')}/"
                            f"{(run.client_path or {}).get('protocol')})"
                        )
                return results
        except BenchError:
            print(diagnostics(topo), file=sys.stderr)
            raise


def report(results: Results) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "method": results.method,
        "chromium": results.chromium,
        "turn_tls": results.tls,
        "kinds": {},
        "warmup_ms": results.warmup_ms,
        "runs": {k: [asdict(r) for r in runs] for k, runs in results.runs.items()},
    }
    for kind, runs in results.runs.items():
        figures["kinds"][kind] = {
            "both": summary([r.measured.ms for r in runs]),
            "therapist": summary([r.measured.therapist_ms for r in runs]),
            "client": summary([r.measured.client_ms for r in runs]),
            "clock_offset_ms": summary([r.measured.clock_offset_ms for r in runs]),
        }
    p2p = figures["kinds"]["p2p"]["both"]["median"]
    relay = figures["kinds"]["relay"]["both"]["median"]
    figures["ratio_relay_to_p2p"] = relay / p2p
    figures["relay_extra_ms"] = relay - p2p
    return figures


def print_table(figures: dict[str, Any]) -> None:
    kinds = figures["kinds"]
    print(
        f"call set-up P2P vs TURN relay, Chromium {figures['chromium']}, first frame by "
        f"{figures['method']}; therapist in A, client in B, server + coturn in T"
    )
    print(f"{'':50} {'runs':>4} {'median':>7} {'p90':>7} {'min':>7} {'max':>7}")
    names = {"p2p": "p2p (T forwards)", "relay": "relay (T does not forward)"}
    for kind in KINDS:
        for part, label in (
            ("both", f"{names[kind]}: admit -> both decode"),
            ("therapist", "  therapist side"),
            ("client", "  client side"),
        ):
            s = kinds[kind][part]
            print(
                f"{label:50} {s['runs']:4d} {s['median']:7.1f} {s['p90']:7.1f} "
                f"{s['min']:7.1f} {s['max']:7.1f}"
            )
    offsets = [kinds[k]["clock_offset_ms"]["median"] for k in KINDS]
    print(f"(milliseconds; page clock offset medians {offsets[0]:+.2f} / {offsets[1]:+.2f} ms)")
    print(
        f"p2p median {kinds['p2p']['both']['median']:.0f} ms, "
        f"relay median {kinds['relay']['both']['median']:.0f} ms, "
        f"ratio relay/p2p {figures['ratio_relay_to_p2p']:.2f} "
        f"({figures['relay_extra_ms']:+.0f} ms)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.relay_setup", description=__doc__)
    add_run_arguments(parser)
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
            lambda tmp: bench(args.runs, args.warmup, args.method, tmp, not args.quiet),
            max_seconds=args.max_seconds,
            prefix="sz-relay-bench-",
            errors=(BenchError,),
        )
    except Failed as failed:
        return failed.code
    return emit(report(results), args.json, print_table)


if __name__ == "__main__":
    sys.exit(main())
