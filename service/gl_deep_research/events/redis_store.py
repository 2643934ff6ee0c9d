"""Redis event store: one stream per task (`XADD` with a length cap, key TTL).

Delivery promise: best effort. An append that fails is logged and dropped,
because events are not needed for correctness; a task's stored row is the
source of truth, and streams fall back to it when events are missing.

Stream followers subscribe instead of reading: the subscriptions of one
process share one blocking XREAD on one connection (`redis_fanout`).
"""

from __future__ import annotations

import asyncio
import json
import ssl
from contextlib import AbstractAsyncContextManager
from typing import Any

import redis
import redis.asyncio as aioredis
from redis.backoff import NoBackoff
from redis.retry import Retry

from gl_deep_research.events.redis_fanout import RedisStreamFanout, decode_entries
from gl_deep_research.events.store import EventStoreUnavailable, EventSubscription, StoredEvent
from gl_deep_research.settings import Settings

MAX_STREAM_LENGTH = 10_000
ASYNC_SOCKET_TIMEOUT_SECONDS = 30.0
# Open SSE streams share one reader connection (see redis_fanout), but each stream that
# opens sends PING, and resumed group streams send XRANGE, so the pool grows with the
# number of streams opening at once. redis-py 8's asyncio pool allows 100 by default and
# raises MaxConnectionsError beyond that, which rejects those streams with 503.
# 10,000 is Redis's default maxclients.
MAX_ASYNC_CONNECTIONS = 10_000
KEY_PREFIX = "gldr:events:"


def _connection_options(settings: Settings) -> dict[str, Any]:
    options: dict[str, Any] = {
        "host": settings.redis_host,
        "port": settings.redis_port,
        "db": settings.redis_db,
        "password": settings.redis_password.get_secret_value() if settings.redis_password else None,
        "socket_connect_timeout": 3,
        "health_check_interval": 30,
    }
    if settings.redis_tls_enabled:
        options["ssl"] = True
        options["ssl_cert_reqs"] = {
            "required": ssl.CERT_REQUIRED,
            "optional": ssl.CERT_OPTIONAL,
            "none": ssl.CERT_NONE,
        }[settings.redis_tls_verify]
        if settings.redis_tls_ca_file:
            options["ssl_ca_certs"] = str(settings.redis_tls_ca_file)
    return options


class RedisEventStore:
    name = "redis"

    def __init__(self, settings: Settings) -> None:
        options = _connection_options(settings)
        self._ttl = settings.default_stream_redis_cache_ttl
        # Events are best effort, so appends fail fast: redis-py 8 retries a failed
        # command 10 times with backoff (about 4 s), and with Redis down every task
        # spent that long on each of its events. One immediate retry covers a
        # dropped connection.
        self._sync = redis.Redis(**options, socket_timeout=5, retry=Retry(NoBackoff(), 1))
        # Reads block server-side for up to 5 s (the followers' windows and the fanout's
        # XREAD), so the socket timeout must be longer: redis-py 8 defaults to 5 s, which
        # cut every idle XREAD short with a timeout error.
        self._async_options = {**options, "socket_timeout": ASYNC_SOCKET_TIMEOUT_SECONDS}
        self._async = aioredis.Redis(**self._async_options, max_connections=MAX_ASYNC_CONNECTIONS)
        self._fanout: RedisStreamFanout | None = None

    def append(self, task_id: str, event_type: str, payload: dict[str, Any]) -> str:
        key = KEY_PREFIX + task_id
        try:
            with self._sync.pipeline(transaction=True) as pipe:
                pipe.xadd(
                    key,
                    {"type": event_type, "payload": json.dumps(payload, default=str)},
                    maxlen=MAX_STREAM_LENGTH,
                    approximate=True,
                )
                pipe.expire(key, self._ttl)
                entry_id, _ = pipe.execute()
        except redis.RedisError as err:
            raise EventStoreUnavailable(f"Redis append failed: {err}") from err
        return str(entry_id.decode() if isinstance(entry_id, bytes) else entry_id)

    async def read(self, task_id: str, after: str, block_ms: int) -> list[StoredEvent]:
        key = KEY_PREFIX + task_id
        try:
            if block_ms <= 0:
                entries = await self._async.xrange(key, min=f"({after}", count=1000)
                return decode_entries(entries)
            response = await self._async.xread({key: after}, count=1000, block=block_ms)
        except redis.RedisError as err:
            raise EventStoreUnavailable(f"Redis read failed: {err}") from err
        if not response:
            return []
        return decode_entries(response[0][1])

    def subscribe(self, task_id: str, after: str) -> AbstractAsyncContextManager[EventSubscription]:
        return self._running_fanout().subscribe((KEY_PREFIX + task_id).encode(), after)

    def subscription_count(self) -> int:
        """Return the number of open subscriptions that the reader of this event loop serves."""
        return self._fanout.subscription_count() if self._fanout else 0

    async def aclose(self) -> None:
        """Close the asynchronous side: the stream reader and the pooled connections."""
        if self._fanout is not None:
            await self._fanout.aclose()
            self._fanout = None
        # The types-redis 4.6 stubs lack aclose, which redis-py 8 has.
        await self._async.aclose()  # type: ignore[attr-defined]

    def _running_fanout(self) -> RedisStreamFanout:
        # The fanout's task and connection belong to one event loop, and a store can
        # outlive its loop: tests run a loop per test.
        if self._fanout is None or self._fanout.loop is not asyncio.get_running_loop():
            self._fanout = RedisStreamFanout(self._async_options, self._async)
        return self._fanout

    async def exists(self, task_id: str) -> bool:
        try:
            return bool(await self._async.exists(KEY_PREFIX + task_id))
        except redis.RedisError as err:
            raise EventStoreUnavailable(f"Redis read failed: {err}") from err

    async def ping(self) -> None:
        try:
            await self._async.ping()
        except redis.RedisError as err:
            raise EventStoreUnavailable(f"Redis is unreachable: {err}") from err

    def close(self) -> None:
        self._sync.close()
