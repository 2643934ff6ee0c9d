"""The chart's copies of crds/ and of the CRD spec schemas are current."""

from __future__ import annotations

import importlib.util
import json
from types import ModuleType

import pytest
from tests.helm.conftest import CHART, REPO

pytestmark = pytest.mark.unit

FIX = "run scripts/sync-chart-crds.sh"


def load_values_schema_script() -> ModuleType:
    path = REPO / "scripts" / "helm" / "values_schema.py"
    spec = importlib.util.spec_from_file_location("values_schema", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_chart_crds_match_source() -> None:
    source = {path.name: path.read_text() for path in (REPO / "crds").glob("*.yaml")}
    copies = {path.name: path.read_text() for path in (CHART / "crds").glob("*.yaml")}
    assert sorted(copies) == sorted(source), FIX
    for name, text in source.items():
        assert copies[name] == text, f"helm/gl-deep-research/crds/{name} differs; {FIX}"


def test_values_schema_current() -> None:
    script = load_values_schema_script()
    current = (CHART / "values.schema.json").read_text()
    assert current == script.render_schema(), f"values.schema.json is stale; {FIX}"


def test_values_schema_closes_every_object() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    open_objects = []

    def visit(node: object, path: str) -> None:
        if isinstance(node, dict):
            if "properties" in node and "additionalProperties" not in node:
                open_objects.append(path)
            for key, child in node.items():
                visit(child, f"{path}/{key}")
        elif isinstance(node, list):
            for index, child in enumerate(node):
                visit(child, f"{path}/{index}")

    visit(schema, "#")
    # ResearchProfile params vary by provider; the operator validates them.
    allowed = ["#/definitions/researchProfileSpec/properties/params"]
    assert [path for path in open_objects if path not in allowed] == []
