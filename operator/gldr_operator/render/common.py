"""Helpers shared by every renderer: names, labels, owner references, pods."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from gldr_operator.constants import API_VERSION, DEPLOYMENT_KIND, MANAGED_BY, PART_OF
from gldr_operator.spec import DeepResearchDeployment, Resources

Object = dict[str, Any]

COMPONENT_LABEL = "app.kubernetes.io/component"
INSTANCE_LABEL = "app.kubernetes.io/instance"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
NAME_LABEL = "app.kubernetes.io/name"
VERSION_LABEL = "app.kubernetes.io/version"

# Requests and limits from the deployment guide's minimum and recommended
# sizes. Flower and beat are not sized there, so their values are estimates
# for processes that only read from or publish to the broker.
DEFAULT_RESOURCES: dict[str, Object] = {
    "api": {"requests": {"cpu": "2", "memory": "2Gi"}, "limits": {"cpu": "2", "memory": "4Gi"}},
    "worker": {"requests": {"cpu": "4", "memory": "4Gi"}, "limits": {"cpu": "4", "memory": "8Gi"}},
    "flower": {
        "requests": {"cpu": "100m", "memory": "256Mi"},
        "limits": {"cpu": "500m", "memory": "512Mi"},
    },
    "beat": {
        "requests": {"cpu": "50m", "memory": "128Mi"},
        "limits": {"cpu": "250m", "memory": "256Mi"},
    },
    "redis": {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"cpu": "1", "memory": "2Gi"}},
    "rabbitmq": {
        "requests": {"cpu": "1", "memory": "1Gi"},
        "limits": {"cpu": "1", "memory": "1Gi"},
    },
}


def child_name(drd: DeepResearchDeployment, component: str) -> str:
    return f"{drd.metadata.name}-{component}"


def selector_labels(drd: DeepResearchDeployment, component: str) -> dict[str, str]:
    """Labels that select one component's pods; they never change, so selectors stay valid."""
    return {
        NAME_LABEL: PART_OF,
        INSTANCE_LABEL: drd.metadata.name,
        COMPONENT_LABEL: component,
    }


def labels(drd: DeepResearchDeployment, component: str, version: str | None = None) -> Object:
    result = {
        **selector_labels(drd, component),
        MANAGED_BY_LABEL: MANAGED_BY,
        "app.kubernetes.io/part-of": PART_OF,
    }
    if version is not None:
        result[VERSION_LABEL] = version
    return result


def owner_reference(drd: DeepResearchDeployment) -> Object:
    return {
        "apiVersion": API_VERSION,
        "kind": DEPLOYMENT_KIND,
        "name": drd.metadata.name,
        "uid": drd.metadata.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def metadata(
    drd: DeepResearchDeployment,
    component: str,
    name: str | None = None,
    version: str | None = None,
) -> Object:
    """Metadata of a child: name, namespace, labels and the controller owner reference."""
    return {
        "name": name or child_name(drd, component),
        "namespace": drd.metadata.namespace,
        "labels": labels(drd, component, version),
        "ownerReferences": [owner_reference(drd)],
    }


def resources(component: str, override: Resources) -> Object:
    """Merge a spec's requests and limits over the component's defaults, key by key."""
    defaults = DEFAULT_RESOURCES[component]
    result: Object = {}
    for section in ("requests", "limits"):
        values = dict(defaults[section])
        given = getattr(override, section).model_dump(exclude_none=True)
        values.update(given)
        result[section] = values
    return result


def pod_security_context(run_as_user: int, run_as_group: int, fs_group: int) -> Object:
    return {
        "runAsNonRoot": True,
        "runAsUser": run_as_user,
        "runAsGroup": run_as_group,
        "fsGroup": fs_group,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security_context() -> Object:
    return {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "runAsNonRoot": True,
    }


def service_pod_security_context(drd: DeepResearchDeployment) -> Object:
    """Pod security context of the API, worker, Flower and migration pods."""
    # NOTE: 10001 is assumed to be the non-root user of the service image;
    # spec.podSecurityContext overrides it for images built with another uid.
    context = drd.spec.pod_security_context
    return pod_security_context(context.run_as_user, context.run_as_group, context.fs_group)


def image_pull_secrets(drd: DeepResearchDeployment) -> list[Object]:
    return [{"name": name} for name in drd.spec.image.pull_secrets]


def service_image(drd: DeepResearchDeployment, version: str) -> str:
    return f"{drd.spec.image.repository}:{version}"


def stable_hash(value: Any, length: int = 16) -> str:
    """Hash of a JSON-serialisable value that is stable across runs and dict orders."""
    encoded = json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(encoded).hexdigest()[:length]
