"""Group calls: what each participant uploads and spends in CPU, full mesh against the SFU.

For 3, 4, 6 and 9 people (issue 16's sizes) every participant sends one camera-like
video stream (320x180, 15 fps, a picture that changes every frame) and receives and
decodes everyone else's, with aiortc (the test peer's WebRTC stack):

- **mesh**: one peer connection per pair, as the browsers hold a call of up to three;
  each participant encodes and uploads its video once per other participant;
- **SFU**: one publishing connection to Janus, configured by ``sprechzimmer
  sfu-config`` as an operator runs it, and one subscribing connection for the others.

After every connection is up and a warm-up, a fixed window is measured: the bytes each
participant's senders sent (``outbound-rtp`` ``bytesSent``) as kbit/s, the CPU time of
the process that runs all participants divided among them, and Janus's own CPU time.
Printed side by side with the ratios mesh/SFU. Everything runs in a network namespace
of its own (root); nothing leaves the machine, and each run ends after its window.

    python -m bench.group_media [--sizes 3,4,6,9] [--window 6] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fractions
import json
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness.janus import media_interface, running_janus
from harness.netns import Netns, netns

from .runner import Failed, emit, run_bounded

SECRET = "bench-sfu-secret-" + "0123456789abcdef" * 2
MEDIA_IP = "10.78.0.1"
WIDTH, HEIGHT, FPS = 320, 180, 15
WARMUP = 2.0
"""Seconds after every connection is up before the window starts (bitrates settle)."""
SETUP_WITHIN = 40.0
VARIANTS = 15
"""Distinct pictures a participant cycles through: each frame differs from the last."""


@dataclass(frozen=True)
class Run:
    people: int
    path: str
    upload_kbps: float
    """Mean over the participants of what each one's senders sent, kbit/s."""
    cpu_pct: float
    """The participants' process CPU time over the window, per participant, % of a core."""
    sfu_cpu_pct: float
    """Janus's CPU time over the window, % of a core (0 for the mesh)."""


# --- inside the namespace: the participants ------------------------------------------


def _pictures() -> list[bytes]:
    """Luma planes of moving diagonal stripes: enough change for a real encoder."""
    planes = []
    for k in range(VARIANTS):
        row = bytes(((x * 3 + k * 17) & 0xFF) for x in range(WIDTH + HEIGHT))
        planes.append(b"".join(row[y : y + WIDTH] for y in range(HEIGHT)))
    return planes


def _camera_class() -> Any:
    import av
    from aiortc import MediaStreamTrack

    pictures = _pictures()
    chroma = bytes([128]) * (WIDTH * HEIGHT // 4)

    class Camera(MediaStreamTrack):  # type: ignore[misc]
        kind = "video"

        def __init__(self, offset: int) -> None:
            super().__init__()
            self._offset, self._start, self._n = offset, 0.0, -1

        async def recv(self) -> Any:
            self._n += 1
            if self._n == 0:
                self._start = time.monotonic()
            wait = self._start + self._n / FPS - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            frame = av.VideoFrame(WIDTH, HEIGHT, "yuv420p")
            frame.planes[0].update(pictures[(self._n + self._offset) % VARIANTS])
            frame.planes[1].update(chroma)
            frame.planes[2].update(chroma)
            frame.pts = self._n * (90_000 // FPS)
            frame.time_base = fractions.Fraction(1, 90_000)
            return frame

    return Camera


def _janus_ticks() -> int:
    """Janus's CPU time so far, in clock ticks (utime + stime), 0 when not found."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() == "janus":
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                    return int(fields[11]) + int(fields[12])
    return 0


def _drain(pc: Any, tasks: list[asyncio.Task[None]]) -> None:
    """Decode every track the connection receives, as a page shows it."""

    @pc.on("track")  # type: ignore[misc]
    def on_track(track: Any) -> None:
        async def read() -> None:
            with contextlib.suppress(Exception):
                while True:
                    await track.recv()

        tasks.append(asyncio.ensure_future(read()))


async def _connected(pcs: Sequence[Any]) -> None:
    deadline = time.monotonic() + SETUP_WITHIN
    while not all(pc.connectionState == "connected" for pc in pcs):
        if time.monotonic() > deadline:
            states = sorted({pc.connectionState for pc in pcs})
            raise RuntimeError(f"connections not up within {SETUP_WITHIN} s: {states}")
        await asyncio.sleep(0.1)


async def _bytes_sent(pcs: Sequence[Any]) -> int:
    total = 0
    for pc in pcs:
        for stats in (await pc.getStats()).values():
            if stats.type == "outbound-rtp":
                total += stats.bytesSent
    return total


async def _measure(people: int, path: str, uploads: list[list[Any]], window: float) -> Run:
    """The window: each participant's upload, the process's and Janus's CPU."""
    await asyncio.sleep(WARMUP)
    ticks = os.sysconf("SC_CLK_TCK")
    before = [await _bytes_sent(pcs) for pcs in uploads]
    cpu, janus, start = time.process_time(), _janus_ticks(), time.monotonic()
    await asyncio.sleep(window)
    after = [await _bytes_sent(pcs) for pcs in uploads]
    cpu, janus = time.process_time() - cpu, _janus_ticks() - janus
    elapsed = time.monotonic() - start
    kbps = [(b - a) * 8 / elapsed / 1000 for a, b in zip(before, after, strict=True)]
    return Run(
        people,
        path,
        upload_kbps=sum(kbps) / people,
        cpu_pct=100 * cpu / elapsed / people,
        sfu_cpu_pct=100 * janus / ticks / elapsed if path == "sfu" else 0.0,
    )


async def mesh(people: int, window: float) -> Run:
    from aiortc import RTCPeerConnection
    from aiortc.contrib.media import MediaRelay

    camera = _camera_class()
    sources = [camera(i) for i in range(people)]
    relays = [MediaRelay() for _ in range(people)]
    uploads: list[list[Any]] = [[] for _ in range(people)]
    tasks: list[asyncio.Task[None]] = []
    pcs = []
    for i in range(people):
        for j in range(i + 1, people):
            a, b = RTCPeerConnection(), RTCPeerConnection()
            a.addTrack(relays[i].subscribe(sources[i], buffered=False))
            b.addTrack(relays[j].subscribe(sources[j], buffered=False))
            for pc in (a, b):
                _drain(pc, tasks)
            await a.setLocalDescription(await a.createOffer())
            await b.setRemoteDescription(a.localDescription)
            await b.setLocalDescription(await b.createAnswer())
            await a.setRemoteDescription(b.localDescription)
            uploads[i].append(a)
            uploads[j].append(b)
            pcs += [a, b]
    try:
        await _connected(pcs)
        return await _measure(people, "mesh", uploads, window)
    finally:
        await _close(pcs, tasks)


async def sfu(people: int, window: float) -> Run:
    from aiortc import RTCPeerConnection, RTCSessionDescription

    from sprechzimmer.sfu import derive_secrets
    from sprechzimmer.sfuapi import SfuError, new_room_name, videoroom

    camera = _camera_class()
    tasks: list[asyncio.Task[None]] = []
    publishers, subscribers = [], []
    with videoroom("http://127.0.0.1:8088/janus", derive_secrets(SECRET)) as vr:
        room = new_room_name()
        vr.create_room(room, "bench-room")
        try:
            feeds = []
            for i in range(people):
                pc = RTCPeerConnection()
                pc.addTrack(camera(i))
                await pc.setLocalDescription(await pc.createOffer())
                feed, answer = await asyncio.to_thread(
                    vr.attach().publish, room, pc.localDescription.sdp
                )
                await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
                publishers.append(pc)
                feeds.append(feed)
            await _connected(publishers)
            for i in range(people):
                handle = vr.attach()
                others = [f for j, f in enumerate(feeds) if j != i]
                offer = await _retry(lambda h=handle, o=others: h.subscribe(room, o), SfuError)
                pc = RTCPeerConnection()
                _drain(pc, tasks)
                await pc.setRemoteDescription(RTCSessionDescription(offer, "offer"))
                await pc.setLocalDescription(await pc.createAnswer())
                await asyncio.to_thread(handle.start, pc.localDescription.sdp)
                subscribers.append(pc)
            await _connected(subscribers)
            return await _measure(people, "sfu", [[pc] for pc in publishers], window)
        finally:
            await _close([*publishers, *subscribers], tasks)
            vr.destroy_room(room, "bench-room")


async def _retry(call: Callable[[], str], error: type[Exception]) -> str:
    """A subscription as soon as the SFU has the feeds (their publishers' webrtcup)."""
    for _ in range(100):
        try:
            return await asyncio.to_thread(call)
        except error as refused:
            if "No such feed" not in str(refused):
                raise
            await asyncio.sleep(0.1)
    raise RuntimeError("the SFU never had every feed")


async def _close(pcs: Sequence[Any], tasks: Sequence[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*(pc.close() for pc in pcs), return_exceptions=True)


async def inner(sizes: Sequence[int], window: float) -> list[Run]:
    runs = []
    for people in sizes:
        for measure in (mesh, sfu):
            run: Callable[[int, float], Awaitable[Run]] = measure
            runs.append(await run(people, window))
    return runs


# --- outside: the namespace, Janus, the table --------------------------------------------


def _janus_config(tmp: Path) -> Path:
    folder = tmp / "janus"
    env = {**os.environ, "SPRECHZIMMER_SFU_SECRET": SECRET, "SPRECHZIMMER_DATA_DIR": str(tmp)}
    env["SPRECHZIMMER_PUBLIC_URL"] = "https://praxis.example"
    argv = [sys.executable, "-m", "sprechzimmer", "sfu-config", str(folder)]
    argv += ["--ice-ip", MEDIA_IP, "--rtp-ports", "31000-31999"]
    subprocess.run(argv, env=env, check=True, timeout=60, capture_output=True)
    return folder


def _media_interface(ns: Netns) -> None:
    media_interface(ns, MEDIA_IP)


async def outer(tmp: Path, sizes: Sequence[int], window: float) -> list[dict[str, Any]]:
    folder = _janus_config(tmp)
    with netns() as ns:
        _media_interface(ns)
        with running_janus(ns, folder, tmp / "server.log"):
            argv = [sys.executable, "-m", "bench.group_media", "--inner"]
            argv += ["--sizes", ",".join(map(str, sizes)), "--window", str(window)]
            budget = len(sizes) * 2 * (window + WARMUP + SETUP_WITHIN) + 60
            done = await asyncio.to_thread(
                ns.run, argv, timeout=budget, capture_output=True, text=True,
                cwd=str(Path(__file__).parents[1]),
            )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    runs: list[dict[str, Any]] = json.loads(done.stdout)
    return runs


def print_table(runs: list[dict[str, Any]]) -> None:
    print(
        f"group call media, aiortc participants, {WIDTH}x{HEIGHT} at {FPS} fps, "
        "per participant over the window"
    )
    print(
        f"{'people':>6}  {'mesh kbit/s':>11} {'SFU kbit/s':>10} {'ratio':>6}  "
        f"{'mesh CPU %':>10} {'SFU CPU %':>9} {'ratio':>6}  {'Janus CPU %':>11}"
    )
    by = {(r["people"], r["path"]): r for r in runs}
    for people in sorted({r["people"] for r in runs}):
        m, s = by[people, "mesh"], by[people, "sfu"]
        up = m["upload_kbps"] / s["upload_kbps"] if s["upload_kbps"] else float("nan")
        cpu = m["cpu_pct"] / s["cpu_pct"] if s["cpu_pct"] else float("nan")
        print(
            f"{people:>6}  {m['upload_kbps']:>11.0f} {s['upload_kbps']:>10.0f} {up:>6.2f}  "
            f"{m['cpu_pct']:>10.1f} {s['cpu_pct']:>9.1f} {cpu:>6.2f}  {s['sfu_cpu_pct']:>11.1f}"
        )
    busiest = max(r["cpu_pct"] * r["people"] for r in runs)
    print(
        f"All participants run in one process (busiest run: {busiest:.0f} % of a core in all). "
        "Near a full core the process itself\nlimits what it can encode and send, so the "
        "largest meshes send less than they would from separate machines:\ntheir upload "
        "and CPU are a lower bound there."
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="3,4,6,9")
    parser.add_argument("--window", type=float, default=6.0)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sizes = [int(x) for x in args.sizes.split(",")]
    if any(not 2 <= n <= 9 for n in sizes):
        parser.error("sizes are 2 to 9 people")
    if args.inner:
        runs = asyncio.run(inner(sizes, args.window))
        print(json.dumps([asdict(r) for r in runs]))
        return 0
    try:
        runs_out = run_bounded(
            lambda tmp: outer(tmp, sizes, args.window),
            max_seconds=len(sizes) * 2 * (args.window + WARMUP + SETUP_WITHIN) + 120,
            prefix="sz-group-bench-",
            errors=(RuntimeError, subprocess.SubprocessError, OSError),
            needs_chromium=False,
        )
    except Failed as failed:
        return failed.code
    return emit(runs_out, args.json, print_table)


if __name__ == "__main__":
    sys.exit(main())
