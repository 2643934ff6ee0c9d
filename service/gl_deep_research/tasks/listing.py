"""List a caller's tasks newest first, one page at a time.

The cursor is opaque to clients: URL-safe base64 of the JSON pair
`[created_at, id]` of the last task on the page. Ordering by both columns
keeps pages stable when several tasks share a timestamp.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import and_, or_, select

from gl_deep_research.auth.verifier import Caller
from gl_deep_research.db.database import Database
from gl_deep_research.db.models import Task
from gl_deep_research.errors import InvalidInput, quote_value
from gl_deep_research.tasks import status

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class TaskPage:
    tasks: list[Task]
    next_cursor: str | None


def encode_cursor(task: Task) -> str:
    created = task.created_at
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    raw = json.dumps([created.isoformat(), str(task.id)], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        created_text, id_text = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        created = datetime.fromisoformat(created_text)
        task_id = uuid.UUID(id_text)
    except (ValueError, TypeError, binascii.Error, UnicodeEncodeError) as err:
        raise InvalidInput(
            f"Query parameter 'cursor' is not a cursor from this API ({cursor[:40]!r}); "
            "pass the next_cursor of the previous page unchanged, or omit it for the first page.",
            field="cursor",
        ) from err
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return created, task_id


def validate_page_size(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_PAGE_SIZE
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidInput(
            f"Query parameter 'limit' must be between 1 and {MAX_PAGE_SIZE}, got {limit}.",
            field="limit",
        )
    return limit


def list_tasks(
    database: Database,
    caller: Caller,
    status_filter: str | None,
    limit: int | None,
    cursor: str | None,
) -> TaskPage:
    page_size = validate_page_size(limit)
    query = select(Task)
    if not caller.is_master:
        query = query.where(Task.account_key == caller.account_key)
    if status_filter:
        if status_filter not in status.ALL:
            raise InvalidInput(
                f"Query parameter 'status' must be one of {', '.join(status.ALL)}, "
                f"got {quote_value(status_filter)}.",
                field="status",
            )
        query = query.where(Task.status == status_filter)
    if cursor:
        created, task_id = decode_cursor(cursor)
        if database.is_sqlite:
            # SQLite stores naive UTC datetimes, and compares them as text.
            created = created.astimezone(UTC).replace(tzinfo=None)
        query = query.where(
            or_(Task.created_at < created, and_(Task.created_at == created, Task.id < task_id))
        )
    query = query.order_by(Task.created_at.desc(), Task.id.desc()).limit(page_size + 1)
    with database.session() as session:
        rows = list(session.scalars(query))
    has_more = len(rows) > page_size
    page = rows[:page_size]
    return TaskPage(tasks=page, next_cursor=encode_cursor(page[-1]) if has_more else None)
