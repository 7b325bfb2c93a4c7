"""``make screenshots``: pictures of the main states, taken from the real UI, for the README.

Starts the real server and Chromium in a network namespace of its own (root,
as every browser test here), walks one session per screen (laptop 1280×800,
phone 390×844) through the states of ``harness/callstates.py`` in German and
the light scheme, and writes the viewport of each state in ``SHOTS`` as
``<device>-<state>.png`` (CSS pixels, so a phone picture is 390×844). Names
are stable, so the README's links stay right and a new run only replaces
files. The video is the browser's fake camera; no person is shown.

Usage: ``python -m harness.screenshots [DIRECTORY]`` (default docs/screenshots).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

from .callstates import (
    CLIENT_DEVICE_CHECK,
    CLIENT_ENDED,
    CLIENT_IN_CALL,
    CLIENT_SEES_OTHER_OFF,
    CLIENT_WAITING_ROOM,
    DASHBOARD_CLIENT_WAITING,
    DEVICES,
    INVALID_LINK,
    THERAPIST_IN_CALL,
    THERAPIST_KNOCKING,
    THERAPIST_OTHER_LEFT,
    Seen,
    State,
    serving,
    walk,
)
from .chromium import chromium_available
from .netns import netns_available

SHOTS: tuple[State, ...] = (
    DASHBOARD_CLIENT_WAITING,
    CLIENT_DEVICE_CHECK,
    CLIENT_WAITING_ROOM,
    THERAPIST_KNOCKING,
    THERAPIST_IN_CALL,
    CLIENT_IN_CALL,
    CLIENT_SEES_OTHER_OFF,
    THERAPIST_OTHER_LEFT,
    CLIENT_ENDED,
    INVALID_LINK,
)
"""The main states, in the order a reader meets them."""
DEFAULT_DIRECTORY = Path("docs/screenshots")


def file_name(device: str, state: State) -> str:
    return f"{device}-{state.name}.png"


async def take(directory: Path) -> list[Path]:
    """Walk both screens and write the pictures of ``SHOTS`` into ``directory`` (it exists)."""
    wanted = {s.name for s in SHOTS}
    written: list[Path] = []

    async def shoot(seen: Seen) -> None:
        if seen.state.name not in wanted:
            return
        path = directory / file_name(seen.device.name, seen.state)
        await seen.page.screenshot(path=str(path), scale="css", animations="disabled", caret="hide")
        written.append(path)

    with tempfile.TemporaryDirectory(prefix="sz-shots-") as work:
        async with serving(Path(work)) as served:
            for device in DEVICES:
                await walk(served, shoot, device=device, lang="de", scheme="light")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("directory", nargs="?", type=Path, default=DEFAULT_DIRECTORY)
    args = parser.parse_args(argv)
    for reason in (netns_available(), chromium_available()):
        if reason is not None:
            print(f"cannot take screenshots: {reason}", file=sys.stderr)
            return 1
    args.directory.mkdir(parents=True, exist_ok=True)
    written = asyncio.run(take(args.directory))
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
