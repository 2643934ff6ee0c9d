"""The shared stream reader: one XREAD for all subscriptions, on real Redis."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis

from gl_deep_research.api.app import create_app
from gl_deep_research.events import redis_fanout
from gl_deep_research.events.redis_fanout import reader_client_name
from gl_deep_research.events.redis_store import RedisEventStore
from gl_deep_research.events.store import EventStoreUnavailable, EventSubscription
from gl_deep_research.runtime import build_runtime
from gl_deep_research.settings import Settings
from tests.service.support import ChildProcess, free_port, wait_until

pytestmark = pytest.mark.services

# Longer than any read below waits, so that a subscription which the reader only
# picks up after its XREAD times out fails the test instead of passing late.
LONG_READ_BLOCK_MS = 25_000
# Shorter than LONG_READ_BLOCK_MS, and below the store's 30 s socket timeout.
WAIT_MS = 20_000


@pytest.fixture
async def store(session_settings: Settings) -> AsyncIterator[RedisEventStore]:
    events = RedisEventStore(session_settings)
    yield events
    await events.aclose()
    events.close()


def new_key() -> str:
    return f"fanout-test-{uuid.uuid4()}"


def append_numbers(store: RedisEventStore, key: str, numbers: range) -> list[str]:
    return [store.append(key, "progress", {"n": number}) for number in numbers]


async def read_numbers(subscription: EventSubscription, count: int) -> list[int]:
    """Read until `count` events arrived; a read that waits WAIT_MS for nothing ends it."""
    numbers: list[int] = []
    while len(numbers) < count:
        events = await subscription.read(block_ms=WAIT_MS)
        if not events:
            break
        numbers += [event.payload["n"] for event in events]
    return numbers


def reader_connections(settings: Settings) -> list[dict[str, str]]:
    """Return CLIENT LIST's rows for the stream reader of this test process."""
    client = redis.Redis(host=settings.redis_host, port=settings.redis_port)
    try:
        return [item for item in client.client_list() if item["name"] == reader_client_name()]
    finally:
        client.close()


async def wait_for_blocked_reader(settings: Settings) -> None:
    """Wait until the reader blocks in XREAD (flag `b` in CLIENT LIST)."""
    for _ in range(600):
        if any("b" in item["flags"] for item in reader_connections(settings)):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(
        f"the stream reader never blocked in XREAD: {reader_connections(settings)}"
    )


async def test_subscriptions_share_one_reader(
    store: RedisEventStore, session_settings: Settings
) -> None:
    keys = [new_key() for _ in range(3)]
    middle = {key: append_numbers(store, key, range(5))[2] for key in keys}

    async def follow(key: str, after: str) -> list[int]:
        async with store.subscribe(key, after) as subscription:
            return await read_numbers(subscription, 10 if after == "0-0" else 7)

    followers = {
        (key, after, copy): asyncio.create_task(follow(key, after))
        for key in keys
        for after in ("0-0", middle[key])
        for copy in range(5)
    }
    await wait_for_blocked_reader(session_settings)
    assert store.subscription_count() == 30
    assert len(reader_connections(session_settings)) == 1

    for key in keys:
        await asyncio.to_thread(append_numbers, store, key, range(5, 10))
    results = dict(zip(followers, await asyncio.gather(*followers.values()), strict=True))

    for (_, after, _), numbers in results.items():
        expected = list(range(10)) if after == "0-0" else list(range(3, 10))
        assert numbers == expected
    assert store.subscription_count() == 0


async def test_left_subscription_is_removed(store: RedisEventStore) -> None:
    key = new_key()
    entered = asyncio.Event()

    async def wait_forever() -> None:
        async with store.subscribe(key, "0-0") as subscription:
            entered.set()
            await subscription.read(block_ms=WAIT_MS)

    leaving = asyncio.create_task(wait_forever())
    async with store.subscribe(key, "0-0") as staying:
        await entered.wait()
        assert store.subscription_count() == 2

        # sse-starlette cancels the generator when the client disconnects.
        leaving.cancel()
        with pytest.raises(asyncio.CancelledError):
            await leaving
        assert store.subscription_count() == 1

        await asyncio.to_thread(append_numbers, store, key, range(3))
        assert await read_numbers(staying, 3) == [0, 1, 2]
    assert store.subscription_count() == 0


async def test_new_key_interrupts_blocked_read(
    store: RedisEventStore, session_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(redis_fanout, "READ_BLOCK_MS", LONG_READ_BLOCK_MS)
    waiting_key, history_key = new_key(), new_key()
    append_numbers(store, history_key, range(4))

    async with store.subscribe(waiting_key, "0-0"):
        await wait_for_blocked_reader(session_settings)
        async with store.subscribe(history_key, "0-0") as late:
            assert await read_numbers(late, 4) == [0, 1, 2, 3]


async def test_full_buffer_resumes_from_cursor(
    store: RedisEventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(redis_fanout, "MAX_BUFFERED_EVENTS", 5)
    monkeypatch.setattr(redis_fanout, "READ_COUNT", 3)
    key = new_key()
    append_numbers(store, key, range(40))

    async with store.subscribe(key, "0-0") as slow, store.subscribe(key, "0-0") as fast:
        assert await read_numbers(fast, 40) == list(range(40))
        assert await read_numbers(slow, 40) == list(range(40))


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[tuple[int, list[ChildProcess]]]:
    """A Redis server of this test alone on a free port, which the test may stop."""
    port = free_port()
    processes: list[ChildProcess] = []
    yield port, processes
    for process in processes:
        process.stop()


def start_redis(port: int, processes: list[ChildProcess], log_path: Path) -> ChildProcess:
    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    process = ChildProcess(argv, {"PATH": "/usr/bin:/bin:/usr/sbin"}, log_path)
    processes.append(process)
    client = redis.Redis(port=port)
    wait_until(client.ping, timeout=30, what=f"redis-server on port {port}")
    client.close()
    return process


async def test_reader_recovers_after_redis_restart(
    private_redis: tuple[int, list[ChildProcess]],
    session_settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(redis_fanout, "READ_BLOCK_MS", LONG_READ_BLOCK_MS)
    port, processes = private_redis
    server = start_redis(port, processes, tmp_path / "redis-1.log")
    settings = session_settings.model_copy(update={"redis_port": port, "redis_db": 0})
    store = RedisEventStore(settings)
    try:
        key = new_key()
        append_numbers(store, key, range(2))
        async with store.subscribe(key, "0-0") as before:
            assert await read_numbers(before, 2) == [0, 1]
            server.stop()
            with pytest.raises(EventStoreUnavailable):
                await before.read(block_ms=60_000)
        assert store.subscription_count() == 0

        start_redis(port, processes, tmp_path / "redis-2.log")
        waiting_key, history_key = new_key(), new_key()
        append_numbers(store, history_key, range(3))
        async with store.subscribe(waiting_key, "0-0"):
            await wait_for_blocked_reader(settings)
            # The reader connected again with a new client id; CLIENT UNBLOCK must use it.
            async with store.subscribe(history_key, "0-0") as after:
                assert await read_numbers(after, 3) == [0, 1, 2]
    finally:
        await store.aclose()
        store.close()


async def test_app_shutdown_stops_reader(session_settings: Settings) -> None:
    runtime = build_runtime(session_settings, role="api")
    app = create_app(runtime=runtime)
    try:
        async with app.router.lifespan_context(app):
            async with runtime.events.subscribe(new_key(), "0"):
                await wait_for_blocked_reader(session_settings)
            assert len(reader_connections(session_settings)) == 1
        wait_until(
            lambda: not reader_connections(session_settings),
            timeout=10,
            what="the stream reader's connection closed",
        )
    finally:
        runtime.close()
