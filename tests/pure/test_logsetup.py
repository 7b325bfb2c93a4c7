"""Logs never carry an address, whoever writes them."""

from __future__ import annotations

import logging

import pytest

from sprechzimmer.logsetup import AddressScrubber


@pytest.mark.parametrize(
    "message",
    [
        "('127.0.0.1', 51234) - \"WebSocket /ws\" [accepted]",
        "peer 10.20.30.40 went away",
        '10.0.0.9:33030 - "WebSocket /ws" [accepted]',
        "client [2001:db8::1]:443 closed",
        "from fe80::1ff:fe23:4567:890a%eth0",
        "mapped ::ffff:192.0.2.1 too",
    ],
)
def test_addresses_are_scrubbed(message: str) -> None:
    record = logging.LogRecord("uvicorn.error", logging.INFO, __file__, 1, message, None, None)
    assert AddressScrubber().filter(record)
    text = record.getMessage()
    assert "[addr]" in text
    for part in ("127.0.0.1", "10.20.30.40", "2001:db8::1", "fe80::1ff", "192.0.2.1", "33030"):
        assert part not in text


def test_args_are_scrubbed_too() -> None:
    record = logging.LogRecord(
        "uvicorn.error",
        logging.INFO,
        __file__,
        1,
        '%s - "WebSocket %s" %s',
        (("192.168.1.7", 5000), "/ws", "403"),
        None,
    )
    AddressScrubber().filter(record)
    assert record.getMessage() == "('[addr]', 5000) - \"WebSocket /ws\" 403"


def test_ordinary_messages_are_left_alone() -> None:
    message = "room 0123abcd: WAITING -> ADMITTED at 10:42:07"
    record = logging.LogRecord("x", logging.INFO, __file__, 1, message, None, None)
    AddressScrubber().filter(record)
    assert record.getMessage() == message
