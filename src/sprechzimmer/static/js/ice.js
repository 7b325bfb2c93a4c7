// Which ICE servers and which transport policy a peer connection gets.
//
// The servers come only from the server (`admitted.ice_servers`, or
// `welcome.ice_servers` of a seat taken back during a call); this module only
// ever narrows that list, it never adds a server. In particular never a public
// STUN server. Before a call the page knows only which relay URLs the server
// offers (`welcome.relay_urls`, no credentials): enough to tell whether
// relay-only and compatibility mode could work (`offersRelay`, `offersCompat`),
// never a server for a peer connection.
//
// Compatibility mode is for networks that block UDP (some clinics, hotels,
// company networks): relay-only, through TURN over TCP or TLS, which looks
// like any other web traffic to a firewall. Pure module: no DOM, no
// RTCPeerConnection, so node can test it.

/** @typedef {import('./protocol.js').IceServer} IceServer */
/** @typedef {import('./protocol.js').IceTransportPolicy} IceTransportPolicy */

/**
 * @typedef {object} IceSettings what the server gave for the current call
 * @property {IceServer[]} servers
 * @property {IceTransportPolicy} policy
 */

/**
 * @typedef {object} IceConfiguration the ICE part of an RTCConfiguration
 * @property {RTCIceServer[]} iceServers
 * @property {IceTransportPolicy} iceTransportPolicy
 */

/** @param {string} url */
function scheme(url) {
  const colon = url.indexOf(':');
  return colon < 0 ? '' : url.slice(0, colon).toLowerCase();
}

/**
 * The `transport` parameter of a TURN URL (RFC 7065), lower case, or null.
 * @param {string} url
 * @returns {string | null}
 */
function transportOf(url) {
  const query = url.indexOf('?');
  if (query < 0) return null;
  for (const part of url.slice(query + 1).split('&')) {
    const [key, value = ''] = part.split('=');
    if (key.toLowerCase() === 'transport') return value.toLowerCase();
  }
  return null;
}

/**
 * Whether a URL is a TURN server at all (`turn:` or `turns:`).
 * @param {string} url
 */
export function isTurnUrl(url) {
  const s = scheme(url);
  return s === 'turn' || s === 'turns';
}

/**
 * Whether a URL reaches TURN over TCP or TLS: `turns:` (TLS; TCP unless it
 * says otherwise) or `turn:…?transport=tcp`.
 * @param {string} url
 */
export function isTcpTurnUrl(url) {
  const s = scheme(url);
  const transport = transportOf(url);
  if (s === 'turns') return transport === null || transport === 'tcp';
  return s === 'turn' && transport === 'tcp';
}

/**
 * Whether any of the servers is a TURN server (a relay exists).
 * @param {readonly IceServer[]} servers
 */
export function hasTurn(servers) {
  return servers.some((s) => s.urls.some(isTurnUrl));
}

/**
 * Whether the server offers a TURN relay, from `welcome.relay_urls`.
 * @param {readonly string[]} urls
 */
export function offersRelay(urls) {
  return urls.some(isTurnUrl);
}

/**
 * Whether the server offers a relay that compatibility mode can use (TURN over
 * TCP or TLS), from `welcome.relay_urls`.
 * @param {readonly string[]} urls
 */
export function offersCompat(urls) {
  return urls.some(isTcpTurnUrl);
}

/**
 * The servers of compatibility mode: each server with only its TCP/TLS TURN
 * URLs; servers left without a URL are dropped (STUN is of no use when UDP is
 * blocked, and with relay-only it is not used anyway).
 *
 * @param {readonly IceServer[]} servers
 * @returns {IceServer[]}
 */
export function compatServers(servers) {
  /** @type {IceServer[]} */
  const out = [];
  for (const server of servers) {
    const urls = server.urls.filter(isTcpTurnUrl);
    if (urls.length > 0) out.push({ ...server, urls });
  }
  return out;
}

/**
 * Whether compatibility mode can work with these servers.
 * @param {readonly IceServer[]} servers
 */
export function compatAvailable(servers) {
  return compatServers(servers).length > 0;
}

/**
 * The ICE configuration for a peer connection.
 *
 * With `compat` (and a TCP/TLS relay to use) only those relays and policy
 * `relay`; a `compat` wish without such a relay changes nothing, because a
 * relay-only connection without a relay cannot connect at all. The server's
 * `relay` policy is never loosened.
 *
 * @param {IceSettings} settings
 * @param {boolean} compat
 * @returns {IceConfiguration}
 */
export function iceConfiguration(settings, compat) {
  if (compat && compatAvailable(settings.servers)) {
    return { iceServers: copy(compatServers(settings.servers)), iceTransportPolicy: 'relay' };
  }
  return { iceServers: copy(settings.servers), iceTransportPolicy: settings.policy };
}

/** @param {readonly IceServer[]} servers @returns {RTCIceServer[]} */
function copy(servers) {
  // Fresh objects with fresh lists: RTCPeerConnection must not share ours.
  return servers.map((s) => ({ ...s, urls: [...s.urls] }));
}
