"""Feed tokens: 256 random bits in the URL, only their SHA-256 kept, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

TOKEN_BYTES = 32  # 256 bits; the issue asks for at least 128
# token_urlsafe(32): 43 characters of the URL-safe base64 alphabet, no padding.
_WELL_FORMED = re.compile(r"[A-Za-z0-9_-]{43}")


def new_token() -> str:
    """A fresh random token."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def well_formed(token: str) -> bool:
    """Could this be a token at all? (Anything else is refused before the database.)"""
    return _WELL_FORMED.fullmatch(token) is not None


def token_hash(token: str) -> str:
    """What is stored of a token: its SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def same_hash(stored: str, token: str) -> bool:
    """Does the token match the stored hash? In constant time."""
    return hmac.compare_digest(stored, token_hash(token))


def feed_path(token: str) -> str:
    """The path of a feed: /feeds/<token>.ics."""
    return f"/feeds/{token}.ics"


def feed_urls(base_url: str, token: str) -> tuple[str, str]:
    """The feed's address for the web (https:// in production) and for calendar apps (webcal://)."""
    https = base_url.rstrip("/") + feed_path(token)
    return https, "webcal://" + https.partition("://")[2]
