"""Prometheus metrics shared by the API and the worker.

Counters and histograms work in prometheus-client's multiprocess mode too,
which the worker uses when `PROMETHEUS_MULTIPROC_DIR` is set, so that the
prefork children's counts reach the worker's metrics endpoint.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

HTTP_REQUESTS = Counter(
    "gldr_http_requests_total",
    "HTTP requests served by the API, by method, route template and status code.",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "gldr_http_request_duration_seconds",
    "Time to serve an HTTP request (streams: until the response ends), by route template.",
    ["method", "route"],
)
WEBHOOK_ATTEMPTS = Counter(
    "gldr_webhook_attempts_total",
    "Webhook delivery attempts by outcome: delivered, retry (failed, will retry) or failed "
    "(failed, no retries left).",
    ["outcome"],
)
TASK_RUNS = Counter(
    "gldr_worker_task_runs_total",
    "Research task runs finished by this worker, by final status.",
    ["status"],
)
TASK_RUN_SECONDS = Histogram(
    "gldr_worker_task_run_seconds",
    "Wall time of research task runs on this worker.",
    buckets=(1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
)
