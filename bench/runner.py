"""What every benchmark's ``main`` does the same way: check the machine, run bounded, report.

A benchmark needs root (network namespaces) and, unless it says otherwise
(``needs_chromium=False``), Chromium; without them it exits 2 with the
reason. It runs in a temporary directory under one overall time bound; a
benchmark's own failure (``errors``) exits 1 with the end of the server log
when there is one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import tempfile
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar

from harness.chromium import chromium_available
from harness.netns import netns_available

T = TypeVar("T")


class Failed(Exception):
    """The benchmark could not run or did not finish; ``code`` is the exit code."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def run_bounded(
    make: Callable[[Path], Coroutine[Any, Any, T]],
    *,
    max_seconds: float,
    prefix: str,
    errors: tuple[type[Exception], ...],
    needs_chromium: bool = True,
) -> T:
    """``make(tmp)`` run to its end within ``max_seconds``, or ``Failed`` with the reason told."""
    checks = (netns_available(), chromium_available() if needs_chromium else None)
    for reason in checks:
        if reason is not None:
            print(f"cannot run the benchmark: {reason}", file=sys.stderr)
            raise Failed(2)
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        try:
            return asyncio.run(asyncio.wait_for(make(Path(tmp)), max_seconds))
        except TimeoutError:
            print(f"benchmark took longer than {max_seconds:.0f} s", file=sys.stderr)
            raise Failed(1) from None
        except errors as error:
            print(f"benchmark failed: {error}", file=sys.stderr)
            with contextlib.suppress(OSError):
                log = (Path(tmp) / "server.log").read_text(errors="replace")
                print(f"server log (end):\n{log[-3000:]}", file=sys.stderr)
            raise Failed(1) from None


def emit(figures: dict[str, Any], as_json: bool, print_table: Callable[[Any], None]) -> int:
    if as_json:
        print(json.dumps(figures, indent=2))
    else:
        print_table(figures)
    return 0


def quantile(values: Sequence[float], q: float) -> float:
    """Linear-interpolation quantile (numpy's default); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
