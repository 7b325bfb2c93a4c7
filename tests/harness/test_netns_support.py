"""The real-parts test support works: namespaces, Chromium inside one, aiortc inside one.

Also drives headless peers (``sprechzimmer.tools.peer``) through a tiny fake signaling
relay inside a namespace, which checks the peer's side of docs/protocol.md
without the real server: two headless peers with each other, and a headless
client with Chromium as therapist (Chromium trickles its candidates).

Everything that opens sockets runs inside a namespace the test creates: as a
subprocess started with ``ip netns exec``, or as Chromium through its wrapper.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from harness.chromium import chromium_available, launch_chromium
from harness.netns import netns, netns_available, require_or_skip
from harness.server import CLI, TIME_SCALE, running_server, wait_for_port

pytestmark = [pytest.mark.netns]


def _need_netns() -> None:
    reason = netns_available()
    if reason is not None:
        require_or_skip(reason)


def _need_chromium() -> None:
    _need_netns()
    reason = chromium_available()
    if reason is not None:
        require_or_skip(reason)


def test_netns_is_private_and_removed() -> None:
    _need_netns()
    with netns() as ns:
        shown = ns.run(["ip", "-o", "addr", "show"], timeout=10, capture_output=True, text=True)
        assert "127.0.0.2/8" in shown.stdout
        links = ns.run(["ip", "-o", "link", "show"], timeout=10, capture_output=True, text=True)
        assert [line.split(":")[1].strip() for line in links.stdout.splitlines()] == ["lo"]
        name = ns.name
    assert name.startswith("sz-")
    assert not Path("/run/netns", name).exists()


# --- Chromium -----------------------------------------------------------------------

PAGE = """<!doctype html>
<meta charset="utf-8"><title>sz-netns-ok</title>
<p>namespace page</p>
"""

MEDIA_CHECK = """async () => {
  const stream = await navigator.mediaDevices.getUserMedia({audio: true, video: true});
  const kinds = stream.getTracks().map((t) => t.kind).sort();
  stream.getTracks().forEach((t) => t.stop());
  return kinds;
}"""

# Two connections in one page: proves loopback candidates and decoding work in the ns.
LOOPBACK_CALL = """async () => {
  const stream = await navigator.mediaDevices.getUserMedia({video: true});
  const a = new RTCPeerConnection({iceServers: []});
  const b = new RTCPeerConnection({iceServers: []});
  a.onicecandidate = (e) => e.candidate && b.addIceCandidate(e.candidate);
  b.onicecandidate = (e) => e.candidate && a.addIceCandidate(e.candidate);
  stream.getTracks().forEach((t) => a.addTrack(t, stream));
  const got = new Promise((resolve) => { b.ontrack = (e) => resolve(e.track); });
  await a.setLocalDescription();
  await b.setRemoteDescription(a.localDescription);
  await b.setLocalDescription();
  await a.setRemoteDescription(b.localDescription);
  await got;
  const deadline = Date.now() + 10000;
  let decoded = 0;
  while (Date.now() < deadline && decoded === 0) {
    await new Promise((r) => setTimeout(r, 100));
    const stats = await b.getStats();
    stats.forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') decoded = s.framesDecoded || 0;
    });
  }
  a.close(); b.close(); stream.getTracks().forEach((t) => t.stop());
  return decoded;
}"""


async def test_chromium_in_netns(tmp_path: Path) -> None:
    _need_chromium()
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text(PAGE)
    port = 8765  # the namespace is ours alone: no clash possible
    with netns() as ns:
        ns.popen(
            [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
            cwd=site,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(ns, port, timeout=10 * TIME_SCALE)
        async with launch_chromium(ns, tmp_path, contexts=2) as chromium:
            for context in chromium.contexts:
                page = await context.new_page()
                await page.goto(f"http://127.0.0.1:{port}/", timeout=15_000 * TIME_SCALE)
                assert await page.title() == "sz-netns-ok"
                assert await page.evaluate(MEDIA_CHECK) == ["audio", "video"]
            page = await chromium.contexts[0].new_page()
            await page.goto(f"http://127.0.0.1:{port}/", timeout=15_000 * TIME_SCALE)
            assert await page.evaluate(LOOPBACK_CALL) > 0


# --- aiortc ----------------------------------------------------------------------------

AIORTC_LOOPBACK = """
import asyncio, json, sys, time
from aiortc import RTCConfiguration, RTCPeerConnection
from sprechzimmer.tools.peer import PatternVideoTrack, ToneAudioTrack

async def main():
    config = RTCConfiguration(iceServers=[])  # never None: see sprechzimmer.tools.peer
    a, b = RTCPeerConnection(config), RTCPeerConnection(config)
    counts = {"audio": 0, "video": 0}
    tasks = []

    async def consume(track):
        for _ in range(10000):
            await track.recv()
            counts[track.kind] += 1

    b.on("track", lambda track: tasks.append(asyncio.ensure_future(consume(track))))
    a.addTrack(ToneAudioTrack())
    a.addTrack(PatternVideoTrack())
    await a.setLocalDescription(await a.createOffer())
    offer = a.localDescription.sdp
    await b.setRemoteDescription(a.localDescription)
    await b.setLocalDescription(await b.createAnswer())
    await a.setRemoteDescription(b.localDescription)
    end = time.monotonic() + float(sys.argv[1])
    while time.monotonic() < end and (counts["video"] < 10 or counts["audio"] < 10):
        await asyncio.sleep(0.1)
    states = [a.connectionState, b.connectionState]
    candidates = [l for l in offer.splitlines() if l.startswith("a=candidate:")]
    for t in tasks:
        t.cancel()
    await a.close(); await b.close()
    print(json.dumps({"counts": counts, "states": states, "candidates": candidates}))

asyncio.run(main())
"""


def test_aiortc_in_netns() -> None:
    _need_netns()
    wait = 20 * TIME_SCALE
    with netns() as ns:
        done = ns.run(
            [sys.executable, "-c", AIORTC_LOOPBACK, str(wait)],
            timeout=wait + 30,
            capture_output=True,
            text=True,
        )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["states"] == ["connected", "connected"]
    assert report["counts"]["video"] >= 10
    assert report["counts"]["audio"] >= 10
    # Host candidates on 127.0.0.2 only: no server-reflexive ones (no STUN asked).
    assert report["candidates"]
    assert all(" 127.0.0.2 " in c and "typ host" in c for c in report["candidates"])


# --- headless peers through a fake relay ----------------------------------------------

THERAPIST_TOKEN = "T" * 43
CLIENT_TOKEN = "C" * 43
SESSION = "0123456789abcdef0123456789abcdef"

# The therapist's side in Chromium, speaking the protocol directly. Its offer
# carries no candidates; they follow as `candidate` messages, which is the path
# aiortc cannot take itself.
BROWSER_THERAPIST = """<!doctype html>
<meta charset="utf-8"><title>fake therapist</title>
<script>
window.report = {state: 'new', decoded: 0, sent: [], candidates: []};
const ws = new WebSocket(`ws://${location.host}/ws`);
let pc = null;
const send = (m) => { window.report.sent.push(m.type); ws.send(JSON.stringify(m)); };
ws.onopen = () => send({type: 'hello', session: 'SESSION', token: 'TOKEN', protocol: 1});
ws.onmessage = async (event) => {
  const m = JSON.parse(event.data);
  if (m.type === 'knock') send({type: 'admit'});
  if (m.type === 'admitted') {
    const stream = await navigator.mediaDevices.getUserMedia({audio: true, video: true});
    pc = new RTCPeerConnection({iceServers: []});
    stream.getTracks().forEach((t) => pc.addTrack(t, stream));
    pc.onicecandidate = (e) => e.candidate && window.report.candidates.push(e.candidate.candidate);
    pc.addEventListener('icecandidate', (e) => send({
      type: 'candidate',
      candidate: e.candidate ? e.candidate.candidate : '',
      sdpMid: e.candidate ? e.candidate.sdpMid : null,
      sdpMLineIndex: e.candidate ? e.candidate.sdpMLineIndex : null,
    }));
    pc.onconnectionstatechange = () => { window.report.state = pc.connectionState; };
    await pc.setLocalDescription();
    send({type: 'offer', sdp: pc.localDescription.sdp});
  }
  if (m.type === 'answer') await pc.setRemoteDescription({type: 'answer', sdp: m.sdp});
  if (m.type === 'peer-left') {
    const stats = await pc.getStats();
    stats.forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') window.report.decoded = s.framesDecoded;
    });
    window.report.state = 'peer-left';
  }
};
</script>
"""

# A minimal stand-in for the server's signaling (docs/protocol.md), just enough to
# drive the peers: hello -> welcome, waiting/knock, admit -> admitted, relay, ping,
# bye -> peer-left. It checks the fields of what the peers send, and logs it.
# argv: session therapist-token client-token timeout duration mode [port]
# mode "peers": two headless peers; mode "browser": a headless client only, and
# GET / serves BROWSER_THERAPIST_PAGE for a browser playing the therapist.
FAKE_RELAY = """
import asyncio, json, sys
from websockets.asyncio.server import serve
from websockets.datastructures import Headers
from websockets.http11 import Response
from sprechzimmer.tools.peer import PeerOptions, run_peer

SESSION, T_TOKEN, C_TOKEN = sys.argv[1], sys.argv[2], sys.argv[3]
TIMEOUT, DURATION, MODE = float(sys.argv[4]), float(sys.argv[5]), sys.argv[6]
TOKENS = {T_TOKEN: "therapist", C_TOKEN: "client"}
PAGE = BROWSER_THERAPIST_PAGE.replace("SESSION", SESSION).replace("TOKEN", T_TOKEN)
FIELDS = {
    "hello": {"session", "token", "protocol", "role", "resume", "name", "consent"},
    "admit": set(), "decline": set(), "ping": set(), "bye": set(), "restart": set(),
    "offer": {"sdp"}, "answer": {"sdp"}, "media": {"state"},
    "candidate": {"candidate", "sdpMid", "sdpMLineIndex", "usernameFragment"},
}
members, log, problems = {}, [], []
state = {"admitted": False, "origin": None}

async def send(role, message):
    ws = members.get(role)
    if ws is not None:
        await ws.send(json.dumps(message))

def other(role):
    return "client" if role == "therapist" else "therapist"

async def handler(ws):
    if ws.request.headers.get("Origin") != state["origin"]:
        problems.append("origin " + repr(ws.request.headers.get("Origin")))
    hello = json.loads(await ws.recv())
    role = TOKENS.get(hello.get("token"))
    if hello.get("type") != "hello" or role is None or hello.get("session") != SESSION:
        problems.append("bad hello")
        await ws.close(4003)
        return
    members[role] = ws
    await ws.send(json.dumps({
        "type": "welcome", "role": role, "session": SESSION,
        "client_id": "c-1" if role == "therapist" else None,
        "ice_servers": [], "heartbeat_interval": 1, "polite": role == "client",
        "resume": "r" * 20, "peer_present": other(role) in members,
        "admitted": state["admitted"],
    }))
    if role == "client":
        await ws.send(json.dumps({"type": "waiting"}))
        await send("therapist", {"type": "knock"})
    elif "client" in members and not state["admitted"]:
        await ws.send(json.dumps({"type": "knock"}))
    async for raw in ws:
        m = json.loads(raw)
        kind = m.get("type")
        log.append([role, kind])
        if kind not in FIELDS or not set(m) - {"type"} <= FIELDS[kind]:
            problems.append(f"{role} sent {sorted(m)}")
        if kind == "ping":
            await ws.send(json.dumps({"type": "pong"}))
        elif kind == "admit" and role == "therapist":
            if state["admitted"]:
                problems.append("admit twice")
            state["admitted"] = True
            # DTLS-SRTP-only calls allowed: the headless peer cannot encrypt frames.
            admitted = {
                "type": "admitted",
                "ice_servers": [],
                "ice_transport_policy": "all",
                "epoch": 1,
                "rekey_interval": 600,
                "e2ee_required": False,
            }
            await send("therapist", admitted)
            await send("client", admitted)
        elif kind in ("offer", "answer", "candidate", "restart"):
            if not state["admitted"]:
                problems.append("relay before admission")
            await send(other(role), {**m, "from": role})
        elif kind == "bye":
            members.pop(role, None)
            await send(other(role), {"type": "peer-left", "role": role, "reason": "hangup"})
            await ws.close(1000)
            return
    if members.get(role) is ws:
        members.pop(role)
        await send(other(role), {"type": "peer-left", "role": role, "reason": "disconnected"})

async def serve_page(connection, request):
    if request.path == "/ws":
        return None
    body = PAGE.encode()
    headers = Headers([
        ("Content-Type", "text/html; charset=utf-8"),
        ("Content-Length", str(len(body))),
        ("Connection", "close"),
    ])
    return Response(200, "OK", headers, body)

async def main():
    browser = MODE == "browser"
    port = int(sys.argv[7]) if browser else 0
    async with serve(handler, "127.0.0.1", port, compression=None, max_size=65536,
                     process_request=serve_page) as server:
        port = server.sockets[0].getsockname()[1]
        base = f"http://127.0.0.1:{port}"
        state["origin"] = base
        common = dict(url=base, session=SESSION, duration=DURATION, timeout=TIMEOUT)
        client = run_peer(PeerOptions(token=C_TOKEN, **common))
        if browser:
            results = [await client]
        else:
            therapist = run_peer(PeerOptions(token=T_TOKEN, auto_admit=True, **common))
            results = await asyncio.gather(therapist, client)
    print(json.dumps({"results": [r.__dict__ for r in results], "log": log,
                      "problems": problems}))

asyncio.run(main())
""".replace("BROWSER_THERAPIST_PAGE", repr(BROWSER_THERAPIST))


def _relay_argv(timeout: float, duration: float, mode: str, port: int = 0) -> list[str]:
    return [
        sys.executable,
        "-c",
        FAKE_RELAY,
        SESSION,
        THERAPIST_TOKEN,
        CLIENT_TOKEN,
        str(timeout),
        str(duration),
        mode,
        str(port),
    ]


def test_peers_through_fake_relay() -> None:
    _need_netns()
    timeout, duration = 30 * TIME_SCALE, 2.5
    started = time.monotonic()
    with netns() as ns:
        done = ns.run(
            _relay_argv(timeout, duration, "peers"),
            timeout=timeout + 30,
            capture_output=True,
            text=True,
        )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["problems"] == []
    therapist, client = report["results"]
    for result in (therapist, client):
        assert result["error"] is None
        assert result["admitted"] is True
        assert result["connected"] is True
        assert result["video_frames"] > 10
        assert result["audio_frames"] > 10
        assert result["first_frame_after_admit"] is not None
        assert result["close_code"] == 1000
    assert therapist["role"] == "therapist"
    assert client["role"] == "client"
    log = [tuple(entry) for entry in report["log"]]
    assert log.count(("therapist", "admit")) == 1
    assert ("therapist", "offer") in log
    assert ("client", "answer") in log
    for role in ("therapist", "client"):
        assert (role, "media") in log
        assert (role, "ping") in log  # heartbeat_interval 1 s, the call lasts longer
        assert (role, "bye") in log
    assert time.monotonic() - started < timeout + 30


async def test_peer_answers_chromium_through_fake_relay(tmp_path: Path) -> None:
    """Chromium (therapist) offers and trickles; the headless client answers and adds them."""
    _need_chromium()
    timeout, duration, port = 30 * TIME_SCALE, 3.0, 8766
    with netns() as ns:
        relay = ns.popen(
            _relay_argv(timeout, duration, "browser", port),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_for_port(ns, port, timeout=10 * TIME_SCALE)
        async with launch_chromium(ns, tmp_path) as chromium:
            page = await chromium.contexts[0].new_page()
            await page.goto(f"http://127.0.0.1:{port}/", timeout=15_000 * TIME_SCALE)
            out, err = await asyncio.to_thread(relay.communicate, timeout=timeout + 15)
            await page.wait_for_function(
                "window.report.state === 'peer-left'", timeout=10_000 * TIME_SCALE
            )
            page_report = await page.evaluate("window.report")
    assert relay.returncode == 0, err[-3000:]
    report = json.loads(out.strip().splitlines()[-1])
    assert report["problems"] == []
    (client,) = report["results"]
    assert client["error"] is None
    assert client["connected"] is True
    assert client["video_frames"] > 10
    assert client["audio_frames"] > 10
    assert page_report["decoded"] > 0
    assert "candidate" in page_report["sent"]
    # Real loopback addresses, no mDNS names: the wrapper kept our --disable-features.
    assert page_report["candidates"]
    assert not any(".local" in c for c in page_report["candidates"])
    assert any(" 127.0.0.1 " in c for c in page_report["candidates"])
    assert ("client", "bye") in [tuple(entry) for entry in report["log"]]


# --- headless peers through the real server --------------------------------------------


def _two_peers_through_real_server(
    tmp_path: Path, port: int, extra_env: dict[str, str]
) -> tuple[list[tuple[int, dict[str, Any]]], list[dict[str, str]]]:
    """`sprechzimmer serve` and two `sprechzimmer peer`s (client, auto-admitting
    therapist) in one namespace; each peer's exit code and JSON result, and the events."""
    timeout = 30 * TIME_SCALE
    peer_args = ["--json", "--duration", "2", "--timeout", str(timeout)]
    with running_server(tmp_path, port=port, extra_env=extra_env) as server:
        server.add_therapist("dr-test")
        links = server.create_session("dr-test", "c-1")
        peers = [
            server.ns.popen(
                [*CLI, "peer", url, *extra, *peer_args],
                env=server.env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for url, extra in (
                (links["client_url"], []),
                (links["therapist_url"], ["--auto-admit"]),
            )
        ]
        outputs = [peer.communicate(timeout=timeout + 15) for peer in peers]
        events = server.events(links["session_id"])
    results = []
    for peer, (out, err) in zip(peers, outputs, strict=True):
        assert out.strip(), err[-2000:]
        results.append((peer.returncode, json.loads(out.strip().splitlines()[-1])))
    return results, events


def test_two_headless_peers_through_real_server(tmp_path: Path) -> None:
    """`sprechzimmer serve` and two `sprechzimmer peer`s in one namespace: frames flow."""
    _need_netns()
    # aiortc cannot encrypt frames: allowed only where DTLS-SRTP alone is accepted.
    peers, events = _two_peers_through_real_server(
        tmp_path, 8767, {"SPRECHZIMMER_E2EE_REQUIRED": "0"}
    )
    results = {}
    for returncode, result in peers:
        assert returncode == 0, result
        results[result["role"]] = result
    assert set(results) == {"therapist", "client"}
    for result in results.values():
        assert result["admitted"] and result["connected"]
        assert result["error"] is None
        assert result["video_frames"] > 10
        assert result["audio_frames"] > 10
    kinds = {(event["role"], event["kind"]) for event in events}
    for role in ("therapist", "client"):
        assert (role, "media_connected") in kinds
        assert (role, "media_disconnected") in kinds
        assert (role, "left") in kinds


def test_headless_peers_refuse_where_frame_encryption_is_required(tmp_path: Path) -> None:
    """aiortc cannot encrypt frames: with e2ee_required (the default) it fails closed."""
    _need_netns()
    peers, events = _two_peers_through_real_server(tmp_path, 8768, {})
    for returncode, result in peers:
        assert returncode == 1
        assert result["admitted"] and result["error"] == "e2ee-required"
        assert not result["connected"] and result["video_frames"] == 0
    kinds = [event["kind"] for event in events]
    assert "admitted" in kinds and "media_connected" not in kinds
