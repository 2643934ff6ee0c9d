"""Delete finished rows older than the retention, in batches: the table-cleanup job.

Run by Celery beat on `TABLE_CLEANUP_SCHEDULE`. Each batch is its own short
transaction, so the job never holds long locks. Only finished work is
removed: tasks in a final status, groups whose members all finished before
the cutoff (their tasks go with them), deliveries that were delivered or
gave up, and Celery's own result rows (`celery_taskmeta`).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import Select, and_, delete, exists, func, inspect, or_, select, text

from gl_deep_research.db.database import Database
from gl_deep_research.db.models import Task, TaskGroup, WebhookDelivery, utcnow
from gl_deep_research.tasks import status

logger = logging.getLogger(__name__)

BATCH_SIZE = 1000
CELERY_RESULTS_TABLE = "celery_taskmeta"


def _delete_in_batches(
    database: Database, ids_query: Select[Any], model: type[Any], batch_size: int
) -> int:
    removed = 0
    while True:
        with database.session() as session:
            ids = list(session.scalars(ids_query.limit(batch_size)))
            if ids:
                session.execute(delete(model).where(model.id.in_(ids)))
        removed += len(ids)
        if len(ids) < batch_size:
            return removed


def _delete_celery_results(database: Database, cutoff: Any, batch_size: int) -> int:
    if not inspect(database.engine).has_table(CELERY_RESULTS_TABLE):
        return 0
    removed = 0
    statement = text(
        f"DELETE FROM {CELERY_RESULTS_TABLE} WHERE id IN "  # noqa: S608 (constant table name)
        f"(SELECT id FROM {CELERY_RESULTS_TABLE} WHERE date_done < :cutoff LIMIT :batch)"
    )
    while True:
        with database.session() as session:
            result = session.execute(statement, {"cutoff": cutoff, "batch": batch_size})
            count = int(result.rowcount)  # type: ignore[attr-defined]
        removed += count
        if count < batch_size:
            return removed


def cleanup_tables(
    database: Database, retention_days: int, batch_size: int = BATCH_SIZE
) -> dict[str, int]:
    """Delete finished rows older than `retention_days`; return the count per table."""
    cutoff = utcnow() - timedelta(days=retention_days)
    finished = list(status.FINAL)
    counts: dict[str, int] = {}

    counts["webhook_deliveries"] = _delete_in_batches(
        database,
        select(WebhookDelivery.id).where(
            WebhookDelivery.state != "pending", WebhookDelivery.created_at < cutoff
        ),
        WebhookDelivery,
        batch_size,
    )
    counts["tasks"] = _delete_in_batches(
        database,
        select(Task.id).where(
            Task.taskgroup_id.is_(None), Task.status.in_(finished), Task.completed_at < cutoff
        ),
        Task,
        batch_size,
    )

    recent_or_running = exists().where(
        Task.taskgroup_id == TaskGroup.id,
        or_(Task.status.not_in(finished), Task.completed_at >= cutoff),
    )
    old_groups = select(TaskGroup.id).where(TaskGroup.created_at < cutoff, ~recent_or_running)
    with database.session() as session:
        counts["tasks"] += int(
            session.scalar(
                select(func.count())
                .select_from(Task)
                .where(and_(Task.taskgroup_id.in_(old_groups.scalar_subquery())))
            )
            or 0
        )
    # Member tasks and their deliveries go with the group (ON DELETE CASCADE).
    counts["task_groups"] = _delete_in_batches(database, old_groups, TaskGroup, batch_size)
    counts["celery_taskmeta"] = _delete_celery_results(database, cutoff, batch_size)

    logger.info(
        "Table cleanup removed rows finished before %s: %s",
        cutoff.isoformat(),
        ", ".join(f"{table}={count}" for table, count in counts.items()),
    )
    return counts
