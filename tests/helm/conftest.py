"""Fixtures that render the Helm chart with the helm binary of scripts/helm/build.sh."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "gl-deep-research"
VALUES = Path(__file__).resolve().parent / "values"
BUILD_SCRIPT = REPO / "scripts" / "helm" / "build.sh"
RELEASE = "gldr"
NAMESPACE = "gldr-system"


def helm_path() -> Path:
    output = subprocess.run(
        [str(BUILD_SCRIPT), "--print-path"], check=True, capture_output=True, text=True
    )
    return Path(output.stdout.strip())


@pytest.fixture(scope="session")
def helm() -> Path:
    """Path of the helm binary, built from the Go module proxy when it is missing.

    A first build takes several minutes on a 2-core machine; later runs reuse
    the cached binary.
    """
    path = helm_path()
    if path.is_file():
        return path
    build = subprocess.run([str(BUILD_SCRIPT)], capture_output=True, text=True, timeout=1800)
    if build.returncode != 0 or not path.is_file():
        pytest.fail(
            f"helm is missing at {path} and {BUILD_SCRIPT.relative_to(REPO)} failed "
            f"(exit {build.returncode}); run it by hand to see why:\n{build.stderr[-2000:]}"
        )
    return path


def run_helm(helm: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(helm), *args], capture_output=True, text=True, timeout=120)


def template_args(values_files: Sequence[str], extra: Sequence[str] = ()) -> list[str]:
    args = ["template", RELEASE, str(CHART), "--namespace", NAMESPACE, "--include-crds"]
    for name in values_files:
        args += ["--values", str(VALUES / name)]
    return [*args, *extra]


def render(
    helm: Path, values_files: Sequence[str] = (), extra: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """Render the chart and return its objects, failing the test with helm's stderr."""
    result = run_helm(helm, *template_args(values_files, extra))
    if result.returncode != 0:
        pytest.fail(f"helm template failed (exit {result.returncode}):\n{result.stderr}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if isinstance(doc, dict)]


def find(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [obj for obj in objects if obj["kind"] == kind]


def find_one(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    matches = find(objects, kind)
    assert len(matches) == 1, f"expected one {kind}, rendered {len(matches)}"
    return matches[0]
