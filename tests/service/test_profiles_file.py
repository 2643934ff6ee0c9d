from __future__ import annotations

from pathlib import Path

import pytest

from gl_deep_research.profiles.params import InvalidProfile, validate_params
from gl_deep_research.profiles.registry import (
    InvalidProfilesFile,
    parse_profiles,
    read_profiles_file,
)
from tests.service.support import REPO_ROOT

pytestmark = pytest.mark.unit


def test_repository_profiles_file_is_valid() -> None:
    profiles = read_profiles_file(REPO_ROOT / "profiles.yaml")
    assert profiles.default_profile == "local"
    assert profiles.profiles["local"].provider == "local"


def test_missing_file_falls_back_to_builtin(tmp_path: Path) -> None:
    profiles = read_profiles_file(tmp_path / "absent.yaml")
    assert profiles.default_profile == "local"
    assert list(profiles.profiles) == ["local"]


def test_unknown_param_is_named() -> None:
    with pytest.raises(InvalidProfile) as caught:
        validate_params("local", {"sub_querys": 3})
    assert caught.value.field == "params.sub_querys"
    assert "sub_queries" in caught.value.message


def test_wrong_type_is_named() -> None:
    with pytest.raises(InvalidProfile) as caught:
        validate_params("tongyi", {"max_depth": "deep"})
    assert caught.value.field == "params.max_depth"
    assert "'deep'" in caught.value.message


def test_unknown_provider_is_rejected() -> None:
    with pytest.raises(InvalidProfile) as caught:
        validate_params("oracle", {})
    assert caught.value.field == "provider"


def test_collection_cannot_be_a_path() -> None:
    with pytest.raises(InvalidProfile) as caught:
        validate_params("local", {"collections": ["../etc"]})
    assert caught.value.field == "params.collections.0"


def test_file_error_names_profile_and_key() -> None:
    document = {"profiles": {"fast": {"provider": "local", "params": {"max_sentences": 0}}}}
    with pytest.raises(InvalidProfilesFile) as caught:
        parse_profiles(document, "profiles.yaml")
    assert "'fast'" in str(caught.value)
    assert "params.max_sentences" in str(caught.value)


def test_default_must_exist() -> None:
    document = {"default_profile": "nope", "profiles": {"a": {"provider": "local"}}}
    with pytest.raises(InvalidProfilesFile, match="default_profile 'nope'"):
        parse_profiles(document, "profiles.yaml")


def test_gptr_without_package_is_rejected() -> None:
    with pytest.raises(InvalidProfile) as caught:
        validate_params("gptr", {})
    assert caught.value.field == "provider"
    assert "uv sync --extra gptr" in caught.value.message


def test_gptr_schema_checked_without_package() -> None:
    params = validate_params("gptr", {"report_type": "detailed_report"}, require_engine=False)
    assert params["report_type"] == "detailed_report"
    with pytest.raises(InvalidProfile) as caught:
        validate_params("gptr", {"report_type": "poem"}, require_engine=False)
    assert caught.value.field == "params.report_type"
