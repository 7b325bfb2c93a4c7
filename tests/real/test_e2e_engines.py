"""Calls between browser engines: Chromium and Firefox ESR in every pairing.

Clients open the link on whatever they have, and the therapist's browser is
not always Chromium either. Each pairing holds a real call through the real
server with frame encryption on: both sides decode the other's video, both
show the same verification code, the keys are renewed at least once and
frames keep coming after that, and no frame left a sender in the clear.

The browsers run in the two namespaces of ``harness.topology`` (A: the
therapist's, B: the client's; server and coturn in T). Firefox needs those
namespaces' veth addresses to gather host candidates at all. With
forwarding on in T the pair reaches each other directly (P2P); with it off
the call can only go through the relay.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from harness.chromium import launch_chromium
from harness.engines import (
    ENGINES,
    SAS_SHOWN,
    STATUS,
    Engine,
    EngineBrowser,
    EnginePage,
    engine_missing,
    open_browser,
    press_join,
)
from harness.netns import netns_available, require_or_skip
from harness.server import TIME_SCALE, running_server
from harness.topology import RELAY_IP, Side, Topology, diagnostics, topology

pytestmark = [pytest.mark.netns, pytest.mark.browser]

THERAPIST = "dr-engines"
CLIENT_ID = "Pseudonym-ENG-4T"
REKEY_INTERVAL_S = "3"
LINK_CUT_S = 8.0
RECOVERY_S = 45 * TIME_SCALE
"""Upper bound for a call to be back after the link returns (the relay tests' bound)."""
SAS_FORMAT = re.compile(r"^\d{3} \d{3}$")
FIREFOX_OFFER = (
    Path(__file__).resolve().parents[1]
    / "js"
    / "fixtures"
    / "sdp"
    / "firefox-153-offer-vp8-preferred.sdp"
)

# Frames the remote <video> has shown, read the way each engine counts them:
# Chromium's decoded-frame count; headless Firefox reports 0 in
# getVideoPlaybackQuality() for a stream source but counts painted frames.
REMOTE_FRAMES = """() => {
  const v = document.querySelector('[data-testid="remote-video"]');
  if (!v || !v.srcObject) return {frames: 0, width: 0};
  const painted = v.mozPaintedFrames;
  const frames = typeof painted === 'number' ? painted : v.webkitDecodedFrameCount;
  return {frames, width: v.videoWidth};
}"""
MORE_FRAMES = f"""(before) => {{
  const now = ({REMOTE_FRAMES})();
  return now.width > 0 && now.frames > before ? now : null;
}}"""

E2EE = """() => {
  const e = window.sprechzimmer && window.sprechzimmer.e2ee;
  if (!e) return null;
  return {state: e.state, epoch: e.epoch === null || e.epoch === undefined ? null : Number(e.epoch),
          sas: e.sas ?? null};
}"""
RENEWED_SINCE = """(epoch) => {
  const e = window.sprechzimmer.e2ee;
  return e.state === 'active' && Number(e.epoch) > epoch;
}"""
COUNTERS = "async () => await window.sprechzimmer.e2ee.counters()"
CONNECTED = """() => {
  const el = document.querySelector('[data-testid="connection-state"]');
  return el && el.dataset.state === 'connected' ? el.dataset.path : null;
}"""


@dataclass
class Call:
    therapist: EnginePage
    client: EnginePage
    browsers: tuple[EngineBrowser, EngineBrowser]

    def pages(self) -> tuple[tuple[str, EnginePage], ...]:
        return (("therapist", self.therapist), ("client", self.client))

    def console(self) -> str:
        parts = []
        for role, browser in zip(("therapist", "client"), self.browsers, strict=True):
            lines = "\n".join(browser.console()[-40:])
            parts.append(f"--- {role} ({browser.engine}) console (end) ---\n{lines}")
        return "\n".join(parts)


def _need(*engines: Engine) -> None:
    for reason in (netns_available(), engine_missing(*engines)):
        if reason:
            require_or_skip(reason)


@contextlib.asynccontextmanager
async def _call(
    topo: Topology, therapist_engine: Engine, client_engine: Engine
) -> AsyncIterator[Call]:
    """Both browsers up, the therapist waiting, the client admitted: a call has begun."""
    topo.server.add_therapist(THERAPIST)
    links = topo.links(THERAPIST, CLIENT_ID)
    async with (
        open_browser(therapist_engine, topo, "A") as in_a,
        open_browser(client_engine, topo, "B") as in_b,
    ):
        therapist = await in_a.new_page()
        client = await in_b.new_page()
        call = Call(therapist, client, (in_a, in_b))
        try:
            await therapist.goto(links["therapist_url"])
            await press_join(therapist)
            await therapist.until(f"() => ({STATUS})() === 'waiting'", what="the therapist waiting")
            await client.goto(links["client_url"])
            await press_join(client)
            await client.until(f"() => ({STATUS})() === 'waiting'", what="the client waiting")
            await therapist.click('[data-testid="admit"]')
            yield call
        except BaseException as error:
            raise AssertionError(f"{error}\n{call.console()}\n{diagnostics(topo)}") from error


async def _frames_advance(page: EnginePage) -> int:
    first = await page.until(MORE_FRAMES, 0, "a first remote frame")
    second = await page.until(MORE_FRAMES, first["frames"], "more remote frames")
    assert second["frames"] > first["frames"] > 0
    return int(second["frames"])


async def _same_sas(call: Call) -> str:
    codes = [await page.until(SAS_SHOWN, what="the verification code") for _, page in call.pages()]
    assert codes[0] == codes[1], codes
    assert SAS_FORMAT.match(codes[0]), codes
    return str(codes[0])


async def _encrypted_both_ways(call: Call) -> dict[str, Any]:
    """Every frame each side sent went through its encrypting transform; return counters."""
    seen = {}
    for role, page in call.pages():
        counters = await page.evaluate(COUNTERS)
        assert counters["passthrough"] == 0, (role, counters)
        for kind in ("audio", "video"):
            assert counters["encrypted"][kind] > 0, (role, counters)
            assert counters["decrypted"][kind] > 0, (role, counters)
        seen[role] = counters
    return seen


# The privacy pause as a page shows it: whose it is ('self' or 'peer'), or null.
PAUSE_STATE = """() => {
  const el = document.querySelector('[data-testid="pause-state"]');
  return el && !el.hidden ? el.dataset.paused : null;
}"""
# Every track the page holds is disabled (the pause holds camera and microphone).
ALL_HELD = """() => {
  const v = document.querySelector('[data-testid="local-video"]');
  return v && v.srcObject && v.srcObject.getTracks().every((t) => !t.enabled) ? true : null;
}"""


async def _paused_and_resumed(call: Call) -> None:
    """The client pauses (Firefox in two pairings): both pages hold and say so; one tap
    resumes, and frames come both ways again."""
    therapist, client = call.therapist, call.client
    await client.click('[data-testid="privacy-pause"]')
    assert await client.until(PAUSE_STATE, what="the client's own pause") == "self"
    assert await therapist.until(PAUSE_STATE, what="the pause on the therapist's page") == "peer"
    for _, page in call.pages():
        await page.until(ALL_HELD, what="camera and microphone held")
    await client.click('[data-testid="privacy-pause"]')
    for _, page in call.pages():
        await page.until(f"() => ({PAUSE_STATE})() === null ? true : null", what="pause over")
        await _frames_advance(page)


async def _renewed(call: Call) -> None:
    """The keys are renewed at least once on both sides; frames keep coming after it."""
    epochs = {role: (await page.evaluate(E2EE))["epoch"] for role, page in call.pages()}
    for role, page in call.pages():
        await page.until(
            RENEWED_SINCE,
            epochs[role],
            f"a key renewal on the {role}'s page",
        )
    for _, page in call.pages():
        await _frames_advance(page)


@pytest.mark.parametrize("client_engine", ENGINES)
@pytest.mark.parametrize("therapist_engine", ENGINES)
async def test_call_between_engines(
    tmp_path: Path, therapist_engine: Engine, client_engine: Engine
) -> None:
    """Each pairing: a P2P call, frames both ways, keys renewed, equal codes, nothing clear,
    and the client's privacy pause held and resumed on both pages."""
    _need(therapist_engine, client_engine)
    extra = {"SPRECHZIMMER_REKEY_INTERVAL": REKEY_INTERVAL_S}
    with topology(tmp_path, forwarding=True, extra_env=extra) as topo:
        async with _call(topo, therapist_engine, client_engine) as call:
            for _, page in call.pages():
                assert await page.until(CONNECTED, what="the connection") == "p2p"
                await page.until(
                    "() => window.sprechzimmer.e2ee?.state === 'active'", what="frame encryption"
                )
                await _frames_advance(page)
            sas = await _same_sas(call)
            await _renewed(call)
            assert await _same_sas(call) == sas
            await _encrypted_both_ways(call)
            await _paused_and_resumed(call)


# The selected candidate pair of the page's connection, by the standard stats
# both engines have (Firefox has no `selectedCandidatePairId` on the
# transport: the pair with `selected` or `nominated` and `succeeded`).
SELECTED_PAIR = """async () => {
  const pc = window.sprechzimmer && window.sprechzimmer.pc;
  if (!pc) return null;
  const stats = await pc.getStats();
  let pair = null;
  for (const s of stats.values()) {
    if (s.type === 'transport' && s.selectedCandidatePairId) {
      pair = stats.get(s.selectedCandidatePairId);
    }
  }
  if (!pair) {
    for (const s of stats.values()) {
      const chosen = s.selected || s.nominated;
      if (s.type === 'candidate-pair' && s.state === 'succeeded' && chosen) pair = s;
    }
  }
  if (!pair) return null;
  const local = stats.get(pair.localCandidateId);
  const remote = stats.get(pair.remoteCandidateId);
  return {local: local.candidateType, localAddress: local.address ?? local.ip,
          remote: remote.candidateType, remoteAddress: remote.address ?? remote.ip};
}"""

# Every value the connection indicator takes from now on, in order, so that
# a test sees it left `connected` even if it was back before the next poll;
# the list also marks the page: a reload would lose it.
WATCH_CONNECTION = """() => {
  const el = document.querySelector('[data-testid="connection-state"]');
  const seen = [el.dataset.state];
  window.__szSeen = seen;
  new MutationObserver(() => {
    if (seen[seen.length - 1] !== el.dataset.state) seen.push(el.dataset.state);
  }).observe(el, {attributeFilter: ['data-state']});
}"""


@pytest.mark.parametrize(
    ("therapist_engine", "client_engine"), [("chromium", "firefox"), ("firefox", "chromium")]
)
async def test_mixed_call_through_the_relay_survives_a_link_cut(
    tmp_path: Path, therapist_engine: Engine, client_engine: Engine
) -> None:
    """Chromium and Firefox that cannot reach each other: a call through coturn; Firefox's
    link down for 8 s, with key renewals due every 3 s, then the same call (same page, no
    reload) has frames both ways again, renews its keys, and a chat each side wrote into
    the cut arrived once."""
    _need(therapist_engine, client_engine)
    firefox_side: Side = "A" if therapist_engine == "firefox" else "B"
    # Keys renewed every few seconds: a renewal falls into the cut and its messages
    # must wait for the line (Firefox fails DTLS on a data-channel write into a cut).
    extra = {"SPRECHZIMMER_REKEY_INTERVAL": REKEY_INTERVAL_S}
    with topology(tmp_path, forwarding=False, extra_env=extra) as topo:
        async with _call(topo, therapist_engine, client_engine) as call:
            for _, page in call.pages():
                assert await page.until(CONNECTED, what="the connection") == "relay"
                pair = await page.until(SELECTED_PAIR, what="a selected candidate pair")
                assert "relay" in (pair["local"], pair["remote"]), pair
                assert RELAY_IP in (pair["localAddress"], pair["remoteAddress"]), pair
                await _frames_advance(page)
                await page.evaluate(WATCH_CONNECTION)
            await _same_sas(call)

            # Each side writes a chat into the cut: Firefox failed the whole
            # connection when a data channel wrote while its ICE was down.
            cut = asyncio.create_task(topo.cut_link(firefox_side, LINK_CUT_S))
            await asyncio.sleep(LINK_CUT_S / 2)
            for role, page in call.pages():
                await page.click('[data-testid="chat-open"]')
                await page.evaluate(WRITE_CHAT, f"Im Funkloch von {role}")
            await cut
            watched: dict[str, list[str]] = {}

            for role, page in call.pages():
                back = await page.until(
                    CONNECTED, what=f"the {role}'s call back after the cut", within=RECOVERY_S
                )
                assert back == "relay"
                await _frames_advance(page)
                seen = await page.evaluate("() => window.__szSeen")  # None after a reload
                assert seen is not None, role
                watched[role] = seen
            # The cut was felt on Firefox's side: its indicator left `connected` and came back.
            felt = watched["therapist" if firefox_side == "A" else "client"]
            assert felt[0] == "connected" and felt[-1] == "connected" and len(felt) >= 3, watched
            await _encrypted_both_ways(call)
            await _renewed(call)
            # Each chat arrived once, and each sender saw it acknowledged.
            for role, page in call.pages():
                other = "client" if role == "therapist" else "therapist"
                log = await page.until(
                    CHAT_SETTLED, f"Im Funkloch von {other}", what=f"the {other}'s chat"
                )
                mine, theirs = f"Im Funkloch von {role}", f"Im Funkloch von {other}"
                assert sorted(log) == [["me", mine, "true"], ["peer", theirs, "true"]], log


WRITE_CHAT = """(text) => {
  document.querySelector('[data-testid="chat-input"]').value = text;
  document.querySelector('[data-testid="chat-send"]').click();
}"""
# The chat log as [from, text, delivered] once the other's message is in it and
# nothing waits for an acknowledgement; else null.
CHAT_SETTLED = """(text) => {
  const entries = [...document.querySelectorAll('[data-testid="chat-log"] li')].map((li) => [
    li.dataset.from, li.querySelector('.chat-text').textContent, li.dataset.delivered]);
  const arrived = entries.some(([, t]) => t === text);
  return arrived && entries.every(([, , d]) => d === 'true') ? entries : null;
}"""


SET_REMOTE = """async (sdp) => {
  const { withoutOrphanCodecLines } = await import('/static/js/codeclines.js');
  const attempt = async (text) => {
    const pc = new RTCPeerConnection();
    try {
      await pc.setRemoteDescription({type: 'offer', sdp: text});
      return 'accepted';
    } catch (err) {
      return String(err);
    } finally {
      pc.close();
    }
  };
  return {raw: await attempt(sdp), cleaned: await attempt(withoutOrphanCodecLines(sdp))};
}"""


async def test_chromium_refuses_firefox_offer_unless_orphan_codec_lines_go(tmp_path: Path) -> None:
    """The cause of the Firefox-therapist failure, in real Chromium, and the page's cure.

    Firefox's offer after ``setCodecPreferences`` (a fixture captured from
    Firefox ESR 153) keeps ``a=rtcp-fb`` lines of codecs it removed; Chromium
    refuses the whole description. The same offer through
    ``withoutOrphanCodecLines``, as ``peer.js`` applies it to every
    description it sends and sets, is accepted.
    """
    _need("chromium")
    sdp = FIREFOX_OFFER.read_text()
    with running_server(tmp_path) as server:
        async with launch_chromium(server.ns, tmp_path) as chromium:
            page = await chromium.contexts[0].new_page()
            await page.goto(server.base_url + "/")
            result = await page.evaluate(SET_REMOTE, sdp)
    assert "Failed to parse" in result["raw"], result
    assert result["cleaned"] == "accepted", result
