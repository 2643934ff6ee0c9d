"""Tasks: listing with a cursor, cancel, quotas, input limits and malformed ids."""

from __future__ import annotations

import base64
import random
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from gl_deep_research.db.database import Database
from gl_deep_research.db.models import Task
from tests.service.api.conftest import Stack, create_account
from tests.service.conftest import MASTER_KEY
from tests.service.support import parse_sse, wait_until

pytestmark = pytest.mark.services


def insert_tasks(
    database: Database, account_id: str, created: list[datetime], task_status: str = "SUCCESS"
) -> list[str]:
    """Insert finished tasks with the given creation times; return their ids."""
    rows = [
        Task(
            id=uuid.uuid4(),
            account_id=uuid.UUID(account_id),
            account_key=account_id,
            query=f"inserted {index}",
            profile="local",
            provider="local",
            params={},
            status=task_status,
            error="",
            attempts=1,
            cancel_requested=False,
            created_at=moment,
            enqueued_at=moment,
            completed_at=moment,
        )
        for index, moment in enumerate(created)
    ]
    with database.session() as session:
        session.add_all(rows)
    return [str(row.id) for row in rows]


def test_pages_are_stable_under_ties(stack: Stack, database: Database) -> None:
    account_id, key = stack.new_account_with_id("list")
    moment = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    tied = insert_tasks(database, account_id, [moment] * 5)
    newer = insert_tasks(database, account_id, [moment + timedelta(seconds=1)] * 2)
    expected = sorted(newer, reverse=True) + sorted(tied, reverse=True)

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        response = httpx.get(
            f"{stack.base_url}/v1/tasks", params=params, headers={"X-API-Key": key}
        )
        assert response.status_code == 200, response.text
        body = response.json()
        seen += [task["task_id"] for task in body["tasks"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == expected
    assert pages == 4


def test_status_filter(stack: Stack, database: Database) -> None:
    account_id, key = stack.new_account_with_id("filter")
    moment = datetime(2026, 1, 2, tzinfo=UTC)
    failed = insert_tasks(database, account_id, [moment], task_status="FAILURE")
    insert_tasks(database, account_id, [moment + timedelta(seconds=1)] * 2)
    response = httpx.get(
        f"{stack.base_url}/v1/tasks", params={"status": "FAILURE"}, headers={"X-API-Key": key}
    )
    assert response.status_code == 200
    assert [task["task_id"] for task in response.json()["tasks"]] == failed
    assert response.json()["tasks"][0]["status"] == "FAILURE"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"cursor": "not-a-cursor"}, "'cursor'"),
        ({"cursor": base64.urlsafe_b64encode(b'["x", "y"]').decode()}, "'cursor'"),
        ({"cursor": base64.urlsafe_b64encode(b"{}").decode()}, "'cursor'"),
        ({"cursor": "%%%"}, "'cursor'"),
        ({"limit": "0"}, "'limit'"),
        ({"limit": "101"}, "'limit'"),
        ({"status": "DONE"}, "'status'"),
    ],
    ids=["garbage", "bad-values", "object", "symbols", "zero", "too-large", "status"],
)
def test_bad_list_parameters_are_400(stack: Stack, params: dict[str, str], field: str) -> None:
    key = stack.new_account()
    response = httpx.get(f"{stack.base_url}/v1/tasks", params=params, headers={"X-API-Key": key})
    assert response.status_code == 400, response.text
    assert field in response.json()["detail"]


def test_cancel_pending_task_is_idempotent(idle_api: str) -> None:
    base_url = idle_api
    _, key = create_account(base_url, "cancel")
    headers = {"X-API-Key": key}
    task_id = httpx.post(f"{base_url}/v1/tasks", data={"query": "Q?"}, headers=headers).json()[
        "task_id"
    ]

    first = httpx.post(f"{base_url}/v1/tasks/{task_id}/cancel", headers=headers)
    assert first.status_code == 200
    assert first.json()["status"] == "REVOKED"
    assert first.json()["error"] == "The task was cancelled through the API."
    assert first.json()["data"]["completed_at"] is not None

    again = httpx.post(f"{base_url}/v1/tasks/{task_id}/cancel", headers=headers)
    assert again.status_code == 200
    assert again.json() == first.json()

    stream = httpx.get(f"{base_url}/v1/tasks/{task_id}/stream", headers=headers, timeout=30)
    events = [message["event"] for message in parse_sse(stream.text)]
    assert events == ["status", "done"]


def test_cancel_finished_task_is_409(stack: Stack, database: Database) -> None:
    account_id, key = stack.new_account_with_id("finished")
    [task_id] = insert_tasks(database, account_id, [datetime.now(UTC)])
    response = httpx.post(f"{stack.base_url}/v1/tasks/{task_id}/cancel", headers={"X-API-Key": key})
    assert response.status_code == 409
    assert "already finished with status SUCCESS" in response.json()["detail"]


SLOW_PROFILE_PARAMS = {"sub_queries": 8, "passages_per_query": 50, "max_sentences": 200}
VOCABULARY = (
    "press printing europe book paper ink guild reform church scholar latin city trade "
    "merchant river bridge castle harvest market school letter science map ship coast"
)
WORDS = VOCABULARY.split()


def write_large_collection(stack: Stack) -> str:
    """Write a fresh document collection whose first index build takes seconds.

    A new collection name means the worker has no cached index for it, so the
    task is still building the index when the test cancels it.
    """
    name = f"slow-{uuid.uuid4().hex[:8]}"
    folder = Path(stack.env["GLDR_DATA_DIR"]) / "collections" / name
    folder.mkdir(parents=True)
    generator = random.Random(name)
    for number in range(3000):
        paragraphs = [" ".join(generator.choices(WORDS, k=60)).capitalize() + "." for _ in range(4)]
        (folder / f"doc-{number:05d}.txt").write_text("\n\n".join(paragraphs))
    return name


def start_slow_task(stack: Stack, headers: dict[str, str], profile: str) -> str | None:
    """Submit a long task and return its id once STARTED, or None if it ran to the end first."""
    task_id = str(
        httpx.post(
            f"{stack.base_url}/v1/tasks",
            data={"query": "How did the printing press change the church?", "profile": profile},
            headers=headers,
        ).json()["task_id"]
    )

    def left_pending() -> str | None:
        body = httpx.get(f"{stack.base_url}/v1/tasks/{task_id}", headers=headers).json()
        return None if body["status"] == "PENDING" else str(body["status"])

    reached = wait_until(left_pending, timeout=60, interval=0.05, what="task left PENDING")
    return task_id if reached == "STARTED" else None


def test_cancel_running_task_stops_engine(stack: Stack) -> None:
    profile = f"slow-{uuid.uuid4().hex[:6]}"
    collection = write_large_collection(stack)
    params = {**SLOW_PROFILE_PARAMS, "collections": [collection]}
    created = httpx.post(
        f"{stack.base_url}/v1/profiles",
        json={"name": profile, "provider": "local", "params": params},
        headers={"X-API-Key": MASTER_KEY},
    )
    assert created.status_code == 201, created.text
    key = stack.new_account("running")
    headers = {"X-API-Key": key}

    # A loaded machine can finish a task between two polls, so try a few tasks.
    for _ in range(3):
        task_id = start_slow_task(stack, headers, profile)
        if task_id is None:
            continue
        response = httpx.post(f"{stack.base_url}/v1/tasks/{task_id}/cancel", headers=headers)
        if response.status_code == 409:
            continue
        break
    else:
        pytest.fail("no task could be cancelled while STARTED in three tries")
    assert response.status_code == 200
    assert response.json()["status"] == "REVOKED"

    stream = httpx.get(f"{stack.base_url}/v1/tasks/{task_id}/stream", headers=headers, timeout=60)
    messages = parse_sse(stream.text)
    assert messages[-1]["event"] == "done"
    assert '"status":"REVOKED"' in messages[-1]["data"]
    final = httpx.get(f"{stack.base_url}/v1/tasks/{task_id}", headers=headers).json()
    assert final["status"] == "REVOKED"
    assert final["data"]["result"] is None
    wait_until(
        lambda: f"Task {task_id} stopped after it was revoked" in stack.worker.log_text(),
        timeout=30,
        what="the worker's engine stopping",
    )


def test_quota_rejects_with_429(start_api_with: Callable[[dict[str, str]], str]) -> None:
    base_url = start_api_with({"ACCOUNT_MAX_ACTIVE_TASKS": "2"})
    _, key = create_account(base_url, "quota")
    headers = {"X-API-Key": key}
    ids = [
        httpx.post(f"{base_url}/v1/tasks", data={"query": f"Q{n}?"}, headers=headers).json()[
            "task_id"
        ]
        for n in range(2)
    ]
    rejected = httpx.post(f"{base_url}/v1/tasks", data={"query": "Q3?"}, headers=headers)
    assert rejected.status_code == 429
    assert "ACCOUNT_MAX_ACTIVE_TASKS is 2" in rejected.json()["detail"]
    group = httpx.post(f"{base_url}/v1/taskgroups", data={"query": "Q4?"}, headers=headers)
    assert group.status_code == 429

    httpx.post(f"{base_url}/v1/tasks/{ids[0]}/cancel", headers=headers)
    accepted = httpx.post(f"{base_url}/v1/tasks", data={"query": "Q5?"}, headers=headers)
    assert accepted.status_code == 202


@pytest.mark.parametrize(
    "task_id", ["not-a-uuid", "1" * 500, "%00", "00000000-0000-0000-0000-00000000000g"]
)
def test_malformed_task_ids_are_404(stack: Stack, task_id: str) -> None:
    headers = {"X-API-Key": stack.new_account()}
    for method, suffix in (("GET", ""), ("POST", "/cancel"), ("GET", "/stream")):
        response = httpx.request(
            method, f"{stack.base_url}/v1/tasks/{task_id}{suffix}", headers=headers
        )
        assert response.status_code == 404, (method, suffix, response.text)


def test_query_limits_are_400(stack: Stack) -> None:
    headers = {"X-API-Key": stack.new_account()}
    url = f"{stack.base_url}/v1/tasks"
    long = httpx.post(url, data={"query": "x" * 20_001}, headers=headers)
    assert long.status_code == 400
    assert long.json() == {"detail": "Field 'query' has 20001 characters; the maximum is 20000."}
    empty = httpx.post(url, data={"query": "   "}, headers=headers)
    assert empty.status_code == 400
    assert empty.json() == {"detail": "Field 'query' is required and must not be empty."}
    unknown = httpx.post(url, data={"query": "Q?", "profile": "nope"}, headers=headers)
    assert unknown.status_code == 404
    assert unknown.json() == {"detail": "Profile 'nope' not found."}


def test_body_over_one_mebibyte_is_413(stack: Stack) -> None:
    headers = {"X-API-Key": stack.new_account()}
    response = httpx.post(
        f"{stack.base_url}/v1/tasks", data={"query": "x" * (1024 * 1024 + 1)}, headers=headers
    )
    assert response.status_code == 413
    assert response.json() == {"detail": "Request body exceeds the limit of 1048576 bytes."}


def test_idempotency_key_returns_first_task(idle_api: str) -> None:
    base_url = idle_api
    _, first_key = create_account(base_url, "idem")
    _, second_key = create_account(base_url, "idem")
    url = f"{base_url}/v1/tasks"

    def submit(key: str) -> str:
        response = httpx.post(
            url, data={"query": "Q?"}, headers={"X-API-Key": key, "Idempotency-Key": "k-1"}
        )
        assert response.status_code == 202
        return str(response.json()["task_id"])

    first = submit(first_key)
    assert submit(first_key) == first
    assert submit(second_key) != first


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"query": "nul\x00byte?"}, "query"),
        ({"query": "Q?", "profile": "nul\x00name"}, "profile"),
        ({"query": "Q?", "webhook": '{"url": "http://a\\u0000b.example/"}'}, "webhook"),
    ],
    ids=["query", "profile", "webhook-url"],
)
def test_nul_characters_never_500(idle_api: str, data: dict[str, str], field: str) -> None:
    _, key = create_account(idle_api, "nul")
    response = httpx.post(f"{idle_api}/v1/tasks", json=data, headers={"X-API-Key": key})
    assert response.status_code in (400, 404), (field, response.text)
    for path in ("/v1/profiles/nul%00name", "/v1/accounts/nul%00"):
        assert httpx.get(f"{idle_api}{path}", headers={"X-API-Key": key}).status_code in (
            401,
            404,
        )
