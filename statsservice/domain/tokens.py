"""API tokens: generated with ``secrets``, stored only as a SHA-256 digest, compared in constant time.

A plain digest (no salt) is enough because generated tokens carry 64+ random characters,
and it lets the hub find a client by its token with one indexed lookup.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

TOKEN_BYTES = 64  # token_urlsafe(64) gives 86 url-safe characters (SPEC §2: at least 64)
MIN_SUPPLIED_LENGTH = 16
MAX_SUPPLIED_LENGTH = 255


def generate_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_matches(token: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_token(token), stored_hash)


def check_supplied_token(token: str) -> str | None:
    """Return why an operator-supplied token is unacceptable, or None."""
    if not MIN_SUPPLIED_LENGTH <= len(token) <= MAX_SUPPLIED_LENGTH:
        return f"token must be {MIN_SUPPLIED_LENGTH} to {MAX_SUPPLIED_LENGTH} characters long"
    if not token.isascii() or not token.isprintable() or " " in token:
        return "token must be printable ASCII without spaces"
    return None
