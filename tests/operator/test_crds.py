"""Sanity of the CRDs: structure, CEL rules, defaults, and the examples against them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from tests.operator.conftest import CRDS, EXAMPLES, load_documents

from gldr_operator.schema import strip_kubernetes_keywords

pytestmark = pytest.mark.unit


def crds() -> dict[str, dict[str, Any]]:
    return {
        doc["spec"]["names"]["kind"]: doc
        for path in sorted(CRDS.glob("*.yaml"))
        for doc in load_documents(path)
    }


def schema_of(kind: str) -> dict[str, Any]:
    version = crds()[kind]["spec"]["versions"][0]
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return schema


def walk(
    schema: dict[str, Any], path: str = "", in_list: bool = False
) -> Iterator[tuple[str, dict[str, Any], bool]]:
    yield path, schema, in_list
    for name, child in schema.get("properties", {}).items():
        yield from walk(child, f"{path}.{name}", in_list)
    if "items" in schema:
        yield from walk(schema["items"], f"{path}[]", True)
    if isinstance(schema.get("additionalProperties"), dict):
        yield from walk(schema["additionalProperties"], f"{path}{{}}", in_list)


@pytest.mark.parametrize("kind", ["DeepResearchDeployment", "ResearchProfile"])
def test_crd_basics(kind: str) -> None:
    crd = crds()[kind]
    version = crd["spec"]["versions"][0]
    assert crd["apiVersion"] == "apiextensions.k8s.io/v1"
    assert version["name"] == "v1alpha1"
    assert version["subresources"] == {"status": {}}
    conditions = version["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"][
        "conditions"
    ]
    assert conditions["x-kubernetes-list-type"] == "map"
    assert conditions["x-kubernetes-list-map-keys"] == ["type"]


def test_short_names_and_columns() -> None:
    assert crds()["DeepResearchDeployment"]["spec"]["names"]["shortNames"] == ["drd"]
    assert crds()["ResearchProfile"]["spec"]["names"]["shortNames"] == ["rp"]
    columns = {
        c["name"]
        for c in crds()["DeepResearchDeployment"]["spec"]["versions"][0]["additionalPrinterColumns"]
    }
    assert {"Ready", "Phase", "API", "Age"} <= columns


@pytest.mark.parametrize("kind", ["DeepResearchDeployment", "ResearchProfile"])
def test_no_defaults_inside_lists(kind: str) -> None:
    offenders = [
        path for path, node, in_list in walk(schema_of(kind)) if in_list and "default" in node
    ]
    assert offenders == []


@pytest.mark.parametrize("kind", ["DeepResearchDeployment", "ResearchProfile"])
def test_every_node_has_a_type(kind: str) -> None:
    untyped = [
        path
        for path, node, _ in walk(schema_of(kind))
        if "type" not in node and not node.get("x-kubernetes-preserve-unknown-fields")
    ]
    assert untyped == []


def test_cross_field_rules_exist() -> None:
    rules = [
        rule["rule"]
        for _, node, _ in walk(schema_of("DeepResearchDeployment"))
        for rule in node.get("x-kubernetes-validations", [])
    ]
    assert "!self.enabled || has(self.host)" in rules
    assert "!(has(self.managed) && has(self.external))" in rules
    assert any("quantity(" in rule for rule in rules)


@pytest.mark.parametrize(
    "example", ["deployment-minimal.yaml", "deployment-full.yaml", "profiles.yaml"]
)
def test_examples_match_schema(example: str) -> None:
    for document in load_documents(EXAMPLES / example):
        schema = strip_kubernetes_keywords(schema_of(document["kind"]))
        jsonschema.validate(document, schema)


def test_invalid_example_fails_schema() -> None:
    document = load_documents(EXAMPLES / "deployment-minimal.yaml")[0]
    document["spec"]["worker"] = {"concurrency": 0}
    schema = strip_kubernetes_keywords(schema_of("DeepResearchDeployment"))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, schema)


def spec_properties() -> dict[str, Any]:
    properties: dict[str, Any] = schema_of("DeepResearchDeployment")["properties"]["spec"][
        "properties"
    ]
    return properties


def test_beat_resources_schema_matches_worker() -> None:
    properties = spec_properties()
    beat = properties["beat"]["properties"]["resources"]
    assert beat == properties["worker"]["properties"]["resources"]
    messages = [rule["message"] for rule in beat["x-kubernetes-validations"]]
    assert "resources.requests.cpu must not exceed resources.limits.cpu" in messages
    assert "resources.requests.memory must not exceed resources.limits.memory" in messages


def test_beat_resources_quantity_checked() -> None:
    document = load_documents(EXAMPLES / "deployment-minimal.yaml")[0]
    schema = strip_kubernetes_keywords(schema_of("DeepResearchDeployment"))
    document["spec"]["beat"] = {"resources": {"limits": {"memory": "512Mi"}}}
    jsonschema.validate(document, schema)
    document["spec"]["beat"] = {"resources": {"limits": {"memory": "lots"}}}
    with pytest.raises(jsonschema.ValidationError, match="lots"):
        jsonschema.validate(document, schema)
