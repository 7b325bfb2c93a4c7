"""End to end through our TURN relay: firewalls, UDP blocked, relay-only, a cut link.

Each test builds the topology of ``harness/topology.py``: the therapist's
Chromium in namespace A, the client's in B, ``sprechzimmer serve`` and coturn in
T; A and B reach T but (with forwarding off in T) not each other. What a person
sees is read from the page (``data-testid`` elements, the ``<video>`` element's
own decoded-frame counters), what each browser was told from the WebSocket
frames it received, what the practice is billed for from the database.

Nothing here measures speed: every wait is an upper bound, scaled by
``SPRECHZIMMER_TEST_TIME_SCALE``, and passes as soon as its condition holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from harness.server import TIME_SCALE
from harness.topology import (
    ADDR,
    RELAY_IP,
    T_ADDR,
    TURN_PORT,
    Browsers,
    End,
    Side,
    Topology,
    browsers,
    diagnostics,
    topology,
)

from tests.real.test_e2e_call import (
    FRAMES_MORE_THAN,
    VIDEO_FRAMES,
    WAIT_MS,
    _admit,
    _events_when,
    _frames_advance,
    _join,
    _need_chromium,
    _status,
    _times,
    _until,
)

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, Page

pytestmark = [pytest.mark.netns, pytest.mark.browser]

THERAPIST = "dr-relay"
RECOVERY_S = 45 * TIME_SCALE
"""Upper bound for a call to come back after the network changed under it."""
LINK_CUT_S = 8.0
"""How long a link is cut. Not 4 s: Chromium 156 declares a connection
`disconnected` only after ~5 s without an answer (ICE unwritable), so a 4 s cut
freezes the picture and then resumes with the peer connection `connected`
throughout: no `media` change is reported and billing shows no gap (seen
here; the call itself recovers)."""

# Installed before the page's scripts: every value the call status and the
# connection indicator take, in order, so that a test can tell the call went
# through `reconnecting` even if it was back before the next poll.
STATUS_WATCH = """(() => {
  window.__szSeen = [];
  const watch = () => {
    const seen = (el, attr) => {
      const value = el.getAttribute(attr);
      const log = window.__szSeen;
      const key = `${el.dataset.testid}:${attr}=${value}`;
      if (log[log.length - 1] !== key) log.push(key);
    };
    const targets = [
      ['[data-testid="call-status"]', 'data-status'],
      ['[data-testid="connection-state"]', 'data-state'],
    ];
    for (const [selector, attr] of targets) {
      const el = document.querySelector(selector);
      if (!el) continue;
      seen(el, attr);
      new MutationObserver(() => seen(el, attr)).observe(el, {attributeFilter: [attr]});
    }
  };
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', watch);
  } else {
    watch();
  }
})()"""


def _connected_via(path: str) -> str:
    return f'[data-testid="connection-state"][data-state="connected"][data-path="{path}"]'


def _address(address: str) -> re.Pattern[str]:
    """``address`` as a whole address (10.231.1.2 but not 10.231.1.21)."""
    return re.compile(rf"(?<![\d.]){re.escape(address)}(?![\d])")


@contextlib.asynccontextmanager
async def _world(tmp_path: Path, **options: Any) -> AsyncIterator[tuple[Topology, Browsers]]:
    """The topology and a browser on each side; on failure, the logs of server and relay."""
    _need_chromium()
    with topology(tmp_path, **options) as topo:
        topo.server.add_therapist(THERAPIST)
        try:
            async with browsers(topo) as both:
                await both.therapist.add_init_script(STATUS_WATCH)
                await both.client.add_init_script(STATUS_WATCH)
                yield topo, both
        except BaseException:
            print(diagnostics(topo))
            raise


class Received:
    """Every signaling message a page received, registered before the page loads."""

    def __init__(self) -> None:
        self.raw: list[str] = []

    def attach(self, page: Page) -> None:
        def on_socket(ws: Any) -> None:
            ws.on("framereceived", self._frame)

        page.on("websocket", on_socket)

    def _frame(self, payload: str | bytes) -> None:
        self.raw.append(payload if isinstance(payload, str) else payload.decode(errors="replace"))

    def messages(self) -> list[dict[str, Any]]:
        return [json.loads(raw) for raw in self.raw]

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages() if m.get("type") == kind]


async def _open(context: BrowserContext, url: str, received: Received | None = None) -> Page:
    page = await context.new_page()
    if received is not None:
        received.attach(page)
    await page.goto(url, timeout=WAIT_MS)
    return page


async def _call(
    both: Browsers,
    links: dict[str, str],
    *,
    therapist_received: Received | None = None,
    client_received: Received | None = None,
) -> tuple[Page, Page]:
    """Therapist (A) joins, client (B) joins and knocks, therapist admits."""
    therapist = await _open(both.therapist, links["therapist_url"], therapist_received)
    await _join(therapist)
    await _status(therapist, "waiting")
    client = await _open(both.client, links["client_url"], client_received)
    await _join(client)
    await client.get_by_test_id("waiting-room").wait_for(state="visible", timeout=WAIT_MS)
    await _admit(therapist)
    return therapist, client


# The transports of the relay candidates the page's connection gathered.
RELAY_PROTOCOLS = """async () => {
  const stats = await window.sprechzimmer.pc.getStats();
  const seen = new Set();
  for (const s of stats.values()) {
    if (s.type === 'local-candidate' && s.candidateType === 'relay') seen.add(s.relayProtocol);
  }
  return [...seen];
}"""


# TURN/UDP from the page's network, with its call's own servers and credentials:
# a throwaway relay-only connection gathers to the end (nothing connects it, so
# nothing stops its gathering early) and reports its relay candidates' transports.
UDP_RELAY_PROBE = """async () => {
  const config = window.sprechzimmer.pc.getConfiguration();
  const pc = new RTCPeerConnection({ iceServers: config.iceServers, iceTransportPolicy: 'relay' });
  pc.createDataChannel('probe');
  await pc.setLocalDescription(await pc.createOffer());
  const seen = new Set();
  const until = Date.now() + 20000;
  for (;;) {
    for (const s of (await pc.getStats()).values()) {
      if (s.type === 'local-candidate' && s.candidateType === 'relay') seen.add(s.relayProtocol);
    }
    if (seen.has('udp') || pc.iceGatheringState === 'complete' || Date.now() > until) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  pc.close();
  return { policy: config.iceTransportPolicy, relayProtocols: [...seen] };
}"""


async def _connected(page: Page, path: str, timeout_ms: float = WAIT_MS) -> dict[str, Any]:
    """The indicator says connected over ``path``; return ``window.sprechzimmer.stats()``."""
    await page.wait_for_selector(_connected_via(path), state="attached", timeout=timeout_ms)
    stats: dict[str, Any] = await page.evaluate("window.sprechzimmer.stats()")
    return stats


def _media_gap(events: list[dict[str, str]], role: str) -> bool:
    """A media_disconnected of ``role`` after its first media_connected, then a media_connected."""
    connected = _times(events, role, "media_connected")
    disconnected = _times(events, role, "media_disconnected")
    if not connected:
        return False
    gaps = [t for t in disconnected if t >= connected[0]]
    return any(any(c > gap for c in connected) for gap in gaps)


def _left_connected_and_came_back(seen: list[str]) -> bool:
    connected = "connection-state:data-state=connected"
    states = [e for e in seen if e.startswith("connection-state:")]
    if connected not in states or states[-1] != connected:
        return False
    first = states.index(connected)
    return any(e != connected for e in states[first:])


# --- the tests ------------------------------------------------------------------------------


async def test_call_goes_through_the_relay_when_browsers_cannot_reach_each_other(
    tmp_path: Path,
) -> None:
    """A and B reach T but not each other: the call connects via TURN by itself, both ways."""
    async with _world(tmp_path) as (topo, both):
        # The firewall is real: each side reaches the service and the relay, not the other.
        pairs: tuple[tuple[Side, Side], ...] = (("A", "B"), ("B", "A"))
        for side, other in pairs:
            assert topo.reach(side, T_ADDR[side], topo.port) == "open"
            assert topo.reach(side, RELAY_IP, TURN_PORT) == "open"
            assert topo.reach(side, ADDR[other], 9) == "unreachable"

        links = topo.links(THERAPIST, "K-relay")
        to_therapist, to_client = Received(), Received()
        therapist = await _open(both.therapist, links["therapist_url"], to_therapist)
        await _join(therapist)
        await _status(therapist, "waiting")
        # Alone in the room the therapist has no TURN credentials (issue 10,
        # point 8); the page knows from `relay_urls` that a relay exists.
        assert await therapist.get_by_test_id("relay-only").is_enabled()
        client = await _open(both.client, links["client_url"], to_client)
        await _join(client)
        await client.get_by_test_id("waiting-room").wait_for(state="visible", timeout=WAIT_MS)
        assert await client.get_by_test_id("compat-mode").is_enabled()
        for received in (to_therapist, to_client):
            (welcome,) = received.of_type("welcome")
            assert welcome["relay_urls"], welcome
            assert not any("credential" in s for s in welcome["ice_servers"]), welcome
        await _admit(therapist)
        for page in (therapist, client):
            stats = await _connected(page, "relay")
            await _frames_advance(page)
            assert stats["path"] == "relay", stats
            # Relayed on our side: our end of the pair is our allocation on the relay.
            assert stats["localAddress"] == RELAY_IP, stats
            assert stats["remoteAddress"] == RELAY_IP, stats
            assert await page.get_by_test_id("connection-state").get_attribute("data-path") == (
                "relay"
            )
        events = _events_when(
            topo.server,
            links["session_id"],
            {("therapist", "media_connected"), ("client", "media_connected")},
        )
        assert len(_times(events, "client", "admitted")) == 1
        # The relay was reached with what `admitted` brought, each side its own.
        users = set()
        for received in (to_therapist, to_client):
            (admitted,) = received.of_type("admitted")
            turn = [s for s in admitted["ice_servers"] if s["urls"][0].startswith("turn")]
            assert turn and all(s["credential"] for s in turn), admitted
            users |= {s["username"] for s in turn}
        assert len(users) == 2


async def test_udp_blocked_on_client_side_connects_over_turn_tcp_or_tls(tmp_path: Path) -> None:
    """All UDP dropped in B: B's media goes through TURN over TCP or TLS, without a click."""
    async with _world(tmp_path) as (topo, both):
        with topo.drop_udp("B"):
            assert topo.reach("B", RELAY_IP, TURN_PORT) == "open"  # TCP still gets through
            links = topo.links(THERAPIST, "K-udp")
            therapist, client = await _call(both, links)
            # No click: ICE finds B's TCP/TLS relay candidate by itself, or the
            # client's recovery escalates to compatibility mode.
            bound = RECOVERY_S * 1000
            client_stats = await _connected(client, "relay", timeout_ms=bound)
            therapist_stats = await _connected(therapist, "relay", timeout_ms=bound)
            for page in (therapist, client):
                await _frames_advance(page)
            protocol = await client.get_by_test_id("connection-state").get_attribute(
                "data-relay-protocol"
            )
            assert protocol in ("tcp", "tls"), (protocol, client_stats)
            assert client_stats["relayProtocol"] == protocol, client_stats
            restarts = await client.evaluate("window.sprechzimmer.restarts")
            print(
                f"UDP blocked in B: connected automatically over TURN/{protocol} "
                f"(client restarts: {restarts}, therapist path: {therapist_stats})"
            )
            counters = topo.udp_drop_counters("B")
            dropped = [int(n) for n in re.findall(r"packets (\d+)", counters)]
            assert sum(dropped) > 0, counters  # the browser did try UDP, and it was dropped


async def test_compat_mode_click_moves_the_call_to_turn_tcp_or_tls(tmp_path: Path) -> None:
    """A relayed call with TURN/UDP at hand; the client presses compat-mode: TCP/TLS only.

    The call is up before the click, so the test shows that the control itself
    moves the media to TURN over TCP/TLS (the UDP-blocked test above shows that
    ICE gets there by itself when it must).
    """
    async with _world(tmp_path) as (topo, both):
        links = topo.links(THERAPIST, "K-compat")
        therapist, client = await _call(both, links)
        await _connected(client, "relay", timeout_ms=RECOVERY_S * 1000)
        # Before the click TURN/UDP is at hand for the client: its connection may
        # use any transport, and the relay answers it over UDP. Which pair ICE
        # chose first is its own affair, and so is whether the call's connection
        # shows a TURN/UDP candidate at all: Chromium stops gathering once ICE
        # connects, and under load the TURN/TCP allocation sometimes answered
        # and connected first, the UDP one still on its way (seen in CI, and here
        # under a busy core: no candidate and no error for it). So a connection
        # of its own gathers to the end; after the click no UDP is left at all.
        assert await client.evaluate("window.sprechzimmer.compatMode") is False
        probe = await client.evaluate(UDP_RELAY_PROBE)
        assert probe["policy"] == "all", probe
        assert "udp" in probe["relayProtocols"], f"no TURN/UDP candidate: {probe}"
        # The switch lives in the connection details, which the client opens.
        await client.get_by_test_id("details").locator("summary").click(timeout=WAIT_MS)
        compat = client.get_by_test_id("compat-mode")
        await compat.wait_for(state="visible", timeout=WAIT_MS)
        await compat.click(timeout=WAIT_MS)
        await client.wait_for_selector(
            '[data-testid="connection-state"][data-state="connected"][data-path="relay"]'
            ':is([data-relay-protocol="tcp"], [data-relay-protocol="tls"])',
            state="attached",
            timeout=RECOVERY_S * 1000,
        )
        assert await client.evaluate("window.sprechzimmer.compatMode") is True
        client_stats = await _connected(client, "relay")
        await _connected(therapist, "relay", timeout_ms=RECOVERY_S * 1000)
        for page in (therapist, client):
            await _frames_advance(page)
        assert client_stats["localType"] == "relay", client_stats
        assert client_stats["relayProtocol"] in ("tcp", "tls"), client_stats
        # The connection of compatibility mode gathered no TURN/UDP candidate.
        assert "udp" not in await client.evaluate(RELAY_PROTOCOLS)


async def test_relay_only_hides_each_sides_address_from_the_other(tmp_path: Path) -> None:
    """RELAY_ONLY=1 with a direct path open: no address of one side reaches the other."""
    async with _world(tmp_path, relay_only=True, forwarding=True) as (topo, both):
        # A direct path exists (T routes): only relay-only keeps the media on the relay.
        assert topo.reach("A", ADDR["B"], 9) == "refused"
        links = topo.links(THERAPIST, "K-hidden")
        to_therapist, to_client = Received(), Received()
        therapist, client = await _call(
            both, links, therapist_received=to_therapist, client_received=to_client
        )
        for page in (therapist, client):
            stats = await _connected(page, "relay")
            await _frames_advance(page)
            assert stats["path"] == "relay", stats
            assert stats["localType"] == "relay" and stats["remoteType"] == "relay", stats
        await asyncio.sleep(1)  # late trickled candidates, if any, arrive too

        for received, own, other in ((to_therapist, "A", "B"), (to_client, "B", "A")):
            admitted = received.of_type("admitted")
            assert admitted and all(m["ice_transport_policy"] == "relay" for m in admitted)
            sdps = received.of_type("offer") + received.of_type("answer")
            assert sdps, received.messages()  # there was something to leak, and it did not
            candidates = [m["candidate"] for m in received.of_type("candidate") if m["candidate"]]
            lines = [
                line
                for m in sdps
                for line in m["sdp"].splitlines()
                if line.startswith("a=candidate:")
            ]
            for candidate in candidates + [line.removeprefix("a=") for line in lines]:
                assert " typ relay" in candidate, candidate
            everything = "\n".join(received.raw)
            assert not _address(ADDR[other]).search(everything), (own, other)
        # The search itself works: the relay's address is in what the client received.
        assert _address(RELAY_IP).search("\n".join(to_client.raw))


@pytest.mark.parametrize("end", ["own", "relay"])
async def test_link_cut_recovers_by_ice_restart_and_billing_shows_the_gap(
    tmp_path: Path, end: End
) -> None:
    """A's link down 8 s in a relayed call: ICE restart, frames again, no reload, gap billed.

    ``own``: A's own interface goes down and up (the browser sees its network
    change); ``relay``: the far end of A's link, in T, does (a silent outage).
    """
    async with _world(tmp_path) as (topo, both):
        links = topo.links(THERAPIST, "K-cut")
        therapist, client = await _call(both, links)
        for page in (therapist, client):
            await _connected(page, "relay")
            await _frames_advance(page)
        for page in (therapist, client):
            await page.evaluate("() => { window.__szSamePage = true; }")
        _events_when(
            topo.server,
            links["session_id"],
            {("therapist", "media_connected"), ("client", "media_connected")},
        )

        await topo.cut_link("A", LINK_CUT_S, end)

        bound = RECOVERY_S * 1000
        for page in (therapist, client):
            await _connected(page, "relay", timeout_ms=bound)
            before = await page.evaluate(VIDEO_FRAMES)
            await _until(page, FRAMES_MORE_THAN, before, "frames after the link came back")
            assert await page.evaluate("window.__szSamePage === true")  # no reload
        restarts = {
            "therapist": await therapist.evaluate("window.sprechzimmer.restarts"),
            "client": await client.evaluate("window.sprechzimmer.restarts"),
        }
        seen = {
            "therapist": await therapist.evaluate("window.__szSeen"),
            "client": await client.evaluate("window.__szSeen"),
        }
        went_reconnecting = any("reconnecting" in entry for log in seen.values() for entry in log)
        assert max(restarts.values()) >= 1 or went_reconnecting, (restarts, seen)
        # The cut was felt where it happened: A's indicator left `connected` and came back.
        assert _left_connected_and_came_back(seen["therapist"]), seen

        # Billing shows the gap on both sides (neither got media during the cut).
        roles = ("therapist", "client")
        wanted = {(r, k) for r in roles for k in ("media_disconnected", "media_connected")}
        events: list[dict[str, str]] = []
        for _ in range(int(40 * TIME_SCALE)):
            events = _events_when(topo.server, links["session_id"], wanted)
            if all(_media_gap(events, role) for role in roles):
                break
            await asyncio.sleep(0.25)
        for role in roles:
            assert _media_gap(events, role), (role, events)
        print(f"cut at {end}: restarts {restarts}; status seen {json.dumps(seen)}")
