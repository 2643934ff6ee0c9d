"""The operator's only door to the API server: reads, server-side apply, deletes.

Every write goes through this module, so `gldr_operator_api_writes_total`
counts exactly the requests that change something (kopf's own bookkeeping
writes are not counted here). Third-party errors are wrapped into
`KubeError` subclasses, so handlers never see lightkube's exceptions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lightkube import ApiError, AsyncClient
from lightkube.codecs import from_dict
from lightkube.core.resource import NamespacedResource
from lightkube.generic_resource import create_namespaced_resource
from lightkube.resources.apps_v1 import Deployment, StatefulSet
from lightkube.resources.autoscaling_v2 import HorizontalPodAutoscaler
from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import ConfigMap, Secret, Service
from lightkube.resources.networking_v1 import Ingress, NetworkPolicy
from lightkube.resources.policy_v1 import PodDisruptionBudget
from lightkube.types import CascadeType, PatchType

from gldr_operator import metrics
from gldr_operator.constants import (
    DEPLOYMENT_KIND,
    DEPLOYMENT_PLURAL,
    FIELD_MANAGER,
    GROUP,
    PROFILE_KIND,
    PROFILE_PLURAL,
    VERSION,
)

Object = dict[str, Any]

DeepResearchDeploymentResource = create_namespaced_resource(
    GROUP, VERSION, DEPLOYMENT_KIND, DEPLOYMENT_PLURAL
)
ResearchProfileResource = create_namespaced_resource(GROUP, VERSION, PROFILE_KIND, PROFILE_PLURAL)

# Every kind the renderers produce, by kind name. Pruning and the child
# watches iterate over this table.
CHILD_KINDS: dict[str, type[NamespacedResource]] = {
    "ConfigMap": ConfigMap,
    "Secret": Secret,
    "Service": Service,
    "StatefulSet": StatefulSet,
    "Job": Job,
    "Deployment": Deployment,
    "Ingress": Ingress,
    "PodDisruptionBudget": PodDisruptionBudget,
    "HorizontalPodAutoscaler": HorizontalPodAutoscaler,
    "NetworkPolicy": NetworkPolicy,
}


class KubeError(Exception):
    """A request to the API server failed; the message names the object and the verb."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class NotFound(KubeError):
    """The object does not exist."""


class Invalid(KubeError):
    """The API server rejected the object (422), for example an immutable field change."""


def _wrap(err: ApiError, verb: str, kind: str, namespace: str, name: str) -> KubeError:
    code = err.status.code or 0
    message = f"{verb} {kind} {namespace}/{name} failed with HTTP {code}: {err.status.message}"
    if code == 404:
        return NotFound(message, code)
    if code == 422:
        return Invalid(message, code)
    return KubeError(message, code)


def _as_dict(resource: Any) -> Object:
    if isinstance(resource, dict):
        return resource
    result: Object = resource.to_dict()
    return result


class Kube:
    """Async access to the API server under the operator's field manager."""

    def __init__(self, client: AsyncClient | None = None) -> None:
        self.client = client or AsyncClient(field_manager=FIELD_MANAGER)

    async def get(self, kind: type[NamespacedResource], namespace: str, name: str) -> Object:
        try:
            return _as_dict(await self.client.get(kind, name, namespace=namespace))
        except ApiError as err:
            raise _wrap(err, "get", kind.__name__, namespace, name) from err

    async def get_or_none(
        self, kind: type[NamespacedResource], namespace: str, name: str
    ) -> Object | None:
        try:
            return await self.get(kind, namespace, name)
        except NotFound:
            return None

    async def list(
        self,
        kind: type[NamespacedResource],
        namespace: str,
        labels: Mapping[str, str] | None = None,
    ) -> list[Object]:
        try:
            items = self.client.list(kind, namespace=namespace, labels=dict(labels or {}))
            return [_as_dict(item) async for item in items]
        except ApiError as err:
            raise _wrap(err, "list", kind.__name__, namespace, "*") from err

    async def apply(self, desired: Object) -> Object:
        """Server-side apply `desired` with force, taking over fields from other managers."""
        kind = desired["kind"]
        namespace = desired["metadata"]["namespace"]
        name = desired["metadata"]["name"]
        metrics.API_WRITES.labels(kind=kind, verb="apply").inc()
        try:
            applied = await self.client.apply(
                from_dict(desired), field_manager=FIELD_MANAGER, force=True
            )
        except ApiError as err:
            raise _wrap(err, "apply", kind, namespace, name) from err
        return _as_dict(applied)

    async def delete(self, kind: type[NamespacedResource], namespace: str, name: str) -> None:
        metrics.API_WRITES.labels(kind=kind.__name__, verb="delete").inc()
        try:
            await self.client.delete(
                kind, name, namespace=namespace, cascade=CascadeType.BACKGROUND
            )
        except ApiError as err:
            wrapped = _wrap(err, "delete", kind.__name__, namespace, name)
            if not isinstance(wrapped, NotFound):
                raise wrapped from err

    async def patch_status(self, kind: Any, namespace: str, name: str, status: Object) -> None:
        """Merge-patch the status subresource of a custom resource; spec stays untouched."""
        metrics.API_WRITES.labels(kind=kind.__name__, verb="patch-status").inc()
        try:
            await self.client.patch(
                kind.Status,
                name,
                {"status": status},
                namespace=namespace,
                patch_type=PatchType.MERGE,
            )
        except ApiError as err:
            raise _wrap(err, "patch status of", kind.__name__, namespace, name) from err

    async def close(self) -> None:
        await self.client.close()
