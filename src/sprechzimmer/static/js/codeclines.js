// Codec lines that belong to no codec of their media section. Pure text in,
// text out.
//
// Firefox (seen with ESR 153) keeps the `a=rtcp-fb` lines of every codec that
// `setCodecPreferences` removed: its offer lists `m=video ... 120 124` and
// still carries `a=rtcp-fb:121 nack`, `a=rtcp-fb:99 ...` and more. Chromium
// (seen with 156) refuses such a description as a whole ("Failed to parse
// codecs correctly"), so a Firefox therapist could not call a Chromium
// client. RFC 8866 (5.14) defines a media section's formats by its m= line;
// attributes for payload types not listed there describe nothing, and
// dropping them changes nothing that either browser negotiates.

/** Attributes that describe one payload type: `a=<name>:<pt> ...`. */
const PER_CODEC = /^a=(rtpmap|fmtp|rtcp-fb):(\d+)[\s]/;

/**
 * The description without codec attributes for payload types that are not
 * formats of their media section. Session-level lines and every other line
 * stay as they are, in order.
 * @param {string} sdp
 * @returns {string}
 */
export function withoutOrphanCodecLines(sdp) {
  const eol = sdp.includes('\r\n') ? '\r\n' : '\n';
  /** @type {Set<string> | null} null: session level, before any m= line */
  let formats = null;
  return sdp
    .split(eol)
    .filter((line) => {
      if (line.startsWith('m=')) {
        // m=<media> <port> <proto> <fmt> ...
        formats = new Set(line.split(' ').slice(3));
        return true;
      }
      const m = PER_CODEC.exec(line);
      return !m || formats === null || formats.has(m[2]);
    })
    .join(eol);
}
