"""Follow a task's events: history first, then live events, ending with `done`.

Used by the SSE routes and by `gldr research`. The follower holds no
database connection while it waits; it reads the task row only when no
event arrived for one read window, to notice a finished task whose events
expired or were never written (event store down during the run). Then it
builds `status`, `result` or `error`, and `done` from the stored row.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

from gl_deep_research.db.models import Task
from gl_deep_research.events.store import EventStore, StoredEvent, build_payload
from gl_deep_research.tasks import status

READ_WINDOW_MS = 5000
# Windows to wait for a finished task's trailing events before building them from its row.
TRAILING_EVENT_WINDOWS = 2


async def follow_task_events(
    store: EventStore,
    task_id: str,
    load_task: Callable[[], Awaitable[Task]],
    after: str | None = None,
    read_window_ms: int = READ_WINDOW_MS,
) -> AsyncIterator[StoredEvent]:
    idle_finished_windows = 0
    async with store.subscribe(task_id, after or "0-0") as subscription:
        while True:
            events = await subscription.read(block_ms=read_window_ms)
            for event in events:
                yield event
                if event.type == "done":
                    return
            if events:
                idle_finished_windows = 0
                continue

            task = await _load_if_finished(load_task)
            if task is None:
                continue
            idle_finished_windows += 1
            if idle_finished_windows >= TRAILING_EVENT_WINDOWS or not await store.exists(task_id):
                for event in events_from_row(task):
                    yield event
                return


async def _load_if_finished(load_task: Callable[[], Awaitable[Task]]) -> Task | None:
    # Returns None for a running task, so that the follower does not keep its row
    # in memory while it waits for the next event.
    task = await load_task()
    return task if task.status in status.FINAL else None


def events_from_row(task: Task) -> list[StoredEvent]:
    """Build the closing events of a finished task from its stored row."""
    task_id = str(task.id)
    group_id = str(task.taskgroup_id) if task.taskgroup_id else None
    moment = task.completed_at or task.created_at
    base = int(moment.timestamp() * 1000)
    closing: list[tuple[str, dict[str, object]]] = [("status", {"status": task.status})]
    if task.status == status.SUCCESS:
        closing.append(("result", {"result": task.result}))
    elif task.error:
        closing.append(("error", {"error": task.error}))
    closing.append(("done", {"status": task.status}))
    return [
        StoredEvent(
            id=f"{base}-{sequence}",
            type=event_type,
            payload=build_payload(task_id, group_id, event_type, data),
        )
        for sequence, (event_type, data) in enumerate(closing)
    ]
