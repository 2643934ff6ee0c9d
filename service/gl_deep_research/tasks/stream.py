"""Follow a task's events: history first, then live events, ending with `done`.

Used by the SSE routes and by `gldr research`. The follower holds no
database connection while it waits; it reads the task row only when no
event arrived for one read window, to notice a finished task whose events
expired or were never written (event store down during the run). Then it
builds `status`, `result` or `error`, and `done` from the stored row.

A follower resumed with `after` (the client's Last-Event-ID) never yields an
id at or below it, and yields nothing when the client already received the
task's `done`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import replace

from gl_deep_research.db.models import Task
from gl_deep_research.events.store import EventStore, StoredEvent, build_payload, parse_entry_id
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
    if after is not None:
        task = await _load_if_finished(load_task)
        if task is not None and await done_already_sent(store, task, after):
            return
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
                for event in renumber_after(events_from_row(task), after):
                    yield event
                return


async def _load_if_finished(load_task: Callable[[], Awaitable[Task]]) -> Task | None:
    # Returns None for a running task, so that the follower does not keep its row
    # in memory while it waits for the next event.
    task = await load_task()
    return task if task.status in status.FINAL else None


async def stream_done_id(store: EventStore, key: str) -> str | None:
    """Return the id of the first `done` event in stream `key`, or None when it has none."""
    cursor = "0-0"
    while events := await store.read(key, cursor, block_ms=0):
        for event in events:
            if event.type == "done":
                return event.id
        cursor = events[-1].id
    return None


def is_at_or_after(event_id: str, after: str) -> bool:
    """Return True when entry id `after` is equal to or later than `event_id`."""
    return (parse_entry_id(after) or (0, 0)) >= (parse_entry_id(event_id) or (0, 0))


async def done_already_sent(store: EventStore, task: Task, after: str) -> bool:
    """Return True when a client whose Last-Event-ID is `after` received the task's `done`.

    The `done` is the stream's, or the one `events_from_row` builds when the
    stream has none. Renumbered closing events have ids above the row's, so
    they count as received too.
    """
    if task.status not in status.FINAL:
        return False
    done_id = await stream_done_id(store, str(task.id)) or events_from_row(task)[-1].id
    return is_at_or_after(done_id, after)


def renumber_after(events: Sequence[StoredEvent], after: str | None) -> list[StoredEvent]:
    """Drop built `events` up to `after`, or give them ids that follow `after`.

    A browser's EventSource sends the last id it received as Last-Event-ID,
    so a resumed stream must never send a lower one. When `after` is one of
    the built ids, the client received the events up to it in an earlier
    stream, so only the rest is sent.
    """
    ids = [event.id for event in events]
    if after in ids:
        return list(events[ids.index(after) + 1 :])
    if after is None or not events or not is_at_or_after(events[0].id, after):
        return list(events)
    milliseconds, sequence = parse_entry_id(after) or (0, 0)
    return [
        replace(event, id=f"{milliseconds}-{sequence + offset}")
        for offset, event in enumerate(events, start=1)
    ]


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
