"""Server-Sent Events responses over `tasks.stream.follow_task_events`.

The response carries `Cache-Control: no-cache` and `X-Accel-Buffering: no`
so proxies pass events through at once, and a comment heartbeat every
`STREAM_HEARTBEAT_SECONDS` (15 s by default). sse-starlette watches for the
client's disconnect and cancels the generator, which stops the reader.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

from fastapi import Request
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool

from gl_deep_research.auth.verifier import Caller
from gl_deep_research.db.models import Task
from gl_deep_research.errors import DependencyUnavailable, InvalidInput
from gl_deep_research.events.store import EventStoreUnavailable, parse_entry_id
from gl_deep_research.runtime import Runtime
from gl_deep_research.tasks.stream import follow_task_events

logger = logging.getLogger(__name__)

STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def validate_last_event_id(last_event_id: str | None) -> str | None:
    if last_event_id is None or last_event_id == "":
        return None
    if parse_entry_id(last_event_id) is None:
        raise InvalidInput(
            f"Header 'Last-Event-ID' must be an event id like '1700000000000-0', "
            f"got {last_event_id!r}.",
            field="Last-Event-ID",
        )
    return last_event_id


async def open_event_stream(
    runtime: Runtime,
    caller: Caller,
    task: Task,
    request: Request,
    last_event_id: str | None,
) -> EventSourceResponse:
    after = validate_last_event_id(last_event_id)
    try:
        await runtime.events.ping()
    except EventStoreUnavailable as err:
        logger.warning("Refused a stream of task %s: %s", task.id, err)
        raise DependencyUnavailable(
            "Event streaming is temporarily unavailable because the event store (Redis) "
            "cannot be reached; the task itself is unaffected, so poll "
            f"GET /v1/tasks/{task.id} or retry the stream later."
        ) from err

    task_id = str(task.id)

    async def load_task() -> Task:
        # A short session per check, so a waiting stream holds no pooled connection.
        return await run_in_threadpool(runtime.tasks.get_task, caller, task_id)

    async def generate() -> AsyncIterator[ServerSentEvent]:
        try:
            async for event in follow_task_events(runtime.events, task_id, load_task, after):
                yield ServerSentEvent(data=event.sse_data(), event=event.type, id=event.id)
        except EventStoreUnavailable as err:
            logger.warning(
                "Stream of task %s ended because the event store failed: %s", task_id, err
            )
            message = {"error": "The event store became unavailable; reconnect later."}
            yield ServerSentEvent(data=json.dumps(message), event="error")

    return EventSourceResponse(
        generate(),
        ping=runtime.settings.stream_heartbeat_seconds,
        headers=STREAM_HEADERS,
    )
