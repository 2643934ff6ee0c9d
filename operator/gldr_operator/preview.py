"""Offline rendering for `gldr-operator render`: manifests in, child objects out.

The reconciler reads generated passwords, Secret versions and the deployed
version from the cluster; here they get fixed placeholders, so the output is
what the operator would apply on a first install, and it is deterministic.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from gldr_operator.constants import API_VERSION, DEPLOYMENT_KIND, PROFILE_KIND
from gldr_operator.profiles import Profile, build_profile_set
from gldr_operator.render import Credentials, Object, RenderInputs, render_children
from gldr_operator.render.env import referenced_secrets
from gldr_operator.schema import manifest_errors
from gldr_operator.spec import DeepResearchDeployment

PLACEHOLDER_UID = "00000000-0000-0000-0000-000000000000"
# Not a secret: the operator generates the real passwords in the cluster.
PLACEHOLDER_PASSWORD = "generated-at-apply-time"  # noqa: S105
PLACEHOLDER_CREDENTIALS = Credentials(
    redis_password=PLACEHOLDER_PASSWORD,
    rabbitmq_username="gldr",
    rabbitmq_password=PLACEHOLDER_PASSWORD,
)


class PreviewError(ValueError):
    """A manifest given to `render` is not a valid DeepResearchDeployment or ResearchProfile."""


def _is_kind(document: Object, kind: str) -> bool:
    return document.get("apiVersion") == API_VERSION and document.get("kind") == kind


def parse_deployment(document: Object, source: str) -> DeepResearchDeployment:
    """Parse one DeepResearchDeployment manifest, filling the fields the API server would."""
    metadata = dict(document.get("metadata") or {})
    metadata.setdefault("namespace", "default")
    metadata.setdefault("uid", PLACEHOLDER_UID)
    metadata.setdefault("generation", 1)
    try:
        return DeepResearchDeployment.model_validate({**document, "metadata": metadata})
    except ValidationError as err:
        first = err.errors()[0]
        location = ".".join(str(part) for part in first["loc"])
        name = metadata.get("name", "?")
        raise PreviewError(
            f"{source}: DeepResearchDeployment {name!r} is invalid at {location}: "
            f"{first['msg']}; fix the manifest and run render again."
        ) from err


@dataclass
class Preview:
    """Rendered children, and what the ProfilesSynced condition would report."""

    objects: list[Object] = field(default_factory=list)
    # Each message starts with the DeepResearchDeployment it concerns.
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def render_documents(documents: Iterable[tuple[str, Object]]) -> list[Object]:
    """Render every DeepResearchDeployment among `documents`, ignoring profile problems."""
    return preview_documents(documents).objects


def preview_documents(documents: Iterable[tuple[str, Object]]) -> Preview:
    """Render every DeepResearchDeployment among `documents` (source, manifest) pairs.

    ResearchProfiles among the documents are selected per namespace; other
    kinds (such as the Secrets) are ignored.
    """
    deployments: list[DeepResearchDeployment] = []
    profiles: dict[str, list[Profile]] = {}
    schema_errors: list[str] = []
    for source, document in documents:
        if _is_kind(document, DEPLOYMENT_KIND) or _is_kind(document, PROFILE_KIND):
            errors = manifest_errors(document)
            if errors:
                name = (document.get("metadata") or {}).get("name", "?")
                schema_errors += [
                    f"{source}: {document['kind']} {name!r} is invalid at {error}"
                    for error in errors
                ]
                # Parsing would fail on the same fields, so the schema errors are reported.
                continue
        if _is_kind(document, DEPLOYMENT_KIND):
            deployments.append(parse_deployment(document, source))
        elif _is_kind(document, PROFILE_KIND):
            metadata: dict[str, Any] = document.get("metadata") or {}
            namespace = metadata.get("namespace", "default")
            profile = Profile(
                name=metadata.get("name", ""),
                labels=metadata.get("labels") or {},
                spec=document.get("spec") or {},
            )
            profiles.setdefault(namespace, []).append(profile)

    if schema_errors:
        raise PreviewError(
            "\n".join(schema_errors)
            + "\nThe API server would reject these manifests; fix them and run render again."
        )
    preview = Preview()
    for drd in deployments:
        profile_set = build_profile_set(
            profiles.get(drd.metadata.namespace, []),
            drd.spec.profile_selector,
            drd.spec.default_profile,
        )
        inputs = RenderInputs(
            profiles_yaml=profile_set.profiles_yaml,
            default_profile=profile_set.default_profile,
            credentials=PLACEHOLDER_CREDENTIALS,
            workload_version=drd.spec.version,
            migrate=True,
            secret_versions={name: "offline" for name in referenced_secrets(drd)},
        )
        prefix = f"DeepResearchDeployment {drd.metadata.namespace}/{drd.metadata.name}: "
        preview.problems += [prefix + problem for problem in profile_set.problems]
        if profile_set.rejection is not None:
            preview.problems.append(
                f"{prefix}the service would reject the rendered profiles.yaml, so the operator "
                f"would not apply it: {profile_set.rejection}"
            )
        preview.notes += [prefix + note for note in profile_set.notes]
        preview.objects += render_children(drd, inputs)
    return preview
