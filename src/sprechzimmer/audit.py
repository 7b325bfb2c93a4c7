"""``sprechzimmer audit``: a pass/fail report on a deployment (issue 6; being written)."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    print("sprechzimmer audit: not available yet", file=sys.stderr)
    return 2
