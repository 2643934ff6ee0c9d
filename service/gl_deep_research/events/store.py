"""The event-store contract shared by the Redis and in-memory adapters.

Workers append events synchronously; the API reads them asynchronously,
blocking up to `block_ms` for new ones. Entry ids are Redis stream ids
(`<milliseconds>-<sequence>`), strictly increasing within one task.
"""

from __future__ import annotations

import json
import time
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol

EVENT_TYPES = ("status", "thinking", "activity", "source", "progress", "result", "error", "done")


class EventStoreUnavailable(Exception):
    """The store cannot be reached, so streams return 503 while this lasts."""


@dataclass(frozen=True)
class StoredEvent:
    """One stream entry: `payload` is `{task_id, taskgroup_id, type, timestamp, data}`."""

    id: str
    type: str
    payload: dict[str, Any]

    def sse_data(self) -> str:
        return json.dumps(self.payload, separators=(",", ":"), default=str)


def parse_entry_id(entry_id: str) -> tuple[int, int] | None:
    """Return an entry id as a comparable pair, or None when it is malformed."""
    milliseconds, _, sequence = entry_id.partition("-")
    if not milliseconds.isdigit() or not sequence.isdigit():
        return None
    return int(milliseconds), int(sequence)


def build_payload(
    task_id: str | None, taskgroup_id: str | None, event_type: str, data: dict[str, Any]
) -> dict[str, Any]:
    return {
        "task_id": task_id,
        "taskgroup_id": taskgroup_id,
        "type": event_type,
        "timestamp": time.time(),
        "data": data,
    }


class EventSubscription(Protocol):
    """A follower's view of one stream from a cursor on, open until its block ends."""

    async def read(self, block_ms: int) -> list[StoredEvent]:
        """Return the entries since the last read, waiting up to `block_ms` for the first."""
        ...


class EventStore(Protocol):
    """Per-task append-only streams that expire `ttl` seconds after the last write."""

    name: str

    def append(self, task_id: str, event_type: str, payload: dict[str, Any]) -> str: ...

    async def read(self, task_id: str, after: str, block_ms: int) -> list[StoredEvent]: ...

    def subscribe(
        self, task_id: str, after: str
    ) -> AbstractAsyncContextManager[EventSubscription]: ...

    async def exists(self, task_id: str) -> bool: ...

    async def ping(self) -> None: ...

    async def aclose(self) -> None:
        """Stop what serves live streams on the running event loop, such as a shared reader."""
        ...

    def close(self) -> None: ...
