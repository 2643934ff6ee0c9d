"""Version rollout: which version the workloads run and whether to migrate.

A new spec.version first gets a migration Job (`gldr migrate`). API and
worker keep the deployed version until that Job succeeds, so a failed
migration leaves the old pods serving. On a first install nothing old
exists, so the workloads start at once; their entrypoint runs migrations
under a PostgreSQL advisory lock and waits for the Job's run to finish.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from gldr_operator.render.common import Object


class JobState(enum.Enum):
    ABSENT = "Absent"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


@dataclass(frozen=True)
class Rollout:
    workload_version: str
    migrate: bool
    # Version recorded in status.deployedVersion after this reconcile.
    deployed_version: str | None


def job_state(job: Object | None) -> tuple[JobState, str]:
    """State of a migration Job and, when it failed, the reason Kubernetes gives."""
    if job is None:
        return JobState.ABSENT, ""
    for condition in job.get("status", {}).get("conditions") or []:
        if condition.get("status") != "True":
            continue
        if condition.get("type") in ("Complete", "SuccessCriteriaMet"):
            return JobState.SUCCEEDED, ""
        if condition.get("type") in ("Failed", "FailureTarget"):
            reason = condition.get("message") or condition.get("reason") or "unknown reason"
            return JobState.FAILED, str(reason)
    return JobState.RUNNING, ""


def plan_rollout(spec_version: str, deployed: str | None, state: JobState) -> Rollout:
    if deployed == spec_version:
        return Rollout(spec_version, migrate=False, deployed_version=deployed)
    if state is JobState.SUCCEEDED:
        return Rollout(spec_version, migrate=True, deployed_version=spec_version)
    if deployed is None:
        return Rollout(spec_version, migrate=True, deployed_version=None)
    return Rollout(deployed, migrate=True, deployed_version=deployed)
