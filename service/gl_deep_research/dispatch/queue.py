"""Dispatchers that hand a persisted task to a worker.

The task row is committed before `enqueue` is called. When `enqueue` fails,
the row stays without `enqueued_at` and the outbox sweeper enqueues it again,
so an accepted task is never lost. A task enqueued twice runs once, because
the runner claims it in the database first.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from celery import Celery

logger = logging.getLogger(__name__)

RESEARCH_TASK_NAME = "gl_deep_research.research"
SEND_WEBHOOKS_TASK_NAME = "gl_deep_research.send_webhooks"
CLEANUP_TASK_NAME = "gl_deep_research.cleanup_tables"


class Dispatcher(Protocol):
    name: str

    def enqueue(self, task_id: uuid.UUID) -> None: ...

    def send_webhooks(self) -> None:
        """Ask a worker to send due webhook deliveries soon; failures are logged, not raised."""
        ...

    def close(self) -> None: ...


class CeleryDispatcher:
    """Publishes to the broker; a Celery worker runs the task."""

    name = "celery"

    def __init__(self, app: Celery, queue: str) -> None:
        self._app = app
        self._queue = queue

    def enqueue(self, task_id: uuid.UUID) -> None:
        self._app.send_task(
            RESEARCH_TASK_NAME,
            args=[str(task_id)],
            task_id=str(task_id),
            queue=self._queue,
            retry=True,
            retry_policy={"max_retries": 3, "interval_start": 0.2, "interval_step": 0.5},
        )

    def send_webhooks(self) -> None:
        try:
            self._app.send_task(SEND_WEBHOOKS_TASK_NAME, queue=self._queue)
        except Exception as err:
            # The deliveries are committed; the periodic sweep sends them instead.
            logger.warning("Could not ask a worker to send webhooks now (%s); the sweep will", err)

    def close(self) -> None:
        self._app.close()


class InProcessDispatcher:
    """Runs tasks on a thread pool inside this process (embedded mode).

    Queued and running tasks die with the process. The next API start enqueues
    them again (`tasks.recovery.requeue_unfinished_tasks`).
    """

    name = "in-process"

    def __init__(
        self,
        execute: Callable[[uuid.UUID], object],
        concurrency: int,
        send_webhooks: Callable[[], object] | None = None,
    ) -> None:
        self._execute = execute
        self._send_webhooks = send_webhooks
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="gldr-task")
        # One sender thread, so that two senders never claim the same SQLite rows.
        self._webhook_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gldr-webhook")

    def enqueue(self, task_id: uuid.UUID) -> None:
        self._pool.submit(self._run, task_id)

    def _run(self, task_id: uuid.UUID) -> None:
        try:
            self._execute(task_id)
        except Exception:
            logger.exception("Task %s crashed in the in-process worker", task_id)

    def send_webhooks(self) -> None:
        if self._send_webhooks is None:
            return
        try:
            self._webhook_pool.submit(self._deliver)
        except RuntimeError as err:
            # The pool is shut down because the process is stopping; the rows stay pending.
            logger.warning("Could not send webhooks now (%s); they are sent after a restart", err)

    def _deliver(self) -> None:
        assert self._send_webhooks is not None
        try:
            self._send_webhooks()
        except Exception:
            logger.exception("Sending webhooks in the in-process worker failed; retrying later")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._webhook_pool.shutdown(wait=False, cancel_futures=True)
