"""Accounts: both slash forms, conflicts, unknown ids, and keys revoked at once."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
import pytest

from tests.service.api.conftest import Stack
from tests.service.conftest import MASTER_KEY

pytestmark = pytest.mark.services

MASTER = {"X-API-Key": MASTER_KEY}


def create(base_url: str, name: str, path: str = "/v1/accounts/") -> httpx.Response:
    return httpx.post(f"{base_url}{path}", json={"name": name}, headers=MASTER)


def test_create_answers_on_both_slash_forms(stack: Stack) -> None:
    for path in ("/v1/accounts/", "/v1/accounts"):
        name = f"slash-{uuid.uuid4().hex[:8]}"
        response = httpx.post(
            f"{stack.base_url}{path}", json={"name": name}, headers=MASTER, follow_redirects=False
        )
        assert response.status_code == 201, (path, response.text)
        body = response.json()
        assert body["success"] is True
        assert body["data"]["name"] == name
        assert body["data"]["api_key"].startswith("gldr_")
        assert body["message"] == "Account created."


def test_list_answers_on_both_slash_forms(stack: Stack) -> None:
    name = f"listed-{uuid.uuid4().hex[:8]}"
    key = create(stack.base_url, name).json()["data"]["api_key"]
    for path in ("/v1/accounts/", "/v1/accounts"):
        response = httpx.get(f"{stack.base_url}{path}", headers=MASTER, follow_redirects=False)
        assert response.status_code == 200, path
        rows = {row["name"]: row for row in response.json()["data"]}
        assert rows[name]["key_preview"] == f"{key[:3]}...{key[-3:]}"
        assert "api_key" not in rows[name]


def test_duplicate_name_is_409(stack: Stack) -> None:
    name = f"dup-{uuid.uuid4().hex[:8]}"
    assert create(stack.base_url, name).status_code == 201
    response = create(stack.base_url, name)
    assert response.status_code == 409
    assert response.json() == {"detail": f"An account named {name!r} already exists."}


def test_empty_name_is_400(stack: Stack) -> None:
    response = create(stack.base_url, "  ")
    assert response.status_code == 400
    assert "name" in response.json()["detail"]


def test_account_key_cannot_manage_accounts(stack: Stack) -> None:
    key = stack.new_account()
    response = httpx.get(f"{stack.base_url}/v1/accounts/", headers={"X-API-Key": key})
    assert response.status_code == 401
    assert response.json() == {"detail": "This route needs the master API key."}
    assert httpx.get(f"{stack.base_url}/v1/accounts/").status_code == 401


@pytest.mark.parametrize(
    "account_id",
    [str(uuid.uuid4()), "not-a-uuid", "%20", "1" * 300],
    ids=["unknown", "malformed", "space", "long"],
)
def test_unknown_or_malformed_id_is_404(stack: Stack, account_id: str) -> None:
    for method, suffix in (("GET", ""), ("DELETE", ""), ("POST", "/rotate-key")):
        response = httpx.request(
            method, f"{stack.base_url}/v1/accounts/{account_id}{suffix}", headers=MASTER
        )
        assert response.status_code == 404, (method, suffix, response.text)
        assert "not found" in response.json()["detail"]


def test_get_account_by_id(stack: Stack) -> None:
    created = create(stack.base_url, f"get-{uuid.uuid4().hex[:8]}").json()["data"]
    for path in (f"/v1/accounts/{created['id']}", f"/v1/accounts/{created['id']}/"):
        response = httpx.get(f"{stack.base_url}{path}", headers=MASTER, follow_redirects=False)
        assert response.status_code == 200, path
        data = response.json()["data"]
        assert data["id"] == created["id"]
        assert data["created_at"] == created["created_at"]


def test_deleted_key_fails_in_every_process(
    stack: Stack, start_api_with: Callable[[dict[str, str]], str]
) -> None:
    other_api = start_api_with({})
    created = create(stack.base_url, f"del-{uuid.uuid4().hex[:8]}").json()["data"]
    headers = {"X-API-Key": created["api_key"]}
    # Both processes verify (and cache) the key before the delete.
    for base_url in (stack.base_url, other_api):
        assert httpx.get(f"{base_url}/v1/tasks", headers=headers).status_code == 200

    deleted = httpx.delete(f"{other_api}/v1/accounts/{created['id']}", headers=MASTER)
    assert deleted.status_code == 200
    assert deleted.json()["message"] == "Account deleted."

    for base_url in (stack.base_url, other_api):
        response = httpx.get(f"{base_url}/v1/tasks", headers=headers)
        assert response.status_code == 401, base_url
        assert response.json() == {"detail": "Invalid API key."}


def test_rotated_key_fails_in_every_process(
    stack: Stack, start_api_with: Callable[[dict[str, str]], str]
) -> None:
    other_api = start_api_with({})
    created = create(stack.base_url, f"rot-{uuid.uuid4().hex[:8]}").json()["data"]
    old = {"X-API-Key": created["api_key"]}
    for base_url in (stack.base_url, other_api):
        assert httpx.get(f"{base_url}/v1/tasks", headers=old).status_code == 200

    rotated = httpx.post(f"{stack.base_url}/v1/accounts/{created['id']}/rotate-key", headers=MASTER)
    assert rotated.status_code == 200
    new_key = rotated.json()["data"]["api_key"]
    assert new_key != created["api_key"]

    for base_url in (stack.base_url, other_api):
        assert httpx.get(f"{base_url}/v1/tasks", headers=old).status_code == 401, base_url
        fresh = httpx.get(f"{base_url}/v1/tasks", headers={"X-API-Key": new_key})
        assert fresh.status_code == 200, base_url


def account_with_task(base_url: str, name: str) -> tuple[dict[str, str], str]:
    """Create an account and one task; return the account's data and the task's path."""
    created: dict[str, str] = create(base_url, f"{name}-{uuid.uuid4().hex[:8]}").json()["data"]
    headers = {"X-API-Key": created["api_key"]}
    accepted = httpx.post(f"{base_url}/v1/tasks", data={"query": "Tides?"}, headers=headers)
    assert accepted.status_code == 202, accepted.text
    return created, f"/v1/tasks/{accepted.json()['task_id']}"


def test_task_read_rejects_deleted_key(
    stack: Stack, start_api_with: Callable[[dict[str, str]], str]
) -> None:
    # GET /v1/tasks/{id} reads the account row and the task in one statement.
    other_api = start_api_with({})
    created, task_path = account_with_task(other_api, "del-read")
    headers = {"X-API-Key": created["api_key"]}
    for base_url in (stack.base_url, other_api):
        assert httpx.get(f"{base_url}{task_path}", headers=headers).status_code == 200, base_url

    deleted = httpx.delete(f"{other_api}/v1/accounts/{created['id']}", headers=MASTER)
    assert deleted.status_code == 200

    for base_url in (stack.base_url, other_api):
        response = httpx.get(f"{base_url}{task_path}", headers=headers)
        assert response.status_code == 401, base_url
        assert response.json() == {"detail": "Invalid API key."}


def test_task_read_rejects_rotated_key(
    stack: Stack, start_api_with: Callable[[dict[str, str]], str]
) -> None:
    other_api = start_api_with({})
    created, task_path = account_with_task(stack.base_url, "rot-read")
    old = {"X-API-Key": created["api_key"]}
    for base_url in (stack.base_url, other_api):
        assert httpx.get(f"{base_url}{task_path}", headers=old).status_code == 200, base_url

    rotated = httpx.post(f"{other_api}/v1/accounts/{created['id']}/rotate-key", headers=MASTER)
    assert rotated.status_code == 200
    new = {"X-API-Key": rotated.json()["data"]["api_key"]}

    for base_url in (stack.base_url, other_api):
        assert httpx.get(f"{base_url}{task_path}", headers=old).status_code == 401, base_url
        assert httpx.get(f"{base_url}{task_path}", headers=new).status_code == 200, base_url


@pytest.mark.parametrize("task_id", [str(uuid.uuid4()), "not-a-uuid"], ids=["unknown", "malformed"])
def test_invalid_key_on_task_read_is_401(stack: Stack, task_id: str) -> None:
    # A well-formed key with an unknown prefix, so the joined statement finds no account.
    unknown_key = f"gldr_{'0' * 12}_{'A' * 43}"
    for key in (unknown_key, "not-a-key"):
        response = httpx.get(f"{stack.base_url}/v1/tasks/{task_id}", headers={"X-API-Key": key})
        assert response.status_code == 401, (key, response.text)
        assert response.json() == {"detail": "Invalid API key."}
    missing = httpx.get(f"{stack.base_url}/v1/tasks/{task_id}")
    assert missing.status_code == 401
