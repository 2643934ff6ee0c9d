"""Validation of manifests against the CRDs, for `gldr-operator render`.

The API server validates every DeepResearchDeployment and ResearchProfile
against its CRD's openAPIV3Schema before the operator sees it. `render` reads
files instead, so it applies the same schema here with jsonschema. The CEL
rules (`x-kubernetes-validations`) are not evaluated in general, but the
cheap ones are checked in Python: the name length and DNS-1123 form,
`autoscaling.minReplicas <= maxReplicas` and that `egressCidrs` are CIDRs.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from gldr_operator.constants import DEPLOYMENT_KIND, PROFILE_KIND

# Keywords of Kubernetes' structural schemas that JSON Schema does not know.
KUBERNETES_KEYWORDS = frozenset(
    {
        "x-kubernetes-validations",
        "x-kubernetes-list-type",
        "x-kubernetes-list-map-keys",
        "x-kubernetes-preserve-unknown-fields",
    }
)
DNS_1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# The CRDs' CEL rules on metadata.name: a deployment's children append
# suffixes to its name and must stay within the 63 characters of a DNS label.
MAX_NAME_LENGTH = {DEPLOYMENT_KIND: 40, PROFILE_KIND: 63}


def crd_directory() -> Path:
    """Return the folder of the CRD manifests: packaged in the wheel, else the checkout's."""
    packaged = Path(__file__).parent / "crds"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parents[2] / "crds"


def strip_kubernetes_keywords(schema: Any) -> Any:
    """Return `schema` without the keywords above, so that jsonschema can apply it."""
    if isinstance(schema, dict):
        return {
            key: strip_kubernetes_keywords(value)
            for key, value in schema.items()
            if key not in KUBERNETES_KEYWORDS
        }
    if isinstance(schema, list):
        return [strip_kubernetes_keywords(item) for item in schema]
    return schema


@functools.cache
def crd_schemas() -> dict[str, dict[str, Any]]:
    """Load the openAPIV3Schema of each kind, without the Kubernetes-only keywords."""
    schemas: dict[str, dict[str, Any]] = {}
    for path in sorted(crd_directory().glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if not isinstance(document, dict) or document.get("kind") != "CustomResourceDefinition":
                continue
            version = document["spec"]["versions"][0]
            schema = version["schema"]["openAPIV3Schema"]
            schemas[document["spec"]["names"]["kind"]] = strip_kubernetes_keywords(schema)
    return schemas


def _field_path(parts: Sequence[str | int]) -> str:
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif text:
            text += f".{part}"
        else:
            text = str(part)
    return text or "(document)"


def _name_errors(kind: str, name: object) -> list[str]:
    if not isinstance(name, str) or not name:
        return ["metadata.name: missing; every resource needs a name."]
    errors = []
    if not DNS_1123_LABEL.fullmatch(name):
        errors.append(
            f"metadata.name: {name!r} is not a DNS-1123 label (lowercase letters, digits "
            "and '-', starting and ending with a letter or digit)."
        )
    if len(name) > MAX_NAME_LENGTH[kind]:
        errors.append(
            f"metadata.name: {name!r} has {len(name)} characters; a {kind} allows at most "
            f"{MAX_NAME_LENGTH[kind]}."
        )
    return errors


def _objects_named(value: Any, key: str, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for child_key, child in value.items():
            child_path = f"{path}.{child_key}" if path else str(child_key)
            if child_key == key:
                yield child_path, child
            yield from _objects_named(child, key, child_path)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _objects_named(item, key, f"{path}[{index}]")


def _autoscaling_defaults(schema: dict[str, Any]) -> tuple[int, int]:
    properties = schema["properties"]["spec"]["properties"]["worker"]["properties"]
    bounds = properties["autoscaling"]["properties"]
    return int(bounds["minReplicas"]["default"]), int(bounds["maxReplicas"]["default"])


def _rule_errors(document: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    """Check the CEL rules that are cheap to mirror: replica bounds and CIDRs."""
    errors = []
    spec = document.get("spec") or {}
    default_min, default_max = _autoscaling_defaults(schema)
    for path, autoscaling in _objects_named(spec, "autoscaling", "spec"):
        if not isinstance(autoscaling, dict):
            continue
        low = autoscaling.get("minReplicas", default_min)
        high = autoscaling.get("maxReplicas", default_max)
        if isinstance(low, int) and isinstance(high, int) and low > high:
            errors.append(
                f"{path}: minReplicas {low} exceeds maxReplicas {high}; "
                "autoscaling.minReplicas must not exceed autoscaling.maxReplicas."
            )
    for path, cidrs in _objects_named(spec, "egressCidrs", "spec"):
        for index, cidr in enumerate(cidrs if isinstance(cidrs, list) else []):
            try:
                ipaddress.ip_network(str(cidr), strict=False)
            except ValueError:
                errors.append(
                    f"{path}[{index}]: {cidr!r} is not a CIDR; use a form such as 10.0.0.0/8."
                )
    return errors


def manifest_errors(document: dict[str, Any]) -> list[str]:
    """Return what the API server would reject in a DeepResearchDeployment or ResearchProfile.

    Each message starts with the field path. Documents of other kinds return
    no errors.
    """
    kind = str(document.get("kind"))
    schema = crd_schemas().get(kind)
    if schema is None:
        return []
    metadata = document.get("metadata") or {}
    errors = _name_errors(kind, metadata.get("name") if isinstance(metadata, dict) else None)
    validator = jsonschema.Draft202012Validator(schema)
    for error in sorted(validator.iter_errors(document), key=lambda item: list(item.path)):
        errors.append(f"{_field_path(list(error.absolute_path))}: {error.message}")
    if kind == DEPLOYMENT_KIND:
        errors += _rule_errors(document, schema)
    return errors
