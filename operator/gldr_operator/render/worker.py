"""Celery worker Deployment."""

from __future__ import annotations

from gldr_operator.constants import (
    WORKER_LIVENESS_PATH,
    WORKER_METRICS_DIR,
    WORKER_METRICS_PORT,
)
from gldr_operator.render.common import Object, metadata, resources, selector_labels
from gldr_operator.render.pods import service_container, service_pod_template
from gldr_operator.spec import DeepResearchDeployment

CELERY_APP = "gl_deep_research.worker.celery_app"


def worker_command(drd: DeepResearchDeployment) -> list[str]:
    worker = drd.spec.worker
    return [
        "celery",
        "-A",
        CELERY_APP,
        "worker",
        f"--loglevel={drd.spec.config.log_level}",
        f"--concurrency={worker.concurrency}",
        f"--prefetch-multiplier={worker.prefetch_multiplier}",
        "-Q",
        worker.queue,
    ]


METRICS_VOLUME = "metrics"


def worker_env(env: list[Object]) -> list[Object]:
    """Return the service environment plus the worker's metrics port and folder.

    Both replace values from spec.env: the liveness probe must find the
    endpoint on its port, and the folder is the volume mounted for it.
    """
    fixed = [
        {"name": "WORKER_METRICS_PORT", "value": str(WORKER_METRICS_PORT)},
        {"name": "PROMETHEUS_MULTIPROC_DIR", "value": WORKER_METRICS_DIR},
    ]
    names = {item["name"] for item in fixed}
    return [item for item in env if item["name"] not in names] + fixed


def liveness_probe() -> Object:
    """Return the liveness probe on the worker's GET /livez.

    The endpoint returns 503 once the consumer's event loop has recorded no
    heartbeat for WORKER_LIVENESS_MAX_AGE_SECONDS (120 s by default). Tasks
    run in pool processes, so a long task does not delay the heartbeat. With
    three failures 30 s apart, a consumer that is stuck or cannot reach the
    broker is restarted 3 to 3.5 minutes after its last heartbeat.
    """
    return {
        "httpGet": {"path": WORKER_LIVENESS_PATH, "port": WORKER_METRICS_PORT, "scheme": "HTTP"},
        # The endpoint starts before the broker connection, so this covers only imports.
        "initialDelaySeconds": 30,
        "periodSeconds": 30,
        "timeoutSeconds": 5,
        "failureThreshold": 3,
    }


def render_worker_deployment(
    drd: DeepResearchDeployment, version: str, env: list[Object], config_hash: str
) -> Object:
    worker = drd.spec.worker
    container = service_container(
        drd, "worker", version, worker_env(env), resources("worker", worker.resources)
    )
    container["command"] = worker_command(drd)
    container["ports"] = [
        {"name": "metrics", "containerPort": WORKER_METRICS_PORT, "protocol": "TCP"}
    ]
    container["livenessProbe"] = liveness_probe()
    container["volumeMounts"].append({"name": METRICS_VOLUME, "mountPath": WORKER_METRICS_DIR})
    template = service_pod_template(drd, "worker", version, container, config_hash)
    # An emptyDir outlives a container restart, so counters carry on from their
    # files. The worker serves only counters and histograms, which may do that.
    template["spec"]["volumes"].append({"name": METRICS_VOLUME, "emptyDir": {"sizeLimit": "64Mi"}})
    # Celery finishes running tasks on SIGTERM (warm shutdown); tasks still
    # running after this grace period are redelivered, since workers ack late.
    template["spec"]["terminationGracePeriodSeconds"] = 300

    spec: Object = {
        "selector": {"matchLabels": selector_labels(drd, "worker")},
        "revisionHistoryLimit": 5,
        "strategy": {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
        },
        "template": template,
    }
    if not worker.autoscaling.enabled:
        spec["replicas"] = worker.replicas
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(drd, "worker", version=version),
        "spec": spec,
    }
