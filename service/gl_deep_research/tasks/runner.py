"""Runs one research task to completion, exactly once.

Called by the Celery task and by the in-process pool. The run claims the
task row first: a task that already finished is skipped (a redelivered
message after a worker loss), and a task that crashed mid-run is run again
until it has used `TASK_MAX_RETRIES` retries, then marked `FAILURE`. The
final write is conditional on this attempt still owning the row, so a
revoked task or a superseded attempt never overwrites the outcome.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError

from gl_deep_research import logs, metrics
from gl_deep_research.db.database import Database
from gl_deep_research.db.models import Task, utcnow
from gl_deep_research.dispatch.queue import Dispatcher
from gl_deep_research.engines.base import (
    ResearchCancelled,
    ResearchEngine,
    ResearchError,
    ResearchReport,
)
from gl_deep_research.engines.registry import create_engine
from gl_deep_research.events.publisher import EventPublisher, TaskEvents
from gl_deep_research.settings import Settings
from gl_deep_research.tasks import status
from gl_deep_research.tasks.notify import record_status_change

logger = logging.getLogger(__name__)

CANCEL_POLL_SECONDS = 0.5


class TaskTimedOut(ResearchError):
    """The run exceeded `TASK_TIMEOUT_SECONDS`."""


@dataclass(frozen=True)
class Claim:
    task_id: uuid.UUID
    attempt: int
    query: str
    provider: str
    params: dict[str, Any]
    taskgroup_id: uuid.UUID | None


class TaskRunner:
    def __init__(
        self,
        settings: Settings,
        database: Database,
        publisher: EventPublisher,
        dispatcher: Dispatcher,
    ) -> None:
        self._settings = settings
        self._database = database
        self._publisher = publisher
        # Told after each commit that queued webhook deliveries, so they go out at once.
        self._dispatcher = dispatcher

    def execute_by_id(self, task_id: str) -> str | None:
        try:
            parsed = uuid.UUID(task_id)
        except ValueError:
            logger.error("Dropping a message with the malformed task id %r", task_id)
            return None
        return self.execute(parsed)

    def execute(self, task_id: uuid.UUID) -> str | None:
        """Run the task if it still needs running; return its final status, or None if skipped."""
        token = logs.task_id.set(str(task_id))
        started = time.monotonic()
        try:
            outcome = self._execute(task_id)
        finally:
            logs.task_id.reset(token)
        if outcome is not None:
            metrics.TASK_RUNS.labels(outcome).inc()
            metrics.TASK_RUN_SECONDS.observe(time.monotonic() - started)
        return outcome

    def _execute(self, task_id: uuid.UUID) -> str | None:
        claim = self._claim(task_id)
        if claim is None:
            return None
        events = self._publisher.for_task(claim.task_id, claim.taskgroup_id)
        events.publish("status", {"status": status.STARTED, "attempt": claim.attempt})
        cancel = _CancelCheck(self._database, claim.task_id, self._settings.task_timeout_seconds)

        started = time.monotonic()
        try:
            engine: ResearchEngine = create_engine(claim.provider, self._settings)
            report = engine.run(claim.query, claim.params, events.engine_emit, cancel)
        except ResearchCancelled:
            logger.info("Task %s stopped after it was revoked", claim.task_id)
            events.publish("status", {"status": status.REVOKED})
            events.publish("done", {"status": status.REVOKED})
            return status.REVOKED
        except ResearchError as err:
            return self._fail(claim, events, str(err))
        except Exception as err:
            logger.exception("Task %s failed with an unexpected error", claim.task_id)
            return self._fail(claim, events, f"Internal error: {type(err).__name__}: {err}")

        report.usage.wall_seconds = time.monotonic() - started
        if not self._finish(claim, status.SUCCESS, report=report):
            events.publish("done", {"status": self._current_status(claim.task_id)})
            return None
        events.publish("result", {"result": report.markdown})
        events.publish("status", {"status": status.SUCCESS})
        events.publish("done", {"status": status.SUCCESS})
        logger.info(
            "Task %s succeeded with %d sources in %.2f s",
            claim.task_id,
            len(report.sources),
            report.usage.wall_seconds,
        )
        return status.SUCCESS

    def _fail(self, claim: Claim, events: TaskEvents, reason: str) -> str | None:
        if not self._finish(claim, status.FAILURE, error=reason):
            events.publish("done", {"status": self._current_status(claim.task_id)})
            return None
        logger.warning("Task %s failed: %s", claim.task_id, reason)
        events.publish("error", {"error": reason})
        events.publish("status", {"status": status.FAILURE})
        events.publish("done", {"status": status.FAILURE})
        return status.FAILURE

    @property
    def _lock_rows(self) -> bool:
        return not self._database.is_sqlite

    def _claim(self, task_id: uuid.UUID) -> Claim | None:
        claim: Claim | None = None
        notified = 0
        with self._database.session() as session:
            query = select(Task).where(Task.id == task_id)
            if self._lock_rows:
                query = query.with_for_update()
            task = session.scalars(query).one_or_none()
            if task is None:
                logger.warning("Task %s does not exist; dropping its message", task_id)
                return None
            if task.status in status.FINAL:
                logger.info("Task %s is already %s; not running it again", task_id, task.status)
                return None
            max_attempts = self._settings.task_max_retries + 1
            if task.attempts >= max_attempts:
                task.status = status.FAILURE
                task.error = (
                    f"The task was interrupted {task.attempts} times (worker lost) and "
                    f"TASK_MAX_RETRIES={self._settings.task_max_retries} allows no more attempts."
                )
                task.completed_at = utcnow()
                notified = record_status_change(session, task, lock_rows=self._lock_rows)
                logger.error("Task %s gave up after %d attempts", task_id, task.attempts)
            else:
                if task.attempts > 0:
                    logger.warning(
                        "Task %s was interrupted; retrying, attempt %d of %d",
                        task_id,
                        task.attempts + 1,
                        max_attempts,
                    )
                task.attempts += 1
                task.status = status.STARTED
                task.started_at = utcnow()
                task.enqueued_at = task.enqueued_at or task.started_at
                notified = record_status_change(session, task, lock_rows=self._lock_rows)
                claim = Claim(
                    task_id=task.id,
                    attempt=task.attempts,
                    query=task.query,
                    provider=task.provider,
                    params=dict(task.params),
                    taskgroup_id=task.taskgroup_id,
                )
        if notified:
            self._dispatcher.send_webhooks()
        return claim

    def _finish(
        self,
        claim: Claim,
        outcome: str,
        report: ResearchReport | None = None,
        error: str = "",
    ) -> bool:
        values: dict[str, Any] = {"status": outcome, "completed_at": utcnow(), "error": error}
        if report is not None:
            values["result"] = report.markdown
            values["sources"] = [source.to_dict() for source in report.sources]
            values["usage"] = report.usage.to_dict()
        notified = 0
        with self._database.session() as session:
            updated = session.execute(
                update(Task)
                .where(
                    Task.id == claim.task_id,
                    Task.attempts == claim.attempt,
                    Task.status == status.STARTED,
                )
                .values(**values)
            )
            owned = bool(updated.rowcount)  # type: ignore[attr-defined]
            if owned:
                task = session.get(Task, claim.task_id, populate_existing=True)
                if task is not None:
                    notified = record_status_change(session, task, lock_rows=self._lock_rows)
        if not owned:
            logger.info(
                "Task %s attempt %d no longer owns the task; its %s outcome is discarded",
                claim.task_id,
                claim.attempt,
                outcome,
            )
        if notified:
            self._dispatcher.send_webhooks()
        return owned

    def _current_status(self, task_id: uuid.UUID) -> str:
        with self._database.session() as session:
            return str(session.scalar(select(Task.status).where(Task.id == task_id)))


class _CancelCheck:
    """The engines' `cancel` callback: True once revoked; raises when the task timed out."""

    def __init__(self, database: Database, task_id: uuid.UUID, timeout_seconds: int) -> None:
        self._database = database
        self._task_id = task_id
        self._deadline = time.monotonic() + timeout_seconds
        self._timeout_seconds = timeout_seconds
        self._checked_at = 0.0
        self._cancelled = False

    def __call__(self) -> bool:
        now = time.monotonic()
        if now > self._deadline:
            raise TaskTimedOut(
                f"The task timed out after {self._timeout_seconds} s (TASK_TIMEOUT_SECONDS)."
            )
        if self._cancelled or now - self._checked_at < CANCEL_POLL_SECONDS:
            return self._cancelled
        self._checked_at = now
        try:
            with self._database.session() as session:
                row = session.execute(
                    select(Task.cancel_requested, Task.status).where(Task.id == self._task_id)
                ).one_or_none()
        except DBAPIError as err:
            # A database restart must not fail the research, so the next check reads the row again.
            logger.warning(
                "Cancel check of task %s failed (%s); the research continues", self._task_id, err
            )
            return self._cancelled
        self._cancelled = row is None or bool(row[0]) or row[1] == status.REVOKED
        return self._cancelled
