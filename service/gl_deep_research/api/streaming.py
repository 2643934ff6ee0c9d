"""Server-Sent Events responses over a task's or a task group's event follower.

The response carries `Cache-Control: no-cache` and `X-Accel-Buffering: no`
so proxies pass events through at once, and a comment heartbeat every
`STREAM_HEARTBEAT_SECONDS` (15 s by default). sse-starlette watches for the
client's disconnect and cancels the generator, which ends its subscription
to the process's shared stream reader. The heartbeat write also fails on a
dead connection, so the server notices a disconnect within one heartbeat at
the latest.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from fastapi import Response
from sse_starlette import EventSourceResponse, ServerSentEvent

from gl_deep_research.api.metrics import STREAM_CONNECTIONS
from gl_deep_research.errors import DependencyUnavailable, InvalidInput
from gl_deep_research.events.store import EventStoreUnavailable, StoredEvent, parse_entry_id
from gl_deep_research.runtime import Runtime

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


def _store_unavailable(subject: str, poll_path: str) -> DependencyUnavailable:
    return DependencyUnavailable(
        "Event streaming is temporarily unavailable because the event store (Redis) "
        f"cannot be reached; the {subject} itself is unaffected, so poll "
        f"GET {poll_path} or retry the stream later."
    )


async def check_event_store(runtime: Runtime, subject: str, poll_path: str) -> None:
    """Raise 503 when the event store is down; the rest of the API keeps working."""
    try:
        await runtime.events.ping()
    except EventStoreUnavailable as err:
        logger.warning("Refused a stream of %s: %s", subject, err)
        raise _store_unavailable(subject, poll_path) from err


async def finished_stream_response(
    subject: str, poll_path: str, done_already_sent: Awaitable[bool]
) -> Response | None:
    """Return 204 No Content when the client's Last-Event-ID is at or past the final `done`.

    A browser's EventSource reconnects whenever a stream closes, but "a client
    can be told to stop reconnecting using the HTTP 204 No Content response
    code" (W3C Server-Sent Events), so a client that has the result does not
    receive it again.
    """
    try:
        finished = await done_already_sent
    except EventStoreUnavailable as err:
        logger.warning("Refused a stream of %s: %s", subject, err)
        raise _store_unavailable(subject, poll_path) from err
    if not finished:
        return None
    logger.debug("Stream of %s resumed after its final event; returned 204", subject)
    return Response(status_code=204)


def event_stream_response(
    runtime: Runtime,
    subject: str,
    follow: Callable[[], AsyncIterator[StoredEvent]],
) -> EventSourceResponse:
    """Stream the events `follow()` yields as SSE messages, with heartbeats."""

    async def generate() -> AsyncIterator[ServerSentEvent]:
        STREAM_CONNECTIONS.inc()
        try:
            async for event in follow():
                yield ServerSentEvent(data=event.sse_data(), event=event.type, id=event.id)
        except EventStoreUnavailable as err:
            logger.warning("Stream of %s ended because the event store failed: %s", subject, err)
            message = {"error": "The event store became unavailable; reconnect later."}
            yield ServerSentEvent(data=json.dumps(message), event="error")
        finally:
            STREAM_CONNECTIONS.dec()
            logger.debug("Stream of %s closed", subject)

    return EventSourceResponse(
        generate(),
        ping=runtime.settings.stream_heartbeat_seconds,
        headers=STREAM_HEADERS,
    )
