"""The SFU of group sessions (issue 16), as the operator runs it: ``sprechzimmer
sfu-config`` writes Janus's configuration, a real Janus 1.1 starts with it inside a
namespace of the test's own, and ``sprechzimmer audit --sfu-config`` passes on the
files and on the running instance: only VideoRoom and HTTP loaded, both APIs on
loopback only (read from the kernel's socket table), no request without the API
secret, no room (recording or not) without the room key, nothing logged at
informational levels. A configuration opened up by hand fails the audit, each
problem named.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from harness.janus import listening, media_interface, need_janus, running_janus
from harness.netns import Netns, netns, netns_available, require_or_skip
from harness.server import CLI

pytestmark = [pytest.mark.netns]

SECRET = "sfu-test-secret-" + "0123456789abcdef" * 2
SFU_CHECKS = {"sfu-modules", "sfu-api", "sfu-rooms", "sfu-privacy", "sfu-live"}
IPV4 = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")
MEDIA_IP = "10.77.0.1"
"""The SFU's media address: a veth pair inside the test's namespace."""


def _media_interface(ns: Netns) -> None:
    media_interface(ns, MEDIA_IP)


def _env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "SPRECHZIMMER_SFU_SECRET": SECRET,
        "SPRECHZIMMER_DATA_DIR": str(tmp_path / "data"),
        "SPRECHZIMMER_PUBLIC_URL": "https://praxis.example",
    }


def _audit(ns: Netns, tmp_path: Path, folder: Path) -> dict[str, dict[str, str]]:
    """The audit's SFU checks, by id (run inside the namespace, where Janus listens)."""
    result = ns.run(
        [
            *CLI,
            "audit",
            "--json",
            "--no-database",
            "--sfu-config",
            str(folder),
            "--url",
            "http://127.0.0.1:9",
        ],
        timeout=60,
        capture_output=True,
        text=True,
        env=_env(tmp_path),
    )
    report = json.loads(result.stdout)
    return {c["id"]: c for c in report["checks"] if c["id"] in SFU_CHECKS}


def _configured(tmp_path: Path) -> Path:
    """Janus and namespaces here (else skip), and a configuration written as an operator
    writes it: its folder."""
    need_janus()
    if reason := netns_available():
        require_or_skip(reason)
    folder = tmp_path / "janus"
    subprocess.run(
        [*CLI, "sfu-config", str(folder), "--ice-ip", MEDIA_IP, "--rtp-ports", "30000-30099"],
        env=_env(tmp_path),
        check=True,
        timeout=60,
        capture_output=True,
    )
    return folder


def test_the_hardened_sfu_passes_the_audit_and_listens_on_loopback_only(tmp_path: Path) -> None:
    folder = _configured(tmp_path)
    assert {p.name for p in folder.iterdir()} >= {"janus.jcfg", "plugins", "transports"}
    assert all((folder / f).stat().st_mode & 0o077 == 0 for f in ("janus.jcfg",))
    log = tmp_path / "janus.log"
    with netns() as ns:
        _media_interface(ns)
        with running_janus(ns, folder, log):
            addresses = listening(ns)
            assert sorted(addresses) == ["127.0.0.1:7088", "127.0.0.1:8088"], addresses
            checks = _audit(ns, tmp_path, folder)
    assert set(checks) == SFU_CHECKS, checks
    for id_, c in checks.items():
        assert c["status"] == "PASS", (id_, c)
    # Warnings only: no address but the SFU's own (in its warning about a private address
    # without STUN, which a public deployment's nat_1_1_mapping avoids) in what Janus wrote.
    written = log.read_text()
    assert "Debug/log level is 3" in written
    assert set(IPV4.findall(written)) <= {MEDIA_IP}, written
    assert "[INFO]" not in written and "[VERB]" not in written


def test_an_opened_up_sfu_fails_the_audit_naming_each_problem(tmp_path: Path) -> None:
    folder = _configured(tmp_path)
    http = folder / "janus.transport.http.jcfg"
    http.write_text(http.read_text().replace('admin_ip = "127.0.0.1"', 'admin_ip = "0.0.0.0"'))
    main = folder / "janus.jcfg"
    # (A STUN server is left to the pure tests: Janus would try to reach it at start.)
    main.write_text(main.read_text().replace("debug_level = 3", "debug_level = 5"))
    room = folder / "janus.plugin.videoroom.jcfg"
    room.write_text(room.read_text() + 'room-1: {\n\tdescription = "x"\n\trec_dir = "/tmp"\n}\n')
    (folder / "plugins" / "libjanus_echotest.so").symlink_to(
        (folder / "plugins" / "libjanus_videoroom.so").resolve().with_name("libjanus_echotest.so")
    )
    log = tmp_path / "janus.log"
    with netns() as ns, running_janus(ns, folder, log):
        # The admin API really is open beyond loopback now.
        assert "0.0.0.0:7088" in listening(ns)
        checks = _audit(ns, tmp_path, folder)
    assert checks["sfu-api"]["status"] == "FAIL" and "admin API" in checks["sfu-api"]["reason"]
    assert checks["sfu-modules"]["status"] == "FAIL"
    assert "libjanus_echotest.so" in checks["sfu-modules"]["reason"]
    rooms = checks["sfu-rooms"]
    assert (
        rooms["status"] == "FAIL" and "rec_dir" in rooms["reason"] and "room-1" in rooms["reason"]
    )
    privacy = checks["sfu-privacy"]
    assert privacy["status"] == "FAIL" and "debug_level is 5" in privacy["reason"]
    live = checks["sfu-live"]
    assert live["status"] == "FAIL" and "janus.plugin.echotest" in live["reason"], live


# Run inside the namespace, where the SFU's API listens: a group call's room as this
# server creates it, what the SFU says of it, and what a participant's try to record
# it (without the room's secret, or with a wrong one) gets.
ROOM_PROBE = """
import json, sys
from sprechzimmer.sfu import derive_secrets
from sprechzimmer.sfuapi import SfuError, new_room_name, videoroom
secrets = derive_secrets(sys.argv[1])
out = {}
with videoroom("http://127.0.0.1:8088/janus", secrets) as vr:
    room, room_secret = new_room_name(), "the-rooms-own-secret"
    vr.create_room(room, room_secret)
    out["room"] = room
    out["settings"] = vr.room_settings(room)
    out["refused"] = {}
    for name, body in (
        ("record", {"request": "enable_recording", "room": room, "record": True}),
        ("record-wrong-secret", {"request": "enable_recording", "room": room, "record": True,
                                 "secret": "guess"}),
        ("rec-dir", {"request": "edit", "room": room, "new_rec_dir": "/tmp/rec"}),
        ("forward", {"request": "rtp_forward", "room": room, "publisher_id": 1,
                     "host": "127.0.0.1", "audio_port": 5000}),
    ):
        try:
            vr.request(body)
            out["refused"][name] = None
        except SfuError as error:
            out["refused"][name] = str(error)
    vr.destroy_room(room, room_secret)
    out["after"] = vr.room_settings(room)
print(json.dumps(out))
"""


def test_a_group_room_refuses_clear_media_recording_and_forwarding(tmp_path: Path) -> None:
    folder = _configured(tmp_path)
    with netns() as ns:
        _media_interface(ns)
        with running_janus(ns, folder, tmp_path / "janus.log"):
            done = ns.run(
                [sys.executable, "-c", ROOM_PROBE, SECRET],
                timeout=60,
                capture_output=True,
                text=True,
                check=True,
            )
    out = json.loads(done.stdout)
    settings = out["settings"]
    assert settings["require_e2ee"] is True and settings["record"] is False, settings
    assert settings["lock_record"] is True and settings["is_private"] is True, settings
    assert settings["max_publishers"] == 9 and settings["videocodec"] == "vp8", settings
    assert out["room"].startswith("r-") and len(out["room"]) == 26
    for name, refusal in out["refused"].items():
        assert refusal is not None, f"{name} was allowed"
    assert (
        "secret" in out["refused"]["record"]
        and "wrong secret" in out["refused"]["record-wrong-secret"]
    )
    assert out["after"] is None


# Run inside the namespace: a member publishes through the SFU and another receives
# it, each with a peer connection of its own (aiortc, the test peer's stack), through
# the API as this server will drive it. And a publisher that does not declare its
# media end-to-end encrypted is refused by the room.
MEDIA_PROBE = """
import asyncio, json, sys
from aiortc import RTCPeerConnection, RTCSessionDescription, VideoStreamTrack
from sprechzimmer.sfu import derive_secrets
from sprechzimmer.sfuapi import SfuError, new_room_name, videoroom

async def main():
    secrets, out = derive_secrets(sys.argv[1]), {}
    with videoroom("http://127.0.0.1:8088/janus", secrets) as vr:
        room = new_room_name()
        vr.create_room(room, "the-rooms-own-secret")
        pub = RTCPeerConnection()
        pub.addTrack(VideoStreamTrack())
        await pub.setLocalDescription(await pub.createOffer())
        feed, answer = await asyncio.to_thread(vr.attach().publish, room, pub.localDescription.sdp)
        await pub.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        out["answer_has_video"] = "m=video" in answer
        subscriber = vr.attach()
        # The feed is there once the publisher's connection is up (Janus: webrtcup).
        for _ in range(100):
            try:
                offer = await asyncio.to_thread(subscriber.subscribe, room, [feed])
                break
            except SfuError as error:
                if "No such feed" not in str(error):
                    raise
                await asyncio.sleep(0.1)
        sub, frames, enough = RTCPeerConnection(), [], asyncio.Event()

        @sub.on("track")
        def on_track(track):
            async def read():
                while len(frames) < 10:
                    frame = await track.recv()
                    frames.append((frame.width, frame.height))
                enough.set()
            asyncio.ensure_future(read())

        await sub.setRemoteDescription(RTCSessionDescription(offer, "offer"))
        await sub.setLocalDescription(await sub.createAnswer())
        await asyncio.to_thread(subscriber.start, sub.localDescription.sdp)
        await asyncio.wait_for(enough.wait(), 30)
        out["frames"] = frames
        clear = RTCPeerConnection()
        clear.addTrack(VideoStreamTrack())
        await clear.setLocalDescription(await clear.createOffer())
        plain = vr.attach()
        await asyncio.to_thread(
            plain.asynchronous, {"request": "join", "ptype": "publisher", "room": room}
        )
        try:
            await asyncio.to_thread(
                plain.asynchronous,
                {"request": "publish"},
                {"type": "offer", "sdp": clear.localDescription.sdp},
            )
            out["clear_refused"] = None
        except SfuError as error:
            out["clear_refused"] = str(error)
        for pc in (pub, sub, clear):
            await pc.close()
        vr.destroy_room(room, "the-rooms-own-secret")
    print(json.dumps(out))

asyncio.run(main())
"""


def test_a_member_publishes_through_the_sfu_and_another_receives_it(tmp_path: Path) -> None:
    """Issue 16's media path through Janus, driven by ``sfuapi`` as the server will:
    publish (declared end-to-end encrypted, as the room requires), subscribe, start;
    frames arrive. A publisher that does not declare end-to-end encryption is refused."""
    folder = _configured(tmp_path)
    with netns() as ns:
        _media_interface(ns)
        with running_janus(ns, folder, tmp_path / "janus.log"):
            done = ns.run(
                [sys.executable, "-c", MEDIA_PROBE, SECRET],
                timeout=90,
                capture_output=True,
                text=True,
            )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout)
    assert out["answer_has_video"] is True
    assert len(out["frames"]) == 10 and all(w > 0 and h > 0 for w, h in out["frames"])
    assert "requires end-to-end encrypted media" in (out["clear_refused"] or ""), out
