"""The Argo CD example: Applications, sync waves and the argocd-cm health checks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
ARGOCD = REPO / "examples" / "argocd"
HEALTH_KEY = "resource.customizations.health.research.gdplabs.id_{kind}"


def load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(path.read_text())
    return document


def applications() -> dict[str, dict[str, Any]]:
    apps = [load(path) for path in sorted((ARGOCD / "apps").glob("*.yaml"))]
    return {app["metadata"]["name"]: app for app in apps}


def wave(app: dict[str, Any]) -> int:
    return int(app["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"])


@pytest.mark.parametrize(
    ("kind", "script"),
    [
        ("DeepResearchDeployment", "deepresearchdeployment-health.lua"),
        ("ResearchProfile", "researchprofile-health.lua"),
    ],
)
def test_argocd_cm_embeds_lua_files(kind: str, script: str) -> None:
    config = load(ARGOCD / "argocd-cm.yaml")
    assert config["data"][HEALTH_KEY.format(kind=kind)] == (ARGOCD / script).read_text()


def test_argocd_cm_assesses_application_health() -> None:
    config = load(ARGOCD / "argocd-cm.yaml")
    assert "resource.customizations.health.argoproj.io_Application" in config["data"]


def test_sync_waves_order_crds_operator_resources() -> None:
    apps = applications()
    assert sorted(apps) == ["gldr-crds", "gldr-operator", "gldr-research"]
    assert wave(apps["gldr-crds"]) < wave(apps["gldr-operator"]) < wave(apps["gldr-research"])


@pytest.mark.parametrize("name", ["gldr-crds", "gldr-operator", "gldr-research"])
def test_application_uses_server_side_apply(name: str) -> None:
    options = applications()[name]["spec"]["syncPolicy"]["syncOptions"]
    assert "ServerSideApply=true" in options


def test_application_paths_exist() -> None:
    root = load(ARGOCD / "root-application.yaml")
    assert (REPO / root["spec"]["source"]["path"]).is_dir()
    for name, app in applications().items():
        assert (REPO / app["spec"]["source"]["path"]).is_dir(), name


def test_crds_application_never_prunes() -> None:
    app = applications()["gldr-crds"]
    assert app["spec"]["source"]["path"] == "crds"
    assert app["spec"]["syncPolicy"]["automated"]["prune"] is False


def test_operator_application_skips_chart_crds() -> None:
    source = applications()["gldr-operator"]["spec"]["source"]
    assert source["path"] == "helm/gl-deep-research"
    assert source["helm"]["skipCrds"] is True


def test_research_application_includes_examples() -> None:
    source = applications()["gldr-research"]["spec"]["source"]
    pattern = source["directory"]["include"]
    names = pattern.strip("{}").split(",")
    assert names == ["deployment-minimal.yaml", "profiles.yaml"]
    for name in names:
        assert (REPO / source["path"] / name).is_file(), name
