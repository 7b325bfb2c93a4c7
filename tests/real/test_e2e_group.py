"""Group calls in real browsers (issue 16).

Three people in a mesh: the therapist in Chromium (namespace A), one client
in Chromium and one in Firefox ESR (both in B), through the real server with
group sessions on. Each browser connects to each other one; every member
encrypts under its own sender key, handed to the others over the pairs' data
channels (static/js/groupencryption.js). The checks: the therapist's waiting
list shows each knocking seat, one click admits both, frames decode on every
pair, nothing left a sender in the clear, and every screen shows the same
group code. Then a member leaves and comes back; the renewal tests feed
ciphertext one page captured to another page's keys (the test switch
"capture-frames", e2ee-debug.js).

Five people through the SFU (Janus in T, started as an operator configures
it): a mesh of three that the fourth admission moves to the SFU without
ending it, then a fifth; the same checks through the SFU, and a removal. Four
through the SFU whose server is killed and started again: the call goes on.
A group whose keys the schedule renews, in a mesh and through the SFU: no frame
that a receiver cannot open.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from harness.engines import (
    SAS_SHOWN,
    STATUS,
    ChromiumPage,
    Engine,
    EngineBrowser,
    EnginePage,
    engine_missing,
    open_browser,
    press_join,
)
from harness.firefox import WAIT_S, poll_until
from harness.janus import need_janus, running_janus
from harness.joinform import TEST_CLIENT_NAME
from harness.netns import netns_available, require_or_skip
from harness.server import CLI, TIME_SCALE
from harness.topology import T_ADDR, Side, Topology, diagnostics, topology

pytestmark = [pytest.mark.netns, pytest.mark.browser]

THERAPIST = "dr-group"
CLIENT_ID = "Gruppe-Di-18"
SAS_FORMAT = re.compile(r"^\d{3} \d{3}$")
GROUP_ON = {"SPRECHZIMMER_GROUP_SESSIONS": "1"}

WAITING_LIST = """() => {
  const list = document.querySelector('[data-testid="waiting-list"]');
  if (!list || list.hidden) return [];
  return [...list.querySelectorAll('li[data-seat]')].map((li) => Number(li.dataset.seat));
}"""
# Every link of the page connected, to exactly these seats.
LINKS_UP = """(seats) => {
  const g = window.sprechzimmer.group;
  if (!g) return null;
  const up = g.peers.filter((p) => p.state === 'connected').map((p) => p.seat);
  const all = g.peers.length === seats.length;
  return all && JSON.stringify(up) === JSON.stringify(seats) ? up : null;
}"""
GROUP = """() => {
  const g = window.sprechzimmer.group;
  return g && {state: g.e2eeState, epoch: g.epoch, sendKid: g.sendKid, sas: g.sas,
               members: g.members, receiveKids: g.receiveKids};
}"""
# Frames decoded on the link from `seat`, read from that link's inbound RTP.
DECODED = "async (seat) => (await window.sprechzimmer.group.stats(seat)).framesDecoded"
MORE_DECODED = f"""async ([seat, before]) => {{
  const now = await ({DECODED})(seat);
  return now > before ? now : null;
}}"""
COUNTERS = "async () => await window.sprechzimmer.group.counters()"
# Sending under our key of a newer epoch than `epoch`.
RENEWED = f"""([epoch, seat]) => {{
  const g = ({GROUP})();
  return g && g.epoch > epoch && g.sendKid === g.epoch * 16 + seat ? g : null;
}}"""
TILE = '[data-testid="tile"][data-seat="{seat}"]'
CAPTURE_FRAMES = "try { sessionStorage.setItem('sz-debug-e2ee', 'capture-frames'); } catch (e) {}"
"""The test switch that keeps ciphertext frames and a finished call's keys (e2ee-debug.js)."""
CAPTURED = """async (kid) => {
  const frames = await window.sprechzimmer.group.captured();
  return frames.filter((f) => f.kid === kid && f.kind === 'video').pop() ?? null;
}"""
TRY_OPEN = "async (frame) => await window.sprechzimmer.group.tryOpen(frame)"
# The group's screen without scrolling: every tile whole in the viewport, none over
# another, none tiny, and the hang-up button in reach.
LAYOUT = """() => {
  const rects = [...document.querySelectorAll('[data-testid="tile"]')]
    .map((t) => t.getBoundingClientRect());
  const inside = (r) => r.left >= 0 && r.top >= 0
    && r.right <= innerWidth + 0.5 && r.bottom <= innerHeight + 0.5;
  const apart = (a, b) => a.right <= b.left + 0.5 || b.right <= a.left + 0.5
    || a.bottom <= b.top + 0.5 || b.bottom <= a.top + 0.5;
  const hangup = document.querySelector('[data-testid="hangup"]').getBoundingClientRect();
  return {
    tiles: rects.length,
    inside: rects.every(inside),
    apart: rects.every((a, i) => rects.every((b, j) => i === j || apart(a, b))),
    smallest: Math.min(...rects.map((r) => Math.min(r.width, r.height))),
    scrolls: document.scrollingElement.scrollHeight > innerHeight + 1,
    hangup: inside(hangup) && hangup.width > 0,
  };
}"""
PHONE = (390, 844)
DESKTOP = (1280, 800)
TILES = """() => [...document.querySelectorAll('[data-testid="tile"]')].map((t) => ({
  seat: Number(t.dataset.seat),
  name: t.querySelector('[data-testid="tile-name"]').textContent,
  shown: t.offsetWidth > 0 && t.offsetHeight > 0,
}))"""


@dataclass
class Member:
    seat: int
    page: EnginePage
    browser: EngineBrowser


@dataclass
class Group:
    members: list[Member]
    """Those in the call now."""

    def __post_init__(self) -> None:
        self.everyone = list(self.members)

    def others(self, me: Member) -> list[int]:
        return sorted(m.seat for m in self.members if m is not me)

    def console(self) -> str:
        parts = []
        for m in self.everyone:
            lines = "\n".join(m.browser.console()[-40:])
            parts.append(f"--- seat {m.seat} console (end) ---\n{lines}")
        return "\n".join(parts)


def _need(*engines: Engine) -> None:
    for reason in (netns_available(), engine_missing(*engines)):
        if reason:
            require_or_skip(reason)


async def _join(page: EnginePage, name: str = TEST_CLIENT_NAME) -> None:
    await press_join(page, name)
    await page.until(f"() => ({STATUS})() === 'waiting'", what="the page waiting")


@contextlib.asynccontextmanager
async def _group(
    topo: Topology,
    clients: list[tuple[Engine, str]],
    *,
    admit_all: bool = True,
    therapist_side: Side = "A",
    scripts: dict[int, str] | None = None,
) -> AsyncIterator[Group]:
    """The therapist (Chromium, in ``therapist_side``) and a client per entry (its engine
    and name, in B), all knocking; with ``admit_all``, admitted with one click on the
    waiting list."""
    topo.server.add_therapist(THERAPIST)
    made = topo.server.create_group_session(THERAPIST, CLIENT_ID, len(clients))
    async with contextlib.AsyncExitStack() as stack:
        in_a = await stack.enter_async_context(open_browser("chromium", topo, therapist_side))
        members = [Member(0, await in_a.new_page(), in_a)]
        for seat, (engine, _) in enumerate(clients, start=1):
            browser = await stack.enter_async_context(open_browser(engine, topo, "B"))
            members.append(Member(seat, await browser.new_page(), browser))
        for member in members:
            await member.page.add_init_script(CAPTURE_FRAMES)
            if scripts and member.seat in scripts:
                await member.page.add_init_script(scripts[member.seat])
        group = Group(members)
        try:
            await members[0].page.goto(topo.url_for(made["therapist_url"], therapist_side))
            await _join(members[0].page)
            urls = made["client_urls"]
            for member, url, (_, name) in zip(members[1:], urls, clients, strict=True):
                await member.page.goto(topo.url_for(url, "B"))
                await _join(member.page, name)
            seats = [m.seat for m in members[1:]]
            waiting = await members[0].page.until(
                f"() => JSON.stringify(({WAITING_LIST})()) === '{seats}'.replaceAll(' ', '')"
                f" ? ({WAITING_LIST})() : null",
                what="every seat in the waiting list",
            )
            assert waiting == seats
            if admit_all:
                await members[0].page.click('[data-testid="admit-all"]')
            yield group
        except BaseException as error:
            raise AssertionError(f"{error}\n{group.console()}\n{diagnostics(topo)}") from error


async def _decoding_on_every_pair(group: Group) -> None:
    for me in group.members:
        for seat in group.others(me):
            what = f"frames from seat {seat} at seat {me.seat}"
            first = await me.page.until(MORE_DECODED, [seat, 0], what)
            await me.page.until(MORE_DECODED, [seat, first], f"more {what}")


async def _one_code(group: Group) -> str:
    codes = {m.seat: await m.page.until(SAS_SHOWN, what="the group code") for m in group.members}
    assert len(set(codes.values())) == 1, codes
    code = str(codes[0])
    assert SAS_FORMAT.match(code), codes
    for m in group.members:
        assert (await m.page.evaluate(GROUP))["sas"] == code
    return code


async def _nothing_in_clear(group: Group) -> dict[int, Any]:
    seen = {}
    for m in group.members:
        # Every sender and receiver of the page's connections carries the transform,
        # which never passes a frame in the clear (fail closed, no passthrough below).
        assert await m.page.evaluate("() => window.sprechzimmer.group.allTransformed"), m.seat
        counters = await m.page.evaluate(COUNTERS)
        assert counters["passthrough"] == 0, (m.seat, counters)
        assert counters["decryptFailures"] == 0, (m.seat, counters)
        for kind in ("audio", "video"):
            assert counters["encrypted"][kind] > 0, (m.seat, counters)
            assert counters["decrypted"][kind] > 0, (m.seat, counters)
        seen[m.seat] = counters
    return seen


async def _all_up(group: Group) -> None:
    for me in group.members:
        await me.page.until(LINKS_UP, group.others(me), f"seat {me.seat}'s links up")
        await me.page.until(
            "() => window.sprechzimmer.group.e2eeState === 'active'",
            what=f"the group's keys at seat {me.seat}",
        )


async def _keys_of_one_epoch(group: Group) -> int:
    """Each page sends under its key of the same epoch and holds each other member's."""
    epochs = set()
    seats = sorted(m.seat for m in group.members)
    for me in group.members:
        g = await me.page.evaluate(GROUP)
        epochs.add(g["epoch"])
        assert g["members"] == seats, g
        assert sorted({kid % 16 for kid in g["receiveKids"]}) == group.others(me), g
        assert g["sendKid"] == g["epoch"] * 16 + me.seat, g
    assert len(epochs) == 1, epochs
    return int(epochs.pop())


async def _captured(page: EnginePage, kid: int) -> dict[str, Any]:
    """A video frame this page opened under ``kid``, as it came (ciphertext)."""
    frame: dict[str, Any] = await page.until(CAPTURED, kid, f"a captured frame of KID {kid}")
    return frame


async def test_three_people_meet_in_a_mesh_with_a_firefox_member(tmp_path: Path) -> None:
    """The therapist and two clients (Chromium, Firefox): a link per pair, frames decode on
    each, every member's sender key installed everywhere, one code on all screens, the
    tiles named; the therapist's request to mute, accepted. Then the Firefox member
    leaves: the two who stay renew (a new epoch, its keys gone at once), and its old keys
    open a frame from before but none after. It comes back and is admitted mid-call: all
    three on new keys, and its new keys open nothing from before it joined. The
    therapist's hang-up ends the call for both clients."""
    _need("chromium", "firefox")
    with topology(tmp_path, forwarding=True, extra_env=GROUP_ON) as topo:
        clients: list[tuple[Engine, str]] = [("chromium", "Anna"), ("firefox", "Ben")]
        async with _group(topo, clients) as group:
            therapist, anna, ben = group.members
            await _all_up(group)
            await _decoding_on_every_pair(group)
            code = await _one_code(group)
            await _nothing_in_clear(group)
            epoch = await _keys_of_one_epoch(group)
            # The tiles: one per other member, with the name each client gave.
            tiles = await therapist.page.evaluate(TILES)
            assert [(t["seat"], t["name"], t["shown"]) for t in tiles] == [
                (1, "Anna", True),
                (2, "Ben", True),
            ]

            # Anna's screen, on a phone and on a desktop: the grid fits without scrolling.
            # Waited for as a whole: right after the resize (and while a line above the
            # stage comes or goes) the grid is laid out for the space of a moment before
            # (CI once read tiles of 113 px at 390x844 in such a moment).
            assert isinstance(anna.page, ChromiumPage)
            for width, height in (PHONE, DESKTOP):
                await anna.page.page.set_viewport_size({"width": width, "height": height})
                laid_out = (
                    f"() => {{ const l = ({LAYOUT})(); return l.inside && !l.scrolls"
                    " && l.tiles === 2 && l.apart && l.hangup && l.smallest >= 120; }"
                )
                fitted = await poll_until(anna.page.evaluate, laid_out, None, WAIT_S)
                layout = await anna.page.evaluate(LAYOUT)
                assert fitted, (width, height, layout)

            # Who speaks shows on the tiles (the fake microphones beep).
            await therapist.page.until(
                '() => !!document.querySelector(\'[data-testid="tile"][data-speaking="true"]\')',
                what="a speaking member highlighted",
            )

            # The therapist asks Anna to mute; her page asks her; she agrees.
            await therapist.page.click(f'{TILE.format(seat=1)} [data-testid="ask-mute"]')
            await anna.page.click('[data-testid="mute-accept"]')
            for me in (therapist, ben):
                await me.page.until(
                    f"() => document.querySelector('{TILE.format(seat=1)}')"
                    "?.dataset.microphone === 'off'",
                    what=f"Anna's microphone off on seat {me.seat}'s tile",
                )

            # Ben leaves; the two who stay renew and go on without him.
            before = await _captured(anna.page, epoch * 16 + 0)
            await ben.page.click('[data-testid="hangup"]')
            await ben.page.click('[data-testid="hangup-confirm"]')
            group.members = [therapist, anna]
            for me in group.members:
                g = await me.page.until(RENEWED, [epoch, me.seat], f"new keys at seat {me.seat}")
                assert g["members"] == [0, 1]
                # Ben's keys are gone at once: nothing of his is read any more.
                assert all(kid % 16 != 2 for kid in g["receiveKids"]), g
            await _decoding_on_every_pair(group)
            renewed = await _keys_of_one_epoch(group)
            assert await _one_code(group) != code  # the code covers the members' keys
            after = await _captured(anna.page, renewed * 16 + 0)
            # Ben's old keys (kept by the test switch) open the therapist's frame from
            # before he left, and not one from after: that key never reached him.
            assert await ben.page.evaluate(TRY_OPEN, before) == {"ok": True, "error": None}
            assert await ben.page.evaluate(TRY_OPEN, after) == {"ok": False, "error": "unknown-key"}

            # Ben comes back with his link and is admitted mid-call.
            await ben.page.click("#rejoin")  # the page starts over with the same link
            # Its scripts have run (the handle is there): the join button it shows is live.
            await ben.page.until(
                f"() => !!window.sprechzimmer && ({STATUS})() === 'device-check'", what="Ben back"
            )
            await _join(ben.page, "Ben")
            await therapist.page.until(
                f"() => JSON.stringify(({WAITING_LIST})()) === '[2]'", what="Ben knocking"
            )
            await therapist.page.click('[data-testid="admit-seat"]')
            group.members = [therapist, anna, ben]
            await _all_up(group)
            await _decoding_on_every_pair(group)
            joined = await _keys_of_one_epoch(group)
            assert joined > renewed
            await _one_code(group)
            # His new keys open what is sent now, and nothing from before he joined.
            now = await _captured(anna.page, joined * 16 + 0)
            assert await ben.page.evaluate(TRY_OPEN, now) == {"ok": True, "error": None}
            for earlier in (before, after):
                opened = await ben.page.evaluate(TRY_OPEN, earlier)
                assert opened == {"ok": False, "error": "unknown-key"}

            # The therapist hangs up: the call ends for both clients, not just her link.
            await therapist.page.click('[data-testid="hangup"]')
            await therapist.page.click('[data-testid="hangup-confirm"]')
            for me in (anna, ben):
                await me.page.until(
                    f"() => window.sprechzimmer.group.peers.length === 0"
                    f" && ({STATUS})() !== 'in-call'",
                    what=f"the call over at seat {me.seat}",
                )


SFU_SECRET = "sfu-" + "k" * 40
"""The SFU's secret for the SFU test: the server and the Janus configuration share it."""
TIMER = """() => {
  const el = document.querySelector('[data-testid="call-timer"]');
  if (!el || el.hidden) return null;
  return el.textContent.split(':').reduce((total, part) => total * 60 + Number(part), 0);
}"""


@contextlib.contextmanager
def _janus(topo: Topology, tmp_path: Path) -> Iterator[None]:
    """Janus in T next to the server, configured as an operator does (``sfu-config``),
    its media on T's address towards B, where every browser of the test is: Janus
    answers on the interface of its media address only, as an SFU on its public
    address does (from A, through T's other interface, no answer would come back)."""
    need_janus()
    folder = tmp_path / "janus"
    env = {
        **os.environ,
        "SPRECHZIMMER_SFU_SECRET": SFU_SECRET,
        "SPRECHZIMMER_DATA_DIR": str(tmp_path / "cli-data"),
        "SPRECHZIMMER_PUBLIC_URL": "https://praxis.example",
    }
    argv = [*CLI, "sfu-config", str(folder), "--ice-ip", T_ADDR["B"], "--rtp-ports", "30000-30199"]
    subprocess.run(argv, env=env, check=True, timeout=60, capture_output=True)
    with running_janus(topo.t, folder, tmp_path / "janus.log"):
        yield


@contextlib.contextmanager
def _with_sfu(tmp_path: Path, extra_env: dict[str, str] | None = None) -> Iterator[Topology]:
    """The topology with group sessions on and Janus in T."""
    env = {**GROUP_ON, "SPRECHZIMMER_SFU_SECRET": SFU_SECRET, **(extra_env or {})}
    with topology(tmp_path, forwarding=True, extra_env=env) as topo, _janus(topo, tmp_path):
        yield topo


THREE_IN_CHROMIUM: list[tuple[Engine, str]] = [
    ("chromium", "Anna"),
    ("chromium", "Ben"),
    ("chromium", "Cem"),
]


async def _admit(therapist: Member, seat: int) -> None:
    await therapist.page.click(
        f'[data-testid="waiting-list"] li[data-seat="{seat}"] [data-testid="admit-seat"]'
    )


async def _on_path(group: Group, path: str) -> None:
    for me in group.members:
        await me.page.until(
            "(path) => window.sprechzimmer.group?.path === path",
            path,
            f"the {path} path at seat {me.seat}",
        )


async def test_five_people_through_the_sfu_after_a_mesh_of_three(tmp_path: Path) -> None:
    """A mesh of three (the therapist, Anna, Ben); the fourth admission moves the call
    to the SFU without ending it for the first three (no one left, their call timers go
    on); a fifth joins. Through Janus: every member decodes every other one, each
    sender's key installed everywhere, one code on all screens, every sender and
    receiver behind the frame encryption and nothing passed in the clear, a Firefox
    member among them. The therapist removes that member: the four renew and go on."""
    _need("chromium", "firefox")
    need_janus()
    with _with_sfu(tmp_path) as topo:
        clients = [*THREE_IN_CHROMIUM, ("firefox", "Dora")]
        async with _group(topo, clients, admit_all=False, therapist_side="B") as group:
            therapist, anna, ben, cem, dora = group.everyone
            await _admit(therapist, 1)
            await _admit(therapist, 2)
            group.members = [therapist, anna, ben]
            await _on_path(group, "mesh")
            await _all_up(group)
            await _decoding_on_every_pair(group)
            timers = {
                m.seat: await m.page.until(TIMER, what="the call timer") for m in group.members
            }

            # The fourth person: everyone starts again through the SFU; nobody left.
            await _admit(therapist, 3)
            group.members = [therapist, anna, ben, cem]
            await _on_path(group, "sfu")
            await _all_up(group)
            await _decoding_on_every_pair(group)
            for me in group.members[:3]:
                assert await me.page.evaluate(f"() => ({STATUS})()") == "in-call"
                assert await me.page.evaluate(TIMER) >= timers[me.seat], "the call went on"

            # The fifth, in Firefox.
            await _admit(therapist, 4)
            group.members = [therapist, anna, ben, cem, dora]
            await _on_path(group, "sfu")
            await _all_up(group)
            await _decoding_on_every_pair(group)
            await _one_code(group)
            await _nothing_in_clear(group)
            await _keys_of_one_epoch(group)
            for me in group.members:
                # Our media goes up once, to the SFU: one publication, one link per other.
                assert (
                    await me.page.evaluate(
                        "() => window.sprechzimmer.group.publisher?.connectionState"
                    )
                    == "connected"
                )

            # The therapist removes Dora (two steps): her page says so, her session at the
            # SFU ends, the four who stay renew their keys and go on through the SFU.
            epoch = await _keys_of_one_epoch(group)
            remove = f'{TILE.format(seat=4)} [data-testid="remove-member"]'
            await therapist.page.click(remove)
            await therapist.page.click(remove)
            await dora.page.until(f"() => ({STATUS})() === 'declined'", what="Dora sent out")
            group.members = [therapist, anna, ben, cem]
            for me in group.members:
                await me.page.until(RENEWED, [epoch, me.seat], f"new keys at seat {me.seat}")
                await me.page.until(
                    f"() => JSON.stringify(({TILES})().map((t) => t.seat))"
                    f" === JSON.stringify({group.others(me)})",
                    what=f"Dora's tile gone at seat {me.seat}",
                )
            await _decoding_on_every_pair(group)
            await _keys_of_one_epoch(group)


TAG_PUBLISHER = "() => { window.sprechzimmer.group.publisher.__szTag = 'before'; return true; }"
NEW_PUBLISHER = """() => {
  const pc = window.sprechzimmer.group?.publisher;
  return pc && pc.__szTag === undefined && pc.connectionState === 'connected';
}"""
JANUS_SESSION_TIMEOUT_S = 60
"""``session_timeout`` of the configuration ``sfu-config`` writes: the SFU drops a session
this long after the last keepalive of the process that made it."""


async def test_a_call_through_the_sfu_outlives_a_restart_of_the_server(tmp_path: Path) -> None:
    """Four people through Janus; the server is killed (SIGKILL) and started again. Its
    sessions at the SFU went with the process (nobody keeps them alive, Janus drops them
    after a minute), so the rebuilt room starts the call anew through the new process
    once everyone is back: every page publishes again, and a minute after the kill,
    when the old sessions are gone, every pair still decodes under one code, in a
    later key epoch, nothing in the clear."""
    _need("chromium")
    need_janus()
    with _with_sfu(tmp_path) as topo:
        async with _group(topo, THREE_IN_CHROMIUM, therapist_side="B") as group:
            await _on_path(group, "sfu")
            await _all_up(group)
            await _decoding_on_every_pair(group)
            epoch = await _keys_of_one_epoch(group)
            for me in group.members:
                assert await me.page.evaluate(TAG_PUBLISHER)

            topo.server.kill(signal.SIGKILL)
            killed = time.monotonic()
            topo.server.start()
            for me in group.members:
                await me.page.until(
                    NEW_PUBLISHER, what=f"seat {me.seat} publishing through the new process"
                )
            await _on_path(group, "sfu")
            await _all_up(group)
            # Past the moment the SFU dropped the old process's sessions.
            await asyncio.sleep(max(0.0, killed + JANUS_SESSION_TIMEOUT_S + 5 - time.monotonic()))
            await _decoding_on_every_pair(group)
            assert await _keys_of_one_epoch(group) > epoch
            await _one_code(group)
            await _nothing_in_clear(group)
            for me in group.members:
                assert await me.page.evaluate(f"() => ({STATUS})()") == "in-call"


RENEWAL_S = 15
"""The schedule's interval in the renewal test (10 minutes in a real call): longer than
the keyring's ACK_TIMEOUT_MS and GRACE_MS, as the real one is."""
COMPAT_SWITCH_HIDDEN = "() => document.getElementById('compat-box').hidden"
EPOCH_AT_LEAST = f"""([epoch, seat]) => {{
  const g = ({GROUP})();
  return g && g.epoch >= epoch && g.sendKid === g.epoch * 16 + seat ? g.epoch : null;
}}"""


@pytest.mark.parametrize("path", ["mesh", "sfu"])
async def test_a_group_renews_its_keys_on_the_schedule_without_a_glitch(
    tmp_path: Path, path: str
) -> None:
    """Nobody joins or leaves; the schedule renews the keys twice. Every page sends
    under each new epoch's key, not one frame arrives that its receiver cannot open
    (none dropped for want of a key, none failed, none in the clear), every pair
    goes on decoding, and the group code stays the one the members compared: it
    covers their keys for the call, not the frame keys. In a mesh the new keys go
    over the pairs' data channels; through the SFU, sealed, through our server."""
    _need("chromium")
    env = {"SPRECHZIMMER_REKEY_INTERVAL": str(RENEWAL_S)}
    with contextlib.ExitStack() as stack:
        if path == "sfu":
            need_janus()
            topo = stack.enter_context(_with_sfu(tmp_path, env))
            clients, side = THREE_IN_CHROMIUM, "B"
        else:
            topo = stack.enter_context(
                topology(tmp_path, forwarding=True, extra_env={**GROUP_ON, **env})
            )
            clients, side = THREE_IN_CHROMIUM[:2], "A"
        async with _group(topo, clients, therapist_side=side) as group:
            await _on_path(group, path)
            await _all_up(group)
            await _decoding_on_every_pair(group)
            code = await _one_code(group)
            # Each page's own epoch: a renewal may be under way while we look.
            base = {m.seat: await m.page.evaluate(COUNTERS) for m in group.members}
            epochs = [(await m.page.evaluate(GROUP))["epoch"] for m in group.members]
            target = max(epochs) + 2
            for me in group.members:
                await me.page.until(
                    EPOCH_AT_LEAST,
                    [target, me.seat],
                    f"epoch {target} at seat {me.seat}",
                    within=3 * RENEWAL_S * TIME_SCALE,
                )
            await _decoding_on_every_pair(group)
            assert await _one_code(group) == code
            counters = await _nothing_in_clear(group)
            for me in group.members:
                seen = counters[me.seat]
                for name in ("droppedNoKey", "sendDroppedNoKey"):
                    assert seen[name] == base[me.seat][name], (me.seat, name, base, seen)
                assert await me.page.evaluate(f"() => ({STATUS})()") == "in-call"
                # A group's links are built without compatibility mode: no switch that
                # would only say "on" (their ICE falls back to TURN/TCP by itself).
                assert await me.page.evaluate(COMPAT_SWITCH_HIDDEN), me.seat


NO_TRANSFORMS = """try {
  delete window.RTCRtpScriptTransform;
  delete RTCRtpSender.prototype.createEncodedStreams;
  delete RTCRtpReceiver.prototype.createEncodedStreams;
} catch (e) {}"""
"""A browser that cannot transform encoded frames (an old one), made so before the page."""


async def test_a_member_whose_browser_cannot_encrypt_frames_sends_nothing(tmp_path: Path) -> None:
    """Fail closed in a group: Ben's browser has no encoded transforms, so his page makes
    no connection at all (a group has no unencrypted fallback; on the SFU path the SFU
    would see his picture) and says why; the therapist and Anna meet without him."""
    _need("chromium")
    with topology(tmp_path, forwarding=True, extra_env=GROUP_ON) as topo:
        clients: list[tuple[Engine, str]] = [("chromium", "Anna"), ("chromium", "Ben")]
        async with _group(topo, clients, scripts={2: NO_TRANSFORMS}) as group:
            therapist, anna, ben = group.everyone
            shown = await ben.page.until(
                "() => document.querySelector('[data-testid=\"e2ee-state\"]')"
                "?.dataset.state === 'unsupported' ? window.sprechzimmer.group : null",
                what="Ben's page saying it cannot encrypt",
            )
            assert shown["made"] == 0 and shown["peers"] == [], shown
            assert await ben.page.evaluate(f"() => ({STATUS})()") == "error"
            group.members = [therapist, anna]
            await _decoding_on_every_pair(group)
            for me in group.members:
                link = "(seat) => window.sprechzimmer.group.pc(seat)?.connectionState ?? null"
                assert await me.page.evaluate(link, 2) != "connected"
