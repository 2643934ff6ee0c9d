"""The status of a task group, computed from its members' statuses."""

from __future__ import annotations

from collections.abc import Iterable

from gl_deep_research.tasks import status


def compute_group_status(member_statuses: Iterable[str]) -> str:
    """Return PENDING, STARTED, SUCCESS, FAILURE or PARTIAL_FAILURE.

    PENDING: empty, or no member has started. STARTED: some member started
    and not all have finished. SUCCESS: all succeeded. FAILURE: all failed
    or were revoked. PARTIAL_FAILURE: all finished with mixed outcomes.
    """
    statuses = list(member_statuses)
    if not statuses:
        return status.PENDING
    if all(value in status.FINAL for value in statuses):
        if all(value == status.SUCCESS for value in statuses):
            return status.SUCCESS
        if all(value != status.SUCCESS for value in statuses):
            return status.FAILURE
        return status.PARTIAL_FAILURE
    if all(value in (status.PENDING, status.RECEIVED) for value in statuses):
        return status.PENDING
    return status.STARTED
