"""`gldr-operator render` without a cluster."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.operator.conftest import EXAMPLES

from gldr_operator.cli import main
from gldr_operator.schema import manifest_errors

pytestmark = pytest.mark.unit


def test_render_prints_children(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "render",
            "-f",
            str(EXAMPLES / "deployment-minimal.yaml"),
            "-f",
            str(EXAMPLES / "profiles.yaml"),
        ]
    )
    assert code == 0
    documents = list(yaml.safe_load_all(capsys.readouterr().out))
    kinds = {document["kind"] for document in documents}
    assert {"Deployment", "StatefulSet", "ConfigMap", "Service", "Job"} <= kinds


def test_render_rejects_typo(tmp_path: object, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = yaml.safe_load((EXAMPLES / "deployment-minimal.yaml").read_text())
    manifest["spec"]["wrker"] = {}
    path = tmp_path / "bad.yaml"  # type: ignore[operator]
    path.write_text(yaml.safe_dump(manifest))
    assert main(["render", "-f", str(path)]) == 1
    assert "wrker" in capsys.readouterr().err


def test_render_without_deployment_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", "-f", str(EXAMPLES / "profiles.yaml")]) == 1
    assert "no DeepResearchDeployment" in capsys.readouterr().err


def write_manifest(tmp_path: Path, name: str, documents: list[dict[str, Any]]) -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump_all(documents))
    return str(path)


def research_profile(name: str, **spec: object) -> dict[str, Any]:
    return {
        "apiVersion": "research.gdplabs.id/v1alpha1",
        "kind": "ResearchProfile",
        "metadata": {"name": name},
        "spec": spec,
    }


def test_render_reports_invalid_profiles(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profiles = write_manifest(
        tmp_path,
        "profiles.yaml",
        [
            research_profile("broken", provider="local", params={"sub_queries": 99}),
            # The CRD rejects an unknown provider, so only params can be wrong here.
            research_profile("unknown", provider="local", params={"colour": 1}),
        ],
    )
    code = main(["render", "-f", str(EXAMPLES / "deployment-minimal.yaml"), "-f", profiles])
    output = capsys.readouterr()
    assert code == 1
    assert output.out == ""
    assert "'broken'" in output.err
    assert "sub_queries" in output.err
    assert "'unknown'" in output.err
    assert "'colour'" in output.err
    assert "No valid ResearchProfile" in output.err


def test_render_rejects_unknown_default_profile(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = yaml.safe_load((EXAMPLES / "deployment-minimal.yaml").read_text())
    manifest["spec"]["defaultProfile"] = "nonexistent"
    deployment = write_manifest(tmp_path, "deployment.yaml", [manifest])
    code = main(["render", "-f", deployment, "-f", str(EXAMPLES / "profiles.yaml")])
    output = capsys.readouterr()
    assert code == 1
    assert output.out == ""
    assert "spec.defaultProfile 'nonexistent'" in output.err
    assert "the service would reject" in output.err


def test_render_prints_notes_and_succeeds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profiles = write_manifest(
        tmp_path,
        "profiles.yaml",
        [
            research_profile("beta", provider="local", default=True),
            research_profile("alpha", provider="local", default=True),
        ],
    )
    code = main(["render", "-f", str(EXAMPLES / "deployment-minimal.yaml"), "-f", profiles])
    output = capsys.readouterr()
    assert code == 0
    assert "Several profiles set default: true (alpha, beta)" in output.err
    assert "kind: ConfigMap" in output.out


def invalid_deployment() -> dict[str, Any]:
    manifest: dict[str, Any] = yaml.safe_load((EXAMPLES / "deployment-minimal.yaml").read_text())
    manifest["metadata"]["name"] = "Research_Bad!"
    manifest["spec"]["worker"] = {
        "resources": {"limits": {"cpu": "lots"}},
        "autoscaling": {"enabled": True, "minReplicas": 9, "maxReplicas": 6},
    }
    manifest["spec"]["networkPolicy"] = {"enabled": True, "egressCidrs": ["not-a-cidr"]}
    return manifest


@pytest.mark.parametrize(
    "fragment",
    [
        "metadata.name: 'Research_Bad!' is not a DNS-1123 label",
        "spec.worker.resources.limits.cpu: 'lots' does not match",
        "spec.worker.autoscaling: minReplicas 9 exceeds maxReplicas 6",
        "spec.networkPolicy.egressCidrs[0]: 'not-a-cidr' is not a CIDR",
    ],
    ids=["name", "quantity", "replicas", "cidr"],
)
def test_render_checks_crd_schema(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fragment: str
) -> None:
    deployment = write_manifest(tmp_path, "deployment.yaml", [invalid_deployment()])
    code = main(["render", "-f", deployment, "-f", str(EXAMPLES / "profiles.yaml")])
    output = capsys.readouterr()
    assert code == 1
    assert output.out == ""
    assert f"{deployment}: DeepResearchDeployment 'Research_Bad!' is invalid at" in output.err
    assert fragment in output.err


def test_render_checks_default_max_replicas(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest: dict[str, Any] = yaml.safe_load((EXAMPLES / "deployment-minimal.yaml").read_text())
    # maxReplicas defaults to 4 in the CRD.
    manifest["spec"]["api"] = {"autoscaling": {"enabled": True, "minReplicas": 5}}
    deployment = write_manifest(tmp_path, "deployment.yaml", [manifest])
    assert main(["render", "-f", deployment, "-f", str(EXAMPLES / "profiles.yaml")]) == 1
    assert "spec.api.autoscaling: minReplicas 5 exceeds maxReplicas 4" in capsys.readouterr().err


def test_render_rejects_unknown_provider(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profiles = write_manifest(tmp_path, "profiles.yaml", [research_profile("x", provider="nope")])
    code = main(["render", "-f", str(EXAMPLES / "deployment-minimal.yaml"), "-f", profiles])
    assert code == 1
    assert "ResearchProfile 'x' is invalid at spec.provider: 'nope'" in capsys.readouterr().err


def test_render_checks_profile_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    profiles = write_manifest(
        tmp_path, "profiles.yaml", [research_profile("quick", provider="local", default="yes")]
    )
    code = main(["render", "-f", str(EXAMPLES / "deployment-minimal.yaml"), "-f", profiles])
    assert code == 1
    assert "ResearchProfile 'quick' is invalid at spec.default: 'yes'" in capsys.readouterr().err


def test_render_names_file_with_bad_yaml(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("spec: [unclosed\n")
    assert main(["render", "-f", str(path)]) == 1
    assert f"gldr-operator render: {path}: invalid YAML:" in capsys.readouterr().err


def test_examples_pass_schema_check() -> None:
    for example in ("deployment-minimal.yaml", "deployment-full.yaml", "profiles.yaml"):
        for document in yaml.safe_load_all((EXAMPLES / example).read_text()):
            assert manifest_errors(document) == [], example
