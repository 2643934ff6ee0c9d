"""The operator against a real API server: children, readiness, drift, profiles, GC.

kwok marks pods Ready and completes Job pods, so workloads and the
migration Job reach their final states without containers. The operator
runs as a subprocess with a drift interval of DRIFT_INTERVAL seconds.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lightkube import ApiError, Client
from lightkube.resources.apps_v1 import Deployment, StatefulSet
from lightkube.resources.core_v1 import ConfigMap, Event, Secret, Service

from e2e.operator_fixtures import (
    DRIFT_INTERVAL,
    OperatorProcess,
    apply,
    apply_examples,
    example_deployment,
    install_crds,
    load,
    running_operator,
    static_volumes,
    wait_until,
)
from e2e.operator_fixtures import REPO as _REPO
from gldr_operator.constants import CONFIG_HASH_ANNOTATION
from gldr_operator.kube import DeepResearchDeploymentResource as DRD
from gldr_operator.kube import ResearchProfileResource as RP

pytestmark = [pytest.mark.k8s, pytest.mark.slow]

NAME = "research"


@pytest.fixture(scope="session")
def crds(k8s_client: Client) -> None:
    install_crds(k8s_client)


@pytest.fixture
def operator(
    kubeconfig: Path, namespace: str, crds: None, tmp_path: Path
) -> Iterator[OperatorProcess]:
    with running_operator(kubeconfig, namespace, tmp_path) as process:
        yield process


@pytest.fixture
def volumes(k8s_client: Client) -> Iterator[None]:
    with static_volumes(k8s_client):
        yield


CHILDREN = [
    (ConfigMap, "research-profiles"),
    (Secret, "research-redis"),
    (Secret, "research-rabbitmq"),
    (Service, "research-api"),
    (Service, "research-redis"),
    (Service, "research-rabbitmq"),
    (StatefulSet, "research-redis"),
    (StatefulSet, "research-rabbitmq"),
    (Deployment, "research-api"),
    (Deployment, "research-worker"),
    (Deployment, "research-beat"),
]


def get_or_none(client: Client, kind: Any, name: str, namespace: str) -> Any:
    try:
        return client.get(kind, name, namespace=namespace)
    except ApiError as err:
        if err.status.code == 404:
            return None
        raise


def status(client: Client, namespace: str) -> dict[str, Any]:
    body = client.get(DRD, NAME, namespace=namespace)
    return dict(body.get("status") or {})


def wait_ready(
    client: Client, namespace: str, operator: OperatorProcess, timeout: float = 90
) -> dict[str, Any]:
    def ready() -> dict[str, Any] | None:
        current = status(client, namespace)
        return current if current.get("phase") == "Ready" else None

    try:
        return wait_until("DeepResearchDeployment Ready", ready, timeout=timeout)  # type: ignore[no-any-return]
    except AssertionError as err:
        raise AssertionError(
            f"{err}\nstatus: {status(client, namespace)}\noperator log:\n{operator.log_tail()}"
        ) from None


def deployment_events(client: Client, namespace: str) -> list[tuple[str, int]]:
    """Name and count of every Event about the DeepResearchDeployment."""
    events = client.list(Event, namespace=namespace)
    about = [e for e in events if e.involvedObject.kind == "DeepResearchDeployment"]
    return sorted((e.metadata.name, e.count or 0) for e in about)


def config_hash(client: Client, namespace: str) -> str:
    api = client.get(Deployment, "research-api", namespace=namespace)
    return str(api.spec.template.metadata.annotations[CONFIG_HASH_ANNOTATION])


@pytest.mark.usefixtures("volumes")
def test_examples_become_ready(
    k8s_client: Client, namespace: str, operator: OperatorProcess
) -> None:
    apply_examples(k8s_client, namespace)
    for kind, name in CHILDREN:
        wait_until(
            f"{kind.__name__} {name}",
            lambda kind=kind, name=name: get_or_none(k8s_client, kind, name, namespace),
        )
    current = wait_ready(k8s_client, namespace, operator)
    conditions = {c["type"]: c for c in current["conditions"]}
    assert conditions["Ready"]["status"] == "True"
    assert conditions["MigrationsApplied"]["status"] == "True"
    assert current["deployedVersion"] == "0.1.0"
    assert current["apiReplicas"] == "1/1"
    assert current["profiles"] == ["quick", "sea-lion-web", "thorough"]
    api = k8s_client.get(Deployment, "research-api", namespace=namespace)
    owner = api.metadata.ownerReferences[0]
    assert owner.kind == "DeepResearchDeployment"
    assert owner.controller is True
    beat = k8s_client.get(Deployment, "research-beat", namespace=namespace)
    beat_resources = beat.spec.template.spec.containers[0].resources
    assert beat_resources.requests == {"cpu": "100m", "memory": "128Mi"}
    assert beat_resources.limits == {"cpu": "500m", "memory": "512Mi"}
    worker = k8s_client.get(Deployment, "research-worker", namespace=namespace)
    probe = worker.spec.template.spec.containers[0].livenessProbe
    assert probe.httpGet.path == "/livez"
    assert probe.httpGet.port == 9540
    assert probe.failureThreshold == 3


@pytest.mark.usefixtures("crds")
def test_beat_request_above_limit_rejected(k8s_client: Client, namespace: str) -> None:
    deployment = example_deployment()
    deployment["spec"]["beat"] = {
        "resources": {"requests": {"memory": "1Gi"}, "limits": {"memory": "512Mi"}}
    }
    with pytest.raises(ApiError) as rejected:
        apply(k8s_client, deployment, namespace)
    assert rejected.value.status.code == 422
    message = rejected.value.status.message
    assert "spec.beat.resources" in message
    assert "resources.requests.memory must not exceed resources.limits.memory" in message


@pytest.mark.usefixtures("volumes")
def test_noop_resync_writes_nothing(
    k8s_client: Client, namespace: str, operator: OperatorProcess
) -> None:
    apply_examples(k8s_client, namespace)
    wait_ready(k8s_client, namespace, operator)
    # Let child events from the rollout settle into the stored status.
    time.sleep(DRIFT_INTERVAL * 2)
    writes_before = operator.writes()
    reconciles_before = operator.metric_total("gldr_operator_reconciles_total")
    version_before = k8s_client.get(DRD, NAME, namespace=namespace).metadata.resourceVersion
    events_before = deployment_events(k8s_client, namespace)

    time.sleep(DRIFT_INTERVAL * 4)

    assert operator.metric_total("gldr_operator_reconciles_total") >= reconciles_before + 3
    assert operator.writes() == writes_before
    assert k8s_client.get(DRD, NAME, namespace=namespace).metadata.resourceVersion == version_before
    assert deployment_events(k8s_client, namespace) == events_before


@pytest.mark.usefixtures("volumes")
def test_drift_is_undone(k8s_client: Client, namespace: str, operator: OperatorProcess) -> None:
    apply_examples(k8s_client, namespace)
    wait_ready(k8s_client, namespace, operator)
    k8s_client.delete(Deployment, "research-worker", namespace=namespace)
    started = time.monotonic()
    wait_until(
        "worker Deployment recreated",
        lambda: get_or_none(k8s_client, Deployment, "research-worker", namespace),
        timeout=DRIFT_INTERVAL + 10,
    )
    recreated_after = time.monotonic() - started

    k8s_client.patch(Deployment, "research-api", {"spec": {"replicas": 3}}, namespace=namespace)
    wait_until(
        "API replicas reset to 1",
        lambda: k8s_client.get(Deployment, "research-api", namespace=namespace).spec.replicas == 1,
        timeout=DRIFT_INTERVAL + 10,
    )
    assert recreated_after < DRIFT_INTERVAL + 10


@pytest.mark.usefixtures("volumes")
def test_profile_change_rolls_pods(
    k8s_client: Client, namespace: str, operator: OperatorProcess
) -> None:
    apply_examples(k8s_client, namespace)
    wait_ready(k8s_client, namespace, operator)
    hash_before = config_hash(k8s_client, namespace)
    profile = load(_REPO / "examples" / "profiles.yaml")[0]
    profile["spec"]["params"]["sub_queries"] = 5
    apply(k8s_client, profile, namespace)

    def updated() -> bool:
        data = k8s_client.get(ConfigMap, "research-profiles", namespace=namespace).data
        return "sub_queries: 5" in data["profiles.yaml"]

    wait_until("profiles.yaml updated", updated, timeout=20)
    wait_until(
        "config hash changed", lambda: config_hash(k8s_client, namespace) != hash_before, timeout=20
    )


@pytest.mark.usefixtures("volumes")
def test_rejected_profiles_keep_config_map(
    k8s_client: Client, namespace: str, operator: OperatorProcess
) -> None:
    deployment = apply_examples(k8s_client, namespace)
    wait_ready(k8s_client, namespace, operator)
    before = k8s_client.get(ConfigMap, "research-profiles", namespace=namespace).data
    hash_before = config_hash(k8s_client, namespace)
    deployment["spec"]["defaultProfile"] = "nonexistent"
    apply(k8s_client, deployment, namespace)

    def rejected() -> dict[str, Any] | None:
        conditions = {c["type"]: c for c in status(k8s_client, namespace).get("conditions", [])}
        profiles = conditions.get("ProfilesSynced")
        return profiles if profiles and profiles["reason"] == "ProfilesRejected" else None

    condition = wait_until("ProfilesSynced reports ProfilesRejected", rejected, timeout=20)
    assert condition["status"] == "False"
    assert "nonexistent" in condition["message"]
    assert status(k8s_client, namespace)["phase"] == "Degraded"
    # The service would not start with that file, so the last good one stays.
    assert k8s_client.get(ConfigMap, "research-profiles", namespace=namespace).data == before
    assert config_hash(k8s_client, namespace) == hash_before


@pytest.mark.usefixtures("volumes")
def test_invalid_profile_not_accepted(
    k8s_client: Client, namespace: str, operator: OperatorProcess
) -> None:
    apply_examples(k8s_client, namespace)
    bad = {
        "apiVersion": "research.gdplabs.id/v1alpha1",
        "kind": "ResearchProfile",
        "metadata": {"name": "broken"},
        "spec": {"provider": "local", "params": {"sub_queries": 99}},
    }
    apply(k8s_client, bad, namespace)

    def accepted() -> dict[str, Any] | None:
        conditions = (k8s_client.get(RP, "broken", namespace=namespace).get("status") or {}).get(
            "conditions"
        ) or []
        return next((c for c in conditions if c["type"] == "Accepted"), None)

    condition = wait_until("Accepted condition", accepted, timeout=20)
    assert condition["status"] == "False"
    assert condition["reason"] == "InvalidParams"
    assert "sub_queries" in condition["message"]

    def synced() -> dict[str, Any] | None:
        conditions = {c["type"]: c for c in status(k8s_client, namespace).get("conditions", [])}
        profiles = conditions.get("ProfilesSynced")
        return profiles if profiles and "broken" in profiles["message"] else None

    assert (
        wait_until("ProfilesSynced names the invalid profile", synced, timeout=20)["status"]
        == "False"
    )


@pytest.mark.usefixtures("volumes")
def test_deletion_removes_children(
    k8s_client: Client, namespace: str, operator: OperatorProcess
) -> None:
    apply_examples(k8s_client, namespace)
    for kind, name in CHILDREN:
        wait_until(
            f"{kind.__name__} {name}",
            lambda kind=kind, name=name: get_or_none(k8s_client, kind, name, namespace),
        )
    k8s_client.delete(DRD, NAME, namespace=namespace)

    def gone(kind: Any, name: str) -> bool:
        return get_or_none(k8s_client, kind, name, namespace) is None

    wait_until("DeepResearchDeployment gone", lambda: gone(DRD, NAME), timeout=45)
    # The garbage collector may notice a CRD installed moments ago only
    # after its 30 s discovery resync, so the wait covers one resync.
    wait_until(
        "every child deleted",
        lambda: all(gone(kind, name) for kind, name in CHILDREN),
        timeout=60,
    )


@pytest.mark.usefixtures("volumes")
def test_restart_mid_reconcile_converges(
    k8s_client: Client, namespace: str, operator: OperatorProcess
) -> None:
    apply_examples(k8s_client, namespace)
    wait_until(
        "first child", lambda: get_or_none(k8s_client, ConfigMap, "research-profiles", namespace)
    )
    operator.kill()
    operator.start()
    wait_ready(k8s_client, namespace, operator)


@pytest.mark.usefixtures("volumes")
def test_children_deleted_while_down_come_back(
    k8s_client: Client, namespace: str, operator: OperatorProcess
) -> None:
    apply_examples(k8s_client, namespace)
    wait_ready(k8s_client, namespace, operator)
    api_hash = config_hash(k8s_client, namespace)

    # While the operator is dead nothing watches: delete one child of each
    # kind family and edit another, then start it again and expect the same state.
    operator.kill()
    k8s_client.delete(Deployment, "research-worker", namespace=namespace)
    k8s_client.delete(Service, "research-api", namespace=namespace)
    k8s_client.patch(Deployment, "research-api", {"spec": {"replicas": 3}}, namespace=namespace)
    assert get_or_none(k8s_client, Deployment, "research-worker", namespace) is None

    operator.start()
    wait_until(
        "worker Deployment recreated",
        lambda: get_or_none(k8s_client, Deployment, "research-worker", namespace),
        timeout=DRIFT_INTERVAL + 60,
    )
    wait_until(
        "API Service recreated",
        lambda: get_or_none(k8s_client, Service, "research-api", namespace),
        timeout=DRIFT_INTERVAL + 60,
    )
    wait_until(
        "API replicas reset to 1",
        lambda: k8s_client.get(Deployment, "research-api", namespace=namespace).spec.replicas == 1,
        timeout=DRIFT_INTERVAL + 60,
    )
    wait_ready(k8s_client, namespace, operator)
    assert config_hash(k8s_client, namespace) == api_hash
