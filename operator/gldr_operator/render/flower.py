"""Optional Flower Deployment and its cluster-internal Service."""

from __future__ import annotations

from gldr_operator.constants import FLOWER_PORT
from gldr_operator.render.common import Object, metadata, resources, selector_labels
from gldr_operator.render.pods import service_container, service_pod_template
from gldr_operator.render.worker import CELERY_APP
from gldr_operator.spec import DeepResearchDeployment


def render_flower_deployment(
    drd: DeepResearchDeployment, version: str, env: list[Object], config_hash: str
) -> Object:
    flower = drd.spec.flower
    container = service_container(
        drd, "flower", version, env, resources("flower", flower.resources)
    )
    container["command"] = ["celery", "-A", CELERY_APP, "flower", f"--port={FLOWER_PORT}"]
    container["ports"] = [{"name": "http", "containerPort": FLOWER_PORT, "protocol": "TCP"}]
    container["readinessProbe"] = {
        "tcpSocket": {"port": FLOWER_PORT},
        "initialDelaySeconds": 10,
        "periodSeconds": 10,
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(drd, "flower", version=version),
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": selector_labels(drd, "flower")},
            "revisionHistoryLimit": 5,
            "template": service_pod_template(drd, "flower", version, container, config_hash),
        },
    }


def render_flower_service(drd: DeepResearchDeployment) -> Object:
    # ClusterIP only: the guide recommends keeping Flower on the internal network.
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(drd, "flower"),
        "spec": {
            "type": "ClusterIP",
            "selector": selector_labels(drd, "flower"),
            "ports": [
                {"name": "http", "port": FLOWER_PORT, "targetPort": FLOWER_PORT, "protocol": "TCP"}
            ],
        },
    }
