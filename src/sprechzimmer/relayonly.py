"""What a relay-only call lets through from one browser to the other (pure).

With relay-only on, neither side may learn the other's address. The browsers
are told to gather relay candidates only; this is the server's defence in
depth for a browser that does not: every candidate is parsed (RFC 8839,
``candidate:<foundation> <component> <transport> <priority> <address> <port>
typ <type> [<name> <value>]...``), anything but a well-formed relay candidate
is dropped, and a relay candidate's related address (``raddr``/``rport``, the
sender's own address behind the relay) is zeroed. In SDP the candidate lines
get the same treatment, and the connection and RTCP lines, which may carry a
default address, are set to the unspecified address.
"""

from __future__ import annotations

_UNSPECIFIED = {"IP4": "0.0.0.0", "IP6": "::"}  # noqa: S104 (an address written, not bound)


def relay_candidate(candidate: str) -> str | None:
    """The candidate as it may pass, or None. An empty one (end of candidates) passes."""
    if not candidate:
        return candidate
    parts = candidate.split(" ")
    if (
        len(parts) < 8
        or (len(parts) - 8) % 2  # an extension attribute without its value
        or not parts[0].startswith("candidate:")
        or parts[6] != "typ"
        or parts[7] != "relay"
    ):
        return None
    for i in range(8, len(parts), 2):
        if parts[i] == "raddr":
            parts[i + 1] = "0.0.0.0"  # noqa: S104 (written, not bound)
        elif parts[i] == "rport":
            parts[i + 1] = "0"
    return " ".join(parts)


def relay_only_sdp(sdp: str) -> str:
    """The SDP with only relay candidates and no address in ``c=`` or ``a=rtcp:``."""
    out = []
    for line in sdp.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        end = line[len(body) :]
        if body.startswith("a=candidate:"):
            kept = relay_candidate(body[2:])
            if kept is None:
                continue
            body = "a=" + kept
        elif body.startswith("c=IN "):
            kind = body[5:8]
            body = f"c=IN {kind} {_UNSPECIFIED.get(kind, '0.0.0.0')}"  # noqa: S104
        elif body.startswith("a=rtcp:"):
            fields = body.split(" ")
            if len(fields) == 4:
                fields[3] = _UNSPECIFIED.get(fields[2], "0.0.0.0")  # noqa: S104
                body = " ".join(fields)
        out.append(body + end)
    return "".join(out)
