"""kopf handlers: thin adapters from kopf's events to `reconcile`.

Every handler ends in success, a `kopf.TemporaryError` with a delay (API
failures), or a `kopf.PermanentError` (a spec that cannot be rendered).
`register` installs them into a registry so the drift interval can be set
at start instead of at import time.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import kopf

from gldr_operator import metrics
from gldr_operator.constants import DEPLOYMENT_KIND, GROUP, MANAGED_BY, VERSION
from gldr_operator.kube import Kube, KubeError
from gldr_operator.profile_status import sync_profile_status
from gldr_operator.reconcile import InvalidSpec, reconcile
from gldr_operator.render.common import MANAGED_BY_LABEL
from gldr_operator.render.env import referenced_secrets
from gldr_operator.scheduler import Scheduler
from gldr_operator.spec import DeepResearchDeployment

log = logging.getLogger("gldr_operator.handlers")

RETRY_DELAY_SECONDS = 10.0
# Children the operator creates, as (group, version, plural) for kopf.
CHILD_RESOURCES = (
    ("v1", "configmaps"),
    ("v1", "secrets"),
    ("v1", "services"),
    ("apps", "v1", "statefulsets"),
    ("apps", "v1", "deployments"),
    ("batch", "v1", "jobs"),
    ("networking.k8s.io", "v1", "ingresses"),
    ("networking.k8s.io", "v1", "networkpolicies"),
    ("policy", "v1", "poddisruptionbudgets"),
    ("autoscaling", "v2", "horizontalpodautoscalers"),
)


@dataclass
class Runtime:
    """State shared by the handlers of one operator process."""

    kube: Kube | None = None
    scheduler: Scheduler | None = None
    # Secret names each known DeepResearchDeployment references, so a change
    # to one of them triggers a reconcile (and a new config hash).
    secret_refs: dict[tuple[str, str], set[str]] = field(default_factory=dict)

    async def reconcile(self, namespace: str, name: str) -> None:
        assert self.kube is not None, "the startup handler creates the client"
        kind = DEPLOYMENT_KIND
        metrics.RECONCILES.labels(kind=kind).inc()
        started = time.monotonic()
        try:
            result = await reconcile(self.kube, namespace, name)
        except Exception:
            metrics.RECONCILE_ERRORS.labels(kind=kind).inc()
            raise
        finally:
            metrics.RECONCILE_SECONDS.labels(kind=kind).observe(time.monotonic() - started)
        if result is None:
            self.secret_refs.pop((namespace, name), None)
        elif result.applied or result.pruned or result.status_written:
            log.info(
                "Reconciled DeepResearchDeployment %s/%s: %d applied, %d deleted, phase %s.",
                namespace,
                name,
                result.applied,
                result.pruned,
                result.phase,
            )

    def deployments_in(self, namespace: str) -> list[str]:
        return sorted(name for ns, name in self.secret_refs if ns == namespace)


async def _run(runtime: Runtime, namespace: str, name: str) -> None:
    assert runtime.scheduler is not None, "the startup handler creates the scheduler"
    try:
        await runtime.scheduler.run(namespace, name)
    except InvalidSpec as err:
        raise kopf.PermanentError(str(err)) from err
    except KubeError as err:
        raise kopf.TemporaryError(
            f"{err}; retrying in {RETRY_DELAY_SECONDS:.0f} s.", delay=RETRY_DELAY_SECONDS
        ) from err


def register(registry: kopf.OperatorRegistry, drift_interval: float) -> Runtime:
    """Install every handler into `registry` and return their shared runtime."""
    runtime = Runtime()
    deployments = (GROUP, VERSION, "deepresearchdeployments")
    profiles = (GROUP, VERSION, "researchprofiles")

    @kopf.on.startup(registry=registry)
    async def start(**_: Any) -> None:
        runtime.kube = Kube()
        runtime.scheduler = Scheduler(runtime.reconcile)

    @kopf.on.cleanup(registry=registry)
    async def stop(**_: Any) -> None:
        if runtime.scheduler is not None:
            await runtime.scheduler.close()
        if runtime.kube is not None:
            await runtime.kube.close()

    @kopf.on.resume(*deployments, registry=registry)
    @kopf.on.create(*deployments, registry=registry)
    @kopf.on.update(*deployments, registry=registry)
    async def deployment_changed(**event: Any) -> None:
        _remember(runtime, event["body"])
        await _run(runtime, event["namespace"], event["name"])

    @kopf.timer(
        *deployments, registry=registry, interval=drift_interval, initial_delay=drift_interval
    )
    async def drift(**event: Any) -> None:
        _remember(runtime, event["body"])
        await _run(runtime, event["namespace"], event["name"])

    @kopf.on.event(*deployments, registry=registry)
    async def deployment_event(**event: Any) -> None:
        namespace, name = event["namespace"], event["name"]
        if event["type"] == "DELETED" and runtime.scheduler is not None:
            runtime.scheduler.forget(namespace, name)
            runtime.secret_refs.pop((namespace, name), None)

    @kopf.on.event(*profiles, registry=registry)
    async def profile_event(**event: Any) -> None:
        assert runtime.kube is not None
        assert runtime.scheduler is not None
        namespace = event["namespace"]
        if event["type"] != "DELETED":
            try:
                await sync_profile_status(runtime.kube, dict(event["body"]))
            except KubeError as err:
                log.warning("Could not write the status of a ResearchProfile: %s", err)
        # Any deployment of the namespace may select this profile, now or before.
        for name in runtime.deployments_in(namespace):
            runtime.scheduler.request(namespace, name)

    for resource in CHILD_RESOURCES:
        kopf.on.event(*resource, registry=registry, labels={MANAGED_BY_LABEL: MANAGED_BY})(
            _child_event(runtime)
        )
    kopf.on.event("v1", "secrets", registry=registry, id="referenced-secret")(
        _secret_event(runtime)
    )
    return runtime


def _remember(runtime: Runtime, body: Any) -> None:
    metadata = body["metadata"]
    key = (metadata["namespace"], metadata["name"])
    try:
        drd = DeepResearchDeployment.model_validate(dict(body))
    except ValueError:
        runtime.secret_refs.setdefault(key, set())
        return
    runtime.secret_refs[key] = set(referenced_secrets(drd))


def _child_event(runtime: Runtime) -> Any:
    async def child_event(**event: Any) -> None:
        assert runtime.scheduler is not None
        for owner in event["body"]["metadata"].get("ownerReferences") or []:
            if owner.get("kind") == DEPLOYMENT_KIND and owner.get("controller"):
                runtime.scheduler.request(event["namespace"], owner["name"])

    return child_event


def _secret_event(runtime: Runtime) -> Any:
    async def referenced_secret(**event: Any) -> None:
        assert runtime.scheduler is not None
        namespace, name = event["namespace"], event["name"]
        for (ns, deployment), names in list(runtime.secret_refs.items()):
            if ns == namespace and name in names:
                runtime.scheduler.request(namespace, deployment)

    return referenced_secret
