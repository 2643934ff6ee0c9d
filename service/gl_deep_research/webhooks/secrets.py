"""Encryption at rest of webhook secrets, keyed by `GLDR_SECRET`.

`GLDR_SECRET` may list several comma-separated secrets for rotation: the
first encrypts, every one of them decrypts. Each is stretched into a Fernet
key with SHA-256, so any string of reasonable length works.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class SecretBoxUnavailable(Exception):
    """No `GLDR_SECRET` is configured, so secrets cannot be stored."""


class SecretBox:
    def __init__(self, gldr_secret: str | None) -> None:
        secrets = [part.strip() for part in (gldr_secret or "").split(",") if part.strip()]
        self._fernet = MultiFernet([Fernet(_fernet_key(s)) for s in secrets]) if secrets else None

    @property
    def available(self) -> bool:
        return self._fernet is not None

    def encrypt(self, plaintext: str) -> str:
        if self._fernet is None:
            raise SecretBoxUnavailable(
                "Webhook secrets need GLDR_SECRET to be set, because they are encrypted at rest."
            )
        return self._fernet.encrypt(plaintext.encode()).decode("ascii")

    def decrypt(self, token: str) -> str:
        if self._fernet is None:
            raise SecretBoxUnavailable("GLDR_SECRET is not set, so stored secrets cannot be read.")
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode()
        except InvalidToken as err:
            raise SecretBoxUnavailable(
                "A stored webhook secret cannot be decrypted with any GLDR_SECRET entry; "
                "keep the old secret in the list until stored secrets are re-encrypted."
            ) from err


def _fernet_key(secret: str) -> bytes:
    return base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest())
