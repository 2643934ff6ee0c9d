"""Celery worker Deployment."""

from __future__ import annotations

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


def render_worker_deployment(
    drd: DeepResearchDeployment, version: str, env: list[Object], config_hash: str
) -> Object:
    worker = drd.spec.worker
    container = service_container(
        drd, "worker", version, env, resources("worker", worker.resources)
    )
    container["command"] = worker_command(drd)
    template = service_pod_template(drd, "worker", version, container, config_hash)
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
