"""Task statuses, with Celery's names as the published API uses them."""

from __future__ import annotations

PENDING = "PENDING"
RECEIVED = "RECEIVED"
STARTED = "STARTED"
RETRY = "RETRY"
SUCCESS = "SUCCESS"
FAILURE = "FAILURE"
REVOKED = "REVOKED"

ALL = (PENDING, RECEIVED, STARTED, RETRY, SUCCESS, FAILURE, REVOKED)
FINAL = frozenset({SUCCESS, FAILURE, REVOKED})
