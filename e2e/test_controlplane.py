"""Tests that the e2e cluster is a real Kubernetes control plane.

Each test checks one thing that a fake API server would not do. The API server
reports the release version, and controllers turn a Deployment into pods that
the scheduler and kwok place and make Ready. The garbage collector follows
owner references, CRDs have a working status subresource, and server-side
apply tracks field managers and their conflicts.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from lightkube import ApiError, Client
from lightkube.generic_resource import create_namespaced_resource
from lightkube.models.apiextensions_v1 import (
    CustomResourceDefinitionNames,
    CustomResourceDefinitionSpec,
    CustomResourceDefinitionVersion,
    CustomResourceSubresources,
    CustomResourceValidation,
    JSONSchemaProps,
)
from lightkube.models.apps_v1 import DeploymentSpec
from lightkube.models.core_v1 import Container, PodSpec, PodTemplateSpec
from lightkube.models.meta_v1 import LabelSelector, ObjectMeta
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition
from lightkube.resources.apps_v1 import Deployment, ReplicaSet
from lightkube.resources.core_v1 import ConfigMap, Pod
from lightkube.types import CascadeType, PatchType

from e2e import controlplane
from e2e.conftest import uses_external_cluster
from e2e.kube import http_client, wait_for

# Starting the local control plane is part of the first test's setup, and on
# a busy 2-core machine it can take more than the default 120 s.
pytestmark = [pytest.mark.k8s, pytest.mark.timeout(300)]

REPLICAS = 3


def expected_version() -> str | None:
    """Return the release the cluster must report, or None when no release is expected."""
    if version := os.environ.get("GLDR_E2E_K8S_VERSION"):
        return version
    if uses_external_cluster():
        return None
    return controlplane.read_versions()["K8S_VERSION"]


def deployment(name: str, namespace: str, replicas: int = REPLICAS) -> Deployment:
    labels = {"app": name}
    return Deployment(
        metadata=ObjectMeta(name=name, namespace=namespace, labels=labels),
        spec=DeploymentSpec(
            replicas=replicas,
            selector=LabelSelector(matchLabels=labels),
            template=PodTemplateSpec(
                metadata=ObjectMeta(labels=labels),
                # kwok runs no containers, so the image is never pulled. The
                # .invalid domain keeps a real cluster from pulling it either.
                spec=PodSpec(containers=[Container(name="main", image="registry.invalid/none:1")]),
            ),
        ),
    )


def is_pod_ready(pod: Pod) -> bool:
    conditions = pod.status.conditions if pod.status else None
    return any(c.type == "Ready" and c.status == "True" for c in conditions or [])


def ready_deployment(client: Client, name: str, namespace: str) -> Deployment | None:
    current = client.get(Deployment, name, namespace=namespace)
    if current.status and current.status.readyReplicas == REPLICAS:
        return current
    return None


@pytest.fixture
def ready_pods(k8s_client: Client, namespace: str) -> tuple[str, list[Pod]]:
    """Create a Deployment of 3 replicas, wait until it is ready, and return its name and pods."""
    name = "web"
    k8s_client.create(deployment(name, namespace))
    wait_for(
        f"Deployment {name} with {REPLICAS} ready replicas",
        lambda: ready_deployment(k8s_client, name, namespace),
        timeout=120,
    )
    pods = list(k8s_client.list(Pod, namespace=namespace, labels={"app": name}))
    return name, pods


def test_version_matches_release(kubeconfig: Path) -> None:
    expected = expected_version()
    if expected is None:
        pytest.skip("set GLDR_E2E_K8S_VERSION to check the version of an external cluster")
    with http_client(kubeconfig) as client:
        response = client.get("/version")
    assert response.status_code == 200
    version = response.json()
    assert version["gitVersion"] == expected
    assert version["major"] == "1"
    assert version["minor"] == expected.split(".")[1]


def test_binaries_report_release() -> None:
    if uses_external_cluster():
        pytest.skip("the binaries belong to the local control plane")
    expected = controlplane.read_versions()["K8S_VERSION"]
    bin_dir = controlplane.default_bin_dir()
    for name in ("kube-apiserver", "kube-controller-manager", "kube-scheduler"):
        output = subprocess.run(
            [str(bin_dir / name), "--version"], capture_output=True, text=True, check=True
        ).stdout
        assert output.strip() == f"Kubernetes {expected}", name
    etcd_output = subprocess.run(
        [str(bin_dir / "etcd"), "--version"], capture_output=True, text=True, check=True
    ).stdout
    etcd_version = controlplane.read_versions()["ETCD_VERSION"].removeprefix("v")
    assert f"etcd Version: {etcd_version}" in etcd_output


def test_deployment_pods_ready_on_nodes(
    k8s_client: Client, namespace: str, ready_pods: tuple[str, list[Pod]]
) -> None:
    name, pods = ready_pods
    replica_sets = list(k8s_client.list(ReplicaSet, namespace=namespace, labels={"app": name}))
    assert len(replica_sets) == 1
    replica_set = replica_sets[0]
    owner = replica_set.metadata.ownerReferences[0]
    assert owner.kind == "Deployment"
    assert owner.name == name
    assert owner.controller is True

    assert len(pods) == REPLICAS
    for pod in pods:
        pod_owner = pod.metadata.ownerReferences[0]
        assert pod_owner.kind == "ReplicaSet"
        assert pod_owner.name == replica_set.metadata.name
        assert pod.spec.nodeName, pod.metadata.name
        assert pod.status.phase == "Running"
        assert is_pod_ready(pod)
        assert pod.status.podIP

    if not uses_external_cluster():
        node_names = {pod.spec.nodeName for pod in pods}
        assert all(node.startswith("kwok-node-") for node in node_names), node_names


def test_deployment_delete_collects_children(
    k8s_client: Client, namespace: str, ready_pods: tuple[str, list[Pod]]
) -> None:
    name, _ = ready_pods
    k8s_client.delete(Deployment, name, namespace=namespace, cascade=CascadeType.BACKGROUND)

    def remaining_children() -> bool:
        replica_sets = list(k8s_client.list(ReplicaSet, namespace=namespace))
        pods = list(k8s_client.list(Pod, namespace=namespace))
        return not replica_sets and not pods

    wait_for("the garbage collector to delete ReplicaSets and pods", remaining_children)


@pytest.fixture
def widget_crd(k8s_client: Client) -> Iterator[CustomResourceDefinition]:
    """A namespaced CRD with a status subresource, in a group unique to this test."""
    group = f"g{uuid.uuid4().hex[:8]}.e2e.example.com"
    integer = JSONSchemaProps(type="integer", minimum=1)
    crd = CustomResourceDefinition(
        metadata=ObjectMeta(name=f"widgets.{group}"),
        spec=CustomResourceDefinitionSpec(
            group=group,
            scope="Namespaced",
            names=CustomResourceDefinitionNames(kind="Widget", plural="widgets"),
            versions=[
                CustomResourceDefinitionVersion(
                    name="v1",
                    served=True,
                    storage=True,
                    subresources=CustomResourceSubresources(status={}),
                    schema=CustomResourceValidation(
                        openAPIV3Schema=JSONSchemaProps(
                            type="object",
                            properties={
                                "spec": JSONSchemaProps(
                                    type="object", properties={"size": integer}
                                ),
                                "status": JSONSchemaProps(
                                    type="object",
                                    properties={"readySize": JSONSchemaProps(type="integer")},
                                ),
                            },
                        )
                    ),
                )
            ],
        ),
    )
    created = k8s_client.create(crd)
    try:
        k8s_client.wait(
            CustomResourceDefinition, created.metadata.name, for_conditions=["Established"]
        )
        yield created
    finally:
        k8s_client.delete(CustomResourceDefinition, created.metadata.name)


def test_custom_resource_status_subresource(
    k8s_client: Client, namespace: str, widget_crd: CustomResourceDefinition
) -> None:
    widget_class = create_namespaced_resource(widget_crd.spec.group, "v1", "Widget", "widgets")
    widget = widget_class(metadata=ObjectMeta(name="first", namespace=namespace), spec={"size": 3})
    created = k8s_client.create(widget)
    assert created.spec["size"] == 3

    with pytest.raises(ApiError) as invalid:
        k8s_client.create(
            widget_class(metadata=ObjectMeta(name="bad", namespace=namespace), spec={"size": 0})
        )
    assert invalid.value.status.code == 422

    # Custom resources take no strategic merge patch, lightkube's default.
    k8s_client.patch(
        widget_class.Status,
        "first",
        {"status": {"readySize": 3}},
        namespace=namespace,
        patch_type=PatchType.MERGE,
    )
    stored = k8s_client.get(widget_class, "first", namespace=namespace)
    assert stored.status["readySize"] == 3

    # With the status subresource enabled, writes to the main resource ignore status.
    k8s_client.patch(
        widget_class,
        "first",
        {"spec": {"size": 4}, "status": {"readySize": 99}},
        namespace=namespace,
        patch_type=PatchType.MERGE,
    )
    stored = k8s_client.get(widget_class, "first", namespace=namespace)
    assert stored.spec["size"] == 4
    assert stored.status["readySize"] == 3
    assert stored.metadata.generation == 2


def test_server_side_apply_field_managers(k8s_client: Client, namespace: str) -> None:
    def config_map(data: dict[str, str]) -> ConfigMap:
        return ConfigMap(metadata=ObjectMeta(name="settings", namespace=namespace), data=data)

    k8s_client.apply(config_map({"mode": "fast"}), field_manager="gldr-e2e-first")
    stored = k8s_client.get(ConfigMap, "settings", namespace=namespace)
    managers = {(entry.manager, entry.operation) for entry in stored.metadata.managedFields}
    assert ("gldr-e2e-first", "Apply") in managers

    with pytest.raises(ApiError) as conflict:
        k8s_client.apply(config_map({"mode": "safe"}), field_manager="gldr-e2e-second")
    assert conflict.value.status.code == 409

    k8s_client.apply(config_map({"mode": "safe"}), field_manager="gldr-e2e-second", force=True)
    stored = k8s_client.get(ConfigMap, "settings", namespace=namespace)
    assert stored.data == {"mode": "safe"}
    owners = {entry.manager for entry in stored.metadata.managedFields}
    assert "gldr-e2e-second" in owners
    assert "gldr-e2e-first" not in owners

    # Applying without a field the manager owned removes that field.
    k8s_client.apply(config_map({}), field_manager="gldr-e2e-second")
    stored = k8s_client.get(ConfigMap, "settings", namespace=namespace)
    assert not stored.data
