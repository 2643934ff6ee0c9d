"""Account API keys: generation, hashing and verification.

A key looks like `gldr_<prefix>_<secret>`. The prefix is public and indexed,
so verification is one lookup plus one bcrypt check, never a scan. bcrypt
sees the base64 SHA-256 digest of the key rather than the key itself, which
keeps every key, of any length, inside bcrypt's 72-byte input limit without
silently truncating it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

import bcrypt

KEY_PATTERN = re.compile(r"^gldr_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
BCRYPT_ROUNDS = 12


@dataclass(frozen=True)
class NewKey:
    plaintext: str
    prefix: str
    hash: str
    preview: str


def generate_key() -> NewKey:
    prefix = secrets.token_hex(6)
    plaintext = f"gldr_{prefix}_{secrets.token_urlsafe(32)}"
    return NewKey(
        plaintext=plaintext,
        prefix=prefix,
        hash=hash_key(plaintext),
        preview=preview_key(plaintext),
    )


def preview_key(plaintext: str) -> str:
    """Return the first and last three characters, the only part shown after creation."""
    return f"{plaintext[:3]}...{plaintext[-3:]}"


def _digest(plaintext: str) -> bytes:
    return base64.b64encode(hashlib.sha256(plaintext.encode("utf-8", "surrogatepass")).digest())


def hash_key(plaintext: str, rounds: int = BCRYPT_ROUNDS) -> str:
    return bcrypt.hashpw(_digest(plaintext), bcrypt.gensalt(rounds)).decode("ascii")


def check_key(plaintext: str, key_hash: str) -> bool:
    """Verify a presented key against its stored bcrypt hash (slow: run it off the event loop)."""
    try:
        return bcrypt.checkpw(_digest(plaintext), key_hash.encode("ascii"))
    except ValueError:
        return False


def parse_prefix(plaintext: str) -> str | None:
    """Return the lookup prefix of a well-formed account key, or None."""
    match = KEY_PATTERN.match(plaintext)
    return match.group(1) if match else None


def fingerprint(plaintext: str) -> str:
    """Return the SHA-256 of a key, the cache key for keys verified before."""
    return hashlib.sha256(plaintext.encode("utf-8", "surrogatepass")).hexdigest()


def equal_secrets(presented: str, expected: str) -> bool:
    return hmac.compare_digest(presented.encode("utf-8", "surrogatepass"), expected.encode())
