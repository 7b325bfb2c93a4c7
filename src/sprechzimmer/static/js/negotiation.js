// What makes a negotiation between the two browsers fail for good, so that
// the page says so instead of retrying (docs/protocol.md, *When the browsers
// cannot agree*). Pure: errors and text in, a verdict out.

/**
 * Whether a browser's error refuses a description as such: a parse error
 * or a description it cannot apply. An InvalidStateError is a race (glare,
 * a connection closing) that the next round mends, and is not one.
 * @param {unknown} err
 * @returns {boolean}
 */
export function isRefusal(err) {
  const name = err instanceof Error || (typeof err === 'object' && err !== null && 'name' in err) ? String(/** @type {{name: unknown}} */ (err).name) : '';
  return name === 'OperationError' || name === 'InvalidAccessError' || name === 'SyntaxError' || name === 'TypeError';
}

/**
 * Whether a description turns an audio or video section down (port 0 on its
 * m= line): in an answer, the other browser has no codec of that offer.
 * @param {string} sdp
 * @returns {boolean}
 */
export function rejectsMedia(sdp) {
  return /^m=(?:audio|video) 0 /m.test(sdp);
}
