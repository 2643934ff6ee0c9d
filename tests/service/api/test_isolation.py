"""Account scoping: account B reaches none of account A's tasks or groups on any route."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.service.api.conftest import create_account
from tests.service.conftest import MASTER_KEY

pytestmark = pytest.mark.services


def test_other_account_gets_404_everywhere(idle_api: str) -> None:
    _, owner_key = create_account(idle_api, "owner")
    _, other_key = create_account(idle_api, "other")
    owner = {"X-API-Key": owner_key}
    other = {"X-API-Key": other_key}

    task_id = httpx.post(f"{idle_api}/v1/tasks", data={"query": "Mine?"}, headers=owner).json()[
        "task_id"
    ]
    group = httpx.post(
        f"{idle_api}/v1/taskgroups", data={"query": json.dumps(["G1?", "G2?"])}, headers=owner
    ).json()
    group_id = group["taskgroup_id"]
    member_id = group["tasks"][0]

    routes = [
        ("GET", f"/v1/tasks/{task_id}"),
        ("GET", f"/v1/tasks/{task_id}/stream"),
        ("POST", f"/v1/tasks/{task_id}/cancel"),
        ("GET", f"/v1/tasks/{member_id}"),
        ("POST", f"/v1/tasks/{member_id}/cancel"),
    ]
    for prefix in ("/v1/taskgroups", "/v1/taskgroup"):
        routes += [
            ("GET", f"{prefix}/{group_id}"),
            ("GET", f"{prefix}/{group_id}/stream"),
            ("POST", f"{prefix}/{group_id}/tasks"),
            ("GET", f"{prefix}/{group_id}/tasks/{member_id}"),
        ]
    for method, path in routes:
        response = httpx.request(
            method, f"{idle_api}{path}", headers=other, data={"query": "Theirs?"}
        )
        assert response.status_code == 404, (method, path, response.text)
        assert "not found" in response.json()["detail"], (method, path)

    listing = httpx.get(f"{idle_api}/v1/tasks", headers=other).json()
    assert listing == {"tasks": [], "next_cursor": None}

    # Nothing changed for the owner: no task was cancelled or added.
    body = httpx.get(f"{idle_api}/v1/taskgroups/{group_id}", headers=owner).json()
    assert [task["status"] for task in body["tasks"]] == ["PENDING", "PENDING"]
    assert httpx.get(f"{idle_api}/v1/tasks/{task_id}", headers=owner).json()["status"] == (
        "PENDING"
    )
    owned = httpx.get(f"{idle_api}/v1/tasks", headers=owner).json()["tasks"]
    assert {task["task_id"] for task in owned} == {task_id, *group["tasks"]}

    # The master key sees every account's tasks.
    master = httpx.get(f"{idle_api}/v1/tasks/{task_id}", headers={"X-API-Key": MASTER_KEY})
    assert master.status_code == 200
