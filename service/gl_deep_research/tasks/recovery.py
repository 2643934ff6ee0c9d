"""Start-up recovery of tasks that a killed embedded server left unfinished.

Without a broker, the API process runs tasks on its own thread pool, and
nothing redelivers them when that process dies. The next start enqueues every
task that is not final: a PENDING one waited in the lost pool queue, and a
STARTED one runs again from the start, as its next attempt. With a broker,
Celery redelivers unacknowledged messages instead, so this must not run there.
"""

from __future__ import annotations

import logging

from sqlalchemy import func, select, update

from gl_deep_research.db.database import Database
from gl_deep_research.db.models import Task, utcnow
from gl_deep_research.dispatch.queue import InProcessDispatcher
from gl_deep_research.events.publisher import EventPublisher
from gl_deep_research.tasks import status

logger = logging.getLogger(__name__)

RESTART_MESSAGE = "The server stopped while this task ran, so the task runs again from the start."


def requeue_unfinished_tasks(
    database: Database, dispatcher: InProcessDispatcher, publisher: EventPublisher
) -> int:
    """Enqueue every task that is not final on the in-process pool; return how many.

    Call it once per start, before serving, because it treats every unfinished
    task as an orphan of a previous process.
    """
    # NOTE: this assumes one process runs tasks for this database. Two API
    # processes without a broker (`gldr serve --workers 2`, or two servers on
    # one PostgreSQL) would re-run each other's running tasks.
    with database.session() as session:
        rows = session.execute(
            select(Task.id, Task.status, Task.taskgroup_id)
            .where(Task.status.not_in(status.FINAL))
            .order_by(Task.created_at)
        ).all()
        # Marked as enqueued, so that the outbox sweeper does not enqueue them a second time.
        session.execute(
            update(Task)
            .where(Task.id.in_([row.id for row in rows]))
            .values(enqueued_at=func.coalesce(Task.enqueued_at, utcnow()))
        )
    restarted = 0
    for row in rows:
        if row.status != status.PENDING:
            restarted += 1
            events = publisher.for_task(row.id, row.taskgroup_id)
            events.publish("activity", {"kind": "restart", "message": RESTART_MESSAGE})
        dispatcher.enqueue(row.id)
    if rows:
        logger.warning(
            "Enqueued %d unfinished tasks of a previous server process (%d of them had started "
            "and run again from the start)",
            len(rows),
            restarted,
        )
    return len(rows)
