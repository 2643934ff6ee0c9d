"""Task groups: creation forms, the singular alias, members, status and the merged stream."""

from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest

from gl_deep_research.tasks.group_status import compute_group_status
from tests.service.api.conftest import Stack, create_account
from tests.service.support import parse_sse, wait_until

PREFIXES = ("/v1/taskgroups", "/v1/taskgroup")


@pytest.mark.unit
@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([], "PENDING"),
        (["PENDING", "RECEIVED"], "PENDING"),
        (["PENDING", "STARTED"], "STARTED"),
        (["SUCCESS", "PENDING"], "STARTED"),
        (["SUCCESS", "SUCCESS"], "SUCCESS"),
        (["FAILURE", "REVOKED"], "FAILURE"),
        (["SUCCESS", "FAILURE"], "PARTIAL_FAILURE"),
        (["SUCCESS", "REVOKED"], "PARTIAL_FAILURE"),
        (["RETRY"], "STARTED"),
    ],
)
def test_group_status_from_members(statuses: list[str], expected: str) -> None:
    assert compute_group_status(statuses) == expected


@pytest.mark.services
@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize(
    ("query", "count"),
    [(None, 0), ("One question?", 1), (json.dumps(["First?", "Second?", "Third?"]), 3)],
    ids=["absent", "string", "json-array"],
)
def test_create_forms(
    idle_api: str,
    prefix: str,
    query: str | None,
    count: int,
) -> None:
    _, key = create_account(idle_api, "forms")
    data = {} if query is None else {"query": query}
    response = httpx.post(
        f"{idle_api}{prefix}", data=data, headers={"X-API-Key": key}, follow_redirects=False
    )
    assert response.status_code == 202, response.text
    body = response.json()
    assert len(body["tasks"]) == count
    group = httpx.get(f"{idle_api}{prefix}/{body['taskgroup_id']}", headers={"X-API-Key": key})
    assert group.status_code == 200
    assert group.json()["status"] == "PENDING"
    assert [task["task_id"] for task in group.json()["tasks"]] == body["tasks"]


@pytest.mark.services
@pytest.mark.parametrize(
    ("query", "text"),
    [
        ("[not json", "not a valid JSON array"),
        ("[1, 2]", "must be a string, got int 1"),
        ('["ok?", ""]', "Field 'query' is required"),
        (json.dumps(["q?"] * 101), "the maximum per request is 100"),
    ],
    ids=["broken", "numbers", "empty-member", "too-many"],
)
def test_invalid_queries_are_400(idle_api: str, query: str, text: str) -> None:
    _, key = create_account(idle_api, "badq")
    response = httpx.post(
        f"{idle_api}/v1/taskgroups", data={"query": query}, headers={"X-API-Key": key}
    )
    assert response.status_code == 400
    assert text in response.json()["detail"]


@pytest.mark.services
def test_add_tasks_and_get_member(idle_api: str) -> None:
    _, key = create_account(idle_api, "add")
    headers = {"X-API-Key": key}
    group_id = httpx.post(f"{idle_api}/v1/taskgroup", headers=headers).json()["taskgroup_id"]

    added = httpx.post(
        f"{idle_api}/v1/taskgroup/{group_id}/tasks",
        data={"query": json.dumps(["A?", "B?"])},
        headers=headers,
    )
    assert added.status_code == 202
    new_ids = added.json()["tasks"]
    assert len(new_ids) == 2

    member = httpx.get(f"{idle_api}/v1/taskgroups/{group_id}/tasks/{new_ids[1]}", headers=headers)
    assert member.status_code == 200
    assert member.json()["taskgroup_id"] == group_id
    assert member.json()["data"]["query"] == "B?"

    outsider = httpx.post(f"{idle_api}/v1/tasks", data={"query": "C?"}, headers=headers)
    not_member = httpx.get(
        f"{idle_api}/v1/taskgroups/{group_id}/tasks/{outsider.json()['task_id']}",
        headers=headers,
    )
    assert not_member.status_code == 404
    assert "is not in task group" in not_member.json()["detail"]

    empty = httpx.post(f"{idle_api}/v1/taskgroups/{group_id}/tasks", headers=headers)
    assert empty.status_code == 400


@pytest.mark.services
@pytest.mark.parametrize("group_id", [str(uuid.uuid4()), "nope", "1" * 300])
def test_unknown_group_is_404(idle_api: str, group_id: str) -> None:
    _, key = create_account(idle_api, "unknown")
    headers = {"X-API-Key": key}
    for method, suffix in (
        ("GET", ""),
        ("POST", "/tasks"),
        ("GET", "/stream"),
        ("GET", f"/tasks/{uuid.uuid4()}"),
    ):
        for prefix in PREFIXES:
            response = httpx.request(
                method,
                f"{idle_api}{prefix}/{group_id}{suffix}",
                headers=headers,
                data={"query": "Q?"},
            )
            assert response.status_code == 404, (method, prefix, suffix)


@pytest.mark.services
@pytest.mark.slow
def test_group_runs_to_success_and_streams(stack: Stack) -> None:
    key = stack.new_account("grouprun")
    headers = {"X-API-Key": key}
    created = httpx.post(
        f"{stack.base_url}/v1/taskgroups",
        data={"query": json.dumps(["Who was Marie Curie?", "What is OPEC?"]), "profile": "fast"},
        headers=headers,
    ).json()
    group_id = created["taskgroup_id"]

    def finished() -> dict[str, object] | None:
        body: dict[str, object] = httpx.get(
            f"{stack.base_url}/v1/taskgroups/{group_id}", headers=headers
        ).json()
        return body if body["status"] in ("SUCCESS", "FAILURE", "PARTIAL_FAILURE") else None

    body = wait_until(finished, timeout=90, interval=0.3, what="group finished")
    assert body["status"] == "SUCCESS"

    stream = httpx.get(
        f"{stack.base_url}/v1/taskgroup/{group_id}/stream", headers=headers, timeout=60
    )
    assert stream.status_code == 200
    messages = parse_sse(stream.text)
    payloads = [json.loads(message["data"]) for message in messages]
    member_done = {p["task_id"] for p in payloads if p["type"] == "done" and p["task_id"]}
    assert member_done == set(created["tasks"])
    assert messages[-1]["event"] == "done"
    assert payloads[-1]["task_id"] is None
    assert payloads[-1]["taskgroup_id"] == group_id
    assert payloads[-1]["data"] == {"status": "SUCCESS"}
    assert all(p["taskgroup_id"] == group_id for p in payloads)

    # Resuming after the first member's `done` replays only what followed it.
    first_done = next(m for m, p in zip(messages, payloads, strict=True) if p["type"] == "done")
    resumed = parse_sse(
        httpx.get(
            f"{stack.base_url}/v1/taskgroups/{group_id}/stream",
            headers={**headers, "Last-Event-ID": first_done["id"]},
            timeout=60,
        ).text
    )
    replayed = messages[messages.index(first_done) + 1 :]
    # The closing group `done` is built per stream, so only its timestamp may differ.
    assert resumed[:-1] == replayed[:-1]
    assert resumed[-1]["id"] == replayed[-1]["id"]
    assert json.loads(resumed[-1]["data"])["data"] == {"status": "SUCCESS"}

    # After the last member's `done` only the group `done` is left.
    last_member_done = messages[-2]
    assert last_member_done["event"] == "done"
    after_members = httpx.get(
        f"{stack.base_url}/v1/taskgroups/{group_id}/stream",
        headers={**headers, "Last-Event-ID": last_member_done["id"]},
        timeout=60,
    )
    assert [message["id"] for message in parse_sse(after_members.text)] == [messages[-1]["id"]]

    # A client that received the group `done` gets 204, so EventSource stops reconnecting.
    started = time.monotonic()
    after_group_done = httpx.get(
        f"{stack.base_url}/v1/taskgroups/{group_id}/stream",
        headers={**headers, "Last-Event-ID": messages[-1]["id"]},
        timeout=60,
    )
    assert after_group_done.status_code == 204
    assert after_group_done.text == ""
    assert time.monotonic() - started < 3
