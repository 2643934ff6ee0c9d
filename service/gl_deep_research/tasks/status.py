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
ACTIVE = frozenset({PENDING, RECEIVED, STARTED, RETRY})

# Task-group statuses, computed from the members by `tasks.group_status`.
PARTIAL_FAILURE = "PARTIAL_FAILURE"
GROUP_NOTIFIED = frozenset({STARTED, SUCCESS, FAILURE, PARTIAL_FAILURE})
