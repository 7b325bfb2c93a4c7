import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mediaPath, inboundSummary, selectedCandidatePair, pathLabelKey } from '../../src/sprechzimmer/static/js/stats.js';

// Shaped like Chromium's getStats() (only the fields we read, and a few others).
const chromeRelay = [
  { id: 'T01', type: 'transport', selectedCandidatePairId: 'CPb', dtlsState: 'connected' },
  { id: 'CPa', type: 'candidate-pair', localCandidateId: 'Lhost', remoteCandidateId: 'Rhost', state: 'failed', nominated: false },
  { id: 'CPb', type: 'candidate-pair', localCandidateId: 'Lrelay', remoteCandidateId: 'Rsrflx', state: 'succeeded', nominated: true },
  { id: 'Lhost', type: 'local-candidate', candidateType: 'host', protocol: 'udp' },
  { id: 'Lrelay', type: 'local-candidate', candidateType: 'relay', protocol: 'udp', relayProtocol: 'tls' },
  { id: 'Rhost', type: 'remote-candidate', candidateType: 'host', protocol: 'udp' },
  { id: 'Rsrflx', type: 'remote-candidate', candidateType: 'srflx', protocol: 'udp' },
  { id: 'IV', type: 'inbound-rtp', kind: 'video', framesDecoded: 120, framesReceived: 123, packetsReceived: 400 },
  { id: 'IA', type: 'inbound-rtp', kind: 'audio', packetsReceived: 250 },
  { id: 'OV', type: 'outbound-rtp', kind: 'video', framesEncoded: 130 },
];

test('relay through our TURN allocation, with its protocol', () => {
  assert.deepEqual(mediaPath(chromeRelay), {
    path: 'relay',
    relayProtocol: 'tls',
    localType: 'relay',
    remoteType: 'srflx',
    localAddress: null,
    remoteAddress: null,
  });
});

test('direct path from host candidates', () => {
  const stats = chromeRelay.map((s) => (s.type === 'transport' ? { ...s, selectedCandidatePairId: 'CPa' } : s));
  assert.deepEqual(mediaPath(stats), {
    path: 'p2p',
    relayProtocol: null,
    localType: 'host',
    remoteType: 'host',
    localAddress: null,
    remoteAddress: null,
  });
});

test('relay on the remote side only counts as relay', () => {
  const stats = [
    { id: 'P', type: 'candidate-pair', localCandidateId: 'L', remoteCandidateId: 'R', state: 'succeeded', nominated: true },
    { id: 'L', type: 'local-candidate', candidateType: 'srflx', protocol: 'udp' },
    { id: 'R', type: 'remote-candidate', candidateType: 'relay', protocol: 'udp' },
  ];
  assert.equal(mediaPath(stats).path, 'relay');
  assert.equal(mediaPath(stats).relayProtocol, 'udp');
});

test('Firefox style: the pair marked selected', () => {
  const stats = [
    { id: 'P1', type: 'candidate-pair', localCandidateId: 'L', remoteCandidateId: 'R', state: 'succeeded', nominated: true, selected: false },
    { id: 'P2', type: 'candidate-pair', localCandidateId: 'L2', remoteCandidateId: 'R', state: 'succeeded', nominated: true, selected: true },
  ];
  assert.equal(selectedCandidatePair(stats)?.id, 'P2');
});

test('no pair yet: no path', () => {
  assert.equal(mediaPath([]).path, null);
});

test('inbound totals', () => {
  assert.deepEqual(inboundSummary(chromeRelay), { framesDecoded: 120, framesReceived: 123, audioPacketsReceived: 250 });
  assert.deepEqual(inboundSummary([]), { framesDecoded: 0, framesReceived: 0, audioPacketsReceived: 0 });
});

test('addresses of the selected pair', () => {
  const stats = chromeRelay.map((s) =>
    s.id === 'Lrelay' ? { ...s, address: '198.51.100.7', port: 50000 } : s.id === 'Rsrflx' ? { ...s, address: '203.0.113.9' } : s,
  );
  const info = mediaPath(stats);
  assert.equal(info.localAddress, '198.51.100.7');
  assert.equal(info.remoteAddress, '203.0.113.9');
  // Older browsers say ip, not address.
  const old = chromeRelay.map((s) => (s.id === 'Lrelay' ? { ...s, ip: '198.51.100.8' } : s));
  assert.equal(mediaPath(old).localAddress, '198.51.100.8');
  assert.equal(mediaPath(old).remoteAddress, null);
});

test('the words for a path', () => {
  assert.equal(pathLabelKey('p2p', null), 'conn.p2p');
  assert.equal(pathLabelKey('relay', 'udp'), 'conn.relayUdp');
  assert.equal(pathLabelKey('relay', 'tcp'), 'conn.relayTcp');
  assert.equal(pathLabelKey('relay', 'tls'), 'conn.relayTls');
  assert.equal(pathLabelKey('relay', null), 'conn.relay');
});
