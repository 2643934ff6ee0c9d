"""Follow a task group's events: every member's events merged, then one closing `done`.

Workers append each member event to the group's own stream
(`group:<taskgroup_id>`) as well, so one reader sees all members in order.
The follower ends once every member has finished: at once when each
member's `done` arrived, otherwise after a short wait, building the missing
members' closing events from their stored rows. The last message is a group
`done` whose `task_id` is null and whose data carries the group status.
A follower resumed with `after` (the client's Last-Event-ID) never yields an
id at or below it, and yields nothing when the client already received the
group `done`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

from gl_deep_research.db.models import Task
from gl_deep_research.events.publisher import group_stream_key
from gl_deep_research.events.store import EventStore, StoredEvent, build_payload, parse_entry_id
from gl_deep_research.tasks import status
from gl_deep_research.tasks.group_status import compute_group_status
from gl_deep_research.tasks.groups import GroupView
from gl_deep_research.tasks.stream import (
    READ_WINDOW_MS,
    TRAILING_EVENT_WINDOWS,
    events_from_row,
    is_at_or_after,
    renumber_after,
)


async def _member_done_ids(store: EventStore, key: str) -> dict[str, str]:
    """Return the id of each member's `done` in the group stream, by task id."""
    done_ids: dict[str, str] = {}
    cursor = "0-0"
    while events := await store.read(key, cursor, block_ms=0):
        for event in events:
            if event.type == "done" and event.payload.get("task_id"):
                done_ids.setdefault(str(event.payload["task_id"]), event.id)
        cursor = events[-1].id
    return done_ids


async def _done_before(store: EventStore, key: str, after: str) -> set[str]:
    """Return the members whose `done` is at or before `after`, for a resumed stream."""
    done_ids = await _member_done_ids(store, key)
    return {task_id for task_id, done_id in done_ids.items() if is_at_or_after(done_id, after)}


async def group_done_already_sent(
    store: EventStore, group_id: str, members: Sequence[Task], after: str
) -> bool:
    """Return True when a client whose Last-Event-ID is `after` received the group `done`.

    The group `done` has a higher id than every member's `done` (from the
    stream, or built from the row when the stream has none), and nothing
    else does, so `after` must be above all of them.
    """
    if not members or any(task.status not in status.FINAL for task in members):
        return False
    done_ids = await _member_done_ids(store, group_stream_key(group_id))
    for task in members:
        done_id = done_ids.get(str(task.id)) or events_from_row(task)[-1].id
        if is_at_or_after(after, done_id):
            return False
    return True


def _group_done(group_id: str, cursor: str, group_status: str) -> StoredEvent:
    milliseconds, sequence = parse_entry_id(cursor) or (0, 0)
    return StoredEvent(
        id=f"{milliseconds}-{sequence + 1}",
        type="done",
        payload=build_payload(None, group_id, "done", {"status": group_status}),
    )


async def follow_group_events(
    store: EventStore,
    group_id: str,
    load_group: Callable[[], Awaitable[GroupView]],
    after: str | None = None,
    read_window_ms: int = READ_WINDOW_MS,
) -> AsyncIterator[StoredEvent]:
    key = group_stream_key(group_id)
    if after is not None:
        members = await _members_if_finished(load_group)
        if members is not None and await group_done_already_sent(store, group_id, members, after):
            return
    cursor = after or "0-0"
    done_seen = await _done_before(store, key, after) if after else set()
    idle_finished_windows = 0
    async with store.subscribe(key, cursor) as subscription:
        while True:
            events = await subscription.read(block_ms=read_window_ms)
            for event in events:
                cursor = event.id
                if event.type == "done" and event.payload.get("task_id"):
                    done_seen.add(str(event.payload["task_id"]))
                yield event
            if events:
                idle_finished_windows = 0
                if not any(event.type == "done" for event in events):
                    continue

            members = await _members_if_finished(load_group)
            if members is None:
                continue
            missing = [task for task in members if str(task.id) not in done_seen]
            if missing:
                if not events:
                    idle_finished_windows += 1
                if idle_finished_windows < TRAILING_EVENT_WINDOWS:
                    continue
                for task in missing:
                    for event in renumber_after(events_from_row(task), cursor):
                        cursor = event.id
                        yield event
            yield _group_done(group_id, cursor, compute_group_status(t.status for t in members))
            return


async def _members_if_finished(load_group: Callable[[], Awaitable[GroupView]]) -> list[Task] | None:
    # Returns None while a member runs, so that the follower does not keep the rows
    # in memory while it waits for the next event.
    members = (await load_group()).members
    if not members or any(task.status not in status.FINAL for task in members):
        return None
    return members
