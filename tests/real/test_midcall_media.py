"""What phones and laptops do mid-call (issue 13), in real Chromium.

A camera or microphone that ends by itself, a device switched during the
call, a browser that will not play sound without a click, a page sent to the
background and back. Each test holds a real call between two Chromium
contexts (``test_e2e_call.py``'s helpers) and checks what a person sees: the
other side's picture keeps moving, the connection is the same object, the
page says what happened.

How the tests make the browser do what a phone does:

- **A track that ends.** ``track.stop()`` ends a track but, by the spec, fires
  no ``ended`` event (that event is for ends the page did not cause). The
  fake device cannot be unplugged from outside, so the test stops the track
  and then dispatches ``ended`` on it: the page sees what it sees when a USB
  camera is pulled. (The background test uses ``stop()`` alone: a track that
  ended without telling, as a browser may do to a page in the background.)
- **Another camera.** ``--use-fake-device-for-media-stream=device-count=3``
  gives three fake cameras, plus two microphones and two speakers besides the
  defaults. Seen on Chromium 156: ``fake_device_1`` delivers 16-bit depth
  frames (Y16) that play in a local ``<video>`` but never arrive through a peer
  connection, so the switch goes to ``fake_device_2`` (MJPEG), which does.
- **Autoplay.** ``--autoplay-policy=document-user-activation-required`` and a
  page that gets no real click (its buttons are pressed by script, which is
  no user activation).
- **The background.** Headless Chromium keeps every page visible: no tab,
  window state or lifecycle call of the DevTools protocol makes it hidden
  (tried: ``Page.setWebLifecycleState``, a minimised window, a tab over it).
  So the page is told so the way the browser tells it: ``visibilityState``
  reads "hidden" and ``visibilitychange`` fires; then the media elements are
  paused and the camera stopped, as iOS does to a page in the background.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from harness.chromium import launch_chromium
from harness.joinform import fill_join_form_expression

from tests.real.test_e2e_call import (
    FRAMES_MORE_THAN,
    THERAPIST,
    VIDEO_FRAMES,
    WAIT_MS,
    _admit,
    _connected_p2p,
    _frames_advance,
    _join,
    _need_chromium,
    _open,
    _server,
    _start_call,
    _status,
    _until,
)

if TYPE_CHECKING:
    from playwright.async_api import BrowserContext, CDPSession, Page

pytestmark = [pytest.mark.netns, pytest.mark.browser]

MORE_DEVICES = "--use-fake-device-for-media-stream=device-count=3"
OTHER_CAMERA = "fake_device_2"
"""Not fake_device_1: see the module docstring."""

# Installed before the page's scripts: counts replaceTrack per kind, and lets
# the test make getUserMedia fail (a camera another program holds).
WATCH_MEDIA = """(() => {
  window.__szReplaced = [];
  const replace = RTCRtpSender.prototype.replaceTrack;
  RTCRtpSender.prototype.replaceTrack = function (track) {
    window.__szReplaced.push(track ? track.kind : null);
    return replace.call(this, track);
  };
  window.__szFailDevices = false;
  const md = navigator.mediaDevices;
  const gum = md.getUserMedia.bind(md);
  md.getUserMedia = (c) => window.__szFailDevices
    ? Promise.reject(new DOMException('Could not start video source', 'NotReadableError'))
    : gum(c);
})()"""

# A browser without speaker choice (Chrome and Firefox on Android).
NO_SINK_ID = "delete HTMLMediaElement.prototype.setSinkId"

# The track of a kind in our own preview (the stream the page sends).
LOCAL_TRACK = """(kind) => {
  const s = document.querySelector('[data-testid="local-video"]').srcObject;
  const t = s && (kind === 'video' ? s.getVideoTracks()[0] : s.getAudioTracks()[0]);
  if (!t) return null;
  return {id: t.id, state: t.readyState, enabled: t.enabled, device: t.getSettings().deviceId};
}"""

# What a pulled plug looks like to the page (see the module docstring).
END_TRACK = """(kind) => {
  const s = document.querySelector('[data-testid="local-video"]').srcObject;
  const t = kind === 'video' ? s.getVideoTracks()[0] : s.getAudioTracks()[0];
  t.stop();
  t.dispatchEvent(new Event('ended'));
  return t.id;
}"""

NEW_LIVE_TRACK = """([kind, oldId]) => {
  const s = document.querySelector('[data-testid="local-video"]').srcObject;
  const t = s && (kind === 'video' ? s.getVideoTracks()[0] : s.getAudioTracks()[0]);
  return !!t && t.id !== oldId && t.readyState === 'live';
}"""

# The sender of a kind carries the preview's live track (what is sent is what is shown).
SENDS_PREVIEW = """(kind) => {
  const s = document.querySelector('[data-testid="local-video"]').srcObject;
  const t = kind === 'video' ? s.getVideoTracks()[0] : s.getAudioTracks()[0];
  return window.sprechzimmer.pc.getSenders().some((x) => x.track === t && t.readyState === 'live');
}"""

AUDIO_PACKETS_MORE_THAN = (
    """async (n) => (await window.sprechzimmer.stats()).audioPacketsReceived > n"""
)

REMEMBER_PC = (
    "() => { window.__szPc = window.sprechzimmer.pc; return window.sprechzimmer.peerConnections; }"
)
SAME_PC = "() => window.sprechzimmer.pc === window.__szPc && window.__szPc !== null"

# Told as the browser tells it; the phone's part (paused media, a stopped
# camera without an event) is done by the test after this.
EMULATE_HIDDEN = """() => {
  Object.defineProperty(document, 'visibilityState', {value: 'hidden', configurable: true});
  Object.defineProperty(document, 'hidden', {value: true, configurable: true});
  document.dispatchEvent(new Event('visibilitychange'));
}"""
EMULATE_VISIBLE = """() => {
  delete document.visibilityState;
  delete document.hidden;
  document.dispatchEvent(new Event('visibilitychange'));
}"""


# For _quietly: expressions, not functions.
WAITING = "document.querySelector('[data-testid=\"call-status\"]').dataset.status === 'waiting'"
REMOTE_VIDEO = "document.querySelector('[data-testid=\"remote-video\"]')"

# A person who refused camera and microphone: nothing is captured.
DENY_DEVICES = """(() => {
  navigator.mediaDevices.getUserMedia = () =>
    Promise.reject(new DOMException('Permission denied', 'NotAllowedError'));
})()"""


def press(testid: str) -> str:
    """Click the button once it is shown and enabled (a script's click: no activation)."""
    return f"""(() => {{
  const b = document.querySelector('[data-testid="{testid}"]');
  if (!b || b.disabled || b.offsetParent === null) return false;
  b.click();
  return true;
}})()"""


SOUND_REFUSED = "!document.querySelector('[data-testid=\"start-sound\"]').hidden"


async def _quietly(cdp: CDPSession, expression: str, what: str = "") -> Any:
    """Evaluate ``expression`` in the page without giving it user activation.

    Playwright evaluates, clicks and even waits for selectors with a user
    gesture, which would allow sound: a page that must stay without one is
    read through the DevTools protocol (``userGesture`` false). With ``what``,
    poll until the expression is true (bounded by WAIT_MS); otherwise return
    its value once.
    """
    params = {
        "expression": expression,
        "returnByValue": True,
        "awaitPromise": True,
        "userGesture": False,
    }
    if not what:
        return (await cdp.send("Runtime.evaluate", params))["result"].get("value")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_MS / 1000
    while loop.time() < deadline:
        if (await cdp.send("Runtime.evaluate", params))["result"].get("value") is True:
            return True
        await asyncio.sleep(0.1)  # between two reads; the loop is bounded by the deadline
    pytest.fail(f"timed out waiting for {what}")


async def _more_frames(page: Page, frames: int, what: str) -> None:
    """The remote picture decodes ``frames`` more frames than now: it is live, not
    a few late ones of a track that has since stopped."""
    before: dict[str, Any] = await page.evaluate(VIDEO_FRAMES)
    target = {"decoded": before["decoded"] + frames, "total": before["total"] + frames}
    await _until(page, FRAMES_MORE_THAN, target, what)


async def _call(
    therapist_ctx: BrowserContext, client_ctx: BrowserContext, links: dict[str, str]
) -> tuple[Page, Page]:
    for ctx in (therapist_ctx, client_ctx):
        await ctx.add_init_script(script=WATCH_MEDIA)
    return await _start_call(therapist_ctx, client_ctx, links)


async def test_an_ended_track_is_got_again_on_the_same_connection(tmp_path: Path) -> None:
    """Camera and microphone end by themselves mid-call: new tracks go onto the
    same peer connection by replaceTrack, and the therapist keeps seeing and
    hearing; if the camera cannot be had again, the client is told and the
    toggle shows it off, and pressing it brings it back."""
    _need_chromium()
    with _server(tmp_path) as server:
        links = server.create_session(THERAPIST, "K-midcall-1")
        async with launch_chromium(server.ns, tmp_path, contexts=2) as chromium:
            therapist, client = await _call(*chromium.contexts, links)
            connections = await client.evaluate(REMEMBER_PC)

            for kind in ("video", "audio"):
                old = await client.evaluate(END_TRACK, kind)
                await _until(client, NEW_LIVE_TRACK, [kind, old], f"a new {kind} track")
                await _until(client, SENDS_PREVIEW, kind, f"the new {kind} track on the sender")
                assert kind in await client.evaluate("window.__szReplaced")
            assert await client.evaluate(SAME_PC)
            assert await client.evaluate("window.sprechzimmer.peerConnections") == connections
            await _more_frames(therapist, 20, "the therapist's picture moving after the swap")
            packets = (await therapist.evaluate("window.sprechzimmer.stats()"))[
                "audioPacketsReceived"
            ]
            await _until(therapist, AUDIO_PACKETS_MORE_THAN, packets + 50, "sound after the swap")
            assert await client.get_by_test_id("call-notice").is_hidden()

            # Another program holds the camera now: it cannot be had again.
            await client.evaluate("window.__szFailDevices = true")
            await client.evaluate(END_TRACK, "video")
            notice = client.locator('#call-notice[data-notice="midcall.cameraLost"]')
            await notice.wait_for(state="visible", timeout=WAIT_MS)
            assert "Kamera" in await notice.inner_text()
            camera = client.get_by_test_id("camera")
            await client.wait_for_selector(
                '[data-testid="camera"][data-off="true"]:not([disabled])', timeout=WAIT_MS
            )
            assert await camera.inner_text() == "Kamera einschalten"
            assert await client.evaluate(LOCAL_TRACK, "video") is None
            # The therapist reads it as a camera turned off, not a call gone wrong.
            await therapist.wait_for_selector(
                '[data-testid="remote-state"][data-camera="off"]', timeout=WAIT_MS
            )
            assert await therapist.evaluate("window.sprechzimmer.state") == "in-call"

            # The person freed the camera and turns it on.
            await client.evaluate("window.__szFailDevices = false")
            await camera.click(timeout=WAIT_MS)
            await client.wait_for_selector(
                '[data-testid="camera"][data-off="false"]', timeout=WAIT_MS
            )
            await _until(client, SENDS_PREVIEW, "video", "the camera on the sender again")
            assert await client.evaluate(SAME_PC)
            await _more_frames(therapist, 20, "the therapist's picture after the camera came back")
            await therapist.wait_for_selector(
                '[data-testid="remote-state"][data-camera="on"]', state="attached", timeout=WAIT_MS
            )


async def test_camera_microphone_and_speaker_are_switched_during_the_call(
    tmp_path: Path,
) -> None:
    """The device panel of the call switches camera and microphone in place
    (replaceTrack, same connection, picture keeps moving) and routes the other
    person's sound with setSinkId; without setSinkId there is no speaker choice."""
    _need_chromium()
    with _server(tmp_path) as server:
        links = server.create_session(THERAPIST, "K-midcall-2")
        async with launch_chromium(
            server.ns, tmp_path, contexts=2, extra_args=(MORE_DEVICES,)
        ) as chromium:
            therapist_ctx, client_ctx = chromium.contexts
            await therapist_ctx.add_init_script(script=NO_SINK_ID)
            therapist, client = await _call(therapist_ctx, client_ctx, links)
            await client.evaluate(REMEMBER_PC)

            await client.locator("#call-devices > summary").click(timeout=WAIT_MS)
            for kind, testid in (("video", "camera-select"), ("audio", "mic-select")):
                select = client.get_by_test_id(testid)
                await select.wait_for(state="visible", timeout=WAIT_MS)
                before = await client.evaluate(LOCAL_TRACK, kind)
                options = await select.evaluate(
                    "(s) => [...s.options].map((o) => ({value: o.value, label: o.label}))"
                )
                other = next(
                    o["value"]
                    for o in options
                    if o["value"] not in ("", "default", before["device"])
                    and (kind == "audio" or o["label"] == OTHER_CAMERA)
                )
                await select.select_option(other, timeout=WAIT_MS)
                await _until(client, NEW_LIVE_TRACK, [kind, before["id"]], f"the other {kind}")
                assert (await client.evaluate(LOCAL_TRACK, kind))["device"] == other
                await _until(client, SENDS_PREVIEW, kind, f"the chosen {kind} on the sender")
                assert kind in await client.evaluate("window.__szReplaced")
                assert await select.input_value() == other
            assert await client.evaluate(SAME_PC)
            await _more_frames(therapist, 20, "the therapist's picture from the other camera")
            await _connected_p2p(client)

            speaker = client.get_by_test_id("speaker-select")
            await speaker.wait_for(state="visible", timeout=WAIT_MS)
            outputs = await speaker.evaluate("(s) => [...s.options].map((o) => o.value)")
            chosen = next(v for v in outputs if v)
            await speaker.select_option(chosen, timeout=WAIT_MS)
            await _until(
                client,
                "(id) => document.querySelector('[data-testid=\"remote-video\"]').sinkId === id",
                chosen,
                "the other person's sound on the chosen speaker",
            )
            # No setSinkId (the therapist's page here): no speaker choice at all.
            await therapist.locator("#call-devices > summary").click(timeout=WAIT_MS)
            await therapist.get_by_test_id("camera-select").wait_for(
                state="visible", timeout=WAIT_MS
            )
            assert await therapist.get_by_test_id("speaker-select").is_hidden()
            assert await therapist.locator("#speaker-label").is_hidden()


async def test_sound_refused_by_autoplay_starts_with_one_button(tmp_path: Path) -> None:
    """A page that had no click and captures nothing cannot play sound: the
    picture plays muted and one button starts the sound, then goes away. The
    other page (it captures, and had clicks) never shows it.

    Seen on Chromium 156: a page that is capturing camera or microphone may
    play a MediaStream with sound without any gesture (as WebKit documents for
    itself), and headless Chromium refuses sound without a gesture already by
    default. So the page without sound here is a client who refused camera and
    microphone: on any engine, such a person is the one who meets this button.
    The flag makes the rule explicit, so that a change of Chromium's default
    does not quietly turn this test into one about nothing.
    """
    _need_chromium()
    with _server(tmp_path) as server:
        links = server.create_session(THERAPIST, "K-midcall-3")
        async with launch_chromium(
            server.ns,
            tmp_path,
            contexts=2,
            extra_args=("--autoplay-policy=document-user-activation-required",),
        ) as chromium:
            therapist_ctx, client_ctx = chromium.contexts
            await client_ctx.add_init_script(script=DENY_DEVICES)
            therapist = await _open(therapist_ctx, links["therapist_url"])
            await _join(therapist)
            await _status(therapist, "waiting")
            # The client's page gets no user activation: until the sound is
            # refused it is read, and its buttons pressed, only through _quietly.
            client = await _open(client_ctx, links["client_url"])
            quiet = await client_ctx.new_cdp_session(client)
            await _quietly(quiet, fill_join_form_expression(), "the client's name and consent")
            await _quietly(quiet, press("join"), "the client's join pressed")
            await _admit(therapist)
            await _quietly(quiet, SOUND_REFUSED, "the start-sound button")
            assert await _quietly(quiet, "navigator.userActivation.hasBeenActive") is False
            assert await _quietly(quiet, f"{REMOTE_VIDEO}.muted") is True

            # From here on Playwright may touch the page: the button is there.
            await _connected_p2p(client)
            await _frames_advance(client)  # the picture does not wait for the click
            button = client.get_by_test_id("start-sound")
            assert await client.locator('[data-testid="start-sound"]:visible').count() == 1
            assert await button.inner_text() == "Ton Ihres Gegenübers einschalten"

            await button.click(timeout=WAIT_MS)
            await button.wait_for(state="hidden", timeout=WAIT_MS)
            playing = await client.evaluate(
                f"(() => ({{muted: {REMOTE_VIDEO}.muted, paused: {REMOTE_VIDEO}.paused}}))()"
            )
            assert playing == {"muted": False, "paused": False}
            await _more_frames(client, 10, "the picture with sound")

            assert await therapist.get_by_test_id("start-sound").is_hidden()
            assert await therapist.evaluate(f"{REMOTE_VIDEO}.muted") is False


async def test_a_page_back_from_the_background_resumes(tmp_path: Path) -> None:
    """Hidden, the page's videos were paused and its camera stopped without an
    event (what iOS does); visible again, both videos play, the camera is got
    again on the same connection and the call is still in-call."""
    _need_chromium()
    with _server(tmp_path) as server:
        links = server.create_session(THERAPIST, "K-midcall-4")
        async with launch_chromium(server.ns, tmp_path, contexts=2) as chromium:
            therapist, client = await _call(*chromium.contexts, links)
            await client.evaluate(REMEMBER_PC)

            await client.evaluate(EMULATE_HIDDEN)
            old = await client.evaluate(
                """() => {
                  for (const v of document.querySelectorAll('video')) v.pause();
                  const t = document.querySelector('[data-testid="local-video"]')
                    .srcObject.getVideoTracks()[0];
                  t.stop();  // no 'ended': the page finds out when it looks
                  return t.id;
                }"""
            )
            await client.evaluate(EMULATE_VISIBLE)

            await _until(
                client,
                "() => [...document.querySelectorAll('video')].every((v) => !v.paused)",
                what="both videos playing again",
            )
            await _more_frames(client, 20, "the client's picture of the therapist moving again")
            await _until(client, NEW_LIVE_TRACK, ["video", old], "the camera got again")
            await _until(client, SENDS_PREVIEW, "video", "the camera on the sender again")
            await _more_frames(therapist, 20, "the therapist's picture of the client again")
            assert await client.evaluate(SAME_PC)
            for page in (therapist, client):
                assert await page.evaluate("window.sprechzimmer.state") == "in-call"
