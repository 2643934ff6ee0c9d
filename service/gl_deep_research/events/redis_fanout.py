"""One XREAD loop per process that serves every stream follower.

A follower that blocked in an XREAD of its own held a pooled Redis connection,
with its buffers and the frames of the pending command, for as long as its SSE
stream stayed open. Here one reader task on one dedicated connection blocks
in a single XREAD over the keys of all subscriptions and hands each entry to
the subscriptions of its key. A subscription that the XREAD in flight does not
cover (a new key, or a cursor behind the one being read) interrupts it with
CLIENT UNBLOCK, so the next XREAD includes it.

When the read fails after redis-py's retries, every open subscription raises
EventStoreUnavailable, as a follower's own XREAD did. The reader then waits
for the next subscription, and its next XREAD connects again.
"""

from __future__ import annotations

import asyncio
import bisect
import json
import logging
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any, cast

import redis
import redis.asyncio as aioredis
from redis.asyncio.connection import AbstractConnection
from redis.backoff import ExponentialBackoff

from gl_deep_research.events.store import EventStoreUnavailable, StoredEvent, parse_entry_id

logger = logging.getLogger(__name__)

# The reader's XREAD returns after this long without entries, then starts the next one.
READ_BLOCK_MS = 5000
# Entries per key and XREAD.
READ_COUNT = 1000
# A subscription with this many unread events receives no more until its follower
# reads them. Then the reader reads its key again from the subscription's cursor.
MAX_BUFFERED_EVENTS = 1000
# CLIENT UNBLOCK returns 0 when it reaches Redis before the XREAD blocks, so wait and retry.
UNBLOCK_BACKOFF = ExponentialBackoff(cap=0.5, base=0.005)

Cursor = tuple[int, int]


def decode_entries(entries: list[Any]) -> list[StoredEvent]:
    """Decode XRANGE or XREAD entries (`[(id, {b"type": ..., b"payload": ...}), ...]`)."""
    events = []
    for entry_id, fields in entries:
        payload = json.loads(fields[b"payload"])
        events.append(
            StoredEvent(id=entry_id.decode(), type=fields[b"type"].decode(), payload=payload)
        )
    return events


def reader_client_name() -> str:
    """Return the CLIENT SETNAME of this process's reader connection, for CLIENT LIST."""
    return f"gldr-stream-reader:{socket.gethostname()}:{os.getpid()}"


def _entry_cursor(entry_id: str) -> Cursor:
    return parse_entry_id(entry_id) or (0, 0)


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class StreamSubscription:
    """One follower's place in one stream: its cursor and the events it has not read."""

    __slots__ = ("_error", "_events", "_fanout", "_waiter", "cursor", "key", "paused")

    def __init__(self, fanout: RedisStreamFanout, key: bytes, cursor: Cursor) -> None:
        self.key = key
        # The id of the last event handed to this subscription.
        self.cursor = cursor
        # True while the buffer is full, so the reader skips the subscription until a read.
        self.paused = False
        self._fanout = fanout
        self._events: list[StoredEvent] = []
        self._waiter: asyncio.Future[None] | None = None
        self._error: EventStoreUnavailable | None = None

    async def read(self, block_ms: int) -> list[StoredEvent]:
        """Return the events since the last read, waiting up to `block_ms` when there are none."""
        if not self._events and self._error is None and block_ms > 0:
            loop = asyncio.get_running_loop()
            waiter = self._waiter = loop.create_future()
            # A timer that resolves the future, not a cancellation: asyncio.timeout on
            # Python 3.11 can leave a pending cancel when an event and the timeout coincide.
            timer = loop.call_later(block_ms / 1000, _resolve, waiter)
            try:
                await waiter
            finally:
                timer.cancel()
                self._waiter = None
        if self._error is not None:
            raise self._error
        events, self._events = self._events, []
        if self.paused:
            self.paused = False
            self._fanout.request(self)
        return events

    def deliver(self, events: list[StoredEvent], last: Cursor) -> None:
        self._events.extend(events)
        self.cursor = last
        if len(self._events) >= MAX_BUFFERED_EVENTS:
            self.paused = True
        self._wake()

    def fail(self, error: EventStoreUnavailable) -> None:
        self._error = error
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None:
            _resolve(self._waiter)


class RedisStreamFanout:
    """The subscriptions of one event loop and the reader task that serves them."""

    def __init__(self, connection_options: dict[str, Any], commands: aioredis.Redis[bytes]) -> None:
        self.loop = asyncio.get_running_loop()
        # Retries, reconnects, CLIENT SETNAME and the health check come from redis-py.
        # redis_connect_func runs on every reconnect too, so the client id stays current.
        self._reader = aioredis.Redis(
            **connection_options,
            single_connection_client=True,
            client_name=reader_client_name(),
            redis_connect_func=self._on_connect,
        )
        # The shared pool client, for CLIENT UNBLOCK.
        self._commands = commands
        self._subscriptions: dict[bytes, set[StreamSubscription]] = {}
        # The keys and cursors of the XREAD in flight, or None between two XREADs.
        self._reading: dict[bytes, Cursor] | None = None
        # Set when the XREAD in flight must return early: a subscription needs a key
        # or cursor that it lacks, or the fanout closes.
        self._interrupt = False
        self._client_id: int | None = None
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._unblocker: asyncio.Task[None] | None = None

    @asynccontextmanager
    async def subscribe(self, key: bytes, after: str) -> AsyncIterator[StreamSubscription]:
        """Follow `key` from the entry after `after` until the `async with` block ends."""
        subscription = StreamSubscription(self, key, _entry_cursor(after))
        self._subscriptions.setdefault(key, set()).add(subscription)
        self.request(subscription)
        try:
            yield subscription
        finally:
            self._remove(subscription)

    def subscription_count(self) -> int:
        return sum(len(subscriptions) for subscriptions in self._subscriptions.values())

    async def aclose(self) -> None:
        """Stop the reader and close its connection. Open subscriptions raise on their next read."""
        reader = self._task
        if reader is not None:
            reader.cancel()
            # A cancellation that redis-py swallowed ends the reader when its XREAD
            # returns (see _run), so make that XREAD return now.
            self._interrupt = True
            await self._unblock()
            with suppress(asyncio.CancelledError):
                await reader
        if self._unblocker is not None:
            self._unblocker.cancel()
            with suppress(asyncio.CancelledError):
                await self._unblocker
        self._fail_all("the event store was closed")
        # The types-redis 4.6 stubs lack aclose, which redis-py 8 has.
        await self._reader.aclose()  # type: ignore[attr-defined]

    def request(self, subscription: StreamSubscription) -> None:
        """Make the reader read the subscription's key from its cursor on."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="redis stream fanout")
        self._changed.set()
        reading = self._reading
        if reading is None:
            return
        cursor = reading.get(subscription.key)
        if cursor is not None and cursor <= subscription.cursor:
            return
        self._interrupt = True
        if self._unblocker is None or self._unblocker.done():
            self._unblocker = asyncio.create_task(self._unblock())

    async def _on_connect(self, connection: AbstractConnection) -> None:
        await connection.on_connect()
        await connection.send_command("CLIENT", "ID")
        self._client_id = cast(int, await connection.read_response())

    async def _run(self) -> None:
        reader = asyncio.current_task()
        while True:
            # redis-py sends each command under asyncio.wait_for, which on Python 3.11
            # returns normally when the cancellation arrives as the send completes. The
            # XREAD then runs to its end, and the cancellation is still pending here.
            if reader is not None and reader.cancelling():
                raise asyncio.CancelledError
            streams = self._streams_to_read()
            if not streams:
                self._changed.clear()
                await self._changed.wait()
                continue
            self._reading = streams
            self._interrupt = False
            try:
                response = await self._reader.xread(
                    {key: f"{cursor[0]}-{cursor[1]}" for key, cursor in streams.items()},
                    count=READ_COUNT,
                    block=READ_BLOCK_MS,
                )
            except redis.RedisError as err:
                self._fail_all(f"Redis read failed: {err}")
                continue
            except Exception:
                # The reader serves every stream of this process, so it must not die.
                logger.exception("The Redis stream reader failed")
                self._fail_all("the Redis stream reader failed; see the API log")
                continue
            finally:
                self._reading = None
            for key, entries in response or []:
                self._dispatch(key, entries)

    def _streams_to_read(self) -> dict[bytes, Cursor]:
        streams = {}
        for key, subscriptions in self._subscriptions.items():
            cursors = [item.cursor for item in subscriptions if not item.paused]
            if cursors:
                streams[key] = min(cursors)
        return streams

    def _dispatch(self, key: bytes, entries: list[Any]) -> None:
        subscriptions = self._subscriptions.get(key)
        if not subscriptions or not entries:
            return
        try:
            events = decode_entries(entries)
        except (ValueError, KeyError) as err:
            logger.error("Ended the streams of %s: an entry is malformed: %r", key.decode(), err)
            for subscription in list(subscriptions):
                self._remove(subscription)
                subscription.fail(EventStoreUnavailable(f"Malformed Redis entry: {err!r}"))
            return
        cursors = [_entry_cursor(event.id) for event in events]
        for subscription in subscriptions:
            if subscription.paused:
                continue
            # Subscriptions of one key can be at different cursors, so skip what each has.
            start = bisect.bisect_right(cursors, subscription.cursor)
            if start < len(events):
                subscription.deliver(events[start:], cursors[-1])

    def _remove(self, subscription: StreamSubscription) -> None:
        # The XREAD in flight may still name the key, but the next one leaves it out.
        subscriptions = self._subscriptions.get(subscription.key)
        if subscriptions is None:
            return
        subscriptions.discard(subscription)
        if not subscriptions:
            del self._subscriptions[subscription.key]

    def _fail_all(self, message: str) -> None:
        failed = [item for subscriptions in self._subscriptions.values() for item in subscriptions]
        self._subscriptions.clear()
        for subscription in failed:
            subscription.fail(EventStoreUnavailable(message))
        if failed:
            logger.warning("Ended %d event stream(s): %s", len(failed), message)

    async def _unblock(self) -> None:
        """End the XREAD in flight early, so that the reader starts the next one."""
        attempts = 0
        while self._interrupt and self._reading is not None and self._client_id is not None:
            try:
                if await self._commands.client_unblock(self._client_id):
                    return
            except redis.RedisError as err:
                # The new subscriptions still join the next XREAD, after READ_BLOCK_MS at most.
                logger.warning("CLIENT UNBLOCK of the Redis stream reader failed: %s", err)
                return
            attempts += 1
            await asyncio.sleep(UNBLOCK_BACKOFF.compute(attempts))
