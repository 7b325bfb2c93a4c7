"""Secrets handed out by the service, and how they are kept: only as hashes.

Invite tokens and API keys are 256 bits from the operating system's CSPRNG.
Because they are random and long, a single SHA-256 is the right hash (a slow
password hash would only cost CPU); the clear value exists only in the answer
that creates it and in the invite link's fragment. Never log one.
"""

from __future__ import annotations

import hashlib
import re
import secrets

TOKEN_BYTES = 32
"""256 bits; 43 characters of base64url."""

API_KEY_PREFIX = "szk_"
# fullmatch, not ``$``: that would take a trailing newline too.
_SESSION_ID = re.compile(r"[0-9a-f]{32}")
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def new_session_id() -> str:
    return secrets.token_hex(16)


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def new_resume_secret() -> str:
    return secrets.token_urlsafe(24)


def digest(secret: str) -> str:
    """The stored form of a token or API key."""
    return hashlib.sha256(secret.encode()).hexdigest()


def looks_like_session_id(value: str) -> bool:
    return bool(_SESSION_ID.fullmatch(value))


def looks_like_token(value: str) -> bool:
    return bool(_TOKEN.fullmatch(value))


def invite_url(public_url: str, session_id: str, token: str) -> str:
    # The token rides in the fragment: browsers never send it in a request, so it
    # cannot end up in an HTTP log or a Referer header.
    return f"{public_url}/call#s={session_id}&t={token}"
