"""Webhook signatures: `X-Webhook-Signature: t=<unix seconds>,v1=<hex digest>`.

The digest is HMAC-SHA256, keyed by the webhook's secret, of the bytes
`<t>.<raw request body>`. Binding the timestamp into the digest lets a
receiver reject replays older than its tolerance. Receivers call
`verify_signature`, which compares digests in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Webhook-Signature"
DELIVERY_ID_HEADER = "X-Webhook-Id"
DEFAULT_TOLERANCE_SECONDS = 300


class InvalidSignature(ValueError):
    """The signature header is missing, malformed, stale or does not match the body."""


def compute_digest(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """Return the `X-Webhook-Signature` header value for `body`."""
    moment = int(time.time()) if timestamp is None else timestamp
    return f"t={moment},v1={compute_digest(secret, moment, body)}"


def _parse_header(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    digests: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1" and value:
            digests.append(value)
    if timestamp is None or not digests:
        raise InvalidSignature(
            f"The {SIGNATURE_HEADER} header must look like 't=<unix seconds>,v1=<hex>'; "
            f"got {header[:100]!r}."
        )
    return timestamp, digests


def verify_signature(
    secret: str,
    body: bytes,
    header: str | None,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> int:
    """Check a delivery's signature header against its raw body; return the signed timestamp.

    Raises `InvalidSignature` when the header is missing or malformed, when
    its timestamp is more than `tolerance_seconds` away from `now` (a replay
    or a badly skewed clock), or when no `v1` digest matches.
    """
    if not header:
        raise InvalidSignature(f"The {SIGNATURE_HEADER} header is missing.")
    timestamp, digests = _parse_header(header)
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_seconds:
        raise InvalidSignature(
            f"The signature timestamp {timestamp} is {abs(current - timestamp):.0f} s from now, "
            f"more than the tolerance of {tolerance_seconds} s."
        )
    # Bytes, because compare_digest raises TypeError on str with non-ASCII characters.
    expected = compute_digest(secret, timestamp, body).encode()
    presented = [digest.encode("utf-8", "surrogatepass") for digest in digests]
    if not any(hmac.compare_digest(expected, digest) for digest in presented):
        raise InvalidSignature("The signature does not match the body and the secret.")
    return timestamp
