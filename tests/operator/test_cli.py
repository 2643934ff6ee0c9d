"""`gldr-operator render` without a cluster."""

from __future__ import annotations

import pytest
import yaml
from tests.operator.conftest import EXAMPLES

from gldr_operator.cli import main

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
