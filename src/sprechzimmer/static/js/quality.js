// Until every caller imports from the module that says what it is, the four
// things "quality" used to name in one file, under their old names:
// sendladder.js (what our video may cost), peerreports.js (the browsers'
// quality channel), qualitysummary.js (the anonymous summary for the server),
// opus.js (FEC and DTX in the SDP).

export * from './sendladder.js';
export * from './peerreports.js';
export * from './qualitysummary.js';
export * from './opus.js';
