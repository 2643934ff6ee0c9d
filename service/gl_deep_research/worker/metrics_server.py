"""The worker's Prometheus endpoint on `WORKER_METRICS_PORT`.

Celery's prefork children run the tasks, so their counters live in other
processes. With `PROMETHEUS_MULTIPROC_DIR` set (as `gldr worker` does) every
child writes its samples there and the endpoint aggregates them; without it
the endpoint shows only the main process and logs a warning.
"""

from __future__ import annotations

import logging
import os

from prometheus_client import REGISTRY, CollectorRegistry, start_http_server
from prometheus_client.multiprocess import MultiProcessCollector

from gl_deep_research.settings import Settings

logger = logging.getLogger(__name__)


def start_metrics_server(settings: Settings) -> bool:
    """Serve metrics when `WORKER_METRICS_PORT` is set; return True when serving."""
    port = settings.worker_metrics_port
    if port is None:
        return False
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        logger.warning(
            "PROMETHEUS_MULTIPROC_DIR is not set, so worker metrics on port %d miss the "
            "counts of the pool processes; start the worker with `gldr worker`",
            port,
        )
    start_http_server(port, addr="0.0.0.0", registry=registry)  # noqa: S104
    logger.info("Worker metrics at http://0.0.0.0:%d/metrics", port)
    return True
