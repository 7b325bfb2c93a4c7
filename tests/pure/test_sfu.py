"""The SFU's configuration (sfu.py) and its audit (tools/audit/sfuconf.py), without Janus:
the rendered files pass, and each way of opening them up fails with its reason."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from sprechzimmer.sfu import (
    PLUGIN,
    TRANSPORT,
    JanusOptions,
    SfuConfigError,
    derive_secrets,
    janus_config,
    parse_port_range,
)
from sprechzimmer.sfuapi import SfuError, create_room_body, new_room_name, videoroom
from sprechzimmer.tools.audit.results import Status
from sprechzimmer.tools.audit.sfuconf import check_sfu_config, parse_jcfg

SECRET = "s" * 40
FOLDER = Path("/etc/sprechzimmer/janus")
MODULES = {"plugins": [PLUGIN], "transports": [TRANSPORT], "events": [], "loggers": []}


def _files(**options: object) -> dict[str, str]:
    return janus_config(JanusOptions(secret=SECRET, ice_ip="203.0.113.7", **options), FOLDER)  # type: ignore[arg-type]


def _statuses(
    files: dict[str, str], modules: dict[str, list[str]] = MODULES
) -> dict[str, tuple[Status, str]]:
    return {
        c.id: (c.status, c.reason) for c in check_sfu_config(files, modules, derive_secrets(SECRET))
    }


def test_the_secrets_are_derived_apart_and_refuse_a_short_one() -> None:
    s = derive_secrets(SECRET)
    assert len({s.api, s.admin, s.room_key}) == 3
    assert s == derive_secrets(SECRET)
    assert derive_secrets("t" * 40).api != s.api
    assert SECRET not in (s.api + s.admin + s.room_key)
    with pytest.raises(SfuConfigError, match="at least 32"):
        derive_secrets("short")


def test_the_rendered_configuration_says_what_the_hardening_needs() -> None:
    files = _files(public_ip="198.51.100.4", rtp_ports=(40000, 40099))
    main = parse_jcfg(files["janus.jcfg"])
    http = parse_jcfg(files["janus.transport.http.jcfg"])
    room = parse_jcfg(files["janus.plugin.videoroom.jcfg"])
    assert http["general"]["ip"] == "127.0.0.1" and http["admin"]["admin_ip"] == "127.0.0.1"
    assert main["general"]["plugins_folder"] == str(FOLDER / "plugins")
    assert main["general"]["debug_level"] == "3"
    assert main["media"]["rtp_port_range"] == "40000-40099"
    assert main["nat"]["nat_1_1_mapping"] == "198.51.100.4"
    assert main["nat"]["ice_enforce_list"] == "203.0.113.7"
    assert "stun_server" not in main["nat"]
    assert main["events"]["broadcast"] == "false"
    assert room["general"]["admin_key"] == derive_secrets(SECRET).room_key
    assert room["general"]["lock_rtp_forward"] == "true"
    assert set(room) == {"general"}
    assert all(c[0] is Status.PASS for c in _statuses(files).values()), _statuses(files)


def test_a_value_that_would_break_the_file_is_refused() -> None:
    with pytest.raises(SfuConfigError, match="IP address"):
        _files(public_ip='1.2.3.4"\nadmin_ip = "0.0.0.0')
    with pytest.raises(SfuConfigError, match="IP address"):
        janus_config(JanusOptions(secret=SECRET, ice_ip="eth0"), FOLDER)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("20000", "look like"),
        ("x-y", "look like"),
        ("80-90", "1024-65535"),
        ("30000-20000", "low to high"),
    ],
)
def test_a_bad_port_range_is_refused_with_a_sentence(text: str, problem: str) -> None:
    with pytest.raises(SfuConfigError, match=problem):
        parse_port_range(text)
    assert parse_port_range("20000-20999") == (20000, 20999)


def _edit(name: str, old: str, new: str) -> Callable[[dict[str, str]], None]:
    def change(files: dict[str, str]) -> None:
        assert old in files[name], (name, old)
        files[name] = files[name].replace(old, new)

    return change


def _append(name: str, text: str) -> Callable[[dict[str, str]], None]:
    def change(files: dict[str, str]) -> None:
        files[name] += text

    return change


HTTP, MAIN, ROOM = "janus.transport.http.jcfg", "janus.jcfg", "janus.plugin.videoroom.jcfg"


@pytest.mark.parametrize(
    ("change", "check_id", "reason"),
    [
        (
            _edit(HTTP, '\tip = "127.0.0.1"', '\tip = "0.0.0.0"'),
            "sfu-api",
            "API listens beyond loopback",
        ),
        (_edit(HTTP, 'admin_ip = "127.0.0.1"', "#"), "sfu-api", "admin API listens beyond"),
        (_edit(HTTP, "https = false", "https = true"), "sfu-api", "HTTPS API"),
        (_edit(MAIN, "api_secret = ", "#"), "sfu-api", "api_secret is not set"),
        (
            _edit(MAIN, 'admin_secret = "', 'admin_secret = "x'),
            "sfu-api",
            "admin_secret is not the one",
        ),
        (_edit(ROOM, "admin_key = ", "#"), "sfu-rooms", "admin_key is not set"),
        (
            _edit(ROOM, "lock_rtp_forward = true", "lock_rtp_forward = false"),
            "sfu-rooms",
            "forwarded",
        ),
        (_append(ROOM, 'room-9: {\n\trec_dir = "/srv/rec"\n}\n'), "sfu-rooms", "recording folder"),
        (_append(ROOM, "room-9: {\n\tpublishers = 2\n}\n"), "sfu-rooms", "room-9"),
        (_edit(ROOM, "events = false", "events = true"), "sfu-rooms", "event handlers"),
        (
            _edit(MAIN, "ignore_mdns = true", 'stun_server = "stun.example.org"'),
            "sfu-privacy",
            "STUN",
        ),
        (_edit(MAIN, "broadcast = false", "broadcast = true"), "sfu-privacy", "event handlers"),
        (_edit(MAIN, "debug_level = 3", "debug_level = 4"), "sfu-privacy", "debug_level is 4"),
        (
            _edit(MAIN, "nat: {", 'nat: {\n\tturn_rest_api = "https://x.example"'),
            "sfu-privacy",
            "REST",
        ),
    ],
)
def test_each_way_of_opening_the_sfu_fails_its_check(
    change: Callable[[dict[str, str]], None], check_id: str, reason: str
) -> None:
    files = _files()
    change(files)
    status, text = _statuses(files)[check_id]
    assert status is Status.FAIL and reason in text, text
    # Only that check: the others still pass.
    others = {k: v for k, v in _statuses(files).items() if k != check_id}
    assert all(s is Status.PASS for s, _ in others.values()), others


@pytest.mark.parametrize(
    ("sub", "names", "reason"),
    [
        ("plugins", [PLUGIN, "libjanus_recordplay.so"], "plugins/libjanus_recordplay.so can load"),
        ("transports", [TRANSPORT, "libjanus_websockets.so"], "libjanus_websockets.so can load"),
        ("events", ["libjanus_sampleevh.so"], "events/libjanus_sampleevh.so"),
        ("plugins", [], f"plugins/{PLUGIN} is missing"),
    ],
)
def test_a_module_beyond_videoroom_and_http_fails(sub: str, names: list[str], reason: str) -> None:
    modules = {**MODULES, sub: names}
    status, text = _statuses(_files(), modules)["sfu-modules"]
    assert status is Status.FAIL and reason in text, text


def test_without_the_servers_secret_the_strength_is_checked() -> None:
    files = _files()
    checks = {c.id: c for c in check_sfu_config(files, MODULES, None)}
    assert checks["sfu-api"].status is Status.PASS
    weak = _edit(MAIN, f'api_secret = "{derive_secrets(SECRET).api}"', 'api_secret = "janusrocks"')
    weak(files)
    checks = {c.id: c for c in check_sfu_config(files, MODULES, None)}
    assert checks["sfu-api"].status is Status.FAIL and "shorter than 32" in checks["sfu-api"].reason


def test_the_parser_reads_comments_quotes_and_lists() -> None:
    parsed = parse_jcfg(
        'general: {\n\tname = "a # not a comment"  # a comment\n\tlist = ["/a", "/b"]\n\tn = 3\n}\n'
        "x = 1\n"
    )
    assert parsed["general"] == {"name": "a # not a comment", "list": '["/a", "/b"]', "n": "3"}
    assert parsed[""] == {"x": "1"}


# --- the SFU's API as the server uses it (sfuapi.py), with a stand-in transport ------


def test_a_group_rooms_request_refuses_clear_media_and_recording() -> None:
    key = derive_secrets(SECRET).room_key
    body = create_room_body("r-1", "room-secret", key)
    assert body["require_e2ee"] is True and body["record"] is False and body["lock_record"] is True
    assert body["is_private"] is True and body["publishers"] == 9 and body["admin_key"] == key
    assert body["description"] == "" and "rec_dir" not in body
    names = {new_room_name() for _ in range(50)}
    assert len(names) == 50 and all(n.startswith("r-") and len(n) == 26 for n in names)


class _FakeJanus:
    """Answers like Janus's HTTP API; records every request."""

    def __init__(self, attach_ok: bool = True, plugin_error: str | None = None) -> None:
        self.requests: list[tuple[str, dict[str, object]]] = []
        self.attach_ok, self.plugin_error = attach_ok, plugin_error

    def __call__(self, url: str, body: dict[str, object]) -> dict[str, object]:
        self.requests.append((url, body))
        kind = body["janus"]
        if kind == "create":
            return {"janus": "success", "data": {"id": 11}}
        if kind == "attach":
            if not self.attach_ok:
                return {"janus": "error", "error": {"code": 460, "reason": "No such plugin"}}
            return {"janus": "success", "data": {"id": 22}}
        if kind == "message":
            data: dict[str, object] = {"videoroom": "created"}
            if self.plugin_error:
                data = {"videoroom": "event", "error_code": 429, "error": self.plugin_error}
            return {"janus": "success", "plugindata": {"data": data}}
        return {"janus": "success"}


def test_every_request_carries_the_api_secret_and_the_session_always_ends() -> None:
    secrets = derive_secrets(SECRET)
    fake = _FakeJanus()
    with videoroom("http://127.0.0.1:8088/janus/", secrets, fake) as handle:
        handle.create_room("r-1", "room-secret")
    assert [b["janus"] for _, b in fake.requests] == ["create", "attach", "message", "destroy"]
    assert all(b["apisecret"] == secrets.api for _, b in fake.requests)
    assert fake.requests[2][0] == "http://127.0.0.1:8088/janus/11/22"
    assert fake.requests[3][0] == "http://127.0.0.1:8088/janus/11"
    # A plugin that refuses: SfuError with its reason; the session still ends.
    refusing = _FakeJanus(plugin_error="Missing mandatory element (admin_key)")
    with (
        pytest.raises(SfuError, match="admin_key"),
        videoroom("http://x/janus", secrets, refusing) as h,
    ):
        h.create_room("r-2", "s")
    assert refusing.requests[-1][1]["janus"] == "destroy"
    # No plugin to attach: refused, and the session ends too.
    detached = _FakeJanus(attach_ok=False)
    with (
        pytest.raises(SfuError, match="did not attach"),
        videoroom("http://x/janus", secrets, detached),
    ):
        pass
    assert detached.requests[-1][1]["janus"] == "destroy"


class _AsyncJanus:
    """Acknowledges plugin messages and answers them later by events on the long
    poll, after a keep-alive and an event of another transaction."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, object]]] = []
        self.events: list[dict[str, object]] = []
        self.polls: list[str] = []

    def post(self, url: str, body: dict[str, object]) -> dict[str, object]:
        self.requests.append((url, body))
        if body["janus"] == "create":
            return {"janus": "success", "data": {"id": 11}}
        if body["janus"] == "attach":
            return {"janus": "success", "data": {"id": 22 + len(self.requests)}}
        if body["janus"] == "message":
            request = body["body"]["request"]  # type: ignore[index]
            tx = body["transaction"]
            data: dict[str, object] = {"videoroom": "event"}
            jsep: dict[str, object] | None = None
            if request == "join":
                data = {"videoroom": "joined", "id": "feed-1"}
            elif request == "publish":
                jsep = {"type": "answer", "sdp": "v=0 answer"}
            self.events += [
                {"janus": "keepalive"},
                {"janus": "event", "transaction": "someone-else", "plugindata": {"data": {}}},
                {"janus": "event", "transaction": tx, "plugindata": {"data": data}, "jsep": jsep},
            ]
            return {"janus": "ack", "transaction": tx}
        return {"janus": "success"}

    def get(self, url: str) -> dict[str, object]:
        self.polls.append(url)
        return self.events.pop(0) if self.events else {"janus": "keepalive"}


def test_publishing_declares_end_to_end_encryption_and_waits_for_its_own_answer() -> None:
    secrets = derive_secrets(SECRET)
    fake = _AsyncJanus()
    with videoroom("http://127.0.0.1:8088/janus", secrets, fake.post, fake.get) as handle:
        feed, answer = handle.publish("r-1", "v=0 offer")
    assert (feed, answer) == ("feed-1", "v=0 answer")
    publish = [b for _, b in fake.requests if b.get("body", {}).get("request") == "publish"]  # type: ignore[union-attr]
    # The room refuses a publisher that does not declare it in the JSEP.
    # All candidates are in the offer (the page waits for them): the SFU waits for no more.
    jsep = {"type": "offer", "sdp": "v=0 offer", "e2ee": True, "trickle": False}
    assert publish[0]["jsep"] == jsep
    assert all(f"/janus/11?maxev=1&apisecret={secrets.api}" in url for url in fake.polls)


def test_an_answer_that_never_comes_is_an_error_not_a_hang() -> None:
    secrets = derive_secrets(SECRET)
    fake = _AsyncJanus()
    silent = {"janus": "keepalive"}
    with (
        videoroom("http://x/janus", secrets, fake.post, lambda url: silent) as handle,
        pytest.raises(SfuError, match=r"no answer to 'start' within 0\.2 s"),
    ):
        handle.asynchronous({"request": "start"}, {"type": "answer", "sdp": "v=0"}, within=0.2)
