"""What the settings decide for every call: where ICE servers stand, retention, E2EE.

Pure: the checks take the loaded ``Settings`` or one of their values.
"""

from __future__ import annotations

from ...config import ENV_PREFIX, Settings
from ...quality import MAX_RETENTION_DAYS
from ...turn import describe_regions, regions_beyond_eu, regions_outside
from .results import Check, Status, check

PUBLIC_STUN_SUFFIXES = (
    "google.com",
    "googleapis.com",
    "cloudflare.com",
    "twilio.com",
    "mozilla.com",
    "stunprotocol.org",
    "ekiga.net",
    "nextcloud.com",
    "sipgate.net",
    "voipbuster.com",
    "xten.com",
    "schlund.de",
    "1und1.de",
    "l.google.com",
    "freeswitch.org",
    "voip.blackberry.com",
    "metered.ca",
    "xirsys.com",
    "expressturn.com",
)


def _ice_host(url: str) -> str:
    # stun:host:port?transport=udp has the host in the path
    rest = url.split(":", 1)[1].split("?", 1)[0]
    if rest.startswith("["):
        return rest[1:].split("]", 1)[0].lower()
    return rest.rsplit(":", 1)[0].lower() if rest.count(":") == 1 else rest.lower()


def check_ice(settings: Settings) -> list[Check]:
    servers = settings.ice_policy().servers
    allowed = describe_regions(settings.allowed_regions)
    outside = regions_outside(servers, settings.allowed_regions)
    if outside:
        regions = check(
            "ice-regions",
            Status.FAIL,
            f"{', '.join(outside)} stands outside the allowed regions ({allowed}).",
        )
    elif servers:
        where = ", ".join(sorted({s.region.upper() for s in servers}))
        regions = check(
            "ice-regions",
            Status.PASS,
            f"{len(servers)} STUN/TURN server(s), all in {where} (allowed: {allowed}).",
        )
    else:
        relay = " besides the embedded relay" if settings.embedded_turn else ""
        regions = check(
            "ice-regions",
            Status.PASS,
            f"No STUN/TURN server is configured{relay}, so none can stand elsewhere.",
        )
    public = [
        url
        for s in servers
        for url in s.urls
        if any(
            _ice_host(url) == suffix or _ice_host(url).endswith("." + suffix)
            for suffix in PUBLIC_STUN_SUFFIXES
        )
    ]
    if public:
        stun = check(
            "ice-public-stun",
            Status.FAIL,
            f"{', '.join(public)} is a public server run by a third party, who learns "
            f"every participant's address.",
        )
    else:
        stun = check(
            "ice-public-stun",
            Status.PASS,
            "No STUN/TURN server of a known public provider is configured.",
        )
    return [regions, stun, check_regions_eu(settings.allowed_regions)]


def check_regions_eu(allowed: list[str]) -> Check:
    """Servers only in the EU: KBV Anlage 31b asks it of a certified video service."""
    beyond = regions_beyond_eu(allowed)
    if beyond:
        return check(
            "ice-regions-eu",
            Status.WARN,
            f"{ENV_PREFIX}ALLOWED_REGIONS allows {', '.join(beyond)}, outside the EU and EEA: "
            f"KBV Anlage 31b admits servers of a certified video service only in the EU.",
        )
    return check(
        "ice-regions-eu",
        Status.PASS,
        f"Only EU/EEA regions are allowed ({describe_regions(allowed)}), as KBV Anlage 31b asks.",
    )


def check_retention(days: int) -> Check:
    if days > MAX_RETENTION_DAYS or days < 0:
        return check(
            "retention",
            Status.FAIL,
            f"Quality samples are kept {days} days, more than the allowed {MAX_RETENTION_DAYS}.",
        )
    if days == 0:
        return check("retention", Status.PASS, "No quality samples are kept (0 days).")
    return check(
        "retention",
        Status.PASS,
        f"Anonymous quality samples are deleted after {days} days (at most {MAX_RETENTION_DAYS}).",
    )


def check_e2ee(required: bool) -> Check:
    if required:
        return check(
            "e2ee",
            Status.PASS,
            "A call whose browsers cannot encrypt frames end to end does not go on.",
        )
    return check(
        "e2ee",
        Status.FAIL,
        f"{ENV_PREFIX}E2EE_REQUIRED is off: calls may run protected by DTLS-SRTP only, "
        f"readable by whoever controls the signaling server.",
    )
