"""Status of a DeepResearchDeployment, computed from what the cluster reports.

`compute_status` is pure: the reconciler passes the live children and the
facts it gathered, and writes the result only when it differs from the
stored status, so a no-op resync writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gldr_operator.profiles import ProfileSet
from gldr_operator.render.common import Object
from gldr_operator.upgrade import JobState

COMPONENT_CONDITIONS = {
    "api": "ApiAvailable",
    "worker": "WorkerAvailable",
    "flower": "FlowerAvailable",
    "redis": "RedisAvailable",
    "rabbitmq": "RabbitMQAvailable",
}


@dataclass(frozen=True)
class Replicas:
    """Replica counts of one workload as its controller reports them."""

    ready: int
    desired: int
    rolled_out: bool

    @classmethod
    def from_workload(cls, workload: Object | None) -> Replicas | None:
        """Counts of a live Deployment or StatefulSet, or None if it does not exist."""
        if workload is None:
            return None
        spec = workload.get("spec", {})
        status = workload.get("status") or {}
        desired = int(spec.get("replicas", 1))
        ready = int(status.get("readyReplicas") or 0)
        updated = int(status.get("updatedReplicas") or 0)
        generation = int(workload.get("metadata", {}).get("generation") or 0)
        observed = int(status.get("observedGeneration") or 0)
        rolled_out = observed >= generation and updated >= desired and ready >= desired
        return cls(ready=ready, desired=desired, rolled_out=rolled_out)


@dataclass(frozen=True)
class Problem:
    """Something the operator cannot fix by itself; it marks the resource Degraded."""

    reason: str
    message: str


@dataclass(frozen=True)
class Observation:
    """Everything `compute_status` needs, gathered by one reconcile."""

    generation: int
    paused: bool
    spec_version: str
    deployed_version: str | None
    api_url: str
    # Components the spec requests, with their live replica counts (None when
    # the workload does not exist yet).
    workloads: Mapping[str, Replicas | None]
    # Components the spec does not manage, with the reason ("Disabled", "External").
    unmanaged: Mapping[str, str]
    profiles: ProfileSet
    migration_state: JobState
    migration_job: str
    migration_message: str = ""
    problems: Sequence[Problem] = field(default_factory=list)
    # True when profiles.rejection made the reconcile keep the live ConfigMap.
    profiles_kept: bool = False


def _condition(type_: str, ok: bool, reason: str, message: str) -> Object:
    return {
        "type": type_,
        "status": "True" if ok else "False",
        "reason": reason,
        "message": message,
    }


def _component_condition(component: str, replicas: Replicas | None) -> Object:
    type_ = COMPONENT_CONDITIONS[component]
    if replicas is None:
        return _condition(
            type_, False, "NotCreated", f"The {component} workload does not exist yet."
        )
    counts = f"{replicas.ready}/{replicas.desired} replicas ready"
    if replicas.desired == 0:
        return _condition(type_, True, "ScaledToZero", f"The {component} workload has 0 replicas.")
    if replicas.ready >= replicas.desired:
        return _condition(type_, True, "ReplicasReady", f"{counts}.")
    return _condition(type_, False, "ReplicasNotReady", f"{counts}.")


def _profiles_condition(profiles: ProfileSet, kept: bool) -> Object:
    if profiles.rejection is not None:
        outcome = (
            "The operator keeps the last applied profiles.yaml until this is fixed."
            if kept
            else "The operator does not create the profiles ConfigMap until this is fixed, "
            "so the API and worker pods wait for it."
        )
        message = " ".join(
            [
                *profiles.problems,
                f"The service would reject the new profiles.yaml: {profiles.rejection}",
                outcome,
            ]
        )
        return _condition("ProfilesSynced", False, "ProfilesRejected", message)
    if profiles.problems:
        return _condition("ProfilesSynced", False, "InvalidProfiles", " ".join(profiles.problems))
    names = ", ".join(profiles.names)
    count = len(profiles.names)
    default = profiles.default_profile
    message = f"profiles.yaml has {count} profiles ({names}); default {default!r}."
    if profiles.notes:
        message += " " + " ".join(profiles.notes)
    return _condition("ProfilesSynced", True, "Synced", message)


def _migration_condition(observation: Observation) -> Object:
    state = observation.migration_state
    version = observation.spec_version
    job = observation.migration_job
    if observation.deployed_version == version and state is not JobState.FAILED:
        return _condition(
            "MigrationsApplied", True, "UpToDate", f"Schema migrated for version {version}."
        )
    if state is JobState.SUCCEEDED:
        return _condition("MigrationsApplied", True, "Succeeded", f"Migration Job {job} succeeded.")
    serving = (
        f"API and workers keep serving version {observation.deployed_version}"
        if observation.deployed_version
        else "this is a first install, so the API and workers start alongside it"
    )
    if state is JobState.FAILED:
        return _condition(
            "MigrationsApplied",
            False,
            "MigrationFailed",
            f"Migration Job {job} for version {version} failed: {observation.migration_message}. "
            f"{serving.capitalize()}. Read `kubectl logs job/{job}`, fix the cause, then delete "
            "the Job to run it again.",
        )
    return _condition(
        "MigrationsApplied",
        False,
        "MigrationRunning",
        f"Migration Job {job} for version {version} is running; {serving}.",
    )


def _summary_conditions(
    observation: Observation, conditions: list[Object]
) -> tuple[list[Object], str]:
    problems = list(observation.problems)
    for condition in conditions:
        if condition["reason"] in ("MigrationFailed", "InvalidProfiles", "ProfilesRejected"):
            problems.append(Problem(condition["reason"], condition["message"]))
    waiting = [
        name
        for name, replicas in observation.workloads.items()
        if replicas is None or not replicas.rolled_out
    ]
    migrating = observation.migration_state is JobState.RUNNING or any(
        condition["reason"] == "MigrationRunning" for condition in conditions
    )
    all_true = all(condition["status"] == "True" for condition in conditions)

    if problems:
        degraded = _condition(
            "Degraded", True, problems[0].reason, " ".join(p.message for p in problems)
        )
    else:
        degraded = _condition("Degraded", False, "NoProblems", "No problems found.")

    if observation.paused:
        progressing = _condition("Progressing", False, "Paused", "Reconciliation is paused.")
    elif waiting or migrating:
        parts = [f"waiting for {', '.join(waiting)} to roll out"] if waiting else []
        if migrating:
            parts.append("waiting for the migration Job")
        progressing = _condition(
            "Progressing", True, "RollingOut", "; ".join(parts).capitalize() + "."
        )
    else:
        progressing = _condition("Progressing", False, "RolledOut", "Every workload is rolled out.")

    ready_ok = (
        all_true and not problems and not waiting and not migrating and not observation.paused
    )
    if ready_ok:
        ready = _condition("Ready", True, "AllComponentsReady", "Every component is ready.")
    elif observation.paused:
        ready = _condition("Ready", False, "Paused", "Reconciliation is paused.")
    else:
        not_ready = [c["type"] for c in conditions if c["status"] != "True"]
        detail = ", ".join(not_ready) if not_ready else "rollout or problems pending"
        ready = _condition("Ready", False, "ComponentsNotReady", f"Not ready: {detail}.")

    if observation.paused:
        phase = "Paused"
    elif problems:
        phase = "Degraded"
    elif ready_ok:
        phase = "Ready"
    elif all(replicas is None for replicas in observation.workloads.values()):
        phase = "Pending"
    else:
        phase = "Progressing"
    return [ready, progressing, degraded], phase


def compute_status(
    observation: Observation, previous: Mapping[str, Any] | None, now: str
) -> Object:
    """Compute the whole `status`.

    A condition keeps its lastTransitionTime while its status is unchanged.
    """
    conditions = [
        _component_condition(name, replicas) for name, replicas in observation.workloads.items()
    ]
    for name, reason in observation.unmanaged.items():
        message = f"The operator does not run {name} ({reason.lower()} in the spec)."
        conditions.append(_condition(COMPONENT_CONDITIONS[name], True, reason, message))
    conditions.append(_profiles_condition(observation.profiles, observation.profiles_kept))
    conditions.append(_migration_condition(observation))
    summary, phase = _summary_conditions(observation, conditions)

    earlier = {item.get("type"): item for item in (previous or {}).get("conditions") or []}
    stamped = []
    for condition in summary + conditions:
        before = earlier.get(condition["type"]) or {}
        unchanged = before.get("status") == condition["status"]
        condition["lastTransitionTime"] = (
            before.get("lastTransitionTime", now) if unchanged else now
        )
        condition["observedGeneration"] = observation.generation
        stamped.append(condition)

    api = observation.workloads.get("api")
    components = {
        name: {"ready": replicas.ready, "desired": replicas.desired}
        for name, replicas in observation.workloads.items()
        if replicas is not None
    }
    status: Object = {
        "observedGeneration": observation.generation,
        "phase": phase,
        "apiUrl": observation.api_url,
        "apiReplicas": f"{api.ready}/{api.desired}" if api else "0/0",
        "components": components,
        "profiles": observation.profiles.names,
        "conditions": stamped,
    }
    if observation.deployed_version is not None:
        status["deployedVersion"] = observation.deployed_version
    return status
