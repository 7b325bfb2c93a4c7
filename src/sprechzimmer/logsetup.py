"""Logging for the service: one handler, and a filter that keeps addresses out.

Our own code never logs an address. Libraries do (uvicorn names the peer of
every WebSocket handshake), so every record passes ``AddressScrubber`` on its
way out, which replaces anything that looks like an IPv4 or IPv6 address or a
``(host, port)`` tuple. Uvicorn's access log is switched off entirely.
"""

from __future__ import annotations

import logging
import re
import sys

_IPV4 = r"\b(?:\d{1,3}\.){3}\d{1,3}\b(?::\d{1,5}\b)?"
_HEX = r"[0-9A-Fa-f]{1,4}"
# Either all eight groups, or a compressed form with "::" (so "10:42:07" is no address).
_IPV6 = rf"(?<![\w:])(?:(?:{_HEX}:){{7}}{_HEX}|(?:{_HEX}:)*{_HEX}?::(?:{_HEX}(?::{_HEX})*)?)"
_ADDRESS = re.compile(f"{_IPV4}|{_IPV6}")


class AddressScrubber(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        scrubbed = _ADDRESS.sub("[addr]", message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        return True


def setup_logging(level: str = "info") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(AddressScrubber())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    logging.getLogger("uvicorn.access").disabled = True
