"""Copy the CRDs' spec schemas into the chart's values.schema.json.

The chart passes `deepResearchDeployment.spec` and each
`researchProfiles[].spec` through to the custom resources unchanged, so their
values schema is the CRD's spec schema, converted to JSON Schema with
`additionalProperties: false` on every object that lists its properties. A
misspelt field then fails `helm install` instead of being pruned silently by
the API server.

Usage: python scripts/helm/values_schema.py [--check]

With --check nothing is written, and the exit status is 1 when
values.schema.json differs from what this script would write.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "gl-deep-research"
SCHEMA_PATH = CHART / "values.schema.json"
CRD_SPECS = {
    "deepResearchDeploymentSpec": REPO
    / "crds"
    / "deepresearchdeployments.research.gdplabs.id.yaml",
    "researchProfileSpec": REPO / "crds" / "researchprofiles.research.gdplabs.id.yaml",
}


def to_json_schema(node: Any) -> Any:
    """Convert one OpenAPI v3 schema node of a CRD into JSON Schema."""
    if isinstance(node, list):
        return [to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    result: dict[str, Any] = {}
    for key, value in node.items():
        # CEL rules and list or map semantics mean nothing to a JSON Schema validator.
        if key.startswith("x-kubernetes-"):
            continue
        if key == "properties":
            result[key] = {name: to_json_schema(child) for name, child in value.items()}
        else:
            result[key] = to_json_schema(value)
    if node.get("x-kubernetes-int-or-string"):
        result["type"] = ["integer", "string"]
    closed = "properties" in node and "additionalProperties" not in node
    if closed and not node.get("x-kubernetes-preserve-unknown-fields"):
        result["additionalProperties"] = False
    return result


def spec_schema(crd_path: Path) -> dict[str, Any]:
    crd = yaml.safe_load(crd_path.read_text())
    versions = crd["spec"]["versions"]
    storage = next(version for version in versions if version.get("storage"))
    converted: dict[str, Any] = to_json_schema(
        storage["schema"]["openAPIV3Schema"]["properties"]["spec"]
    )
    return converted


def render_schema() -> str:
    schema = json.loads(SCHEMA_PATH.read_text())
    schema["definitions"] = {name: spec_schema(path) for name, path in CRD_SPECS.items()}
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="only report whether values.schema.json is stale"
    )
    args = parser.parse_args()
    expected = render_schema()
    if args.check:
        if SCHEMA_PATH.read_text() != expected:
            print(
                f"{SCHEMA_PATH.relative_to(REPO)} is stale; run scripts/sync-chart-crds.sh",
                file=sys.stderr,
            )
            return 1
        return 0
    SCHEMA_PATH.write_text(expected)
    return 0


if __name__ == "__main__":
    sys.exit(main())
