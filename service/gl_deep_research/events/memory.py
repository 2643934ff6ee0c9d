"""In-process event store for embedded mode: same interface and TTL as Redis.

Events live only as long as the process, so API and worker must share it,
which is what embedded mode does. Readers poll every 50 ms while blocking.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from gl_deep_research.events.store import EventSubscription, StoredEvent, parse_entry_id

POLL_SECONDS = 0.05
MAX_EVENTS_PER_TASK = 10_000


class _Stream:
    def __init__(self) -> None:
        self.entries: list[StoredEvent] = []
        self.last_id = (0, 0)
        self.expires_at = 0.0


class _MemorySubscription:
    def __init__(self, store: MemoryEventStore, task_id: str, after: str) -> None:
        self._store = store
        self._task_id = task_id
        self._cursor = after

    async def read(self, block_ms: int) -> list[StoredEvent]:
        events = await self._store.read(self._task_id, self._cursor, block_ms)
        if events:
            self._cursor = events[-1].id
        return events


class MemoryEventStore:
    name = "memory"

    def __init__(self, ttl_seconds: int) -> None:
        self._ttl = ttl_seconds
        self._streams: dict[str, _Stream] = {}
        self._lock = threading.Lock()

    def append(self, task_id: str, event_type: str, payload: dict[str, Any]) -> str:
        with self._lock:
            stream = self._live_stream(task_id) or self._streams.setdefault(task_id, _Stream())
            milliseconds = int(time.time() * 1000)
            last_ms, last_seq = stream.last_id
            entry = (milliseconds, 0) if milliseconds > last_ms else (last_ms, last_seq + 1)
            stream.last_id = entry
            event = StoredEvent(id=f"{entry[0]}-{entry[1]}", type=event_type, payload=payload)
            stream.entries.append(event)
            del stream.entries[:-MAX_EVENTS_PER_TASK]
            stream.expires_at = time.monotonic() + self._ttl
            return event.id

    async def read(self, task_id: str, after: str, block_ms: int) -> list[StoredEvent]:
        deadline = time.monotonic() + block_ms / 1000
        after_key = parse_entry_id(after) or (0, 0)
        while True:
            with self._lock:
                stream = self._live_stream(task_id)
                found = [
                    event
                    for event in (stream.entries if stream else [])
                    if (parse_entry_id(event.id) or (0, 0)) > after_key
                ]
            if found or time.monotonic() >= deadline:
                return found
            await asyncio.sleep(POLL_SECONDS)

    @asynccontextmanager
    async def subscribe(self, task_id: str, after: str) -> AsyncIterator[EventSubscription]:
        yield _MemorySubscription(self, task_id, after)

    async def exists(self, task_id: str) -> bool:
        with self._lock:
            return self._live_stream(task_id) is not None

    async def ping(self) -> None:
        return None

    async def aclose(self) -> None:
        return None

    def close(self) -> None:
        with self._lock:
            self._streams.clear()

    def _live_stream(self, task_id: str) -> _Stream | None:
        stream = self._streams.get(task_id)
        if stream is not None and stream.expires_at <= time.monotonic():
            del self._streams[task_id]
            return None
        return stream
