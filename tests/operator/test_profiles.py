"""ResearchProfile validation, selection and the profiles.yaml they produce."""

from __future__ import annotations

import pytest
import yaml

from gl_deep_research.profiles.registry import InvalidProfilesFile, parse_profiles
from gldr_operator.profile_status import profile_status
from gldr_operator.profiles import Profile, build_profile_set, check_profile, selects
from gldr_operator.spec import LabelSelector

pytestmark = pytest.mark.unit

PRODUCTION = {"tier": "production"}


def profile(name: str, labels: dict[str, str] | None = None, **spec: object) -> Profile:
    return Profile(name=name, labels=labels or {}, spec={"provider": "local", **spec})


def test_valid_profile_is_accepted() -> None:
    verdict = check_profile(profile("quick", params={"sub_queries": 2}))
    assert verdict.accepted
    assert verdict.reason == "Valid"


def test_gptr_profile_accepted_without_package() -> None:
    # The operator's image does not ship gpt-researcher; the service image does.
    verdict = check_profile(profile("gptr", provider="gptr", params={"tone": "Formal"}))
    assert verdict.accepted, verdict.message
    assert verdict.reason == "Valid"


@pytest.mark.parametrize(
    ("spec", "reason", "fragment"),
    [
        ({"provider": "local", "params": {"sub_queries": 99}}, "InvalidParams", "sub_queries"),
        ({"provider": "local", "params": {"colour": 1}}, "InvalidParams", "colour"),
        ({"provider": "openai"}, "InvalidProvider", "openai"),
        ({"provider": "local", "extra": True}, "InvalidSpec", "extra"),
    ],
    ids=["out-of-range", "unknown-param", "unknown-provider", "unknown-field"],
)
def test_invalid_profile_names_the_field(
    spec: dict[str, object], reason: str, fragment: str
) -> None:
    verdict = check_profile(Profile(name="bad", labels={}, spec=spec))
    assert not verdict.accepted
    assert verdict.reason == reason
    assert fragment in verdict.message


def test_name_longer_than_pattern_is_rejected() -> None:
    verdict = check_profile(profile("a" * 64))
    assert verdict.reason == "InvalidName"


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ({}, {}, True),
        ({"matchLabels": PRODUCTION}, PRODUCTION, True),
        ({"matchLabels": PRODUCTION}, {}, False),
        (
            {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["a"]}]},
            {"tier": "a"},
            True,
        ),
        ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["a"]}]}, {}, True),
        ({"matchExpressions": [{"key": "tier", "operator": "Exists"}]}, {}, False),
        ({"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}, {}, True),
    ],
    ids=[
        "empty",
        "labels-match",
        "labels-miss",
        "in",
        "notin-absent",
        "exists-miss",
        "doesnotexist",
    ],
)
def test_selector_semantics(
    selector: dict[str, object], labels: dict[str, str], expected: bool
) -> None:
    assert selects(LabelSelector.model_validate(selector), labels) is expected


def test_profiles_yaml_is_sorted_and_selected() -> None:
    items = [
        profile("zeta", PRODUCTION, description="z"),
        profile("alpha", PRODUCTION, default=True),
        profile("staging-only", {"tier": "staging"}),
    ]
    selector = LabelSelector.model_validate({"matchLabels": PRODUCTION})
    result = build_profile_set(items, selector, None)
    assert result.names == ["alpha", "zeta"]
    assert result.default_profile == "alpha"
    document = yaml.safe_load(result.profiles_yaml)
    assert list(document["profiles"]) == ["alpha", "zeta"]
    assert document["default_profile"] == "alpha"
    assert document["profiles"]["zeta"] == {"provider": "local", "description": "z", "params": {}}
    shuffled = build_profile_set(list(reversed(items)), selector, None)
    assert shuffled.profiles_yaml == result.profiles_yaml


def test_invalid_profile_is_left_out_and_reported() -> None:
    items = [profile("good"), profile("bad", params={"sub_queries": -1})]
    result = build_profile_set(items, LabelSelector(), None)
    assert result.names == ["good"]
    assert "bad" in result.rejected
    assert any("'bad'" in problem for problem in result.problems)


def test_missing_default_profile_is_a_problem() -> None:
    result = build_profile_set([profile("good")], LabelSelector(), "absent")
    assert any("absent" in problem for problem in result.problems)


def test_several_defaults_pick_first_name() -> None:
    items = [profile("b", default=True), profile("a", default=True)]
    result = build_profile_set(items, LabelSelector(), None)
    assert result.default_profile == "a"
    assert result.notes


def test_profile_status_keeps_transition_time() -> None:
    body = {
        "metadata": {"name": "bad", "namespace": "ns", "generation": 2},
        "spec": {"provider": "local", "params": {"sub_queries": 100}},
    }
    first = profile_status(body, "2026-01-01T00:00:00Z")
    condition = first["conditions"][0]
    assert condition["status"] == "False"
    assert condition["reason"] == "InvalidParams"
    assert first["observedGeneration"] == 2
    again = profile_status({**body, "status": first}, "2026-01-02T00:00:00Z")
    assert again == first


@pytest.mark.parametrize(
    ("items", "default"),
    [
        ([profile("good")], None),
        ([profile("good")], "good"),
        ([profile("good")], "absent"),
        ([], None),
        ([profile("bad", params={"sub_queries": 99})], "bad"),
        ([profile("gptr", provider="gptr")], None),
    ],
    ids=["valid", "named-default", "missing-default", "empty", "invalid-default", "gptr"],
)
def test_rejection_agrees_with_service(items: list[Profile], default: str | None) -> None:
    result = build_profile_set(items, LabelSelector(), default)
    expected: str | None = None
    try:
        parse_profiles(yaml.safe_load(result.profiles_yaml), "profiles.yaml", require_engine=False)
    except InvalidProfilesFile as err:
        expected = str(err)
    assert result.rejection == expected


def test_missing_default_profile_is_rejected() -> None:
    result = build_profile_set([profile("good")], LabelSelector(), "absent")
    assert result.rejection is not None
    assert "'absent'" in result.rejection
