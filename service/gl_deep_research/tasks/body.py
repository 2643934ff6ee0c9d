"""The JSON body of a task, as `GET /v1/tasks/{task_id}` and webhooks send it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Protocol

from gl_deep_research.db.models import Task


class TaskRecord(Protocol):
    """The task fields of a body: a `Task`, or a result row of `BODY_COLUMNS`."""

    id: uuid.UUID
    taskgroup_id: uuid.UUID | None
    status: str
    query: str
    result: str | None
    profile: str
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    sources: list[Any] | None
    usage: dict[str, Any] | None
    error: str


# The columns `task_body` reads, for a Core select that skips the ORM.
BODY_COLUMNS = (
    Task.id,
    Task.taskgroup_id,
    Task.status,
    Task.query,
    Task.result,
    Task.profile,
    Task.created_at,
    Task.started_at,
    Task.completed_at,
    Task.sources,
    Task.usage,
    Task.error,
)


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        # SQLite returns naive datetimes; the service stores UTC everywhere.
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat()


def duration_seconds(task: TaskRecord) -> float | None:
    if task.started_at is None or task.completed_at is None:
        return None
    started = task.started_at.replace(tzinfo=task.started_at.tzinfo or UTC)
    completed = task.completed_at.replace(tzinfo=task.completed_at.tzinfo or UTC)
    return round((completed - started).total_seconds(), 3)


def task_body(task: TaskRecord) -> dict[str, Any]:
    return {
        "task_id": str(task.id),
        "taskgroup_id": str(task.taskgroup_id) if task.taskgroup_id else None,
        "status": task.status,
        "data": {
            "query": task.query,
            "result": task.result,
            "profile": task.profile,
            "created_at": iso(task.created_at),
            "completed_at": iso(task.completed_at),
            "duration": duration_seconds(task),
            "sources": task.sources or [],
            "usage": task.usage,
        },
        "error": task.error or "",
    }
