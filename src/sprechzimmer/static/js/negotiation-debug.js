// TEST HOOK for the negotiation-failure end-to-end test only: a browser whose
// descriptions the other side must refuse, as a browser with a broken codec
// list would send them. Read once at page load from sessionStorage key
// `sz-debug-sdp` ("corrupt-codecs"); unset, nothing changes. It spoils only
// what this page sends, never what it accepts, and never touches a key.

/**
 * @param {string | null} value the sessionStorage value
 * @returns {{corruptCodecs: boolean}}
 */
export function parseNegotiationSwitches(value) {
  const words = new Set((value ?? '').split(',').map((w) => w.trim()));
  return { corruptCodecs: words.has('corrupt-codecs') };
}

/**
 * The description with each audio and video section's format list replaced
 * by one that names no payload type: no browser can parse that.
 * @param {string} sdp
 * @returns {string}
 */
export function corruptCodecList(sdp) {
  return sdp.replace(/^(m=(?:audio|video) \d+ [A-Z/]+)( [^\r\n]*)$/gm, '$1 codecs-corrupted-by-test');
}
