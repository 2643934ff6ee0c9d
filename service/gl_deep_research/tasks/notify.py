"""Queue the webhooks of a task's status change in the transaction that makes it.

Call `record_status_change` with the session that changed `task.status`,
before it commits. It queues the task's own webhook, and when the task
belongs to a group whose computed status moved to STARTED, SUCCESS, FAILURE
or PARTIAL_FAILURE, the group's webhook too. The group row is locked first
(on PostgreSQL), so two members finishing at once queue one group webhook.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from gl_deep_research.db.models import Task, TaskGroup
from gl_deep_research.tasks import status
from gl_deep_research.tasks.body import task_body
from gl_deep_research.tasks.group_body import group_body
from gl_deep_research.webhooks.outbox import add_delivery


def record_status_change(session: Session, task: Task, lock_rows: bool) -> int:
    """Queue the deliveries caused by `task`'s new status; return how many were queued."""
    queued = 0
    if task.webhook_url:
        add_delivery(
            session,
            url=task.webhook_url,
            encrypted_secret=task.webhook_secret,
            event=f"task.{task.status}",
            payload=task_body(task),
            task_id=task.id,
        )
        queued += 1
    if task.taskgroup_id is not None:
        queued += _record_group_change(session, task, lock_rows)
    return queued


def _record_group_change(session: Session, task: Task, lock_rows: bool) -> int:
    group = session.get(TaskGroup, task.taskgroup_id, with_for_update=lock_rows or None)
    if group is None:
        return 0
    session.flush()
    members = list(
        session.scalars(
            select(Task).where(Task.taskgroup_id == group.id).order_by(Task.created_at, Task.id)
        )
    )
    body = group_body(group, members)
    group_status = body["status"]
    if group_status not in status.GROUP_NOTIFIED or group_status == group.notified_status:
        return 0
    group.notified_status = group_status
    if not group.webhook_url:
        return 0
    add_delivery(
        session,
        url=group.webhook_url,
        encrypted_secret=group.webhook_secret,
        event=f"taskgroup.{group_status}",
        payload=body,
        taskgroup_id=group.id,
    )
    return 1
