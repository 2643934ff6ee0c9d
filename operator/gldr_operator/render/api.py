"""API Deployment and Service."""

from __future__ import annotations

from gldr_operator.constants import API_PORT
from gldr_operator.render.common import Object, child_name, metadata, resources, selector_labels
from gldr_operator.render.pods import service_container, service_pod_template
from gldr_operator.spec import DeepResearchDeployment


def _health_probe(initial_delay: int, failure_threshold: int = 3) -> Object:
    return {
        "httpGet": {"path": "/health", "port": API_PORT, "scheme": "HTTP"},
        "initialDelaySeconds": initial_delay,
        "periodSeconds": 10,
        "timeoutSeconds": 5,
        "failureThreshold": failure_threshold,
    }


def render_api_deployment(
    drd: DeepResearchDeployment, version: str, env: list[Object], config_hash: str
) -> Object:
    api = drd.spec.api
    container = service_container(drd, "api", version, env, resources("api", api.resources))
    container["ports"] = [{"name": "http", "containerPort": API_PORT, "protocol": "TCP"}]
    # Readiness and liveness as the deployment guide gives them. The startup
    # probe holds liveness back for up to 10 minutes, because the entrypoint
    # waits for the migration advisory lock before it serves /health.
    container["startupProbe"] = _health_probe(initial_delay=5, failure_threshold=60)
    container["readinessProbe"] = _health_probe(initial_delay=15)
    container["livenessProbe"] = _health_probe(initial_delay=30)

    spec: Object = {
        "selector": {"matchLabels": selector_labels(drd, "api")},
        "revisionHistoryLimit": 5,
        "strategy": {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
        },
        "template": service_pod_template(drd, "api", version, container, config_hash),
    }
    # With an HPA the replica count belongs to the autoscaler, so the
    # operator leaves the field unset instead of fighting over it.
    if not api.autoscaling.enabled:
        spec["replicas"] = api.replicas
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(drd, "api", version=version),
        "spec": spec,
    }


def render_api_service(drd: DeepResearchDeployment) -> Object:
    service = drd.spec.api.service
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(drd, "api"),
        "spec": {
            "type": service.type,
            "selector": selector_labels(drd, "api"),
            "ports": [
                {"name": "http", "port": service.port, "targetPort": API_PORT, "protocol": "TCP"}
            ],
        },
    }


def api_url(drd: DeepResearchDeployment) -> str:
    """URL of the API: the Ingress host when there is one, else the in-cluster Service."""
    ingress = drd.spec.api.ingress
    if ingress.enabled and ingress.host:
        scheme = "https" if ingress.tls.enabled else "http"
        return f"{scheme}://{ingress.host}"
    name = child_name(drd, "api")
    port = drd.spec.api.service.port
    return f"http://{name}.{drd.metadata.namespace}.svc:{port}"
