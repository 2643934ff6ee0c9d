"""The API's Prometheus metrics: HTTP traffic, streams, and gauges read at scrape time.

Request counts and latency are labelled by route template (`/v1/tasks/{task_id}`),
never by the raw path, so ids do not explode the label space. Task counts by
status, database pool usage and the broker queue's depth are read when
Prometheus scrapes `/metrics`.

NOTE: each API process keeps its own counters, so with `gldr serve --workers N`
a scrape reads one process. Run one process per container (as the container
entrypoint does) or add prometheus-client's multiprocess mode here as in the worker.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import REGISTRY, Gauge
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.pool import QueuePool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gl_deep_research import metrics
from gl_deep_research.db.models import Task
from gl_deep_research.runtime import Runtime

logger = logging.getLogger(__name__)

STREAM_CONNECTIONS = Gauge(
    "gldr_stream_connections", "Server-Sent Events streams open on this API process."
)


def route_template(scope: Scope) -> str:
    """Return the path template of the route the router matched, or "unmatched"."""
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(path) if path else "unmatched"


class MetricsMiddleware:
    """Counts requests and measures latency by method, route template and status."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status_code = 500

        async def send_and_record(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            route = route_template(scope)
            method = scope.get("method", "GET")
            metrics.HTTP_REQUESTS.labels(method, route, str(status_code)).inc()
            metrics.HTTP_LATENCY.labels(method, route).observe(time.perf_counter() - started)


class RuntimeCollector(Collector):
    """Task counts by status, database pool usage and queue depth, read at scrape time."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield from self._pool_metrics()
        yield from self._task_metrics()
        yield from self._queue_metrics()

    def _queue_metrics(self) -> Iterator[GaugeMetricFamily]:
        if self._runtime.dispatcher.name != "celery":
            return
        from gl_deep_research.worker.celery_app import app

        queue = self._runtime.settings.celery_queue_name
        try:
            with app.connection_for_read() as connection:
                connection.ensure_connection(max_retries=1, timeout=2)
                channel: Any = connection.default_channel
                _, depth, _ = channel.queue_declare(queue=queue, passive=True)
        except Exception as err:
            # A queue that no task was ever sent to does not exist yet; that is not an error.
            logger.debug("Could not read the depth of queue %s for /metrics: %s", queue, err)
            return
        family = GaugeMetricFamily(
            "gldr_queue_depth", "Messages waiting in the broker queue.", labels=["queue"]
        )
        family.add_metric([queue], int(depth))
        yield family

    def _pool_metrics(self) -> Iterator[GaugeMetricFamily]:
        pool = self._runtime.database.engine.pool
        if not isinstance(pool, QueuePool):
            return
        checked_out = GaugeMetricFamily(
            "gldr_db_pool_checked_out", "Database connections in use by this process."
        )
        checked_out.add_metric([], pool.checkedout())
        yield checked_out
        size = GaugeMetricFamily("gldr_db_pool_size", "Configured pool size (DB_POOL_SIZE).")
        size.add_metric([], pool.size())
        yield size
        overflow = GaugeMetricFamily(
            "gldr_db_pool_overflow", "Connections open beyond the pool size (DB_MAX_OVERFLOW)."
        )
        overflow.add_metric([], max(0, pool.overflow()))
        yield overflow

    def _task_metrics(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "gldr_tasks", "Tasks in the database by status, all accounts.", labels=["status"]
        )
        try:
            with self._runtime.database.session() as session:
                rows = session.execute(select(Task.status, func.count()).group_by(Task.status))
                counts = {str(name): int(count) for name, count in rows}
        except Exception as err:
            logger.warning("Could not count tasks for /metrics: %s", err)
            return
        for name, count in sorted(counts.items()):
            family.add_metric([name], count)
        yield family


def register_runtime_collector(runtime: Runtime) -> Collector:
    collector = RuntimeCollector(runtime)
    REGISTRY.register(collector)
    return collector
