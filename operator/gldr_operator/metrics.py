"""Prometheus metrics of the operator process, served by `gldr-operator run`."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

RECONCILES = Counter(
    "gldr_operator_reconciles_total",
    "Reconciles started, by resource kind.",
    ["kind"],
)
RECONCILE_ERRORS = Counter(
    "gldr_operator_reconcile_errors_total",
    "Reconciles that ended in an error, by resource kind.",
    ["kind"],
)
RECONCILE_SECONDS = Histogram(
    "gldr_operator_reconcile_duration_seconds",
    "Wall time of one reconcile, by resource kind.",
    ["kind"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
API_WRITES = Counter(
    "gldr_operator_api_writes_total",
    "Write requests the reconciler sent to the API server (kopf's own are not counted).",
    ["kind", "verb"],
)
