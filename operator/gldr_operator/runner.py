"""Start kopf with the operator's settings: `gldr-operator run`."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import kopf
from prometheus_client import start_http_server

from gldr_operator.constants import GROUP
from gldr_operator.handlers import register

log = logging.getLogger("gldr_operator.runner")

# The API server ends each watch request after this many seconds and the
# client gives up slightly later. So a watch that a load balancer silently
# dropped reconnects within minutes instead of never.
# An integer, because the API server rejects "300.0" for timeoutSeconds.
WATCH_SERVER_TIMEOUT = 300
WATCH_CLIENT_TIMEOUT = 330.0
WATCH_CONNECT_TIMEOUT = 30.0


@dataclass(frozen=True)
class RunOptions:
    namespaces: tuple[str, ...]
    metrics_port: int
    liveness_endpoint: str
    drift_interval: float
    peering: str | None


def configure(settings: kopf.OperatorSettings) -> None:
    """Apply the operator's kopf settings: bookkeeping prefix, timeouts, event posting."""
    # kopf's bookkeeping lives in annotations under our own prefix; status
    # belongs to the operator's conditions alone.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration"
    )
    settings.persistence.finalizer = f"{GROUP}/kopf-finalizer"
    settings.watching.server_timeout = WATCH_SERVER_TIMEOUT
    settings.watching.client_timeout = WATCH_CLIENT_TIMEOUT
    settings.watching.connect_timeout = WATCH_CONNECT_TIMEOUT
    # kopf posts a Kubernetes Event for every log line at or above this level.
    # At INFO every drift timer tick would write one, so only problems are posted.
    settings.posting.level = logging.WARNING


def build_registry(options: RunOptions) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()
    register(registry, drift_interval=options.drift_interval)

    @kopf.on.startup(registry=registry)
    async def settings_startup(settings: kopf.OperatorSettings, **_: Any) -> None:
        configure(settings)

    # A registry of our own gets none of kopf's default login handlers. These
    # two read a pod's ServiceAccount or $KUBECONFIG without extra libraries.
    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        if kopf.login_with_service_account(**kwargs) is not None:
            return kopf.login_with_service_account(**kwargs)
        return kopf.login_with_kubeconfig(**kwargs)

    return registry


def run(options: RunOptions) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # lightkube's HTTP client logs every request at INFO.
    logging.getLogger("httpx2").setLevel(logging.WARNING)
    if options.metrics_port:
        start_http_server(options.metrics_port)
        log.info("Serving Prometheus metrics on port %d.", options.metrics_port)
    scope = ", ".join(options.namespaces) if options.namespaces else "all namespaces"
    log.info("Starting the operator for %s, drift interval %.0f s.", scope, options.drift_interval)
    asyncio.run(
        kopf.operator(
            registry=build_registry(options),
            clusterwide=not options.namespaces,
            namespaces=options.namespaces,
            liveness_endpoint=options.liveness_endpoint,
            standalone=options.peering is None,
            peering_name=options.peering,
        )
    )
