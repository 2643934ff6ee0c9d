"""Profiles: CRUD for API profiles, read-only file profiles, reloads and the default."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.service.api.conftest import Stack
from tests.service.conftest import MASTER_KEY
from tests.service.support import REPO_ROOT, wait_until

pytestmark = pytest.mark.services

MASTER = {"X-API-Key": MASTER_KEY}


def profile_name() -> str:
    return f"p-{uuid.uuid4().hex[:8]}"


def test_create_read_update_delete(stack: Stack) -> None:
    name = profile_name()
    url = f"{stack.base_url}/v1/profiles"
    created = httpx.post(
        url,
        json={"name": name, "provider": "local", "params": {"sub_queries": 2}},
        headers=MASTER,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["source"] == "api"
    assert body["description"] == ""
    assert body["params"]["sub_queries"] == 2
    assert body["params"]["max_sentences"] == 12  # the default, filled in

    duplicate = httpx.post(url, json={"name": name, "provider": "local"}, headers=MASTER)
    assert duplicate.status_code == 409
    assert duplicate.json() == {"detail": f"A profile named {name!r} already exists."}

    patched = httpx.patch(f"{url}/{name}", json={"description": "patched"}, headers=MASTER)
    assert patched.status_code == 200
    assert patched.json()["description"] == "patched"
    assert patched.json()["params"]["sub_queries"] == 2

    replaced = httpx.put(
        f"{url}/{name}", json={"provider": "local", "params": {"max_sentences": 4}}, headers=MASTER
    )
    assert replaced.status_code == 200
    assert replaced.json()["description"] == ""
    assert replaced.json()["params"]["sub_queries"] == 3
    assert replaced.json()["params"]["max_sentences"] == 4

    account_key = stack.new_account()
    read = httpx.get(f"{url}/{name}", headers={"X-API-Key": account_key})
    assert read.status_code == 200
    assert read.json()["params"]["max_sentences"] == 4

    deleted = httpx.delete(f"{url}/{name}", headers=MASTER)
    assert deleted.status_code == 200
    assert deleted.json() == {"deleted": name}
    assert httpx.get(f"{url}/{name}", headers=MASTER).status_code == 404
    assert httpx.delete(f"{url}/{name}", headers=MASTER).status_code == 404


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"sub_queries": 99}, "params.sub_queries"),
        ({"no_such_key": 1}, "params.no_such_key"),
        ({"collections": ["../etc"]}, "params.collections.0"),
        ({"mmr_lambda": "high"}, "params.mmr_lambda"),
    ],
    ids=["out-of-range", "unknown-key", "path-collection", "wrong-type"],
)
def test_invalid_params_are_400_naming_key(
    stack: Stack, params: dict[str, object], field: str
) -> None:
    response = httpx.post(
        f"{stack.base_url}/v1/profiles",
        json={"name": profile_name(), "provider": "local", "params": params},
        headers=MASTER,
    )
    assert response.status_code == 400
    key = field.removeprefix("params.")
    assert repr(key) in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ({"name": "bad name!", "provider": "local"}, "Field 'name'"),
        ({"name": "ok-name", "provider": "nope"}, "Unknown provider 'nope'"),
        ({"name": "ok-name"}, "Field 'provider' is required"),
        ({"name": "ok-name", "provider": "local", "colour": "red"}, "Unknown profile field"),
    ],
    ids=["name", "provider", "missing-provider", "unknown-field"],
)
def test_invalid_fields_are_400(stack: Stack, body: dict[str, object], text: str) -> None:
    response = httpx.post(f"{stack.base_url}/v1/profiles", json=body, headers=MASTER)
    assert response.status_code == 400
    assert text in response.json()["detail"]


def test_writes_need_master_key(stack: Stack) -> None:
    key = {"X-API-Key": stack.new_account()}
    url = f"{stack.base_url}/v1/profiles"
    assert httpx.post(url, json={"name": "x", "provider": "local"}, headers=key).status_code == 401
    assert httpx.put(f"{url}/fast", json={"provider": "local"}, headers=key).status_code == 401
    assert httpx.patch(f"{url}/fast", json={}, headers=key).status_code == 401
    assert httpx.delete(f"{url}/fast", headers=key).status_code == 401
    assert httpx.get(url, headers=key).status_code == 200


def test_file_profiles_are_read_only(stack: Stack) -> None:
    url = f"{stack.base_url}/v1/profiles/local-brief"
    expected = "comes from profiles.yaml and is read-only"
    for response in (
        httpx.put(url, json={"provider": "local"}, headers=MASTER),
        httpx.patch(url, json={"description": "x"}, headers=MASTER),
        httpx.delete(url, headers=MASTER),
    ):
        assert response.status_code == 409
        assert expected in response.json()["detail"]


def test_list_shows_default_and_sources(stack: Stack) -> None:
    response = httpx.get(f"{stack.base_url}/v1/profiles", headers=MASTER)
    assert response.status_code == 200
    body = response.json()
    assert body["default_profile"] == "local"
    sources = {profile["name"]: profile["source"] for profile in body["profiles"]}
    assert sources["local"] == "file"
    assert sources["fast"] == "api"


def test_rename_through_put_is_400(stack: Stack) -> None:
    name = profile_name()
    url = f"{stack.base_url}/v1/profiles"
    httpx.post(url, json={"name": name, "provider": "local"}, headers=MASTER)
    response = httpx.put(
        f"{url}/{name}", json={"name": "other", "provider": "local"}, headers=MASTER
    )
    assert response.status_code == 400
    assert "cannot be renamed" in response.json()["detail"]


def write_profiles(path: Path, description: str) -> None:
    path.write_text(
        "default_profile: local\n"
        "profiles:\n"
        "  local:\n"
        "    provider: local\n"
        f"    description: {description}\n",
        encoding="utf-8",
    )


def file_description(base_url: str) -> str:
    body = httpx.get(f"{base_url}/v1/profiles/local", headers=MASTER).json()
    return str(body["description"])


def test_file_change_reloads_profiles(
    tmp_path: Path, start_api_with: Callable[[dict[str, str]], str]
) -> None:
    path = tmp_path / "profiles.yaml"
    write_profiles(path, "first version")
    base_url = start_api_with({"PROFILES_CONFIG_PATH": str(path)})
    assert file_description(base_url) == "first version"

    write_profiles(path, "second version")
    wait_until(lambda: file_description(base_url) == "second version", timeout=15, what="reload")

    # An invalid file is ignored; the profiles loaded before stay.
    path.write_text("profiles: [not, a, mapping]\n", encoding="utf-8")
    write_after_invalid = httpx.get(f"{base_url}/v1/profiles", headers=MASTER)
    assert write_after_invalid.status_code == 200
    assert file_description(base_url) == "second version"


def test_configmap_symlink_swap_reloads(
    tmp_path: Path, start_api_with: Callable[[dict[str, str]], str]
) -> None:
    # The layout a Kubernetes ConfigMap volume uses: profiles.yaml -> ..data/profiles.yaml,
    # ..data -> a timestamped folder, and an update swaps the ..data symlink atomically.
    mount = tmp_path / "config"
    first = mount / "..2026_01_01_00_00_00.1"
    first.mkdir(parents=True)
    write_profiles(first / "profiles.yaml", "from configmap one")
    (mount / "..data").symlink_to(first.name)
    (mount / "profiles.yaml").symlink_to("..data/profiles.yaml")
    base_url = start_api_with({"PROFILES_CONFIG_PATH": str(mount / "profiles.yaml")})
    assert file_description(base_url) == "from configmap one"

    second = mount / "..2026_01_01_00_01_00.2"
    second.mkdir()
    write_profiles(second / "profiles.yaml", "from configmap two")
    (mount / "..data_tmp").symlink_to(second.name)
    os.replace(mount / "..data_tmp", mount / "..data")
    shutil.rmtree(first)
    wait_until(lambda: file_description(base_url) == "from configmap two", timeout=15, what="swap")


def test_default_profile_override(
    tmp_path: Path, start_api_with: Callable[[dict[str, str]], str]
) -> None:
    path = tmp_path / "profiles.yaml"
    shutil.copy(REPO_ROOT / "profiles.yaml", path)
    base_url = start_api_with({"PROFILES_CONFIG_PATH": str(path), "DEFAULT_PROFILE": "local-brief"})
    listing = httpx.get(f"{base_url}/v1/profiles", headers=MASTER).json()
    assert listing["default_profile"] == "local-brief"

    key = httpx.post(
        f"{base_url}/v1/accounts/", json={"name": profile_name()}, headers=MASTER
    ).json()["data"]["api_key"]
    task = httpx.post(f"{base_url}/v1/tasks", data={"query": "Q?"}, headers={"X-API-Key": key})
    assert task.status_code == 202
    body = httpx.get(
        f"{base_url}/v1/tasks/{task.json()['task_id']}", headers={"X-API-Key": key}
    ).json()
    assert body["data"]["profile"] == "local-brief"


def test_default_api_profile_cannot_be_deleted(
    stack: Stack, start_api_with: Callable[[dict[str, str]], str]
) -> None:
    name = profile_name()
    created = httpx.post(
        f"{stack.base_url}/v1/profiles", json={"name": name, "provider": "local"}, headers=MASTER
    )
    assert created.status_code == 201
    base_url = start_api_with(
        {"PROFILES_CONFIG_PATH": str(stack.profiles_path), "DEFAULT_PROFILE": name}
    )
    response = httpx.delete(f"{base_url}/v1/profiles/{name}", headers=MASTER)
    assert response.status_code == 409
    assert "is the default profile" in response.json()["detail"]
