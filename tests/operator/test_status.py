"""Status computation: conditions, phase and transition times."""

from __future__ import annotations

import pytest

from gldr_operator.profiles import ProfileSet
from gldr_operator.reconcile import merge_patch
from gldr_operator.status import Observation, Problem, Replicas, compute_status
from gldr_operator.upgrade import JobState, Rollout, job_state, plan_rollout

pytestmark = pytest.mark.unit

NOW = "2026-01-01T00:00:00Z"
LATER = "2026-01-01T00:05:00Z"
PROFILES = ProfileSet(profiles_yaml="profiles: {}\n", default_profile="quick", names=["quick"])


def observe(**changes: object) -> Observation:
    ready = Replicas(ready=1, desired=1, rolled_out=True)
    values: dict[str, object] = {
        "generation": 3,
        "paused": False,
        "spec_version": "1.0.0",
        "deployed_version": "1.0.0",
        "api_url": "http://research-api.ns.svc:8000",
        "workloads": {"api": ready, "worker": ready, "redis": ready, "rabbitmq": ready},
        "unmanaged": {"flower": "Disabled"},
        "profiles": PROFILES,
        "migration_state": JobState.ABSENT,
        "migration_job": "research-migrate-abc",
    }
    values.update(changes)
    return Observation(**values)  # type: ignore[arg-type]


def conditions(status: dict[str, object]) -> dict[str, dict[str, object]]:
    return {item["type"]: item for item in status["conditions"]}  # type: ignore[attr-defined,index]


def test_all_ready_is_ready() -> None:
    status = compute_status(observe(), None, NOW)
    assert status["phase"] == "Ready"
    assert status["observedGeneration"] == 3
    assert status["apiReplicas"] == "1/1"
    by_type = conditions(status)
    expected = {
        "Ready",
        "Progressing",
        "Degraded",
        "ApiAvailable",
        "WorkerAvailable",
        "FlowerAvailable",
        "RedisAvailable",
        "RabbitMQAvailable",
        "ProfilesSynced",
        "MigrationsApplied",
    }
    assert set(by_type) == expected
    assert by_type["Ready"]["status"] == "True"
    assert by_type["Degraded"]["status"] == "False"
    assert by_type["FlowerAvailable"]["reason"] == "Disabled"


def test_missing_workloads_are_pending() -> None:
    status = compute_status(observe(workloads={"api": None, "worker": None}), None, NOW)
    assert status["phase"] == "Pending"
    assert conditions(status)["ApiAvailable"]["reason"] == "NotCreated"


def test_rolling_workload_is_progressing() -> None:
    rolling = Replicas(ready=1, desired=2, rolled_out=False)
    status = compute_status(observe(workloads={"api": rolling}), None, NOW)
    assert status["phase"] == "Progressing"
    assert conditions(status)["Progressing"]["status"] == "True"
    assert conditions(status)["ApiAvailable"]["message"] == "1/2 replicas ready."


def test_failed_migration_is_degraded_and_says_why() -> None:
    observation = observe(
        spec_version="1.1.0",
        migration_state=JobState.FAILED,
        migration_message="BackoffLimitExceeded",
    )
    status = compute_status(observation, None, NOW)
    migration = conditions(status)["MigrationsApplied"]
    assert status["phase"] == "Degraded"
    assert migration["reason"] == "MigrationFailed"
    assert "1.0.0" in str(migration["message"])
    assert "BackoffLimitExceeded" in str(migration["message"])


def test_problem_marks_degraded() -> None:
    problem = Problem("ImmutableFieldChanged", "StatefulSet x cannot change spec.selector.")
    status = compute_status(observe(problems=[problem]), None, NOW)
    assert status["phase"] == "Degraded"
    assert conditions(status)["Degraded"]["reason"] == "ImmutableFieldChanged"


def test_paused_phase() -> None:
    status = compute_status(observe(paused=True), None, NOW)
    assert status["phase"] == "Paused"
    assert conditions(status)["Progressing"]["reason"] == "Paused"


def test_unchanged_status_is_identical() -> None:
    first = compute_status(observe(), None, NOW)
    second = compute_status(observe(), first, LATER)
    assert second == first


def test_transition_time_moves_on_change() -> None:
    first = compute_status(observe(), None, NOW)
    rolling = Replicas(ready=0, desired=1, rolled_out=False)
    second = compute_status(observe(workloads={"api": rolling}), first, LATER)
    assert conditions(second)["ApiAvailable"]["lastTransitionTime"] == LATER
    assert conditions(second)["ProfilesSynced"]["lastTransitionTime"] == NOW


def test_merge_patch_removes_vanished_keys() -> None:
    previous = {"components": {"api": {"ready": 1}, "flower": {"ready": 1}}, "phase": "Ready"}
    current = {"components": {"api": {"ready": 1}}, "phase": "Ready"}
    assert merge_patch(previous, current)["components"]["flower"] is None


@pytest.mark.parametrize(
    ("deployed", "state", "expected"),
    [
        ("1.0.0", JobState.ABSENT, Rollout("1.1.0", migrate=True, deployed_version="1.0.0")),
        ("1.0.0", JobState.RUNNING, Rollout("1.0.0", migrate=True, deployed_version="1.0.0")),
        ("1.0.0", JobState.FAILED, Rollout("1.0.0", migrate=True, deployed_version="1.0.0")),
        ("1.0.0", JobState.SUCCEEDED, Rollout("1.1.0", migrate=True, deployed_version="1.1.0")),
        ("1.1.0", JobState.ABSENT, Rollout("1.1.0", migrate=False, deployed_version="1.1.0")),
        (None, JobState.RUNNING, Rollout("1.1.0", migrate=True, deployed_version=None)),
    ],
    ids=["new-version", "running", "failed", "succeeded", "current", "first-install"],
)
def test_rollout_waits_for_migration(
    deployed: str | None, state: JobState, expected: Rollout
) -> None:
    if state is JobState.ABSENT and deployed == "1.0.0":
        expected = Rollout("1.0.0", migrate=True, deployed_version="1.0.0")
    assert plan_rollout("1.1.0", deployed, state) == expected


def test_job_state_reads_conditions() -> None:
    failed = {"status": {"conditions": [{"type": "Failed", "status": "True", "message": "boom"}]}}
    complete = {"status": {"conditions": [{"type": "Complete", "status": "True"}]}}
    assert job_state(None) == (JobState.ABSENT, "")
    assert job_state({"status": {}}) == (JobState.RUNNING, "")
    assert job_state(failed) == (JobState.FAILED, "boom")
    assert job_state(complete) == (JobState.SUCCEEDED, "")
