"""The running service seen from outside: its headers, and every file its client loads.

The audit reaches the service only through the ``Fetch`` passed in (``http_fetch`` for a
real service, a test client in the tests). The crawl follows references on the service's
own origin only; a foreign host is named as a finding, never fetched.
"""

from __future__ import annotations

import http.client
import re
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from .results import Check, Status, check
from .web import check_headers

FETCH_TIMEOUT = 10.0
"""Seconds one request to the service may take."""
MAX_BODY = 5 << 20
"""Bytes read of one response at most."""
MAX_FILES = 200
"""Files fetched at most while following a client's references (a loop guard)."""
# /nutzungsbedingungen: the terms must be readable without login (KBV Anlage 31b).
HEADER_PATHS = ("/", "/call", "/nutzungsbedingungen", "/api/v1/openapi.json")
# Not the legal pages: their text may link the data protection authority's site,
# a link a person may follow, not a request the page makes by itself.
PAGES = ("/", "/dashboard", "/call")


@dataclass(frozen=True)
class Fetched:
    status: int
    headers: dict[str, str]
    """Lower-case names."""
    body: bytes


Fetch = Callable[[str], Fetched]
"""GET an absolute URL; raise ``OSError`` when the service cannot be reached."""


def http_fetch(url: str) -> Fetched:
    """GET without proxies and without following redirects (a redirect is reported as is)."""
    parts = urlsplit(url)
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(
            parts.netloc, timeout=FETCH_TIMEOUT, context=ssl.create_default_context()
        )
    else:
        conn = http.client.HTTPConnection(parts.netloc, timeout=FETCH_TIMEOUT)
    try:
        path = parts.path or "/"
        conn.request("GET", path + (f"?{parts.query}" if parts.query else ""))
        response = conn.getresponse()
        body = response.read(MAX_BODY)
        headers = {k.lower(): v for k, v in response.getheaders()}
        return Fetched(response.status, headers, body)
    finally:
        conn.close()


# XML namespace names are identifiers, never fetched.
XML_NAMESPACES = frozenset(
    {
        "http://www.w3.org/2000/svg",
        "http://www.w3.org/1999/xhtml",
        "http://www.w3.org/1999/xlink",
        "http://www.w3.org/XML/1998/namespace",
        "http://www.w3.org/2000/xmlns/",
    }
)
_ABSOLUTE = re.compile(r"""\b(?:https?|wss?|ftp)://[^\s"'`<>()\\]+""", re.IGNORECASE)
_HTML_REF = re.compile(
    r"""\b(?:src|href|action|poster|data|formaction|srcset)\s*=\s*["']([^"']+)["']""",
    re.IGNORECASE,
)
_CSS_REF = re.compile(r"""url\(\s*["']?([^"')]+)["']?\s*\)|@import\s+["']([^"']+)["']""")
# ``from`` only as a keyword (after a space, ``}`` or ``*``), not the end of a
# word such as the attribute name ``'data-from'`` in a string.
_JS_REF = re.compile(
    r"""(?:(?<=[\s}*])from\s*|\bimport\s*\(?\s*|new\s+URL\(\s*)["']([^"'\n]+)["']""",
)


def references(content_type: str, path: str, text: str) -> list[str]:
    """What a file makes the browser fetch: attributes, CSS urls, module specifiers."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "text/html" or path.endswith(".html") or path in PAGES:
        refs = [m.group(1).strip() for m in _HTML_REF.finditer(text)]
        refs = [part.split()[0] for ref in refs for part in ref.split(",") if part.strip()]
        return refs + [a or b for a, b in _CSS_REF.findall(text)]
    if "css" in kind or path.endswith(".css"):
        return [a or b for a, b in _CSS_REF.findall(text)]
    if "javascript" in kind or path.endswith((".js", ".mjs")):
        return _JS_REF.findall(text)
    return []


def _foreign(url: str, own: set[str]) -> str | None:
    """The foreign host of an absolute or protocol-relative URL, or None if ours/relative."""
    if url in XML_NAMESPACES:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:  # not a URL a browser would fetch (e.g. "https://[" in prose)
        return None
    if parts.scheme in ("data", "blob", "mailto", "tel", "javascript", "about"):
        return None
    if not parts.netloc:
        return None
    return None if parts.netloc.lower() in own else parts.netloc.lower()


def crawl(base: str, fetch: Fetch) -> tuple[dict[str, Fetched], list[str], list[str]]:
    """Fetch the pages and everything they reference on our origin, recursively.

    Returns (fetched by path, "host (in path)" findings, fetch errors).
    """
    origin = urlsplit(base)
    own = {origin.netloc.lower()}
    fetched: dict[str, Fetched] = {}
    findings: list[str] = []
    errors: list[str] = []
    queue = list(PAGES)
    while queue and len(fetched) < MAX_FILES:
        path = queue.pop(0)
        if path in fetched:
            continue
        try:
            got = fetch(urljoin(base + "/", path.lstrip("/")) if path != "/" else base + "/")
        except OSError as error:
            errors.append(f"{path}: {type(error).__name__}")
            continue
        fetched[path] = got
        if got.status != 200:
            errors.append(f"{path}: HTTP {got.status}")
            continue
        text = got.body.decode("utf-8", errors="replace")
        for url in _ABSOLUTE.findall(text):
            host = _foreign(url.rstrip(".,;"), own)
            if host is not None:
                findings.append(f"{host} (in {path})")
        for ref in references(got.headers.get("content-type", ""), path, text):
            host = _foreign(ref, own)
            if host is not None:
                findings.append(f"{host} (in {path})")
                continue
            target = urlsplit(urljoin(base + path, ref))
            if (
                target.scheme in ("http", "https")
                and target.netloc.lower() in own
                and target.path.startswith("/static/")
                and target.path not in fetched
            ):
                queue.append(target.path)
    return fetched, sorted(set(findings)), errors


def check_endpoints(base: str, fetch: Fetch) -> list[Check]:
    base = base.rstrip("/")
    https = base.startswith("https://")
    out = []
    for path in HEADER_PATHS:
        try:
            got = fetch(base + path)
        except OSError as error:
            out.append(
                check(
                    f"headers {path}",
                    Status.FAIL,
                    f"{base}{path} cannot be reached ({type(error).__name__}).",
                )
            )
            continue
        if got.status != 200:
            out.append(check(f"headers {path}", Status.FAIL, f"{path} answered HTTP {got.status}."))
        else:
            out.append(check_headers(path, got.headers, https))
    fetched, findings, errors = crawl(base, fetch)
    if findings:
        out.append(
            check(
                "third-party",
                Status.FAIL,
                f"The client references other hosts: {', '.join(findings)}.",
            )
        )
    elif errors:
        out.append(
            check("third-party", Status.FAIL, f"Could not fetch all files: {', '.join(errors)}.")
        )
    else:
        out.append(
            check(
                "third-party",
                Status.PASS,
                f"{len(fetched)} pages, scripts and styles reference no host but "
                f"{urlsplit(base).netloc}.",
            )
        )
    return out
