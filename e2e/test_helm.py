"""`helm install` and `helm uninstall` of the chart on the session's cluster.

On the local control plane kwok marks the operator pod Ready without running
its image, so `helm install --wait` proves that the objects are accepted and
the Deployment rolls out, not that the operator image works. On kind the
operator really runs: set GLDR_E2E_OPERATOR_IMAGE to the image loaded into
the cluster, and uninstall any other release of the chart first, because two
operators watching one namespace fight over its resources.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from lightkube import ApiError, Client
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition
from lightkube.resources.apps_v1 import Deployment
from lightkube.resources.core_v1 import ServiceAccount
from lightkube.resources.rbac_authorization_v1 import ClusterRole, Role

from e2e.kube import wait_for
from gldr_operator.kube import DeepResearchDeploymentResource as DRD
from gldr_operator.kube import ResearchProfileResource as RP

pytestmark = [pytest.mark.k8s, pytest.mark.slow, pytest.mark.timeout(900)]

REPO = Path(__file__).resolve().parent.parent
CHART = REPO / "helm" / "gl-deep-research"
BUILD_SCRIPT = REPO / "scripts" / "helm" / "build.sh"
VALUES = REPO / "tests" / "helm" / "values"
DEFAULT_IMAGE = "ghcr.io/gdp-labs/gldr-operator:0.1.0"


def build_helm() -> Path:
    """Return the path of the helm binary, built from the Go module proxy when it is missing."""
    subprocess.run([str(BUILD_SCRIPT)], check=True, timeout=1800)
    output = subprocess.run(
        [str(BUILD_SCRIPT), "--print-path"], check=True, capture_output=True, text=True
    )
    return Path(output.stdout.strip())


@pytest.fixture(scope="session")
def helm() -> Path:
    return build_helm()


def run_helm(helm: Path, kubeconfig: Path, *args: str) -> str:
    command = [str(helm), "--kubeconfig", str(kubeconfig), *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{' '.join(args[:2])} failed:\n{result.stderr}"
    return result.stdout


def image_values() -> list[str]:
    """--set flags for the operator image of GLDR_E2E_OPERATOR_IMAGE (repository:tag)."""
    image = os.environ.get("GLDR_E2E_OPERATOR_IMAGE", DEFAULT_IMAGE)
    repository, _, tag = image.rpartition(":")
    if not repository or "/" in tag:
        pytest.fail(f"GLDR_E2E_OPERATOR_IMAGE={image!r} is invalid; use repository:tag")
    return [
        "--set",
        f"operator.image.repository={repository}",
        "--set",
        f"operator.image.tag={tag}",
    ]


def get_or_none(client: Client, kind: Any, name: str, namespace: str | None = None) -> Any:
    try:
        return client.get(kind, name, namespace=namespace)
    except ApiError as err:
        if err.status.code == 404:
            return None
        raise


@pytest.mark.parametrize("scope", ["namespaces", "cluster"])
def test_install_and_uninstall(
    helm: Path, kubeconfig: Path, k8s_client: Client, namespace: str, scope: str
) -> None:
    release = f"gldr-{uuid.uuid4().hex[:6]}"
    run_helm(
        helm,
        kubeconfig,
        "install",
        release,
        str(CHART),
        "--namespace",
        namespace,
        "--values",
        str(VALUES / "deployment.yaml"),
        "--set",
        f"operator.scope={scope}",
        *image_values(),
        "--wait",
        "--timeout",
        "5m",
    )
    operator_name = f"{release}-gl-deep-research-operator"
    cluster_name = f"{namespace}-{operator_name}"

    deployment = k8s_client.get(Deployment, operator_name, namespace=namespace)
    assert deployment.status.readyReplicas == 1
    assert k8s_client.get(ServiceAccount, operator_name, namespace=namespace)
    assert k8s_client.get(DRD, "research", namespace=namespace)
    profiles = sorted(profile.metadata.name for profile in k8s_client.list(RP, namespace=namespace))
    assert profiles == ["quick", "sea-lion-web", "thorough"]
    if scope == "namespaces":
        assert k8s_client.get(Role, operator_name, namespace=namespace)
        assert k8s_client.get(ClusterRole, f"{cluster_name}-discovery")
    else:
        assert k8s_client.get(ClusterRole, cluster_name)

    status = run_helm(helm, kubeconfig, "status", release, "--namespace", namespace)
    assert "STATUS: deployed" in status

    # A running operator keeps a finalizer on its resources, and helm
    # uninstall deletes known kinds such as the operator's Deployment before
    # custom resources (helm v3.21 pkg/releaseutil/kind_sorter.go). So the
    # custom resources go first, as docs/install.md describes.
    k8s_client.delete(DRD, "research", namespace=namespace)
    for name in profiles:
        k8s_client.delete(RP, name, namespace=namespace)
    wait_for(
        "DeepResearchDeployment research deleted",
        lambda: get_or_none(k8s_client, DRD, "research", namespace) is None,
        timeout=120,
    )

    run_helm(
        helm,
        kubeconfig,
        "uninstall",
        release,
        "--namespace",
        namespace,
        "--wait",
        "--timeout",
        "3m",
    )
    assert get_or_none(k8s_client, Deployment, operator_name, namespace) is None
    assert get_or_none(k8s_client, ServiceAccount, operator_name, namespace) is None
    assert get_or_none(k8s_client, DRD, "research", namespace) is None
    assert get_or_none(k8s_client, ClusterRole, cluster_name) is None
    assert get_or_none(k8s_client, ClusterRole, f"{cluster_name}-discovery") is None
    assert get_or_none(k8s_client, Role, operator_name, namespace) is None
    # Helm never deletes the CRDs of a chart's crds/ folder, so resources of
    # other releases survive an uninstall.
    crd = "deepresearchdeployments.research.gdplabs.id"
    assert get_or_none(k8s_client, CustomResourceDefinition, crd) is not None
