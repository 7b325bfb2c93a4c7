"""The SFU (Janus): its configuration folder and the running instance, checked against
what ``sprechzimmer.sfu`` promises (only VideoRoom and HTTP, loopback APIs behind
secrets, rooms only with the room key, no recording folder, no RTP forwarding without
it, no STUN server, no event handlers, warnings-only logging).

The configuration part is pure (the files' text and the module folders' listings come
in); the live part talks to the SFU's API through a function passed in. A reason may
say that a secret is wrong, never what it is.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ...sfu import CONFIG_FILES, LOG_LEVEL, PLUGIN, TRANSPORT, SfuSecrets
from ...sfuapi import PostJson, SfuError, new_room_name, transaction, videoroom
from .results import Check, Status, check

Jcfg = dict[str, dict[str, str]]

_SECTION = re.compile(r"^([A-Za-z0-9_-]+)\s*:\s*\{\s*$")
_SETTING = re.compile(r"^([A-Za-z0-9_-]+)\s*=\s*(.*?)\s*;?\s*$")


def _strip_comment(line: str) -> str:
    quoted = False
    for i, ch in enumerate(line):
        if ch == '"':
            quoted = not quoted
        elif ch == "#" and not quoted:
            return line[:i]
    return line


def parse_jcfg(text: str) -> Jcfg:
    """Janus's libconfig files, as far as the checks read them: sections of settings
    (a list value stays its text). A setting outside a section lands in ``""``."""
    out: Jcfg = {}
    section = ""
    depth = 0
    for raw in text.splitlines():
        line = _strip_comment(raw).strip()
        if not line:
            continue
        opened = _SECTION.match(line)
        if opened and depth == 0:
            section, depth = opened.group(1), 1
            out.setdefault(section, {})
            continue
        if line == "}" and depth == 1:
            section, depth = "", 0
            continue
        setting = _SETTING.match(line)
        if setting:
            value = setting.group(2).strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            out.setdefault(section, {})[setting.group(1).lower()] = value
    return out


def _is_true(value: str | None) -> bool:
    return value is not None and value.lower() in {"true", "yes", "1"}


def _is_loopback(value: str | None) -> bool:
    try:
        return value is not None and ipaddress.ip_address(value).is_loopback
    except ValueError:
        return False


def _secret_problem(value: str | None, expected: str | None, name: str) -> str | None:
    if not value:
        return f"{name} is not set"
    if expected is not None and not hmac.compare_digest(value, expected):
        return f"{name} is not the one derived from SPRECHZIMMER_SFU_SECRET"
    if expected is None and len(value) < 32:
        return f"{name} is shorter than 32 characters"
    return None


def _verdict(id_: str, problems: Sequence[str], passed: str) -> Check:
    """FAIL naming every problem, or PASS saying what holds."""
    if problems:
        return check(id_, Status.FAIL, "; ".join(problems) + ".")
    return check(id_, Status.PASS, passed)


def check_sfu_config(
    files: Mapping[str, str], modules: Mapping[str, Sequence[str]], secrets: SfuSecrets | None
) -> list[Check]:
    """``files``: janus.jcfg, janus.plugin.videoroom.jcfg, janus.transport.http.jcfg by
    name (a missing one as ""); ``modules``: the names in the plugins, transports, events
    and loggers folders janus.jcfg names; ``secrets`` None when the settings did not load."""
    main = parse_jcfg(files.get("janus.jcfg", ""))
    room = parse_jcfg(files.get("janus.plugin.videoroom.jcfg", ""))
    http = parse_jcfg(files.get("janus.transport.http.jcfg", ""))
    general = main.get("general", {})
    out = []

    extra = [
        f"{sub}/{name}"
        for sub, allowed in (
            ("plugins", {PLUGIN}),
            ("transports", {TRANSPORT}),
            ("events", set()),
            ("loggers", set()),
        )
        for name in modules.get(sub, [])
        if name not in allowed
    ]
    missing = [f"plugins/{PLUGIN}"] * (PLUGIN not in modules.get("plugins", [])) + [
        f"transports/{TRANSPORT}"
    ] * (TRANSPORT not in modules.get("transports", []))
    problems = [f"{e} can load" for e in extra] + [f"{m} is missing" for m in missing]
    out.append(
        _verdict(
            "sfu-modules", problems, "Only the VideoRoom plugin and the HTTP transport can load."
        )
    )

    api = http.get("general", {})
    admin = http.get("admin", {})
    problems = []
    if _is_true(api.get("http")) and not _is_loopback(api.get("ip")):
        problems.append('the API listens beyond loopback (set ip = "127.0.0.1")')
    if _is_true(api.get("https")):
        problems.append("an HTTPS API is on (browsers never talk to the SFU's API)")
    if _is_true(admin.get("admin_http")) and not _is_loopback(admin.get("admin_ip")):
        problems.append('the admin API listens beyond loopback (set admin_ip = "127.0.0.1")')
    if _is_true(admin.get("admin_https")):
        problems.append("an HTTPS admin API is on")
    for name, key, expected in (
        ("api_secret", "api_secret", secrets.api if secrets else None),
        ("admin_secret", "admin_secret", secrets.admin if secrets else None),
    ):
        problem = _secret_problem(general.get(key), expected, name)
        if problem:
            problems.append(problem)
    out.append(
        _verdict("sfu-api", problems, "API and admin API on loopback only, each behind its secret.")
    )

    room_general = room.get("general", {})
    problems = []
    problem = _secret_problem(
        room_general.get("admin_key"), secrets.room_key if secrets else None, "admin_key"
    )
    if problem:
        problems.append(problem + " (anyone with API access could create rooms)")
    if not _is_true(room_general.get("lock_rtp_forward")):
        problems.append(
            "lock_rtp_forward is off (media could be forwarded elsewhere without the room key)"
        )
    if "rec_dir" in room_general or any("rec_dir" in v for v in room.values()):
        problems.append("a recording folder (rec_dir) is set")
    rooms = sorted(name for name in room if name not in {"general", ""})
    if rooms:
        problems.append(
            f"rooms are configured in the file ({', '.join(rooms)}); this server creates its own"
        )
    if _is_true(room_general.get("events")):
        problems.append("the plugin sends events to event handlers")
    out.append(
        _verdict(
            "sfu-rooms",
            problems,
            "Rooms and RTP forwarding only with the room key; no recording folder, no preset room.",
        )
    )

    nat = main.get("nat", {})
    problems = []
    if nat.get("stun_server"):
        problems.append("a STUN server is set (a third party that learns the SFU's traffic)")
    if nat.get("turn_rest_api"):
        problems.append("a TURN REST API is set (the SFU would call another service)")
    if _is_true(main.get("events", {}).get("broadcast")):
        problems.append("event handlers are enabled (events.broadcast)")
    try:
        level = int(general.get("debug_level", "4"))
    except ValueError:
        level = 7
    if level > LOG_LEVEL:
        problems.append(f"debug_level is {level}: above {LOG_LEVEL} Janus logs ICE addresses")
    out.append(
        _verdict(
            "sfu-privacy", problems, "No STUN server, no event handlers, warnings-only logging."
        )
    )
    return out


def check_sfu_live(
    url: str, secrets: SfuSecrets, post: PostJson, get: Callable[[str], dict[str, Any]]
) -> Check:
    """The running SFU at ``url`` (its API base, e.g. http://127.0.0.1:8088/janus)."""
    base = url.rstrip("/")
    try:
        info = get(f"{base}/info")
    except (OSError, ValueError) as error:
        return check("sfu-live", Status.FAIL, f"The SFU at {url} did not answer: {error}.")
    problems = []
    if set(info.get("plugins", {})) != {"janus.plugin.videoroom"}:
        problems.append(f"plugins loaded: {sorted(info.get('plugins', {}))}")
    if set(info.get("transports", {})) != {"janus.transport.http"}:
        problems.append(f"transports loaded: {sorted(info.get('transports', {}))}")
    if info.get("events") or info.get("loggers") or info.get("event_handlers"):
        problems.append("event handlers or loggers are loaded")
    if info.get("api_secret") is not True:
        problems.append("the API takes requests without a secret")
    try:
        anonymous = post(base, {"janus": "create", "transaction": transaction()})
        if anonymous.get("janus") != "error":
            problems.append("a session was created without the API secret")
        with videoroom(base, secrets, post) as handle:
            probe = new_room_name()
            try:
                handle.request({"request": "create", "room": probe, "record": True})
            except SfuError:
                pass  # refused without the room key, as it must be
            else:
                problems.append("a room (with recording) was created without the room key")
                handle.request({"request": "destroy", "room": probe})
    except SfuError as error:
        problems.append(str(error))
    except (OSError, ValueError) as error:
        problems.append(f"the API failed: {error}")
    return _verdict(
        "sfu-live",
        problems,
        "Only VideoRoom and HTTP loaded; no request without the API secret; "
        "no room without the room key.",
    )


# --- the edge: the folder on disk -----------------------------------------------------


def read_sfu_folder(folder: Path) -> tuple[dict[str, str], dict[str, list[str]]]:
    """The configuration files in ``folder`` and the names in the module folders that
    janus.jcfg names (relative to nothing: Janus reads them as written)."""
    files = {}
    for name in CONFIG_FILES:
        path = folder / name
        files[name] = path.read_text() if path.exists() else ""
    general = parse_jcfg(files["janus.jcfg"]).get("general", {})
    modules = {}
    for sub in ("plugins", "transports", "events", "loggers"):
        where = Path(general.get(f"{sub}_folder", str(folder / sub)))
        modules[sub] = sorted(p.name for p in where.iterdir()) if where.is_dir() else []
    return files, modules
