"""The JSON body of a task group, as `GET /v1/taskgroups/{id}` and group webhooks send it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gl_deep_research.db.models import Task, TaskGroup
from gl_deep_research.tasks.body import iso
from gl_deep_research.tasks.group_status import compute_group_status


def member_summary(task: Task) -> dict[str, Any]:
    return {
        "task_id": str(task.id),
        "status": task.status,
        "query": task.query,
        "profile": task.profile,
        "created_at": iso(task.created_at),
        "completed_at": iso(task.completed_at),
        "error": task.error or "",
    }


def group_body(group: TaskGroup, members: Sequence[Task]) -> dict[str, Any]:
    return {
        "taskgroup_id": str(group.id),
        "status": compute_group_status(task.status for task in members),
        "profile": group.profile,
        "created_at": iso(group.created_at),
        "tasks": [member_summary(task) for task in members],
        "error": "",
    }
