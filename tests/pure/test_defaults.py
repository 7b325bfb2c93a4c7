"""The defaults of a call's configuration are written once on each side and agree.

They were written in five places (config, room, hub, protocol, the browser);
now protocol.py holds them for the server (the room and the settings take
them from there), protocol.js for the browser, and docs/protocol.md names them.
"""

from __future__ import annotations

import re
from pathlib import Path

from sprechzimmer import protocol as p
from sprechzimmer.config import load_settings
from sprechzimmer.room import RoomConfig

ROOT = Path(__file__).parents[2]


def _js_constant(name: str) -> int:
    text = (ROOT / "src/sprechzimmer/static/js/protocol.js").read_text()
    match = re.search(rf"^export const {name} = (\d+);$", text, re.MULTILINE)
    assert match, name
    return int(match.group(1))


def test_the_server_the_browser_and_the_doc_agree_on_the_defaults() -> None:
    room, settings, admitted = RoomConfig(), load_settings(), p.Admitted()
    assert room.rekey_interval == settings.rekey_interval == admitted.rekey_interval
    assert room.rekey_interval == p.DEFAULT_REKEY_INTERVAL
    caps = (p.DEFAULT_MAX_BITRATE_KBPS, p.DEFAULT_RELAY_MAX_BITRATE_KBPS)
    assert (room.max_bitrate_kbps, room.relay_max_bitrate_kbps) == caps
    assert (settings.max_bitrate_kbps, settings.relay_max_bitrate_kbps) == caps
    assert (admitted.max_bitrate_kbps, admitted.relay_max_bitrate_kbps) == caps
    browser = (
        _js_constant("DEFAULT_MAX_BITRATE_KBPS"),
        _js_constant("DEFAULT_RELAY_MAX_BITRATE_KBPS"),
    )
    assert browser == caps
    doc = (ROOT / "docs/protocol.md").read_text()
    assert f"the server's defaults, {caps[0]} and {caps[1]}" in doc
