"""End to end: frame encryption (SFrame) between real browsers, and what it must withstand.

Each test starts ``sprechzimmer serve`` in a network namespace of its own and
drives Debian's Chromium (and, for one test, the headless aiortc peer) inside
it, as ``test_e2e_call.py`` does. What is checked comes from three places:

* the page's test surface ``window.sprechzimmer.e2ee`` (state, epoch, SAS,
  and the worker's cumulative ``counters()``) and the ``data-testid``
  elements ``sas``, ``verify`` and ``e2ee-state``;
* the ``<video>`` element's own decoded-frame counts: what a person sees;
* what left the page: every WebSocket frame (Playwright's ``framesent``),
  and, through an init script, the bytes the page hands to WebCrypto, to its
  worker and to its data channel, so that key material can be searched for
  in the database, the server's log and the signaling traffic.

Debug switches of the page (``sessionStorage['sz-debug-e2ee']``) make one
receiver use a wrong key or no receive transform at all; ``harness/
mitm.py`` replaces the DTLS fingerprints in the signaled SDP.

Nothing here measures speed: every wait is an upper bound, scaled by
``SPRECHZIMMER_TEST_TIME_SCALE``, and passes as soon as its condition holds.
The long call of ``test_keys_renew_for_a_minute`` is a duration, not a bound:
it scales only upward.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from harness.chromium import launch_chromium
from harness.mitm import rewrites, running_mitm
from harness.server import CLI, TIME_SCALE, RunningServer, running_server

from tests.real.test_e2e_call import (
    VIDEO_FRAMES,
    WAIT_MS,
    _admit,
    _frames_advance,
    _hang_up,
    _join,
    _need_chromium,
    _open,
    _status,
    _until,
)

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, Page

pytestmark = [pytest.mark.netns, pytest.mark.browser]

THERAPIST = "dr-e2ee"
CLIENT_ID = "Pseudonym-E2EE-5R"
SERVER_PORT = 8765
MITM_PORT = 8766
POLL_S = 0.25
LONG_CALL_S = 60 * max(1.0, TIME_SCALE)
"""How long the rekeying call runs (a duration, so never scaled below 60 s)."""
SAMPLE_S = 3.0
"""Seconds between two samples of the long call; each must show new frames."""
OBSERVE_S = 8 * max(1.0, TIME_SCALE)
"""How long a receiver that must not decode anything is watched."""
CONNECT_BOUND_S = 25 * TIME_SCALE
"""Upper bound for the MITM call to reach `connected` (if it ever does)."""
PROTOCOL_MD = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
SAS_FORMAT = re.compile(r"^\d{3} \d{3}$")
NOT_ENCRYPTED = {"failed", "dtls-only", "unsupported"}

E2EE = """() => {
  const e = window.sprechzimmer && window.sprechzimmer.e2ee;
  if (!e) return null;
  return {
    state: e.state,
    epoch: e.epoch === null || e.epoch === undefined ? null : Number(e.epoch),
    sendKid: e.sendKid === null || e.sendKid === undefined ? null : String(e.sendKid),
    sas: e.sas ?? null,
    verified: e.verified === true,
    keyAgeSeconds: e.keyAgeSeconds ?? null,
  };
}"""
COUNTERS = "async () => await window.sprechzimmer.e2ee.counters()"
E2EE_ACTIVE = "() => window.sprechzimmer?.e2ee?.state === 'active'"

# Inbound video RTP of the page's connection: proves that packets arrive even
# where nothing may be decoded (so "no frame" is not just "no network").
INBOUND_VIDEO = """async () => {
  const pc = window.sprechzimmer && window.sprechzimmer.pc;
  if (!pc) return null;
  let bytes = 0, packets = 0;
  for (const s of (await pc.getStats()).values()) {
    if (s.type === 'inbound-rtp' && s.kind === 'video') {
      bytes += s.bytesReceived || 0;
      packets += s.packetsReceived || 0;
    }
  }
  return {bytes, packets};
}"""

# The mean colour of the remote picture, or null without one. Chromium's fake
# camera shows a mostly green picture; noise decoded from ciphertext is grey.
MEAN_COLOUR = """() => {
  const v = document.querySelector('[data-testid="remote-video"]');
  if (!v || !v.videoWidth) return null;
  const canvas = document.createElement('canvas');
  canvas.width = 64;
  canvas.height = 36;
  const g = canvas.getContext('2d');
  g.drawImage(v, 0, 0, 64, 36);
  const d = g.getImageData(0, 0, 64, 36).data;
  let r = 0, gr = 0, b = 0;
  for (let i = 0; i < d.length; i += 4) { r += d[i]; gr += d[i + 1]; b += d[i + 2]; }
  const n = d.length / 4;
  return {r: r / n, g: gr / n, b: b / n};
}"""


def _looks_like_camera(colour: dict[str, float] | None) -> bool:
    """Whether a mean colour is that of Chromium's fake camera (green well above the rest)."""
    return colour is not None and colour["g"] > colour["r"] + 40 and colour["g"] > colour["b"] + 40


# Installed before any script of the page: every value `data-state` of the
# e2ee-state element takes, in order (a state shorter than a poll is seen too).
E2EE_WATCH = """(() => {
  window.__szE2eeSeen = [];
  const look = () => {
    const el = document.querySelector('[data-testid="e2ee-state"]');
    if (!el) return;
    const value = el.getAttribute('data-state');
    const log = window.__szE2eeSeen;
    if (log[log.length - 1] !== value) log.push(value);
  };
  const start = () => {
    look();
    new MutationObserver(look).observe(document.documentElement, {
      subtree: true, childList: true, attributes: true, attributeFilter: ['data-state'],
    });
  };
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})()"""

# Installed before any script of the page: a copy of every byte string (16 B
# to 4 KiB) the page's main thread passes into or gets out of WebCrypto's key
# operations, posts to a worker or port, or gives to RTCRtpScriptTransform, and
# every string it sends on a data channel. That is where key material and the
# key agreement's messages go; the test then searches for them where they
# must never be. Wrappers call the originals with the same arguments.
SECRET_WATCH = """(() => {
  const seen = window.__szSecrets = {bytes: [], strings: [], dc: []};
  const hex = (u8) => Array.from(u8, (b) => b.toString(16).padStart(2, '0')).join('');
  const grab = (v, depth) => {
    if (v === null || v === undefined || depth > 5 || seen.bytes.length > 2000) return;
    if (v instanceof ArrayBuffer) {
      if (v.byteLength >= 16 && v.byteLength <= 4096) seen.bytes.push(hex(new Uint8Array(v)));
    } else if (ArrayBuffer.isView(v)) {
      if (v.byteLength >= 16 && v.byteLength <= 4096) {
        seen.bytes.push(hex(new Uint8Array(v.buffer, v.byteOffset, v.byteLength)));
      }
    } else if (typeof v === 'string') {
      if (v.length >= 16 && v.length <= 4096 && depth > 0) seen.strings.push(v);
    } else if (Array.isArray(v)) {
      for (const x of v) grab(x, depth + 1);
    } else if (typeof v === 'object' && !(v instanceof CryptoKey)
               && !(typeof MessagePort !== 'undefined' && v instanceof MessagePort)) {
      for (const k of Object.keys(v)) grab(v[k], depth + 1);
    }
  };
  const S = SubtleCrypto.prototype;
  for (const name of ['importKey', 'exportKey', 'deriveBits', 'unwrapKey', 'wrapKey']) {
    const original = S[name];
    if (typeof original !== 'function') continue;
    S[name] = function (...args) {
      for (const a of args) grab(a, 1);
      const result = original.apply(this, args);
      return Promise.resolve(result).then((r) => { grab(r, 1); return r; });
    };
  }
  const wrapPost = (proto) => {
    if (!proto || typeof proto.postMessage !== 'function') return;
    const original = proto.postMessage;
    proto.postMessage = function (message, ...rest) {
      grab(message, 1);
      return original.call(this, message, ...rest);
    };
  };
  wrapPost(typeof Worker !== 'undefined' ? Worker.prototype : null);
  wrapPost(typeof MessagePort !== 'undefined' ? MessagePort.prototype : null);
  if (typeof RTCRtpScriptTransform !== 'undefined') {
    const Original = RTCRtpScriptTransform;
    window.RTCRtpScriptTransform = function (worker, options, transfer) {
      grab(options, 1);
      return transfer === undefined
        ? new Original(worker, options)
        : new Original(worker, options, transfer);
    };
    window.RTCRtpScriptTransform.prototype = Original.prototype;
  }
  if (typeof RTCDataChannel !== 'undefined') {
    const original = RTCDataChannel.prototype.send;
    RTCDataChannel.prototype.send = function (data) {
      if (typeof data !== 'string') grab(data, 1);
      else if (seen.dc.length < 1000) seen.dc.push(data);
      return original.call(this, data);
    };
  }
})()"""


def _debug_switch(mode: str) -> str:
    """Init script: the page's E2EE debug switch, set before the page's scripts run."""
    return f"""(() => {{
  try {{ sessionStorage.setItem('sz-debug-e2ee', {json.dumps(mode)}); }} catch (e) {{}}
}})()"""


def browser_message_types() -> set[str]:
    """The ``type`` values of docs/protocol.md's table "Messages from the browser"."""
    text = PROTOCOL_MD.read_text()
    section = text.split("## Messages from the browser", 1)[1].split("## Messages from", 1)[0]
    types = set(re.findall(r"^\| `([a-z-]+)` \|", section, flags=re.MULTILINE))
    assert {"hello", "offer", "answer", "candidate", "bye"} <= types, types
    return types


# --- set-up -----------------------------------------------------------------------------


@contextlib.contextmanager
def _server(tmp_path: Path, **env: str) -> Iterator[RunningServer]:
    with running_server(tmp_path, port=SERVER_PORT, extra_env=env) as server:
        server.add_therapist(THERAPIST)
        yield server


class Wire:
    """Every WebSocket frame one page sent and received, parsed (Playwright's events)."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.received: list[str] = []

    def attach(self, page: Page) -> None:
        def on_socket(ws: Any) -> None:
            ws.on("framesent", lambda payload: self.sent.append(_text(payload)))
            ws.on("framereceived", lambda payload: self.received.append(_text(payload)))

        page.on("websocket", on_socket)

    @staticmethod
    def types(frames: list[str]) -> list[str]:
        out = []
        for frame in frames:
            try:
                message = json.loads(frame)
            except ValueError:
                out.append("<not json>")
                continue
            out.append(message.get("type", "<no type>") if isinstance(message, dict) else "<?>")
        return out


def _text(payload: str | bytes) -> str:
    return payload if isinstance(payload, str) else payload.decode("utf-8", "replace")


async def _open_watched(context: BrowserContext, url: str, wire: Wire | None) -> Page:
    if wire is None:
        return await _open(context, url)
    page = await context.new_page()
    wire.attach(page)
    await page.goto(url, timeout=WAIT_MS)
    return page


async def _enter(
    therapist_ctx: BrowserContext,
    client_ctx: BrowserContext,
    therapist_url: str,
    client_url: str,
    wires: tuple[Wire, Wire] | None = None,
) -> tuple[Page, Page]:
    """Therapist joins, client joins and knocks, therapist admits; no media is awaited."""
    therapist = await _open_watched(therapist_ctx, therapist_url, wires[0] if wires else None)
    await _join(therapist)
    await _status(therapist, "waiting")
    client = await _open_watched(client_ctx, client_url, wires[1] if wires else None)
    await _join(client)
    await client.get_by_test_id("waiting-room").wait_for(state="visible", timeout=WAIT_MS)
    await _admit(therapist)
    return therapist, client


async def _e2ee(page: Page) -> dict[str, Any]:
    state: dict[str, Any] | None = await page.evaluate(E2EE)
    assert state is not None, "window.sprechzimmer.e2ee is missing"
    return state


async def _counters(page: Page) -> dict[str, Any]:
    counters: dict[str, Any] = await page.evaluate(COUNTERS)
    return counters


async def _e2ee_state_attr(page: Page) -> str | None:
    return await page.get_by_test_id("e2ee-state").get_attribute("data-state")


async def _active(page: Page) -> tuple[dict[str, Any], dict[str, Any]]:
    """Wait until frame encryption is active; return (e2ee, counters) at that moment."""
    await _until(page, E2EE_ACTIVE, what="e2ee state 'active'")
    return await _e2ee(page), await _counters(page)


async def _same_sas(therapist: Page, client: Page) -> str:
    """Both pages show a code of the form "123 456", the same on both; return it."""

    async def shown(page: Page) -> str:
        sas = page.get_by_test_id("sas")
        await sas.wait_for(state="visible", timeout=WAIT_MS)
        return (await sas.text_content() or "").strip()

    codes: tuple[str, str] = ("", "")
    for _ in range(int(WAIT_MS / 1000 / POLL_S) + 1):
        codes = (await shown(therapist), await shown(client))
        if SAS_FORMAT.match(codes[0]) and codes[0] == codes[1]:
            break
        await asyncio.sleep(POLL_S)
    assert SAS_FORMAT.match(codes[0]), codes
    assert codes[0] == codes[1], f"the two sides show different codes: {codes}"
    for page in (therapist, client):  # the surface's code is the one shown
        assert re.sub(r"\D", "", (await _e2ee(page))["sas"] or "") == codes[0].replace(" ", "")
    return codes[0]


async def _verify(therapist: Page, client: Page) -> None:
    """The therapist confirms the code; both sides then say the call is verified."""
    await therapist.get_by_test_id("verify").click(timeout=WAIT_MS)
    for page in (therapist, client):
        await _until(page, "() => window.sprechzimmer.e2ee.verified === true", what="verified")
        text = (await page.get_by_test_id("e2ee-state").text_content() or "").strip()
        assert re.search(r"verifi", text, re.IGNORECASE), f"e2ee-state says {text!r}"


# --- a. keys renew for a minute, frames keep flowing --------------------------------------


async def test_keys_renew_for_a_minute(tmp_path: Path) -> None:
    """Rekey every 4 s for >= 60 s: >= 10 new epochs per side, no lost frame, same SAS.

    Samples every SAMPLE_S seconds: both pages' decoded-frame counts, the
    worker counters and the E2EE state. Every sample must show more decoded
    frames and more encrypted audio and video frames than the one before, no
    decryption failure and no frame dropped for want of a key since the state
    first became `active` (the baseline), and the state never leaves the
    encrypted states.
    """
    _need_chromium()
    with _server(tmp_path, SPRECHZIMMER_REKEY_INTERVAL="4") as server:
        links = server.create_session(THERAPIST, CLIENT_ID)
        async with launch_chromium(server.ns, tmp_path, contexts=2) as chromium:
            wires = (Wire(), Wire())
            for context in chromium.contexts:
                await context.add_init_script(E2EE_WATCH)
            therapist, client = await _enter(
                *chromium.contexts, links["therapist_url"], links["client_url"], wires
            )
            pages = {"therapist": therapist, "client": client}
            base: dict[str, dict[str, Any]] = {}
            first: dict[str, dict[str, Any]] = {}
            for role, page in pages.items():
                first[role], base[role] = await _active(page)
                await _frames_advance(page)
            await _same_sas(therapist, client)
            await _verify(therapist, client)

            samples: list[dict[str, Any]] = []
            loop = asyncio.get_running_loop()
            end = loop.time() + LONG_CALL_S
            # Enough samples AND the whole duration: on a loaded machine a
            # sample takes longer than SAMPLE_S, and stopping at the end time
            # alone left one sample short. Bounded by twice the count.
            wanted = int(LONG_CALL_S / SAMPLE_S) - 1
            for _ in range(2 * (wanted + 1)):
                await asyncio.sleep(SAMPLE_S)
                sample: dict[str, Any] = {}
                for role, page in pages.items():
                    sample[role] = {
                        "video": await page.evaluate(VIDEO_FRAMES),
                        "counters": await _counters(page),
                        "e2ee": await _e2ee(page),
                    }
                samples.append(sample)
                if loop.time() >= end and len(samples) >= wanted:
                    break
            sas_end = await _same_sas(therapist, client)
            seen = {
                role: await page.evaluate("window.__szE2eeSeen") for role, page in pages.items()
            }

        assert len(samples) >= LONG_CALL_S / SAMPLE_S - 1
        for role in pages:
            previous: dict[str, Any] = {
                "video": {"decoded": 0, "total": 0},  # any real sample has more
                "counters": base[role],
                "e2ee": first[role],
            }
            for i, sample in enumerate(s[role] for s in samples):
                where = f"{role}, sample {i} of {len(samples)}"
                video, counters, e2ee = sample["video"], sample["counters"], sample["e2ee"]
                assert video["width"] > 0, where
                assert video["decoded"] > previous["video"]["decoded"], (where, video)
                assert video["total"] > previous["video"]["total"], (where, video)
                for kind in ("video", "audio"):
                    assert counters["encrypted"][kind] > previous["counters"]["encrypted"][kind], (
                        where,
                        kind,
                        counters,
                    )
                    assert counters["decrypted"][kind] > previous["counters"]["decrypted"][kind], (
                        where,
                        kind,
                        counters,
                    )
                assert counters["decryptFailures"] == base[role]["decryptFailures"], (
                    where,
                    counters,
                )
                assert counters["droppedNoKey"] == base[role]["droppedNoKey"], (where, counters)
                assert counters["passthrough"] == 0, (where, counters)
                assert e2ee["state"] not in NOT_ENCRYPTED, (where, e2ee)
                assert e2ee["verified"] is True, (where, e2ee)
                assert e2ee["epoch"] >= previous["e2ee"]["epoch"], (where, e2ee)
                previous = sample
            last = samples[-1][role]["e2ee"]
            assert last["epoch"] - first[role]["epoch"] >= 10, (role, first[role], last)
            assert last["state"] == "active", last
            assert not NOT_ENCRYPTED & set(seen[role]), seen[role]
        rekeys = [Wire.types(w.received).count("rekey") for w in wires]
        assert min(rekeys) >= 10, rekeys
        assert SAS_FORMAT.match(sas_end)


# --- b. a receiver without the right key sees nothing -------------------------------------


@pytest.mark.parametrize("mode", ["wrong-receive-key", "no-receive-transform"])
async def test_receiver_without_the_key_decodes_nothing(tmp_path: Path, mode: str) -> None:
    """The client's receive side is broken on purpose; it never sees the sender's picture.

    Control: the therapist (normal) decodes the client's video, and the client's
    connection receives video RTP all along. The sender (therapist) encrypts
    every frame (``passthrough`` stays 0) and its ``encrypted.video`` rises.

    In both modes not one video frame decodes (element count 0, videoWidth 0).
    With a wrong key the client's ``decryptFailures`` rise. Without a receive
    transform the decoder gets ciphertext; a VP8 key frame's start code is masked
    on the wire (docs/protocol.md), so libvpx finds no sync code and decodes
    nothing (before the mask it painted one frame of noise in about 3 of 4 runs).
    The colour check stays as a second line: nothing of the camera's picture
    (mostly green; the therapist's decrypted picture is the control) ever shows.
    """
    _need_chromium()
    with _server(tmp_path) as server:
        links = server.create_session(THERAPIST, CLIENT_ID)
        async with launch_chromium(server.ns, tmp_path, contexts=2) as chromium:
            therapist_ctx, client_ctx = chromium.contexts
            await client_ctx.add_init_script(_debug_switch(mode))
            therapist, client = await _enter(
                therapist_ctx, client_ctx, links["therapist_url"], links["client_url"]
            )
            await _active(therapist)
            await _frames_advance(therapist)  # the client's frames are fine
            camera = await therapist.evaluate(MEAN_COLOUR)
            assert _looks_like_camera(camera), camera  # the comparison's control
            sender_before = await _counters(therapist)
            receiver_before = await _counters(client)
            rtp_before = await client.evaluate(INBOUND_VIDEO)

            samples = []
            for _ in range(int(OBSERVE_S)):
                await asyncio.sleep(1.0)
                samples.append(
                    {
                        "video": await client.evaluate(VIDEO_FRAMES),
                        "colour": await client.evaluate(MEAN_COLOUR),
                        "sender": await _counters(therapist),
                        "receiver": await _counters(client),
                    }
                )
            rtp_after = await client.evaluate(INBOUND_VIDEO)
            await _frames_advance(therapist)  # still fine the other way

        for i, sample in enumerate(samples):
            video = sample["video"]
            assert video["decoded"] == 0 and video["width"] == 0, (mode, i, video)
            assert video["height"] == 0, (mode, i, video)
            colour = sample["colour"]
            assert colour is None or not _looks_like_camera(colour), (mode, i, video, colour)
            assert sample["sender"]["passthrough"] == 0, (mode, i, sample["sender"])
            assert sample["receiver"]["decrypted"]["video"] == 0, (mode, i, sample["receiver"])
        last = samples[-1]
        assert last["sender"]["encrypted"]["video"] > sender_before["encrypted"]["video"]
        assert last["sender"]["encrypted"]["audio"] > sender_before["encrypted"]["audio"]
        assert rtp_before is not None and rtp_after is not None
        assert rtp_after["packets"] > rtp_before["packets"], (rtp_before, rtp_after)
        if mode == "wrong-receive-key":
            assert last["receiver"]["decryptFailures"] > receiver_before["decryptFailures"], last
        else:
            # Without a receive transform the worker sees no received frame at all.
            assert last["receiver"]["decryptFailures"] == receiver_before["decryptFailures"]


# --- c. a man in the middle of signaling --------------------------------------------------


@dataclass
class ProxiedCall:
    """What a call through harness/mitm.py came to."""

    both_connected: bool
    codes: tuple[str | None, str | None]
    states: list[list[str]]
    frames: list[dict[str, Any]]
    rewritten: list[dict[str, Any]]


async def _call_through_proxy(tmp_path: Path, *, rewrite: bool) -> ProxiedCall:
    """Both browsers use the proxy's origin; wait (bounded) for `connected`, then the SAS."""
    proxy = f"http://127.0.0.1:{MITM_PORT}"
    env = {"SPRECHZIMMER_ALLOWED_ORIGINS": json.dumps([proxy])}
    with _server(tmp_path, **env) as server:
        links = server.create_session(THERAPIST, CLIENT_ID)
        urls = [links[k].replace(server.base_url, proxy) for k in ("therapist_url", "client_url")]
        assert all(u.startswith(proxy + "/call#") for u in urls), urls
        mitm_log = tmp_path / "mitm.log"
        with running_mitm(server.ns, MITM_PORT, SERVER_PORT, mitm_log, rewrite=rewrite):
            async with launch_chromium(server.ns, tmp_path, contexts=2) as chromium:
                for context in chromium.contexts:
                    await context.add_init_script(E2EE_WATCH)
                therapist, client = await _enter(*chromium.contexts, *urls)
                both_connected = False
                loop = asyncio.get_running_loop()
                end = loop.time() + CONNECT_BOUND_S
                connected = "() => window.sprechzimmer?.pc?.connectionState === 'connected'"
                for _ in range(int(CONNECT_BOUND_S / POLL_S) + 1):
                    if await therapist.evaluate(connected) and await client.evaluate(connected):
                        both_connected = True
                        break
                    if loop.time() > end:
                        break
                    await asyncio.sleep(POLL_S)
                codes: tuple[str | None, str | None] = (None, None)
                if both_connected:
                    for _ in range(int(WAIT_MS / 1000 / POLL_S) + 1):
                        codes = ((await _e2ee(therapist))["sas"], (await _e2ee(client))["sas"])
                        if codes[0] and codes[1]:
                            break
                        await asyncio.sleep(POLL_S)
                    if not rewrite:  # the control: a real call, moving pictures
                        for page in (therapist, client):
                            await _frames_advance(page)
                states = [
                    await page.evaluate("window.__szE2eeSeen") for page in (therapist, client)
                ]
                frames = [await page.evaluate(VIDEO_FRAMES) for page in (therapist, client)]
        return ProxiedCall(both_connected, codes, states, frames, rewrites(mitm_log))


async def test_call_through_the_proxy_without_rewriting_works(tmp_path: Path) -> None:
    """Control for the MITM test: the proxy itself carries a normal, encrypted call.

    So a call that fails through the rewriting proxy fails because of the
    rewritten fingerprints, not because of the proxy.
    """
    _need_chromium()
    call = await _call_through_proxy(tmp_path, rewrite=False)
    assert call.both_connected, call
    assert call.codes[0] is not None and SAS_FORMAT.match(call.codes[0]), call
    assert call.codes[0] == call.codes[1], call
    assert call.rewritten == [], call
    assert all("active" in seen for seen in call.states), call


async def test_mitm_on_signaling_fails_the_call_or_shows_different_codes(
    tmp_path: Path, record_property: Any
) -> None:
    """Fingerprints in the signaled SDP replaced: no call, or a SAS mismatch a person sees.

    Exactly the disjunction is asserted; which branch happened is recorded
    (``record_property("mitm_outcome", ...)``) and printed.
    """
    _need_chromium()
    call = await _call_through_proxy(tmp_path, rewrite=True)
    kinds = {e["type"] for e in call.rewritten if e["lines"] > 0}
    assert {"offer", "answer"} <= kinds, f"the proxy rewrote no offer/answer: {call.rewritten}"
    codes = call.codes
    outcome = (
        "call failed: no `connected` within the bound"
        if not call.both_connected
        else f"connected, SAS differ: {codes[0]!r} vs {codes[1]!r}"
        if codes[0] != codes[1]
        else f"connected with the SAME SAS {codes[0]!r}: the MITM went unnoticed"
    )
    record_property("mitm_outcome", outcome)
    record_property("mitm_e2ee_states", json.dumps(call.states))
    print(f"MITM outcome: {outcome}; e2ee states seen {call.states}; frames {call.frames}")
    assert (not call.both_connected) or (
        codes[0] is not None and codes[1] is not None and codes[0] != codes[1]
    ), outcome


# --- d. no key material and no SAS where the server can see it ----------------------------


def _encodings(data: bytes) -> set[str]:
    """The text forms a byte string could be stored or logged in."""
    b64 = base64.b64encode(data).decode()
    b64url = base64.urlsafe_b64encode(data).decode()
    return {data.hex(), data.hex().upper(), b64, b64.rstrip("="), b64url, b64url.rstrip("=")}


def _dump_database(url: str) -> str:
    """Every row of every table, as text."""
    from sqlalchemy import create_engine, inspect, text

    engine = create_engine(url)
    try:
        parts = []
        with engine.connect() as c:
            for table in inspect(c).get_table_names():
                for row in c.execute(text(f'SELECT * FROM "{table}"')):  # noqa: S608 (names from the schema)
                    parts.append(f"{table}: {tuple(row)!r}")
        return "\n".join(parts)
    finally:
        engine.dispose()


def _read_sqlite_files(directory: Path) -> bytes:
    """The raw bytes of the test's SQLite database and its journal/WAL files."""
    return b"".join(p.read_bytes() for p in sorted(directory.glob("e2e.sqlite3*")))


async def test_no_key_material_or_code_reaches_the_server(tmp_path: Path) -> None:
    """After a verified, rekeying call: no SAS and no key bytes in DB, file, log or signaling.

    What is searched for: the SAS (with and without its space); every byte
    string of 16 B..4 KiB the pages passed through WebCrypto's key operations,
    posted to a worker or into the transform (hex, base64, base64url; raw in the
    SQLite file's bytes); every string the pages sent on their data channel
    (the key agreement). What is searched: all rows of all tables, the raw
    SQLite files, the server's log, and every WebSocket frame both pages sent
    and received. Also: the pages sent only message types of docs/protocol.md.
    """
    _need_chromium()
    allowed = browser_message_types()
    with _server(tmp_path, SPRECHZIMMER_REKEY_INTERVAL="2") as server:
        links = server.create_session(THERAPIST, CLIENT_ID)
        async with launch_chromium(server.ns, tmp_path, contexts=2) as chromium:
            for context in chromium.contexts:
                await context.add_init_script(SECRET_WATCH)
            wires = (Wire(), Wire())
            therapist, client = await _enter(
                *chromium.contexts, links["therapist_url"], links["client_url"], wires
            )
            epochs = []
            for page in (therapist, client):
                e2ee, _ = await _active(page)
                epochs.append(e2ee["epoch"])
                await _frames_advance(page)
            sas = await _same_sas(therapist, client)
            await _verify(therapist, client)
            # A few key renewals (every 2 s), so that several keys were agreed.
            await asyncio.sleep(8 * max(1.0, TIME_SCALE))
            for page, epoch in zip((therapist, client), epochs, strict=True):
                assert (await _e2ee(page))["epoch"] >= epoch + 2
            captured = [await page.evaluate("window.__szSecrets") for page in (therapist, client)]
            await _hang_up(therapist)
            for page in (therapist, client):
                await _status(page, "ended")
        database = _dump_database(server.env["SPRECHZIMMER_DATABASE_URL"])
    log = server.log()
    sqlite_bytes = _read_sqlite_files(tmp_path)

    assert "rekey epoch" in log or "Application startup complete" in log  # the real log
    assert "dr-e2ee" in database  # the real database
    signaling = "\n".join(w for wire in wires for w in (*wire.sent, *wire.received))
    secret_bytes = {bytes.fromhex(h) for c in captured for h in c["bytes"]}
    secret_strings = {s for c in captured for s in (*c["strings"], *c["dc"])}
    dc_messages = [m for c in captured for m in c["dc"]]
    # Without anything captured the search below would prove nothing.
    assert secret_bytes or secret_strings, captured
    assert dc_messages, "no key agreement on the data channel was seen"
    print(
        f"searched for the SAS, {len(secret_bytes)} byte strings and "
        f"{len(secret_strings)} strings ({len(dc_messages)} data channel messages)"
    )

    # The code as digits, not inside a longer number (SDP and timestamps are
    # full of digits; "123456" inside "40123456789" is not the code).
    for form in (sas, sas.replace(" ", "")):
        pattern = rf"(?<![0-9]){re.escape(form)}(?![0-9])"
        for where, haystack in (("database", database), ("log", log), ("signaling", signaling)):
            assert not re.search(pattern, haystack), f"the SAS is in the {where}"
        assert not re.search(pattern.encode(), sqlite_bytes), "the SAS is in the SQLite file"
    needles: set[str] = set()
    for data in secret_bytes:
        needles |= _encodings(data)
    needles |= secret_strings
    for needle in needles:
        for where, haystack in (("database", database), ("log", log), ("signaling", signaling)):
            assert needle not in haystack, f"{needle[:12]}... found in the {where}"
        assert needle.encode() not in sqlite_bytes, f"{needle[:12]}... in the SQLite file"
    for data in secret_bytes:
        assert data not in sqlite_bytes, f"{data[:6].hex()}... raw in the SQLite file"

    for wire in wires:
        sent = Wire.types(wire.sent)
        assert sent and set(sent) <= allowed, sorted(set(sent) - allowed)
        assert "rekey" in Wire.types(wire.received)
    dc_types = set()
    for message in dc_messages:
        with contextlib.suppress(ValueError, AttributeError):
            dc_types.add(json.loads(message).get("type"))
    assert not (dc_types - {None}) & {t for w in wires for t in Wire.types(w.sent)}, dc_types


# --- e. the headless aiortc peer cannot do frame encryption -------------------------------


def _start_peer(server: RunningServer, url: str, duration: float, timeout: float) -> Any:
    return server.ns.popen(
        [*CLI, "peer", url, "--json", "--duration", str(duration), "--timeout", str(timeout)],
        env=server.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _peer_result(out: str, err: str) -> dict[str, Any]:
    lines = out.strip().splitlines()
    assert lines, f"the peer printed no result; stderr: {err[-3000:]}"
    result: dict[str, Any] = json.loads(lines[-1])
    return result


async def test_aiortc_peer_is_refused_when_e2ee_is_required(tmp_path: Path) -> None:
    """Fail closed: the peer refuses (``e2ee-required``); the therapist never shows `active`."""
    _need_chromium()
    timeout = 60 * TIME_SCALE
    with _server(tmp_path) as server:
        links = server.create_session(THERAPIST, CLIENT_ID)
        peer = _start_peer(server, links["client_url"], 10 * TIME_SCALE, timeout)
        async with launch_chromium(server.ns, tmp_path, contexts=1) as chromium:
            await chromium.contexts[0].add_init_script(E2EE_WATCH)
            therapist = await _open(chromium.contexts[0], links["therapist_url"])
            await _join(therapist)
            await _admit(therapist)  # the headless client is already knocking
            out, err = await asyncio.to_thread(peer.communicate, timeout=timeout + 15)
            result = _peer_result(out, err)
            state = None
            for _ in range(int(WAIT_MS / 1000 / POLL_S) + 1):
                state = await _e2ee_state_attr(therapist)
                if state in ("failed", "unsupported"):
                    break
                await asyncio.sleep(POLL_S)
            seen = await therapist.evaluate("window.__szE2eeSeen")
            e2ee = await _e2ee(therapist)
            frames = await therapist.evaluate(VIDEO_FRAMES)
            status = await therapist.get_by_test_id("call-status").get_attribute("data-status")
        where = {"peer": result, "seen": seen, "e2ee": e2ee, "call-status": status}
        assert result["error"] == "e2ee-required", where
        assert state in ("failed", "unsupported"), where
        assert "active" not in seen, where
        assert e2ee["state"] in ("failed", "unsupported"), where
        assert frames["decoded"] == 0, frames


async def test_aiortc_peer_joins_dtls_only_when_e2ee_is_optional(tmp_path: Path) -> None:
    """``SPRECHZIMMER_E2EE_REQUIRED=0``: the call runs on DTLS-SRTP only, and says so."""
    _need_chromium()
    timeout, duration = 60 * TIME_SCALE, 8 * TIME_SCALE
    with _server(tmp_path, SPRECHZIMMER_E2EE_REQUIRED="0") as server:
        links = server.create_session(THERAPIST, CLIENT_ID)
        peer = _start_peer(server, links["client_url"], duration, timeout)
        async with launch_chromium(server.ns, tmp_path, contexts=1) as chromium:
            await chromium.contexts[0].add_init_script(E2EE_WATCH)
            therapist = await _open(chromium.contexts[0], links["therapist_url"])
            await _join(therapist)
            await _admit(therapist)
            await _frames_advance(therapist)
            await _until(
                therapist,
                """() => document.querySelector('[data-testid="e2ee-state"]')
                    ?.getAttribute('data-state') === 'dtls-only'""",
                what="e2ee-state dtls-only",
            )
            assert (await _e2ee(therapist))["state"] == "dtls-only"
            await _frames_advance(therapist)
            seen = await therapist.evaluate("window.__szE2eeSeen")
            out, err = await asyncio.to_thread(peer.communicate, timeout=timeout + 15)
        result = _peer_result(out, err)
        assert result["error"] is None, result
        assert result["connected"] is True
        assert result["video_frames"] > 10
        assert "active" not in seen, seen
