"""Cancel a task: move it to REVOKED; a running engine stops at its next cancel check.

The REVOKED write and its webhook delivery commit together. A running task's
runner reads `cancel_requested` within about a second (`CANCEL_POLL_SECONDS`),
stops, and publishes the closing events; its final write is conditional on
status STARTED, so it never overwrites REVOKED. A task that never started
gets its closing events here, because no runner will publish them.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from gl_deep_research.auth.verifier import Caller
from gl_deep_research.db.database import Database
from gl_deep_research.db.models import Task, utcnow
from gl_deep_research.dispatch.queue import Dispatcher
from gl_deep_research.errors import Conflict, NotFound
from gl_deep_research.events.publisher import EventPublisher
from gl_deep_research.tasks import status
from gl_deep_research.tasks.notify import record_status_change
from gl_deep_research.tasks.service import parse_uuid

logger = logging.getLogger(__name__)

REVOKED_MESSAGE = "The task was cancelled through the API."


def cancel_task(
    database: Database,
    dispatcher: Dispatcher,
    publisher: EventPublisher,
    caller: Caller,
    task_id: str,
) -> Task:
    """Revoke a pending or running task; revoking a revoked task changes nothing."""
    parsed = parse_uuid(task_id, "task_id")
    notified = 0
    with database.session() as session:
        query = select(Task).where(Task.id == parsed)
        if not database.is_sqlite:
            query = query.with_for_update()
        task = session.scalars(query).one_or_none()
        if task is None or not (caller.is_master or task.account_key == caller.account_key):
            raise NotFound(f"Task {task_id} not found.", field="task_id")
        previous = task.status
        if previous == status.REVOKED:
            return task
        if previous in status.FINAL:
            raise Conflict(
                f"Task {task_id} already finished with status {previous}, so it cannot be "
                "cancelled.",
                field="task_id",
            )
        task.status = status.REVOKED
        task.cancel_requested = True
        task.completed_at = utcnow()
        task.error = REVOKED_MESSAGE
        notified = record_status_change(session, task, lock_rows=not database.is_sqlite)
    logger.info("Revoked task %s (it was %s)", task.id, previous)
    if notified:
        dispatcher.send_webhooks()
    if previous != status.STARTED:
        events = publisher.for_task(task.id, task.taskgroup_id)
        events.publish("status", {"status": status.REVOKED})
        events.publish("done", {"status": status.REVOKED})
    return task
