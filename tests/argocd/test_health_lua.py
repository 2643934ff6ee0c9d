"""Argo CD health checks of examples/argocd/, run with Lua 5.1 on the operator's real statuses.

Argo CD runs health checks in gopher-lua, a Lua 5.1 implementation, with the
live resource in the global `obj`. lupa's lua51 module is the closest match.
The statuses come from the operator's own `compute_status` and
`profile_status`, so a change to condition types, reasons or phases that
breaks the mapping fails here.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from lupa import lua51

from gldr_operator.profile_status import profile_status
from gldr_operator.profiles import ProfileSet
from gldr_operator.status import Observation, Problem, Replicas, compute_status
from gldr_operator.upgrade import JobState

pytestmark = pytest.mark.unit

ARGOCD = Path(__file__).resolve().parents[2] / "examples" / "argocd"
DEPLOYMENT_LUA = ARGOCD / "deepresearchdeployment-health.lua"
PROFILE_LUA = ARGOCD / "researchprofile-health.lua"
NOW = "2026-01-01T00:00:00Z"
PROFILES = ProfileSet(profiles_yaml="profiles: {}\n", default_profile="quick", names=["quick"])
READY = Replicas(ready=1, desired=1, rolled_out=True)
ROLLING = Replicas(ready=0, desired=1, rolled_out=False)


def run_health_check(script: Path, obj: dict[str, Any]) -> dict[str, str]:
    """Run one health check as Argo CD does and return its {status, message} table."""
    lua = lua51.LuaRuntime(unpack_returned_tuples=True)
    lua.globals().obj = lua.table_from(obj, recursive=True)
    result = lua.execute(script.read_text())
    assert result is not None, f"{script.name} returned nothing"
    return {"status": result["status"], "message": result["message"]}


def observe(**changes: Any) -> Observation:
    values: dict[str, Any] = {
        "generation": 2,
        "paused": False,
        "spec_version": "0.1.0",
        "deployed_version": "0.1.0",
        "api_url": "http://research-api.research.svc:8000",
        "workloads": {"api": READY, "worker": READY, "redis": READY, "rabbitmq": READY},
        "unmanaged": {"flower": "Disabled"},
        "profiles": PROFILES,
        "migration_state": JobState.ABSENT,
        "migration_job": "research-migrate-5f2c9a1e",
    }
    values.update(changes)
    return Observation(**values)


def deployment(
    observation: Observation | None, generation: int = 2, paused: str | None = None
) -> dict[str, Any]:
    """A DeepResearchDeployment as the API server returns it, with the operator's status."""
    metadata: dict[str, Any] = {
        "name": "research",
        "namespace": "research",
        "generation": generation,
        "annotations": {},
    }
    if paused is not None:
        metadata["annotations"]["research.gdplabs.id/paused"] = paused
    obj: dict[str, Any] = {
        "apiVersion": "research.gdplabs.id/v1alpha1",
        "kind": "DeepResearchDeployment",
        "metadata": metadata,
        "spec": {"version": "0.1.0"},
    }
    if observation is not None:
        obj["status"] = compute_status(observation, None, NOW)
    return obj


def profile(spec: dict[str, Any], with_status: bool = True, generation: int = 1) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "research.gdplabs.id/v1alpha1",
        "kind": "ResearchProfile",
        "metadata": {"name": "quick", "namespace": "research", "generation": generation},
        "spec": spec,
    }
    if with_status:
        obj["status"] = profile_status(copy.deepcopy(obj), NOW)
    return obj


def test_deployment_ready_is_healthy() -> None:
    obj = deployment(observe())
    assert obj["status"]["phase"] == "Ready"
    health = run_health_check(DEPLOYMENT_LUA, obj)
    assert health["status"] == "Healthy"
    assert health["message"] == "Every component is ready."


def test_deployment_rolling_out_is_progressing() -> None:
    obj = deployment(observe(workloads={**observe().workloads, "api": ROLLING}))
    assert obj["status"]["phase"] == "Progressing"
    health = run_health_check(DEPLOYMENT_LUA, obj)
    assert health["status"] == "Progressing"
    assert "api" in health["message"]


def test_deployment_pending_is_progressing() -> None:
    workloads = dict.fromkeys(observe().workloads)
    obj = deployment(observe(workloads=workloads, deployed_version=None))
    assert obj["status"]["phase"] == "Pending"
    health = run_health_check(DEPLOYMENT_LUA, obj)
    assert health["status"] == "Progressing"


def test_deployment_migrating_is_progressing() -> None:
    obj = deployment(observe(spec_version="0.2.0", migration_state=JobState.RUNNING))
    health = run_health_check(DEPLOYMENT_LUA, obj)
    assert health["status"] == "Progressing"
    assert "migration" in health["message"]


def test_deployment_failed_migration_is_degraded() -> None:
    obj = deployment(
        observe(
            spec_version="0.2.0",
            migration_state=JobState.FAILED,
            migration_message="BackoffLimitExceeded",
        )
    )
    assert obj["status"]["phase"] == "Degraded"
    health = run_health_check(DEPLOYMENT_LUA, obj)
    assert health["status"] == "Degraded"
    assert "research-migrate-5f2c9a1e" in health["message"]


def test_deployment_problem_is_degraded() -> None:
    problem = Problem("ImmutableField", "StatefulSet research-redis: volumeClaimTemplates changed.")
    obj = deployment(observe(problems=[problem], workloads={"api": ROLLING}))
    health = run_health_check(DEPLOYMENT_LUA, obj)
    assert health["status"] == "Degraded"
    assert health["message"] == problem.message


def test_deployment_invalid_profiles_degraded() -> None:
    profiles = ProfileSet(
        profiles_yaml="", default_profile=None, names=[], problems=["Two profiles set default."]
    )
    obj = deployment(observe(profiles=profiles))
    health = run_health_check(DEPLOYMENT_LUA, obj)
    assert health["status"] == "Degraded"
    assert "Two profiles set default." in health["message"]


def test_deployment_paused_is_suspended() -> None:
    obj = deployment(observe(paused=True), paused="true")
    assert obj["status"]["phase"] == "Paused"
    health = run_health_check(DEPLOYMENT_LUA, obj)
    assert health["status"] == "Suspended"


def test_paused_annotation_before_status_suspended() -> None:
    # The annotation was just set; the operator has not written Paused yet.
    obj = deployment(observe(), paused="True")
    assert obj["status"]["phase"] == "Ready"
    health = run_health_check(DEPLOYMENT_LUA, obj)
    assert health["status"] == "Suspended"


def test_paused_annotation_false_ignored() -> None:
    health = run_health_check(DEPLOYMENT_LUA, deployment(observe(), paused="false"))
    assert health["status"] == "Healthy"


def test_deployment_without_status_progressing() -> None:
    health = run_health_check(DEPLOYMENT_LUA, deployment(None))
    assert health["status"] == "Progressing"
    assert health["message"] == "Waiting for the operator to report status."


def test_deployment_stale_generation_progressing() -> None:
    # Ready for generation 2, but the spec is already at generation 3.
    health = run_health_check(DEPLOYMENT_LUA, deployment(observe(), generation=3))
    assert health["status"] == "Progressing"
    assert "generation 3" in health["message"]


def test_profile_accepted_is_healthy() -> None:
    obj = profile({"provider": "local", "params": {"collections": ["wikipedia"]}})
    assert obj["status"]["conditions"][0]["status"] == "True"
    health = run_health_check(PROFILE_LUA, obj)
    assert health["status"] == "Healthy"
    assert "local" in health["message"]


def test_profile_rejected_is_degraded() -> None:
    obj = profile({"provider": "local", "params": {"sub_queries": "many"}})
    condition = obj["status"]["conditions"][0]
    assert condition["status"] == "False"
    health = run_health_check(PROFILE_LUA, obj)
    assert health["status"] == "Degraded"
    assert health["message"] == condition["message"]


def test_profile_without_status_progressing() -> None:
    obj = profile({"provider": "local"}, with_status=False)
    health = run_health_check(PROFILE_LUA, obj)
    assert health["status"] == "Progressing"


def test_profile_stale_generation_progressing() -> None:
    obj = profile({"provider": "local"})
    obj["metadata"]["generation"] = 2
    health = run_health_check(PROFILE_LUA, obj)
    assert health["status"] == "Progressing"
