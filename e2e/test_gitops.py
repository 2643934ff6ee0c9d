"""GitOps safety: what Argo CD applies stays in sync, and the operator adds no diff.

Argo CD with ServerSideApply=true sends the manifests from Git as a
server-side apply under its own field manager. A resource shows OutOfSync
when applying them again would change the live object. Each test applies
the manifests once, then applies them again with dryRun=All and compares the
API server's response with the live object.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from lightkube import Client
from lightkube.codecs import from_dict
from lightkube.resources.apps_v1 import Deployment, StatefulSet
from lightkube.resources.core_v1 import ConfigMap, Secret, Service
from lightkube.resources.rbac_authorization_v1 import ClusterRole, ClusterRoleBinding

from e2e.kube import wait_for
from e2e.operator_fixtures import (
    REPO,
    install_crds,
    load,
    running_operator,
)
from e2e.test_helm import CHART, VALUES, build_helm
from gldr_operator.kube import DeepResearchDeploymentResource as DRD

pytestmark = [pytest.mark.k8s, pytest.mark.slow, pytest.mark.timeout(900)]

ARGOCD_MANAGER = "argocd-controller"
TRACKING_LABEL = "app.kubernetes.io/instance"
TRACKING_ANNOTATION = "argocd.argoproj.io/tracking-id"
APPLICATION = "gldr-research"


@pytest.fixture(scope="session")
def crds(k8s_client: Client) -> None:
    install_crds(k8s_client)


def server_side_apply(client: Client, document: dict[str, Any], dry_run: bool = False) -> Any:
    return client.apply(
        from_dict(document), field_manager=ARGOCD_MANAGER, force=True, dry_run=dry_run
    )


def live(client: Client, document: dict[str, Any]) -> Any:
    resource = type(from_dict(document))
    metadata = document["metadata"]
    return client.get(resource, metadata["name"], namespace=metadata.get("namespace"))


def assert_reapply_changes_nothing(client: Client, documents: list[dict[str, Any]]) -> None:
    for document in documents:
        name = f"{document['kind']}/{document['metadata']['name']}"
        # The operator may write the status between the dry run and the read;
        # compare only a pair that no other write came between.
        for _ in range(10):
            before = live(client, document).to_dict()
            answer = server_side_apply(client, document, dry_run=True).to_dict()
            current = live(client, document).to_dict()
            if before["metadata"]["resourceVersion"] == current["metadata"]["resourceVersion"]:
                break
            time.sleep(0.5)
        else:
            raise AssertionError(f"{name} kept changing; no quiet moment to compare in")
        assert answer == current, f"applying {name} again would change it"


def render_chart(helm: Path, namespace: str) -> list[dict[str, Any]]:
    command = [
        str(helm),
        "template",
        "gldr",
        str(CHART),
        "--namespace",
        namespace,
        "--values",
        str(VALUES / "deployment.yaml"),
        "--set",
        "operator.scope=namespaces",
    ]
    output = subprocess.run(command, check=True, capture_output=True, text=True, timeout=120)
    return [doc for doc in yaml.safe_load_all(output.stdout) if isinstance(doc, dict)]


def lists_in(value: Any, path: str = "spec") -> Iterator[tuple[str, list[Any]]]:
    """Yield (path, list) for every list inside a manifest's spec."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield from lists_in(child, f"{path}.{key}")
    elif isinstance(value, list):
        yield path, value
        for index, child in enumerate(value):
            yield from lists_in(child, f"{path}[{index}]")


def value_at(document: dict[str, Any], path: str) -> Any:
    current: Any = document
    for part in path.replace("[", ".[").split("."):
        current = current[int(part[1:-1])] if part.startswith("[") else current[part]
    return current


def with_namespace(document: dict[str, Any], namespace: str) -> dict[str, Any]:
    document.setdefault("metadata", {})["namespace"] = namespace
    return document


@pytest.mark.usefixtures("crds")
def test_chart_reapply_changes_nothing(k8s_client: Client, namespace: str) -> None:
    documents = render_chart(build_helm(), namespace)
    kinds = {document["kind"] for document in documents}
    assert {"Deployment", "Role", "DeepResearchDeployment", "ResearchProfile"} <= kinds
    try:
        for document in documents:
            server_side_apply(k8s_client, document)
        assert_reapply_changes_nothing(k8s_client, documents)
    finally:
        for document in documents:
            kind = {"ClusterRole": ClusterRole, "ClusterRoleBinding": ClusterRoleBinding}.get(
                document["kind"]
            )
            if kind is not None:
                k8s_client.delete(kind, document["metadata"]["name"])


@pytest.mark.usefixtures("crds")
def test_crds_apply_twice_unchanged(k8s_client: Client) -> None:
    # The crds fixture waits until the CRDs are Established. Before that the
    # API server is still writing their status, which a comparison would catch.
    documents = [doc for path in sorted((REPO / "crds").glob("*.yaml")) for doc in load(path)]
    for document in documents:
        server_side_apply(k8s_client, document)
    assert_reapply_changes_nothing(k8s_client, documents)


def test_crds_default_nothing_inside_lists() -> None:
    def defaults_in_items(node: Any, path: str, inside_items: bool) -> Iterator[str]:
        if isinstance(node, dict):
            if inside_items and "default" in node and "type" in node:
                yield path
            for key, child in node.items():
                # "properties" maps field names to schemas, so a field named
                # "default" is not a default value.
                child_inside = inside_items or key == "items"
                yield from defaults_in_items(child, f"{path}.{key}", child_inside)

    for path in sorted((REPO / "crds").glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        for version in crd["spec"]["versions"]:
            schema = version["schema"]["openAPIV3Schema"]
            found = list(defaults_in_items(schema, version["name"], inside_items=False))
            assert found == [], f"{path.name}: defaults inside list items at {found}"


@pytest.mark.usefixtures("crds")
def test_lists_stored_as_applied(k8s_client: Client, namespace: str) -> None:
    deployment = with_namespace(load(REPO / "examples" / "deployment-full.yaml")[0], namespace)
    server_side_apply(k8s_client, deployment)
    stored = live(k8s_client, deployment).to_dict()
    lists = list(lists_in(deployment["spec"]))
    assert lists, "deployment-full.yaml has no lists to check"
    for path, applied in lists:
        assert value_at({"spec": stored["spec"]}, path) == applied, path
    assert_reapply_changes_nothing(k8s_client, [deployment])


@pytest.mark.usefixtures("crds")
def test_operator_adds_no_argocd_diff(
    k8s_client: Client, kubeconfig: Path, namespace: str, tmp_path: Path
) -> None:
    examples = REPO / "examples"
    documents = [
        with_namespace(document, namespace)
        for name in ("secrets.yaml", "profiles.yaml", "deployment-minimal.yaml")
        for document in load(examples / name)
    ]
    # What Argo CD writes onto every resource it syncs, with label tracking
    # and with annotation tracking.
    for document in documents:
        metadata = document["metadata"]
        metadata.setdefault("labels", {})[TRACKING_LABEL] = APPLICATION
        kind = document["kind"]
        tracking = f"{APPLICATION}:{kind}:{namespace}/{metadata['name']}"
        metadata.setdefault("annotations", {})[TRACKING_ANNOTATION] = tracking

    with running_operator(kubeconfig, namespace, tmp_path) as operator:
        for document in documents:
            server_side_apply(k8s_client, document)

        def reconciled() -> bool:
            body = k8s_client.get(DRD, "research", namespace=namespace)
            status = body.get("status") or {}
            return bool(status.get("conditions"))

        try:
            wait_for("status of DeepResearchDeployment research", reconciled, timeout=120)
        except AssertionError as err:
            raise AssertionError(f"{err}\noperator log:\n{operator.log_tail()}") from None

        children = []
        for kind in (Deployment, StatefulSet, Service, ConfigMap, Secret):
            selector = {"app.kubernetes.io/managed-by": "gldr-operator"}
            children += list(k8s_client.list(kind, namespace=namespace, labels=selector))
        assert children, "the operator created no children"
        for child in children:
            name = f"{child.kind}/{child.metadata.name}"
            labels = child.metadata.labels or {}
            annotations = child.metadata.annotations or {}
            assert labels.get(TRACKING_LABEL) != APPLICATION, name
            assert TRACKING_ANNOTATION not in annotations, name

        # kopf's annotations and finalizer and the operator's status belong
        # to other field managers, so Argo CD's next apply changes nothing.
        assert_reapply_changes_nothing(k8s_client, documents)


def test_changed_manifest_detected(k8s_client: Client, namespace: str) -> None:
    # Guards the method: a dry-run apply of a changed manifest differs from the live object.
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "gitops-probe", "namespace": namespace},
        "data": {"mode": "first"},
    }
    server_side_apply(k8s_client, config_map)
    assert_reapply_changes_nothing(k8s_client, [config_map])
    config_map["data"]["mode"] = "second"
    with pytest.raises(AssertionError, match="would change it"):
        assert_reapply_changes_nothing(k8s_client, [config_map])
