"""Account management: create, list, read, delete and rotate keys (master key only)."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from gl_deep_research.auth import keys
from gl_deep_research.db.database import Database
from gl_deep_research.db.models import Account, utcnow
from gl_deep_research.errors import Conflict, InvalidInput, NotFound, quote_value
from gl_deep_research.tasks.body import iso
from gl_deep_research.unicode_text import check_unicode

logger = logging.getLogger(__name__)

MAX_NAME_LENGTH = 200


@dataclass(frozen=True)
class CreatedAccount:
    account: Account
    api_key: str


def account_summary(account: Account) -> dict[str, Any]:
    return {
        "id": str(account.id),
        "name": account.name,
        "key_preview": account.key_preview,
        "created_at": iso(account.created_at),
    }


def _parse_id(account_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(account_id)
    except ValueError:
        raise NotFound(
            f"Account {quote_value(account_id)} not found.", field="account_id"
        ) from None


class AccountService:
    def __init__(self, database: Database) -> None:
        self._database = database

    def create(self, name: object) -> CreatedAccount:
        if not isinstance(name, str) or not name.strip():
            raise InvalidInput("Field 'name' is required and must not be empty.", field="name")
        check_unicode(name, "name")
        name = name.strip()
        if len(name) > MAX_NAME_LENGTH:
            raise InvalidInput(
                f"Field 'name' has {len(name)} characters; the maximum is {MAX_NAME_LENGTH}.",
                field="name",
            )
        new_key = keys.generate_key()
        account = Account(
            id=uuid.uuid4(),
            name=name,
            key_prefix=new_key.prefix,
            key_hash=new_key.hash,
            key_preview=new_key.preview,
            created_at=utcnow(),
        )
        try:
            with self._database.session() as session:
                session.add(account)
        except IntegrityError:
            raise Conflict(f"An account named {name!r} already exists.", field="name") from None
        logger.info("Created account %s (%s)", account.id, account.name)
        return CreatedAccount(account=account, api_key=new_key.plaintext)

    def list(self) -> list[Account]:
        with self._database.session() as session:
            return list(session.scalars(select(Account).order_by(Account.created_at, Account.id)))

    def get(self, account_id: str) -> Account:
        with self._database.session() as session:
            account = session.get(Account, _parse_id(account_id))
        if account is None:
            raise NotFound(f"Account {quote_value(account_id)} not found.", field="account_id")
        return account

    def delete(self, account_id: str) -> Account:
        with self._database.session() as session:
            account = session.get(Account, _parse_id(account_id))
            if account is None:
                raise NotFound(f"Account {quote_value(account_id)} not found.", field="account_id")
            session.delete(account)
        logger.info("Deleted account %s (%s); its key no longer works", account.id, account.name)
        return account

    def rotate_key(self, account_id: str) -> CreatedAccount:
        new_key = keys.generate_key()
        with self._database.session() as session:
            account = session.get(Account, _parse_id(account_id))
            if account is None:
                raise NotFound(f"Account {quote_value(account_id)} not found.", field="account_id")
            account.key_prefix = new_key.prefix
            account.key_hash = new_key.hash
            account.key_preview = new_key.preview
        logger.info("Rotated the key of account %s; the old key no longer works", account.id)
        return CreatedAccount(account=account, api_key=new_key.plaintext)
