import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { withoutOrphanCodecLines } from '../../src/sprechzimmer/static/js/codeclines.js';

const fixture = (name) => readFileSync(new URL(`./fixtures/sdp/${name}.sdp`, import.meta.url), 'utf8');

/** Payload types named by per-codec attributes of each media section, and its formats. */
function sections(sdp) {
  const out = [];
  for (const line of sdp.split(/\r?\n/)) {
    if (line.startsWith('m=')) out.push({ formats: line.split(' ').slice(3), named: new Set() });
    const m = /^a=(?:rtpmap|fmtp|rtcp-fb):(\d+) /.exec(line);
    if (m && out.length) out[out.length - 1].named.add(m[1]);
  }
  return out;
}

test("Firefox's offer after setCodecPreferences names codecs its m= line left out", () => {
  const video = sections(fixture('firefox-153-offer-vp8-preferred'))[1];
  assert.deepEqual(video.formats, ['120', '124']);
  assert.ok([...video.named].some((pt) => !video.formats.includes(pt)), 'the fixture shows the orphan lines');
});

test('orphan codec lines go, every line of a listed codec stays, in order', () => {
  const sdp = fixture('firefox-153-offer-vp8-preferred');
  const cleaned = withoutOrphanCodecLines(sdp);
  for (const section of sections(cleaned)) {
    for (const pt of section.named) assert.ok(section.formats.includes(pt), `payload type ${pt} is listed`);
  }
  const kept = sdp.split('\r\n').filter((line) => !/^a=rtcp-fb:(121|99|123|122) /.test(line));
  assert.deepEqual(cleaned.split('\r\n'), kept);
  assert.match(cleaned, /^a=rtcp-fb:120 nack pli$/m);
  assert.match(cleaned, /^a=fmtp:124 apt=120$/m);
});

test('a description without orphans is returned as it was', () => {
  for (const name of ['chromium-156-offer', 'firefox-153-offer']) {
    const sdp = fixture(name);
    assert.equal(withoutOrphanCodecLines(sdp), sdp, name);
  }
});

test('session-level lines and other attributes are never touched', () => {
  const sdp = ['v=0', 'a=fmtp:1 x', 'm=audio 9 UDP/TLS/RTP/SAVPF 111', 'a=rtpmap:111 opus/48000/2', 'a=rtpmap:112 x/1', 'a=mid:0', ''].join('\n');
  assert.equal(withoutOrphanCodecLines(sdp), ['v=0', 'a=fmtp:1 x', 'm=audio 9 UDP/TLS/RTP/SAVPF 111', 'a=rtpmap:111 opus/48000/2', 'a=mid:0', ''].join('\n'));
});

test('the test switch corrupts the codec lists of what a page sends, and only when asked', async () => {
  const { parseNegotiationSwitches, corruptCodecList } = await import('../../src/sprechzimmer/static/js/negotiation-debug.js');
  assert.deepEqual(parseNegotiationSwitches(null), { corruptCodecs: false });
  assert.deepEqual(parseNegotiationSwitches('other, corrupt-codecs'), { corruptCodecs: true });
  const sdp = fixture('firefox-153-offer-vp8-preferred');
  const spoiled = corruptCodecList(sdp);
  assert.match(spoiled, /^m=audio 9 UDP\/TLS\/RTP\/SAVPF codecs-corrupted-by-test$/m);
  assert.match(spoiled, /^m=video 9 UDP\/TLS\/RTP\/SAVPF codecs-corrupted-by-test$/m);
  assert.equal(spoiled.split('\r\n').length, sdp.split('\r\n').length);
});

test('what fails for good: a refusal, not a race; an answer that turns media down', async () => {
  const { isRefusal, rejectsMedia } = await import('../../src/sprechzimmer/static/js/negotiation.js');
  const named = (name) => Object.assign(new Error('x'), { name });
  for (const name of ['OperationError', 'InvalidAccessError', 'SyntaxError', 'TypeError']) assert.ok(isRefusal(named(name)), name);
  // Glare and a closing connection are races the next round mends.
  for (const name of ['InvalidStateError', 'AbortError', 'Error']) assert.ok(!isRefusal(named(name)), name);
  assert.ok(isRefusal({ name: 'OperationError', message: 'a DOMException-like object' }));
  assert.ok(!isRefusal(null) && !isRefusal('OperationError'));
  const sdp = fixture('chromium-156-offer');
  assert.ok(!rejectsMedia(sdp));
  assert.ok(rejectsMedia(sdp.replace(/^m=video \d+ /m, 'm=video 0 ')));
  // A data section turned down is not media.
  assert.ok(!rejectsMedia(sdp.replace(/^m=application \d+ /m, 'm=application 0 ')));
});
