"""The Celery application shared by the API (to publish) and the worker (to run).

Reliability settings: tasks are acknowledged late and rejected back to the
queue when the worker process dies, so a SIGKILLed worker's task runs again
on another worker; the task runner's claim makes the rerun safe.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery, signals
from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy.exc import DBAPIError

from gl_deep_research.dispatch.queue import (
    CLEANUP_TASK_NAME,
    RESEARCH_TASK_NAME,
    SEND_WEBHOOKS_TASK_NAME,
)
from gl_deep_research.settings import Settings, load_settings
from gl_deep_research.worker.liveness import ConsumerHeartbeatStep
from gl_deep_research.worker.schedule import beat_schedule

logger = logging.getLogger(__name__)


def result_backend_url(settings: Settings) -> str | None:
    """Celery's result backend: `CELERY_RESULT_BACKEND`, else the service's PostgreSQL."""
    if settings.celery_result_backend:
        return settings.celery_result_backend
    if settings.gl_deep_research_db_url:
        return "db+" + settings.database_url
    return None


def create_celery_app(settings: Settings) -> Celery:
    celery = Celery("gl_deep_research")
    celery.conf.update(
        broker_url=settings.celery_broker_url or "memory://",
        result_backend=result_backend_url(settings),
        result_extended=True,
        task_default_queue=settings.celery_queue_name,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_track_started=True,
        # The runner's own deadline check fires first; these limits catch a stuck engine.
        task_soft_time_limit=settings.task_timeout_seconds + 30,
        task_time_limit=settings.task_timeout_seconds + 90,
        worker_prefetch_multiplier=settings.worker_prefetch_multiplier,
        worker_concurrency=settings.worker_concurrency,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"confirm_publish": True},
        task_serializer="json",
        accept_content=["json"],
        database_table_names={"task": "celery_taskmeta", "group": "celery_groupmeta"},
        beat_schedule=beat_schedule(settings),
        beat_schedule_filename=str(settings.gldr_data_dir / "celerybeat-schedule"),
        timezone="UTC",
    )
    # Records the heartbeat that the worker's GET /livez checks.
    celery.steps["consumer"].add(ConsumerHeartbeatStep)
    return celery


app = create_celery_app(load_settings())


# Retries of a task whose database work failed: 2, 4, 8, ... seconds, at most
# 60 s apart, for about an hour in all.
DATABASE_RETRY_MAX = 64
DATABASE_RETRY_MAX_SECONDS = 60


# ignore_result: the outcome lives in the tasks table. A result backend write
# that fails while PostgreSQL restarts would otherwise drop the message.
@app.task(name=RESEARCH_TASK_NAME, bind=True, ignore_result=True)
def research(self: Any, task_id: str) -> str | None:
    """Run one research task; the outcome lives in the tasks table."""
    from gl_deep_research.worker.process import worker_runtime

    try:
        return worker_runtime().runner.execute_by_id(task_id)
    except SoftTimeLimitExceeded:
        logger.error("Task %s exceeded the Celery soft time limit", task_id)
        raise
    except DBAPIError as err:
        # The claim or the final write failed, so the row is still PENDING or
        # STARTED. Acknowledging the message now would strand it; send it again.
        retries = self.request.retries
        countdown = min(2 ** (retries + 1), DATABASE_RETRY_MAX_SECONDS)
        logger.warning(
            "Task %s hit a database error (%s); retry %d of %d in %d s",
            task_id,
            err,
            retries + 1,
            DATABASE_RETRY_MAX,
            countdown,
        )
        raise self.retry(exc=err, countdown=countdown, max_retries=DATABASE_RETRY_MAX) from err


@app.task(name=SEND_WEBHOOKS_TASK_NAME, ignore_result=True)
def send_webhooks() -> None:
    """Send every due webhook delivery; beat runs it every few seconds for retries."""
    from gl_deep_research.worker.process import worker_runtime

    worker_runtime().webhook_sender.send_due()


@app.task(name=CLEANUP_TASK_NAME)
def cleanup_tables() -> dict[str, int]:
    """Delete finished rows older than TABLE_CLEANUP_RETENTION_DAYS, in batches."""
    from gl_deep_research.tasks.cleanup import cleanup_tables as run_cleanup
    from gl_deep_research.worker.process import worker_runtime

    runtime = worker_runtime()
    return run_cleanup(runtime.database, runtime.settings.table_cleanup_retention_days)


@signals.worker_init.connect
def _start_worker_services(**_: Any) -> None:
    from gl_deep_research.sentry import init_sentry
    from gl_deep_research.worker.metrics_server import start_metrics_server

    settings = load_settings()
    init_sentry(settings, role="worker")
    start_metrics_server(settings)


@signals.beat_init.connect
def _create_schedule_folder(**_: Any) -> None:
    # Beat keeps its last-run times in a file under GLDR_DATA_DIR.
    load_settings().gldr_data_dir.mkdir(parents=True, exist_ok=True)


@signals.worker_process_init.connect
def _reset_runtime_after_fork(**_: Any) -> None:
    from gl_deep_research.worker.process import reset_worker_runtime

    reset_worker_runtime()


@signals.setup_logging.connect
def _configure_logging(**_: Any) -> None:
    from gl_deep_research.logs import configure_logging

    configure_logging(load_settings())
