"""The Celery beat schedule: the webhook sweep and the table-cleanup job."""

from __future__ import annotations

from typing import Any

from celery.schedules import crontab

from gl_deep_research.dispatch.queue import CLEANUP_TASK_NAME, SEND_WEBHOOKS_TASK_NAME
from gl_deep_research.settings import ConfigurationError, Settings

# Retries of failed webhooks are sent by this sweep, so a retry is at most this late.
WEBHOOK_SWEEP_SECONDS = 5.0


def cleanup_crontab(expression: str) -> crontab:
    """Build a crontab from a 5-field cron expression (`TABLE_CLEANUP_SCHEDULE`)."""
    minute, hour, day_of_month, month, day_of_week = expression.split()
    try:
        return crontab(
            minute=minute,
            hour=hour,
            day_of_month=day_of_month,
            month_of_year=month,
            day_of_week=day_of_week,
        )
    except ValueError as err:
        raise ConfigurationError(
            f"TABLE_CLEANUP_SCHEDULE={expression!r} is not a valid cron expression: {err}; "
            "use 5 fields such as '0 3 * * *'."
        ) from err


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    queue = settings.celery_queue_name
    schedule: dict[str, dict[str, Any]] = {
        "send-webhooks": {
            "task": SEND_WEBHOOKS_TASK_NAME,
            "schedule": WEBHOOK_SWEEP_SECONDS,
            # A sweep that waited longer than one interval is replaced by the next one.
            "options": {"queue": queue, "expires": WEBHOOK_SWEEP_SECONDS},
        }
    }
    if settings.table_cleanup_enabled:
        schedule["cleanup-tables"] = {
            "task": CLEANUP_TASK_NAME,
            "schedule": cleanup_crontab(settings.table_cleanup_schedule),
            "options": {"queue": queue},
        }
    return schedule
