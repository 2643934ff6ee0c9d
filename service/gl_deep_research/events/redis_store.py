"""Redis event store: one stream per task (`XADD` with a length cap, key TTL).

Delivery promise: best effort. An append that fails is logged and dropped,
because events are not needed for correctness; a task's stored row is the
source of truth, and streams fall back to it when events are missing.
"""

from __future__ import annotations

import json
import ssl
from typing import Any

import redis
import redis.asyncio as aioredis
from redis.backoff import NoBackoff
from redis.retry import Retry

from gl_deep_research.events.store import EventStoreUnavailable, StoredEvent
from gl_deep_research.settings import Settings

MAX_STREAM_LENGTH = 10_000
ASYNC_SOCKET_TIMEOUT_SECONDS = 30.0
# Each open SSE stream holds one connection while it blocks in XREAD. redis-py 8's
# asyncio pool allows 100 by default and raises MaxConnectionsError beyond that, which
# turned every stream past the 100th into a 503. 10,000 is Redis's default maxclients.
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


def _decode(entries: list[Any]) -> list[StoredEvent]:
    events = []
    for entry_id, fields in entries:
        payload = json.loads(fields[b"payload"])
        events.append(
            StoredEvent(id=entry_id.decode(), type=fields[b"type"].decode(), payload=payload)
        )
    return events


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
        # Reads block server-side for up to `block_ms` (5 s from the stream followers), so
        # the socket timeout must be longer: redis-py 8 defaults to 5 s, which cut every
        # idle XREAD short with a timeout error.
        self._async = aioredis.Redis(
            **options,
            socket_timeout=ASYNC_SOCKET_TIMEOUT_SECONDS,
            max_connections=MAX_ASYNC_CONNECTIONS,
        )

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
                return _decode(entries)
            response = await self._async.xread({key: after}, count=1000, block=block_ms)
        except redis.RedisError as err:
            raise EventStoreUnavailable(f"Redis read failed: {err}") from err
        if not response:
            return []
        return _decode(response[0][1])

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
