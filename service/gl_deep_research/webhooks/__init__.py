"""Webhooks: signed, durable deliveries of task and task-group status changes.

Receivers verify a delivery with `verify_signature(secret, raw_body, header)`.
"""

from gl_deep_research.webhooks.signing import InvalidSignature, sign, verify_signature

__all__ = ["InvalidSignature", "sign", "verify_signature"]
