from __future__ import annotations

import asyncio
import time

import pytest

from gl_deep_research.events.memory import MemoryEventStore
from gl_deep_research.events.store import parse_entry_id

pytestmark = pytest.mark.unit


async def test_ids_increase_and_read_after() -> None:
    store = MemoryEventStore(ttl_seconds=60)
    ids = [store.append("t", "progress", {"n": n}) for n in range(5)]
    keys = [parse_entry_id(entry_id) for entry_id in ids]
    assert keys == sorted(keys)
    assert len(set(ids)) == 5
    after_second = await store.read("t", ids[1], block_ms=0)
    assert [event.payload["n"] for event in after_second] == [2, 3, 4]


async def test_read_blocks_until_append() -> None:
    store = MemoryEventStore(ttl_seconds=60)
    loop = asyncio.get_running_loop()
    loop.call_later(0.2, store.append, "t", "done", {"status": "SUCCESS"})
    started = time.monotonic()
    events = await store.read("t", "0-0", block_ms=3000)
    assert [event.type for event in events] == ["done"]
    assert time.monotonic() - started < 2.0


async def test_stream_expires_after_ttl() -> None:
    store = MemoryEventStore(ttl_seconds=1)
    store.append("t", "status", {})
    assert await store.exists("t")
    await asyncio.sleep(1.1)
    assert not await store.exists("t")
    assert await store.read("t", "0-0", block_ms=0) == []


async def test_subscription_continues_from_cursor() -> None:
    store = MemoryEventStore(ttl_seconds=60)
    ids = [store.append("t", "progress", {"n": n}) for n in range(3)]
    async with store.subscribe("t", ids[0]) as subscription:
        first = await subscription.read(block_ms=0)
        store.append("t", "progress", {"n": 3})
        second = await subscription.read(block_ms=0)
    assert [event.payload["n"] for event in first] == [1, 2]
    assert [event.payload["n"] for event in second] == [3]
