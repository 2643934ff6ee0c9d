"""Publishes a task's events to the event store without ever failing the task.

Events are a live view, not the record: when the store is down, appends are
dropped and logged (once per task and then every 100th failure), and the
stored task row stays the source of truth.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Mapping
from typing import Any

from gl_deep_research.engines.base import EventType
from gl_deep_research.events.store import EventStore, EventStoreUnavailable, build_payload

logger = logging.getLogger(__name__)


class EventPublisher:
    def __init__(self, store: EventStore) -> None:
        self.store = store
        self._failures = 0
        self._lock = threading.Lock()

    def for_task(self, task_id: uuid.UUID, taskgroup_id: uuid.UUID | None) -> TaskEvents:
        return TaskEvents(self, str(task_id), str(taskgroup_id) if taskgroup_id else None)

    def append(self, task_id: str, taskgroup_id: str | None, event_type: str, data: Any) -> None:
        payload = build_payload(task_id, taskgroup_id, event_type, dict(data))
        try:
            self.store.append(task_id, event_type, payload)
            if taskgroup_id:
                self.store.append(group_stream_key(taskgroup_id), event_type, payload)
        except EventStoreUnavailable as err:
            with self._lock:
                self._failures += 1
                failures = self._failures
            if failures == 1 or failures % 100 == 0:
                logger.warning(
                    "Dropped %s event of task %s because the event store is down "
                    "(%d dropped so far): %s",
                    event_type,
                    task_id,
                    failures,
                    err,
                )


def group_stream_key(taskgroup_id: str) -> str:
    return f"group:{taskgroup_id}"


class TaskEvents:
    """The event sink of one running task."""

    def __init__(self, publisher: EventPublisher, task_id: str, taskgroup_id: str | None) -> None:
        self._publisher = publisher
        self.task_id = task_id
        self.taskgroup_id = taskgroup_id

    def publish(self, event_type: str, data: Mapping[str, Any]) -> None:
        self._publisher.append(self.task_id, self.taskgroup_id, event_type, data)

    def engine_emit(self, event_type: EventType, data: Mapping[str, Any]) -> None:
        self.publish(event_type, data)
