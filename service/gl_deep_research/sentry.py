"""Sentry error reporting, initialised only when `SENTRY_DSN` is set."""

from __future__ import annotations

import logging

import sentry_sdk

from gl_deep_research.settings import Settings

logger = logging.getLogger(__name__)


def init_sentry(settings: Settings, role: str) -> bool:
    """Start the Sentry client for this process; return False when no DSN is configured."""
    if settings.sentry_dsn is None or not settings.sentry_dsn.get_secret_value():
        return False
    sentry_sdk.init(
        dsn=settings.sentry_dsn.get_secret_value(),
        environment=settings.environment,
        # Requests and task payloads can hold questions and webhook URLs; keep them out.
        send_default_pii=False,
    )
    sentry_sdk.set_tag("role", role)
    if settings.sentry_project:
        sentry_sdk.set_tag("project", settings.sentry_project)
    logger.info("Sentry reporting is on for %s (environment %s)", role, settings.environment)
    return True
