"""Resolve an `X-API-Key` header to a caller: the master key, an account, or None.

Verified account keys are cached per process by their SHA-256 together with
the bcrypt hash they matched. Every request still reads the account row by
prefix, and a cache hit counts only while that row's hash is unchanged, so a
deleted or rotated key stops working at once in every process, with no
cross-process invalidation. A route may read that row in the same statement
as its own data (`ACCOUNT_COLUMNS`, `check_row`), as `GET /v1/tasks/{task_id}`
does, so that the key check costs no round trip of its own.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, bindparam, select

from gl_deep_research.auth import keys
from gl_deep_research.db.database import Database
from gl_deep_research.db.models import Account


@dataclass(frozen=True)
class Caller:
    """The sender of a request: the master key (`account_id` None) or one account."""

    account_id: uuid.UUID | None
    account_name: str

    @property
    def is_master(self) -> bool:
        return self.account_id is None

    @property
    def account_key(self) -> str:
        """The owner value stored on tasks created by this caller."""
        return "master" if self.account_id is None else str(self.account_id)


MASTER = Caller(account_id=None, account_name="master")
INVALID_KEY_MESSAGE = "Invalid API key."

# The account columns that `check_row` reads, labelled so that a statement can
# select them together with another table's columns.
ACCOUNT_COLUMNS = (
    Account.id.label("key_account_id"),
    Account.name.label("key_account_name"),
    Account.key_hash.label("key_hash"),
)
ACCOUNT_BY_PREFIX = select(*ACCOUNT_COLUMNS).where(Account.key_prefix == bindparam("prefix"))


class KeyVerifier:
    def __init__(self, database: Database, master_key: str | None, cache_size: int = 10_000):
        self._database = database
        self._master_key = master_key
        self._cache: OrderedDict[str, str] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    @property
    def master_key_configured(self) -> bool:
        return bool(self._master_key)

    def is_master(self, presented: str) -> bool:
        return bool(self._master_key) and keys.equal_secrets(presented, self._master_key or "")

    def verify(self, presented: str) -> Caller | None:
        """Return the caller for a key, or None. Blocking: call it from a worker thread."""
        if self.is_master(presented):
            return MASTER
        prefix = keys.parse_prefix(presented)
        if prefix is None:
            return None
        row = self._database.read(
            lambda connection: connection.execute(ACCOUNT_BY_PREFIX, {"prefix": prefix}).first()
        )
        if row is None:
            return None
        return self.check_row(presented, row)

    def check_row(self, presented: str, row: Row[*tuple[Any, ...]]) -> Caller | None:
        """Return the caller of an account row with `ACCOUNT_COLUMNS` when `presented` matches.

        The row must come from a read made for this request, so that a deleted
        or rotated key fails at once. bcrypt runs only on a cache miss.
        """
        key_hash = row.key_hash
        fingerprint = keys.fingerprint(presented)
        with self._lock:
            cached_hash = self._cache.get(fingerprint)
        if cached_hash is None or cached_hash != key_hash:
            if not keys.check_key(presented, key_hash):
                return None
            self._remember(fingerprint, key_hash)
        return Caller(account_id=row.key_account_id, account_name=row.key_account_name)

    def _remember(self, fingerprint: str, key_hash: str) -> None:
        with self._lock:
            self._cache[fingerprint] = key_hash
            self._cache.move_to_end(fingerprint)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
