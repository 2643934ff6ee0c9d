"""One idempotent reconcile of a DeepResearchDeployment.

A reconcile reads the resource, its profiles, referenced Secrets and live
children. It renders the desired children and applies only those that
differ, then deletes children that are no longer rendered. Last it computes
status and writes it only when it changed. The kopf handlers, the drift
timer and child events all end up here.
"""

from __future__ import annotations

import base64
import datetime
import logging
import secrets
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import ValidationError

from gldr_operator.constants import MANAGED_BY, PAUSED_ANNOTATION, PROFILES_FILE
from gldr_operator.drift import needs_apply, parse_quantity, with_applied_hash
from gldr_operator.kube import (
    CHILD_KINDS,
    DeepResearchDeploymentResource,
    Invalid,
    Kube,
    ResearchProfileResource,
)
from gldr_operator.profiles import Profile, ProfileSet, build_profile_set
from gldr_operator.render import Credentials, Object, RenderInputs, render_children
from gldr_operator.render.api import api_url
from gldr_operator.render.common import (
    INSTANCE_LABEL,
    MANAGED_BY_LABEL,
    VERSION_LABEL,
    child_name,
)
from gldr_operator.render.env import referenced_secrets, service_env
from gldr_operator.render.migration import render_migration_job
from gldr_operator.spec import DeepResearchDeployment
from gldr_operator.status import Observation, Problem, Replicas, compute_status
from gldr_operator.upgrade import JobState, job_state, plan_rollout

log = logging.getLogger("gldr_operator.reconcile")

ChildKey = tuple[str, str]  # (kind, name)
# Generated credential Secrets stay when their component is switched to
# external, because RabbitMQ keeps its first password in its volume.
NEVER_PRUNED = frozenset({"Secret"})


class InvalidSpec(Exception):
    """The stored spec does not parse; only possible when the CRD schema was bypassed."""


@dataclass(frozen=True)
class Result:
    applied: int
    pruned: int
    status_written: bool
    phase: str


def merge_patch(previous: Object, current: Object) -> Object:
    """JSON merge patch turning `previous` into `current`: keys that disappeared become None."""
    patch: Object = dict(current)
    for key, value in previous.items():
        if key not in current:
            patch[key] = None
        elif isinstance(value, dict) and isinstance(current[key], dict):
            patch[key] = merge_patch(value, current[key])
    return patch


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _owned_by(item: Object, uid: str) -> bool:
    return any(ref.get("uid") == uid for ref in item["metadata"].get("ownerReferences") or [])


async def _live_children(kube: Kube, drd: DeepResearchDeployment) -> dict[ChildKey, Object]:
    labels = {INSTANCE_LABEL: drd.metadata.name, MANAGED_BY_LABEL: MANAGED_BY}
    children: dict[ChildKey, Object] = {}
    for kind, resource in CHILD_KINDS.items():
        for item in await kube.list(resource, drd.metadata.namespace, labels):
            if _owned_by(item, drd.metadata.uid):
                children[(kind, item["metadata"]["name"])] = item
    return children


def _decoded(secret: Object | None, key: str) -> str | None:
    value = ((secret or {}).get("data") or {}).get(key)
    return base64.b64decode(value).decode() if value else None


def _credentials(drd: DeepResearchDeployment, live: dict[ChildKey, Object]) -> Credentials:
    """Passwords kept in the generated Secrets, or new ones when a Secret is missing."""
    redis = live.get(("Secret", child_name(drd, "redis")))
    rabbitmq = live.get(("Secret", child_name(drd, "rabbitmq")))
    return Credentials(
        redis_password=_decoded(redis, "password") or secrets.token_hex(24),
        rabbitmq_username=_decoded(rabbitmq, "username") or "gldr",
        rabbitmq_password=_decoded(rabbitmq, "password") or secrets.token_hex(24),
    )


async def _secret_versions(
    kube: Kube, drd: DeepResearchDeployment
) -> tuple[dict[str, str], list[Problem]]:
    versions: dict[str, str] = {}
    problems: list[Problem] = []
    for name in referenced_secrets(drd):
        secret = await kube.get_or_none(CHILD_KINDS["Secret"], drd.metadata.namespace, name)
        if secret is None:
            versions[name] = "missing"
            problems.append(
                Problem(
                    "SecretNotFound",
                    f"Secret {name!r} referenced by the spec does not exist in namespace "
                    f"{drd.metadata.namespace!r}; create it, and pods that need it will start.",
                )
            )
        else:
            versions[name] = str(secret["metadata"].get("resourceVersion", ""))
    return versions, problems


async def _profiles(kube: Kube, drd: DeepResearchDeployment) -> ProfileSet:
    items = await kube.list(ResearchProfileResource, drd.metadata.namespace)
    profiles = [
        Profile(
            name=item["metadata"]["name"],
            labels=item["metadata"].get("labels") or {},
            spec=item.get("spec") or {},
        )
        for item in items
    ]
    return build_profile_set(profiles, drd.spec.profile_selector, drd.spec.default_profile)


@dataclass(frozen=True)
class AppliedProfiles:
    """The profiles.yaml a reconcile renders, which is the last good one when the new one is bad."""

    profiles_yaml: str
    default_profile: str | None
    # True when the service would reject the selected profiles, so the live
    # ConfigMap stays as it is.
    kept: bool
    # False only when the new file is bad and no ConfigMap exists yet.
    render_config_map: bool


def _applied_profiles(
    drd: DeepResearchDeployment, profile_set: ProfileSet, live: dict[ChildKey, Object]
) -> AppliedProfiles:
    if profile_set.rejection is None:
        return AppliedProfiles(profile_set.profiles_yaml, profile_set.default_profile, False, True)
    config_map = live.get(("ConfigMap", child_name(drd, "profiles")))
    text = ((config_map or {}).get("data") or {}).get(PROFILES_FILE)
    if text is None:
        # Pods wait for the missing ConfigMap volume instead of crash-looping.
        return AppliedProfiles(profile_set.profiles_yaml, profile_set.default_profile, False, False)
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError:
        document = None
    default = document.get("default_profile") if isinstance(document, dict) else None
    return AppliedProfiles(text, str(default) if default else None, True, True)


def _deployed_version(
    body: Object, live: dict[ChildKey, Object], drd: DeepResearchDeployment
) -> str | None:
    status = body.get("status") or {}
    if "observedGeneration" in status:
        version: str | None = status.get("deployedVersion")
        return version
    # No status at all (restored from a backup, say): adopt what runs.
    api = live.get(("Deployment", child_name(drd, "api")))
    if api is None:
        return None
    label: str | None = api["metadata"].get("labels", {}).get(VERSION_LABEL)
    return label


def _claim_templates(stateful_set: Object) -> list[tuple[str, Any, Any]]:
    result = []
    for template in stateful_set["spec"].get("volumeClaimTemplates") or []:
        spec = template.get("spec", {})
        size = spec.get("resources", {}).get("requests", {}).get("storage", "")
        result.append(
            (template["metadata"]["name"], parse_quantity(str(size)), spec.get("storageClassName"))
        )
    return result


def immutable_change(desired: Object, live: Object | None) -> str | None:
    """Describe a change to a StatefulSet field that Kubernetes rejects, or return None."""
    if live is None or desired["kind"] != "StatefulSet":
        return None
    name = desired["metadata"]["name"]
    fix = (
        f"Delete it with `kubectl delete statefulset {name} --cascade=orphan`; the operator "
        "then recreates it and the pod and its volume are kept (a volume is not resized)."
    )
    if live["spec"].get("selector") != desired["spec"]["selector"]:
        return f"StatefulSet {name} cannot change spec.selector in place. {fix}"
    live_claims = _claim_templates(live)
    desired_claims = _claim_templates(desired)
    for index, (wanted, current) in enumerate(zip(desired_claims, live_claims, strict=False)):
        # A storage class the spec leaves out is defaulted by the cluster.
        if wanted[2] is None:
            current = (current[0], current[1], None)
        if wanted != current:
            return f"StatefulSet {name} cannot change volumeClaimTemplates[{index}] in place. {fix}"
    if len(desired_claims) != len(live_claims):
        return f"StatefulSet {name} cannot change volumeClaimTemplates in place. {fix}"
    return None


async def _apply_children(
    kube: Kube, desired: list[Object], live: dict[ChildKey, Object]
) -> tuple[int, list[Problem]]:
    applied = 0
    problems: list[Problem] = []
    for child in desired:
        key = (child["kind"], child["metadata"]["name"])
        change = immutable_change(child, live.get(key))
        if change is not None:
            problems.append(Problem("ImmutableFieldChanged", change))
            continue
        child = with_applied_hash(child)
        if not needs_apply(child, live.get(key)):
            continue
        try:
            live[key] = await kube.apply(child)
        except Invalid as err:
            # Retrying the same object cannot succeed; report it and go on.
            problems.append(Problem("ApplyRejected", f"{err}; fix the spec field it names."))
            continue
        applied += 1
        log.info("Applied %s %s/%s.", key[0], child["metadata"]["namespace"], key[1])
    return applied, problems


async def _prune(
    kube: Kube, namespace: str, desired: list[Object], live: dict[ChildKey, Object]
) -> int:
    wanted = {(child["kind"], child["metadata"]["name"]) for child in desired}
    pruned = 0
    for key in sorted(live):
        kind, name = key
        if key in wanted or kind in NEVER_PRUNED:
            continue
        await kube.delete(CHILD_KINDS[kind], namespace, name)
        del live[key]
        pruned += 1
        log.info("Deleted %s %s/%s, which the spec no longer asks for.", kind, namespace, name)
    return pruned


def _workloads(
    drd: DeepResearchDeployment, live: dict[ChildKey, Object]
) -> tuple[dict[str, Replicas | None], dict[str, str]]:
    spec = drd.spec
    wanted = {"api": "Deployment", "worker": "Deployment"}
    unmanaged: dict[str, str] = {}
    if spec.flower.enabled:
        wanted["flower"] = "Deployment"
    else:
        unmanaged["flower"] = "Disabled"
    for component, managed in (("redis", spec.managed_redis), ("rabbitmq", spec.managed_rabbitmq)):
        if managed is not None:
            wanted[component] = "StatefulSet"
        else:
            unmanaged[component] = "External"
    workloads = {
        component: Replicas.from_workload(live.get((kind, child_name(drd, component))))
        for component, kind in wanted.items()
    }
    return workloads, unmanaged


async def reconcile(kube: Kube, namespace: str, name: str) -> Result | None:
    """Bring one DeepResearchDeployment's children and status in line with its spec.

    Returns None when the resource is gone or being deleted. Raises
    `KubeError` on API failures, which the caller retries.
    """
    body = await kube.get_or_none(DeepResearchDeploymentResource, namespace, name)
    if body is None or body["metadata"].get("deletionTimestamp"):
        return None
    try:
        drd = DeepResearchDeployment.model_validate(body)
    except ValidationError as err:
        raise InvalidSpec(
            f"DeepResearchDeployment {namespace}/{name} has an invalid spec: {err}"
        ) from err
    paused = drd.metadata.annotations.get(PAUSED_ANNOTATION, "").lower() == "true"

    live = await _live_children(kube, drd)
    profile_set = await _profiles(kube, drd)
    applied_profiles = _applied_profiles(drd, profile_set, live)
    if profile_set.rejection is not None:
        log.warning(
            "Not applying profiles.yaml of DeepResearchDeployment %s/%s, which the service "
            "would reject: %s",
            namespace,
            name,
            profile_set.rejection,
        )
    secret_versions, problems = await _secret_versions(kube, drd)
    credentials = _credentials(drd, live)

    inputs = RenderInputs(
        profiles_yaml=applied_profiles.profiles_yaml,
        default_profile=applied_profiles.default_profile,
        credentials=credentials,
        workload_version=drd.spec.version,
        migrate=True,
        secret_versions=secret_versions,
    )
    job_name = render_migration_job(drd, service_env(drd, inputs))["metadata"]["name"]
    state, failure = job_state(live.get(("Job", job_name)))
    rollout = plan_rollout(drd.spec.version, _deployed_version(body, live, drd), state)
    inputs = RenderInputs(
        profiles_yaml=inputs.profiles_yaml,
        default_profile=inputs.default_profile,
        credentials=credentials,
        workload_version=rollout.workload_version,
        migrate=rollout.migrate,
        secret_versions=secret_versions,
    )
    desired = render_children(drd, inputs)
    if not applied_profiles.render_config_map:
        profiles_name = child_name(drd, "profiles")
        desired = [
            child
            for child in desired
            if (child["kind"], child["metadata"]["name"]) != ("ConfigMap", profiles_name)
        ]

    applied = pruned = 0
    if not paused:
        applied, apply_problems = await _apply_children(kube, desired, live)
        problems += apply_problems
        pruned = await _prune(kube, namespace, desired, live)

    workloads, unmanaged = _workloads(drd, live)
    observation = Observation(
        generation=drd.metadata.generation,
        paused=paused,
        spec_version=drd.spec.version,
        deployed_version=rollout.deployed_version,
        api_url=api_url(drd),
        workloads=workloads,
        unmanaged=unmanaged,
        profiles=profile_set,
        profiles_kept=applied_profiles.kept,
        migration_state=state if rollout.migrate else JobState.ABSENT,
        migration_job=job_name,
        migration_message=failure,
        problems=problems,
    )
    previous = body.get("status") or {}
    status = compute_status(observation, previous, _now())
    written = status != previous
    if written:
        patch = merge_patch(previous, status)
        await kube.patch_status(DeepResearchDeploymentResource, namespace, name, patch)
        log.info(
            "Status of DeepResearchDeployment %s/%s is now %s.", namespace, name, status["phase"]
        )
    return Result(applied=applied, pruned=pruned, status_written=written, phase=status["phase"])
