"""`helm lint --strict`, `helm template` and Kubernetes schema validation of every mode."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from tests.helm.conftest import CHART, REPO, VALUES, render, run_helm

# A first session may build helm inside the `helm` fixture, which pytest-timeout
# counts against the first test.
pytestmark = [pytest.mark.unit, pytest.mark.timeout(1800)]

# Oldest and newest Kubernetes minor versions that the chart supports; the kind
# workflow runs the same two.
KUBERNETES_VERSIONS = ["1.31.0", "1.33.0"]

MODES = {
    "default": [],
    "cluster": ["cluster.yaml"],
    "namespaces": ["namespaces.yaml"],
    "deployment": ["deployment.yaml"],
    "metrics": ["metrics.yaml"],
    "everything": ["cluster.yaml", "deployment.yaml", "metrics.yaml"],
}

# Kinds that kubernetes_validate has no schema for.
CUSTOM_GROUPS = {"research.gdplabs.id", "monitoring.coreos.com"}


def crd_schemas() -> dict[str, dict[str, Any]]:
    """openAPIV3Schema of each kind in crds/, by kind."""
    schemas = {}
    for path in sorted((REPO / "crds").glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        for version in crd["spec"]["versions"]:
            if version.get("storage"):
                schemas[crd["spec"]["names"]["kind"]] = version["schema"]["openAPIV3Schema"]
    return schemas


@pytest.mark.parametrize("mode", MODES)
def test_lint_strict(helm: Path, mode: str) -> None:
    args = ["lint", "--strict", str(CHART), "--namespace", "gldr-system"]
    for name in MODES[mode]:
        args += ["--values", str(VALUES / name)]
    result = run_helm(helm, *args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[WARNING]" not in result.stdout
    assert "[ERROR]" not in result.stdout


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("mode", MODES)
def test_rendered_objects_valid(helm: Path, mode: str, version: str) -> None:
    objects = render(helm, MODES[mode], ["--kube-version", version])
    assert objects, "helm template rendered nothing"
    custom_schemas = crd_schemas()
    for obj in objects:
        group = obj["apiVersion"].split("/")[0] if "/" in obj["apiVersion"] else ""
        name = f"{obj['kind']}/{obj['metadata']['name']}"
        if group == "research.gdplabs.id":
            # The API server checks custom resources against the CRD's
            # structural schema; its CEL rules are not checked here.
            errors = list(jsonschema.Draft7Validator(custom_schemas[obj["kind"]]).iter_errors(obj))
            assert not errors, f"{name}: {[error.message for error in errors]}"
        elif group == "monitoring.coreos.com":
            # No ServiceMonitor CRD is kept in this repository, so
            # test_chart_objects.py checks the fields the chart sets instead.
            continue
        else:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as error:
                pytest.fail(f"{name} is invalid for Kubernetes {version}: {error.message}")


def test_rendered_kinds_cover_custom_groups(helm: Path) -> None:
    objects = render(helm, MODES["everything"])
    groups = {obj["apiVersion"].split("/")[0] for obj in objects if "/" in obj["apiVersion"]}
    assert groups >= CUSTOM_GROUPS


@pytest.mark.parametrize(
    "setting",
    [
        "unknownKey=1",
        "operator.imageTag=latest",
        "metrics.serviceMonitor.intervall=30s",
        "deepResearchDeployment.spec.api.replica=2",
        "deepResearchDeployment.spec.worker.concurency=8",
    ],
)
def test_unknown_value_rejected(helm: Path, setting: str) -> None:
    result = run_helm(helm, "template", "gldr", str(CHART), "--set", setting)
    key = setting.split("=")[0].split(".")[-1]
    assert result.returncode != 0, f"helm template accepted --set {setting}"
    assert "additional properties" in result.stderr.lower(), result.stderr
    assert key in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("setting", "field"),
    [
        ("operator.scope=everywhere", "scope"),
        ("deepResearchDeployment.spec.version=", "version"),
        ("researchProfiles[0].name=x", "spec"),
    ],
)
def test_invalid_value_rejected(helm: Path, setting: str, field: str) -> None:
    result = run_helm(helm, "template", "gldr", str(CHART), "--set", setting)
    assert result.returncode != 0, f"helm template accepted --set {setting}"
    assert field in result.stderr, result.stderr


def test_profile_spec_checked(helm: Path, tmp_path: Path) -> None:
    values = tmp_path / "values.yaml"
    values.write_text(
        yaml.safe_dump({"researchProfiles": [{"name": "x", "spec": {"provider": "unknown"}}]})
    )
    result = run_helm(helm, "template", "gldr", str(CHART), "--values", str(values))
    assert result.returncode != 0
    assert "provider" in result.stderr, result.stderr
