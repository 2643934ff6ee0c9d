"""ResearchProfile validation, selection and the profiles.yaml they produce.

Validation uses the service's own `validate_params`, so a profile the
operator accepts is one the API and the profile loader accept too. Everything
here is pure; the reconciler lists the profiles and writes the results.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml
from pydantic import ValidationError

from gl_deep_research.profiles.params import PROFILE_NAME_PATTERN, InvalidProfile, validate_params
from gl_deep_research.profiles.registry import InvalidProfilesFile, parse_profiles
from gldr_operator.constants import PROFILES_FILE
from gldr_operator.spec import LabelSelector, ProfileSpec


@dataclass(frozen=True)
class Verdict:
    """Outcome of validating one ResearchProfile, as its Accepted condition shows it."""

    accepted: bool
    reason: str
    message: str


@dataclass(frozen=True)
class Profile:
    """A ResearchProfile as listed from the cluster: name, labels and raw spec."""

    name: str
    labels: Mapping[str, str]
    spec: Mapping[str, Any]


@dataclass(frozen=True)
class ProfileSet:
    """The profiles one deployment selects, rendered into profiles.yaml."""

    profiles_yaml: str
    default_profile: str | None
    names: list[str]
    # Selected profiles left out because they are invalid, with the reason.
    rejected: dict[str, str] = field(default_factory=dict)
    # Problems with the set as a whole, for the ProfilesSynced condition.
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # The service's InvalidProfilesFile message when it would reject
    # profiles_yaml at start-up, so the file must not be applied; else None.
    rejection: str | None = None


def check_profile(profile: Profile) -> Verdict:
    if not re.fullmatch(PROFILE_NAME_PATTERN, profile.name):
        return Verdict(
            False,
            "InvalidName",
            f"Profile name {profile.name!r} does not match {PROFILE_NAME_PATTERN}; "
            "rename the ResearchProfile.",
        )
    try:
        spec = ProfileSpec.model_validate(profile.spec)
    except ValidationError as err:
        first = err.errors()[0]
        location = ".".join(str(part) for part in first["loc"])
        return Verdict(False, "InvalidSpec", f"spec.{location}: {first['msg']}.")
    try:
        validate_params(spec.provider, spec.params, require_engine=False)
    except InvalidProfile as err:
        reason = "InvalidProvider" if err.field == "provider" else "InvalidParams"
        return Verdict(False, reason, f"spec.{err.field}: {err.message}")
    return Verdict(True, "Valid", f"Provider {spec.provider!r} and its params are valid.")


def _matches_expression(
    key: str, operator: str, values: list[str], labels: Mapping[str, str]
) -> bool:
    if operator == "In":
        return key in labels and labels[key] in values
    if operator == "NotIn":
        return key not in labels or labels[key] not in values
    if operator == "Exists":
        return key in labels
    return key not in labels


def selects(selector: LabelSelector, labels: Mapping[str, str]) -> bool:
    """Apply a label selector as Kubernetes does; an empty selector matches everything."""
    for key, value in selector.match_labels.items():
        if labels.get(key) != value:
            return False
    return all(
        _matches_expression(item.key, item.operator, item.values, labels)
        for item in selector.match_expressions
    )


def _choose_default(
    accepted: dict[str, ProfileSpec], requested: str | None
) -> tuple[str | None, list[str], list[str]]:
    problems: list[str] = []
    notes: list[str] = []
    if requested is not None:
        if requested not in accepted:
            problems.append(
                f"spec.defaultProfile {requested!r} is not among the selected valid profiles "
                f"({', '.join(sorted(accepted)) or 'none'}); fix the name or the profileSelector."
            )
        return requested, problems, notes
    flagged = sorted(name for name, spec in accepted.items() if spec.default)
    if len(flagged) > 1:
        notes.append(
            f"Several profiles set default: true ({', '.join(flagged)}); using {flagged[0]!r}."
        )
    if flagged:
        return flagged[0], problems, notes
    # Without any choice the first name keeps the file deterministic.
    return (min(accepted) if accepted else None), problems, notes


def build_profile_set(
    profiles: Iterable[Profile], selector: LabelSelector, default_profile: str | None
) -> ProfileSet:
    """Select, validate and render profiles into a byte-for-byte deterministic profiles.yaml."""
    accepted: dict[str, ProfileSpec] = {}
    rejected: dict[str, str] = {}
    for profile in sorted(profiles, key=lambda item: item.name):
        if not selects(selector, profile.labels):
            continue
        verdict = check_profile(profile)
        if verdict.accepted:
            accepted[profile.name] = ProfileSpec.model_validate(profile.spec)
        else:
            rejected[profile.name] = verdict.message

    default, problems, notes = _choose_default(accepted, default_profile)
    if not accepted:
        problems.append("No valid ResearchProfile matches spec.profileSelector in this namespace.")
    for name, message in rejected.items():
        problems.append(f"Profile {name!r} is invalid and left out: {message}")

    document: dict[str, Any] = {}
    if default is not None:
        document["default_profile"] = default
    document["profiles"] = {
        name: {"provider": spec.provider, "description": spec.description, "params": spec.params}
        for name, spec in accepted.items()
    }
    text = yaml.safe_dump(document, sort_keys=True, default_flow_style=False, allow_unicode=True)
    try:
        parse_profiles(yaml.safe_load(text), PROFILES_FILE, require_engine=False)
        rejection = None
    except InvalidProfilesFile as err:
        rejection = str(err)
    return ProfileSet(
        profiles_yaml=text,
        default_profile=default,
        names=sorted(accepted),
        rejected=rejected,
        problems=problems,
        notes=notes,
        rejection=rejection,
    )
