"""Shared shape of the managed single-replica StatefulSets (Redis, RabbitMQ)."""

from __future__ import annotations

import base64
from collections.abc import Mapping

from gldr_operator.constants import CONFIG_HASH_ANNOTATION
from gldr_operator.render.common import (
    Object,
    child_name,
    container_security_context,
    labels,
    metadata,
    pod_security_context,
    selector_labels,
)
from gldr_operator.spec import DeepResearchDeployment, Storage

# uid and gid of the "redis" and "rabbitmq" users in the Debian-based official
# images; their entrypoints skip the root-only setup when started as them.
IMAGE_USER = 999
DATA_VOLUME = "data"


def render_stateful_set(
    drd: DeepResearchDeployment,
    component: str,
    container: Object,
    storage: Storage,
    default_size: str,
    mount_path: str,
    config_hash: str,
) -> Object:
    """Render a one-replica StatefulSet whose container gets a persistent volume at `mount_path`.

    `config_hash` (of the generated credentials) goes on the pod template, so
    a regenerated password restarts the pod with it.
    """
    container = {
        **container,
        "securityContext": container_security_context(),
        "volumeMounts": [{"name": DATA_VOLUME, "mountPath": mount_path}],
    }
    claim_spec: Object = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": storage.size or default_size}},
    }
    if storage.storage_class_name:
        claim_spec["storageClassName"] = storage.storage_class_name
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": metadata(drd, component),
        "spec": {
            "replicas": 1,
            "serviceName": child_name(drd, component),
            "selector": {"matchLabels": selector_labels(drd, component)},
            "template": {
                "metadata": {
                    "labels": labels(drd, component),
                    "annotations": {CONFIG_HASH_ANNOTATION: config_hash},
                },
                "spec": {
                    "automountServiceAccountToken": False,
                    "securityContext": pod_security_context(IMAGE_USER, IMAGE_USER, IMAGE_USER),
                    "containers": [container],
                },
            },
            "volumeClaimTemplates": [
                {
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "metadata": {"name": DATA_VOLUME},
                    "spec": claim_spec,
                }
            ],
        },
    }


def render_headless_service(drd: DeepResearchDeployment, component: str, port: int) -> Object:
    """Governing Service of a StatefulSet; clients resolve it straight to the pod."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(drd, component),
        "spec": {
            "clusterIP": "None",
            "selector": selector_labels(drd, component),
            "ports": [{"name": component, "port": port, "targetPort": port, "protocol": "TCP"}],
        },
    }


def render_credentials_secret(
    drd: DeepResearchDeployment, component: str, values: Mapping[str, str]
) -> Object:
    # `data` rather than `stringData`, because the API server returns only
    # `data` and the no-op check compares the rendered object with the live one.
    encoded = {key: base64.b64encode(value.encode()).decode() for key, value in values.items()}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata(drd, component),
        "type": "Opaque",
        "data": dict(sorted(encoded.items())),
    }


def tcp_probe(port: int, initial_delay: int, period: int) -> Object:
    return {
        "tcpSocket": {"port": port},
        "initialDelaySeconds": initial_delay,
        "periodSeconds": period,
    }
