"""Pod templates of the service image (API, worker, Flower and migration)."""

from __future__ import annotations

from gldr_operator.constants import CONFIG_HASH_ANNOTATION, PROFILES_MOUNT_DIR
from gldr_operator.render.common import (
    Object,
    child_name,
    container_security_context,
    image_pull_secrets,
    labels,
    service_image,
    service_pod_security_context,
)
from gldr_operator.spec import DeepResearchDeployment

PROFILES_VOLUME = "profiles"


def service_container(
    drd: DeepResearchDeployment, name: str, version: str, env: list[Object], resources: Object
) -> Object:
    """A container of the service image with its environment and the profiles file mounted."""
    return {
        "name": name,
        "image": service_image(drd, version),
        "imagePullPolicy": drd.spec.image.pull_policy,
        "env": env,
        "resources": resources,
        "securityContext": container_security_context(),
        "volumeMounts": [
            {"name": PROFILES_VOLUME, "mountPath": PROFILES_MOUNT_DIR, "readOnly": True}
        ],
    }


def service_pod_template(
    drd: DeepResearchDeployment,
    component: str,
    version: str,
    container: Object,
    config_hash: str | None,
) -> Object:
    """Pod template around one service container; the config hash rolls pods when it changes."""
    metadata: Object = {"labels": labels(drd, component, version)}
    if config_hash is not None:
        metadata["annotations"] = {CONFIG_HASH_ANNOTATION: config_hash}
    spec: Object = {
        # The service never calls the Kubernetes API.
        "automountServiceAccountToken": False,
        "securityContext": service_pod_security_context(drd),
        "containers": [container],
        "volumes": [{"name": PROFILES_VOLUME, "configMap": {"name": child_name(drd, "profiles")}}],
    }
    pull_secrets = image_pull_secrets(drd)
    if pull_secrets:
        spec["imagePullSecrets"] = pull_secrets
    return {"metadata": metadata, "spec": spec}
