"""What the service promises a browser before any page runs: TLS and its security headers.

Pure: the checks take a URL or one response's headers; fetching them is ``service.py``'s job.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from ...config import ENV_PREFIX
from .results import Check, Status, check

MIN_HSTS_SECONDS = 180 * 24 * 3600


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_tls(url: str) -> Check:
    parts = urlsplit(url)
    if parts.scheme == "https":
        return check("tls", Status.PASS, f"The service is reached over HTTPS ({parts.netloc}).")
    if parts.scheme == "http" and _is_loopback(parts.hostname or ""):
        return check(
            "tls",
            Status.WARN,
            f"{url} is plain HTTP on a loopback address: fine for a demo on this machine, "
            f"never for clients; put the service behind TLS for real use.",
        )
    return check(
        "tls",
        Status.FAIL,
        f"{url} is not HTTPS: logins, invite links and signaling would cross the network "
        f"in clear; set {ENV_PREFIX}PUBLIC_URL to an https:// URL behind a TLS proxy.",
    )


def parse_csp(value: str) -> dict[str, list[str]]:
    """Directives of a Content-Security-Policy, lower-case names; the first of a repeat wins."""
    out: dict[str, list[str]] = {}
    for part in value.split(";"):
        tokens = part.split()
        if tokens:
            out.setdefault(tokens[0].lower(), tokens[1:])
    return out


def csp_problems(value: str | None) -> list[str]:
    if not value:
        return ["no Content-Security-Policy"]
    csp = parse_csp(value)
    problems = []
    default = csp.get("default-src")
    if default is None or not default or any(t not in ("'self'", "'none'") for t in default):
        problems.append("CSP default-src is not 'self'")
    for name in ("object-src", "base-uri", "frame-ancestors"):
        if csp.get(name) != ["'none'"]:
            problems.append(f"CSP {name} is not 'none'")
    script = csp.get("script-src", default or [])
    for bad in ("'unsafe-inline'", "'unsafe-eval'"):
        if bad in (t.lower() for t in script):
            problems.append(f"CSP script-src allows {bad}")
    if any(t == "*" or t.endswith(":") for t in script):
        problems.append("CSP script-src allows any host or scheme")
    return problems


def _allowlist(policy: str, feature: str) -> list[str] | None:
    """A feature's allowlist in a Permissions-Policy header, or None if absent."""
    for item in policy.split(","):
        name, _, value = item.strip().partition("=")
        if name.strip().lower() == feature:
            value = value.strip()
            if value == "*":
                return ["*"]
            return value.strip("()").split()
    return None


def header_problems(headers: Mapping[str, str], https: bool) -> list[str]:
    """What is missing or weak in one response's headers (names compared case-blind)."""
    h = {k.lower(): v for k, v in headers.items()}
    problems = csp_problems(h.get("content-security-policy"))
    if h.get("referrer-policy", "").strip().lower() != "no-referrer":
        problems.append("Referrer-Policy is not no-referrer")
    if h.get("x-content-type-options", "").strip().lower() != "nosniff":
        problems.append("X-Content-Type-Options is not nosniff")
    policy = h.get("permissions-policy")
    if policy is None:
        problems.append("no Permissions-Policy")
    else:
        for feature in ("camera", "microphone"):
            allowed = _allowlist(policy, feature)
            if allowed is None or any(a != "self" for a in allowed):
                problems.append(f"Permissions-Policy does not limit {feature} to self")
    if https:
        hsts = h.get("strict-transport-security")
        match = re.search(r"max-age\s*=\s*\"?(\d+)", hsts or "", re.IGNORECASE)
        if match is None:
            problems.append("no Strict-Transport-Security on HTTPS")
        elif int(match.group(1)) < MIN_HSTS_SECONDS:
            problems.append("Strict-Transport-Security max-age is below 180 days")
    return problems


def check_headers(path: str, headers: Mapping[str, str], https: bool) -> Check:
    problems = header_problems(headers, https)
    if problems:
        return check(f"headers {path}", Status.FAIL, f"{path}: {'; '.join(problems)}.")
    return check(
        f"headers {path}",
        Status.PASS,
        f"{path} sends a strict CSP, Referrer-Policy, Permissions-Policy"
        f"{' and HSTS' if https else ''}.",
    )
