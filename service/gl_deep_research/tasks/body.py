"""The JSON body of a task, as `GET /v1/tasks/{task_id}` and webhooks send it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from gl_deep_research.db.models import Task


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        # SQLite returns naive datetimes; the service stores UTC everywhere.
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat()


def duration_seconds(task: Task) -> float | None:
    if task.started_at is None or task.completed_at is None:
        return None
    started = task.started_at.replace(tzinfo=task.started_at.tzinfo or UTC)
    completed = task.completed_at.replace(tzinfo=task.completed_at.tzinfo or UTC)
    return round((completed - started).total_seconds(), 3)


def task_body(task: Task) -> dict[str, Any]:
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
