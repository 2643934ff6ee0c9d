"""The worker's HTTP endpoint on `WORKER_METRICS_PORT`: Prometheus metrics and `/livez`.

Celery's prefork children run the tasks, so their counters live in other
processes. With `PROMETHEUS_MULTIPROC_DIR` set (as `gldr worker` does) every
child writes its samples there and the endpoint aggregates them; without it
the endpoint shows only the main process and logs a warning.

`GET /livez` returns 200 while the consumer's heartbeat (see `liveness`) is
at most `WORKER_LIVENESS_MAX_AGE_SECONDS` old and 503 after that. Every other
path serves the metrics.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from prometheus_client import REGISTRY, CollectorRegistry, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from gl_deep_research.settings import Settings
from gl_deep_research.worker.liveness import ConsumerHeartbeat, consumer_heartbeat, liveness

logger = logging.getLogger(__name__)

LIVENESS_PATH = "/livez"


class _QuietHandler(WSGIRequestHandler):
    """Request handler that does not log every probe and scrape to standard error."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


def worker_http_app(
    registry: Collector, heartbeat: ConsumerHeartbeat, max_age_seconds: float
) -> WSGIApplication:
    """Build the WSGI app that serves `/livez` and, on every other path, the metrics."""
    metrics_app = make_wsgi_app(registry)

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != LIVENESS_PATH:
            return metrics_app(environ, start_response)  # type: ignore[no-any-return]
        alive, body = liveness(heartbeat, max_age_seconds)
        status = "200 OK" if alive else "503 Service Unavailable"
        start_response(status, [("Content-Type", "application/json")])
        return [json.dumps(body).encode()]

    return app


def start_metrics_server(settings: Settings) -> bool:
    """Serve metrics and `/livez` when `WORKER_METRICS_PORT` is set, and return whether it does."""
    port = settings.worker_metrics_port
    if port is None:
        return False
    registry: Collector = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        logger.warning(
            "PROMETHEUS_MULTIPROC_DIR is not set, so worker metrics on port %d miss the "
            "counts of the pool processes; start the worker with `gldr worker`",
            port,
        )
    app = worker_http_app(registry, consumer_heartbeat, settings.worker_liveness_max_age_seconds)
    # All interfaces, because Prometheus and the kubelet connect to the pod's address.
    server = make_server(
        "0.0.0.0",  # noqa: S104
        port,
        app,
        server_class=ThreadingWSGIServer,
        handler_class=_QuietHandler,
    )
    threading.Thread(target=server.serve_forever, name="worker-metrics", daemon=True).start()
    logger.info(
        "Worker metrics at http://0.0.0.0:%d/metrics and liveness at http://0.0.0.0:%d%s",
        port,
        port,
        LIVENESS_PATH,
    )
    return True
