"""What the chart renders in each mode: operator Deployment, RBAC, metrics, custom resources."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.helm.conftest import NAMESPACE, RELEASE, REPO, find, find_one, render

from gldr_operator.cli import build_parser

pytestmark = [pytest.mark.unit, pytest.mark.timeout(1800)]

STANDARD_LABELS = (
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
    "app.kubernetes.io/managed-by",
    "app.kubernetes.io/part-of",
    "helm.sh/chart",
)


def operator_rbac(file_name: str, kind: str, name: str | None = None) -> list[dict[str, Any]]:
    """Rules of a role in operator/rbac/, the least-privilege manifests of the operator."""
    documents = yaml.safe_load_all((REPO / "operator" / "rbac" / file_name).read_text())
    for document in documents:
        if document["kind"] == kind and (name is None or document["metadata"]["name"] == name):
            rules: list[dict[str, Any]] = document["rules"]
            return rules
    raise AssertionError(f"no {kind} {name or ''} in operator/rbac/{file_name}")


def container(objects: list[dict[str, Any]]) -> dict[str, Any]:
    deployment = find_one(objects, "Deployment")
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    result: dict[str, Any] = containers[0]
    return result


def test_operator_deployment_defaults(helm: Path) -> None:
    objects = render(helm)
    deployment = find_one(objects, "Deployment")
    operator = container(objects)
    assert deployment["metadata"]["namespace"] == NAMESPACE
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert operator["image"] == "ghcr.io/gdp-labs/gldr-operator:0.1.0"
    assert operator["args"][0] == "run"
    assert "--all-namespaces" in operator["args"]
    assert "--metrics-port=9090" in operator["args"]
    assert "--liveness=http://0.0.0.0:8080/healthz" in operator["args"]
    assert "--drift-interval=60" in operator["args"]
    ports = {port["name"]: port["containerPort"] for port in operator["ports"]}
    assert ports == {"liveness": 8080, "metrics": 9090}
    probe = operator["livenessProbe"]["httpGet"]
    assert probe == {"path": "/healthz", "port": "liveness"}
    assert operator["securityContext"]["readOnlyRootFilesystem"] is True
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["serviceAccountName"] == find_one(objects, "ServiceAccount")["metadata"]["name"]


def test_every_object_has_standard_labels(helm: Path) -> None:
    objects = render(helm, ["cluster.yaml", "deployment.yaml", "metrics.yaml"])
    for obj in objects:
        if obj["kind"] == "CustomResourceDefinition":
            continue
        labels = obj["metadata"].get("labels", {})
        missing = [label for label in STANDARD_LABELS if label not in labels]
        assert not missing, f"{obj['kind']}/{obj['metadata']['name']} lacks {missing}"
        assert labels["app.kubernetes.io/instance"] == RELEASE


def test_cluster_rbac_matches_operator_rbac(helm: Path) -> None:
    objects = render(helm, ["cluster.yaml"])
    role = find_one(objects, "ClusterRole")
    binding = find_one(objects, "ClusterRoleBinding")
    assert role["rules"] == operator_rbac("clusterwide.yaml", "ClusterRole")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    subject = binding["subjects"][0]
    assert subject["name"] == find_one(objects, "ServiceAccount")["metadata"]["name"]
    assert subject["namespace"] == NAMESPACE
    assert find(objects, "Role") == []


def test_namespaces_rbac_matches_operator_rbac(helm: Path) -> None:
    objects = render(helm, ["namespaces.yaml"])
    discovery = find_one(objects, "ClusterRole")
    assert discovery["rules"] == operator_rbac(
        "namespaced.yaml", "ClusterRole", "gldr-operator-discovery"
    )
    roles = find(objects, "Role")
    assert sorted(role["metadata"]["namespace"] for role in roles) == [
        "research",
        "research-staging",
    ]
    for role in roles:
        assert role["rules"] == operator_rbac("namespaced.yaml", "Role")
    bindings = find(objects, "RoleBinding")
    assert sorted(binding["metadata"]["namespace"] for binding in bindings) == [
        "research",
        "research-staging",
    ]
    args = container(objects)["args"]
    assert "--namespace=research" in args
    assert "--namespace=research-staging" in args
    assert "--all-namespaces" not in args


def test_namespaces_mode_defaults_to_release_namespace(helm: Path) -> None:
    objects = render(helm, extra=["--set", "operator.scope=namespaces"])
    role = find_one(objects, "Role")
    assert role["metadata"]["namespace"] == NAMESPACE
    assert f"--namespace={NAMESPACE}" in container(objects)["args"]


def test_rbac_checksum_changes_with_scope(helm: Path) -> None:
    annotation = "checksum/rbac"
    cluster = find_one(render(helm, ["cluster.yaml"]), "Deployment")
    namespaces = find_one(render(helm, ["namespaces.yaml"]), "Deployment")
    cluster_sum = cluster["spec"]["template"]["metadata"]["annotations"][annotation]
    namespaces_sum = namespaces["spec"]["template"]["metadata"]["annotations"][annotation]
    assert len(cluster_sum) == 64
    assert cluster_sum != namespaces_sum


def test_rbac_can_be_left_out(helm: Path) -> None:
    objects = render(
        helm,
        extra=[
            "--set",
            "rbac.create=false",
            "--set",
            "serviceAccount.create=false",
            "--set",
            "serviceAccount.name=platform-operator",
        ],
    )
    kinds = {obj["kind"] for obj in objects}
    assert kinds.isdisjoint({"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"})
    assert "ServiceAccount" not in kinds
    pod = find_one(objects, "Deployment")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "platform-operator"


def test_cluster_values_reach_pod(helm: Path) -> None:
    objects = render(helm, ["cluster.yaml"])
    deployment = find_one(objects, "Deployment")
    template = deployment["spec"]["template"]
    pod = template["spec"]
    assert container(objects)["image"] == "ghcr.io/gdp-labs/gldr-operator:0.1.0-test"
    assert "--peering=gldr" in container(objects)["args"]
    assert container(objects)["env"] == [{"name": "TZ", "value": "UTC"}]
    assert pod["imagePullSecrets"] == [{"name": "registry"}]
    assert pod["priorityClassName"] == "system-cluster-critical"
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert pod["tolerations"][0]["key"] == "dedicated"
    assert template["metadata"]["annotations"]["example.com/team"] == "research"
    assert template["metadata"]["labels"]["example.com/tier"] == "platform"
    # Extra pod labels must not enter the selector, which is immutable.
    assert "example.com/tier" not in deployment["spec"]["selector"]["matchLabels"]


def test_image_digest_takes_precedence(helm: Path) -> None:
    digest = "sha256:" + "a" * 64
    objects = render(helm, extra=["--set", f"operator.image.digest={digest}"])
    assert container(objects)["image"] == f"ghcr.io/gdp-labs/gldr-operator@{digest}"


def test_metrics_disabled_turns_port_off(helm: Path) -> None:
    objects = render(helm, extra=["--set", "metrics.enabled=false"])
    assert "--metrics-port=0" in container(objects)["args"]
    assert [port["name"] for port in container(objects)["ports"]] == ["liveness"]
    assert find(objects, "Service") == []


def test_service_monitor_selects_metrics_service(helm: Path) -> None:
    objects = render(helm, ["metrics.yaml"])
    service = find_one(objects, "Service")
    monitor = find_one(objects, "ServiceMonitor")
    pod_labels = find_one(objects, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    endpoint = monitor["spec"]["endpoints"][0]
    assert endpoint["port"] == service["spec"]["ports"][0]["name"]
    assert endpoint["path"] == "/metrics"
    assert endpoint["interval"] == "15s"
    assert service["spec"]["ports"][0]["port"] == 9191
    assert "--metrics-port=9191" in container(objects)["args"]


def test_default_renders_no_custom_resources(helm: Path) -> None:
    objects = render(helm)
    kinds = {obj["kind"] for obj in objects}
    assert "DeepResearchDeployment" not in kinds
    assert "ResearchProfile" not in kinds
    assert "ServiceMonitor" not in kinds
    crds = sorted(obj["metadata"]["name"] for obj in find(objects, "CustomResourceDefinition"))
    assert crds == [
        "deepresearchdeployments.research.gdplabs.id",
        "researchprofiles.research.gdplabs.id",
    ]


def test_deployment_and_profiles_from_values(helm: Path) -> None:
    objects = render(helm, ["deployment.yaml"])
    drd = find_one(objects, "DeepResearchDeployment")
    assert drd["metadata"]["name"] == "research"
    assert drd["metadata"]["namespace"] == NAMESPACE
    assert drd["spec"]["api"] == {"replicas": 2}
    assert drd["spec"]["profileSelector"]["matchLabels"] == {
        "research.gdplabs.id/tier": "production"
    }
    profiles = {obj["metadata"]["name"]: obj for obj in find(objects, "ResearchProfile")}
    assert sorted(profiles) == ["quick", "sea-lion-web", "thorough"]
    assert profiles["quick"]["metadata"]["labels"]["research.gdplabs.id/tier"] == "production"
    assert profiles["quick"]["spec"]["default"] is True
    assert profiles["thorough"]["spec"]["params"]["mmr_lambda"] == 0.6
    examples = {
        doc["metadata"]["name"]: doc
        for doc in yaml.safe_load_all((REPO / "examples" / "profiles.yaml").read_text())
    }
    for name, profile in profiles.items():
        assert profile["spec"] == examples[name]["spec"], name


@pytest.mark.parametrize("values_file", ["cluster.yaml", "namespaces.yaml", "metrics.yaml"])
def test_operator_args_parse(helm: Path, values_file: str) -> None:
    # The image's entrypoint is `gldr-operator`, so the container args go
    # straight to its argument parser.
    args = container(render(helm, [values_file]))["args"]
    parsed = build_parser().parse_args(args)
    assert parsed.command == "run"
    assert parsed.liveness == "http://0.0.0.0:8080/healthz"
    assert parsed.drift_interval == 60.0
    if values_file == "namespaces.yaml":
        assert parsed.namespace == ["research", "research-staging"]
        assert parsed.all_namespaces is False
    else:
        assert parsed.namespace == []
        assert parsed.all_namespaces is True
    expected_port = 9191 if values_file == "metrics.yaml" else 9090
    assert parsed.metrics_port == expected_port
