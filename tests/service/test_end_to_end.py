"""A task through uvicorn and a separate Celery worker on PostgreSQL, Redis and RabbitMQ."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from gl_deep_research.db.database import Database
from gl_deep_research.db.models import Task
from tests.service.conftest import MASTER_KEY
from tests.service.support import ChildProcess, parse_sse, start_api, start_worker, wait_until

pytestmark = [pytest.mark.services, pytest.mark.slow, pytest.mark.timeout(300)]

QUESTION = "What caused the 1973 oil crisis, and how did it affect the world economy?"


@pytest.fixture(scope="module")
def module_env(
    session_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    import os

    return {**os.environ, **session_env, "CELERY_QUEUE_NAME": f"e2e_{uuid.uuid4().hex[:8]}"}


@pytest.fixture(scope="module")
def module_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e-logs")


@pytest.fixture(scope="module")
def api(module_env: dict[str, str], module_logs: Path) -> Iterator[str]:
    process, base_url = start_api(module_env, module_logs)
    yield base_url
    process.stop()


@pytest.fixture(scope="module")
def worker(module_env: dict[str, str], module_logs: Path) -> Iterator[ChildProcess]:
    process = start_worker(module_env, module_logs, name="e2e")
    yield process
    process.stop()


@pytest.fixture(scope="module")
def account_key(api: str) -> str:
    response = httpx.post(
        f"{api}/v1/accounts/",
        json={"name": f"e2e-{uuid.uuid4().hex[:6]}"},
        headers={"X-API-Key": MASTER_KEY},
    )
    assert response.status_code == 201, response.text
    key: str = response.json()["data"]["api_key"]
    return key


def wait_for_status(api: str, key: str, task_id: str, statuses: set[str], timeout: float) -> dict:
    def check() -> dict | None:
        body = httpx.get(f"{api}/v1/tasks/{task_id}", headers={"X-API-Key": key}).json()
        return body if body["status"] in statuses else None

    return wait_until(check, timeout=timeout, interval=0.2, what=f"task {task_id} in {statuses}")


def test_form_task_reaches_success(api: str, worker: ChildProcess, account_key: str) -> None:
    response = httpx.post(
        f"{api}/v1/tasks",
        data={"query": QUESTION},
        headers={"X-API-Key": account_key},
    )
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert accepted["taskgroup_id"] is None
    assert accepted["error"] == ""

    body = wait_for_status(api, account_key, accepted["task_id"], {"SUCCESS", "FAILURE"}, 120)
    assert body["status"] == "SUCCESS", body["error"]
    titles = [source["title"] for source in body["data"]["sources"]]
    assert "1973 oil crisis" in titles
    assert "[1]" in body["data"]["result"]
    assert body["data"]["profile"] == "local"
    assert body["data"]["usage"]["search_calls"] >= 1
    assert body["data"]["duration"] > 0

    # Connected after the end: the whole history, then `done`, then the server closes.
    stream = httpx.get(
        f"{api}/v1/tasks/{accepted['task_id']}/stream",
        headers={"X-API-Key": account_key},
        timeout=30,
    )
    assert stream.status_code == 200
    assert stream.headers["cache-control"] == "no-cache"
    assert stream.headers["x-accel-buffering"] == "no"
    messages = parse_sse(stream.text)
    types = [message["event"] for message in messages]
    assert types[0] == "status"
    assert types[-1] == "done"
    assert types.count("result") == 1
    assert "progress" in types
    assert "source" in types
    payload = json.loads(messages[-1]["data"])
    assert payload["task_id"] == accepted["task_id"]
    assert payload["data"] == {"status": "SUCCESS"}


def test_stream_resumes_after_last_event_id(
    api: str, worker: ChildProcess, account_key: str
) -> None:
    task_id = httpx.post(
        f"{api}/v1/tasks",
        data={"query": "Who was Marie Curie?"},
        headers={"X-API-Key": account_key},
    ).json()["task_id"]
    wait_for_status(api, account_key, task_id, {"SUCCESS"}, 120)
    url = f"{api}/v1/tasks/{task_id}/stream"
    full = parse_sse(httpx.get(url, headers={"X-API-Key": account_key}, timeout=30).text)
    resumed = parse_sse(
        httpx.get(
            url, headers={"X-API-Key": account_key, "Last-Event-ID": full[2]["id"]}, timeout=30
        ).text
    )
    assert [m["id"] for m in resumed] == [m["id"] for m in full[3:]]


def test_worker_killed_mid_task_completes_once(
    api: str,
    worker: ChildProcess,
    account_key: str,
    module_env: dict[str, str],
    module_logs: Path,
    session_settings,
    tmp_path: Path,
) -> None:
    # A fresh data folder makes the next worker build the Wikipedia index first,
    # which takes seconds, so the kill lands in the middle of the task.
    worker.stop()
    env = {**module_env, "GLDR_DATA_DIR": str(tmp_path / "fresh-data")}
    doomed = start_worker(env, module_logs, name="doomed", concurrency=1)
    task_id = httpx.post(
        f"{api}/v1/tasks", data={"query": QUESTION}, headers={"X-API-Key": account_key}
    ).json()["task_id"]
    wait_for_status(api, account_key, task_id, {"STARTED"}, 60)
    doomed.kill()

    replacement = start_worker(env, module_logs, name="replacement", concurrency=1)
    try:
        body = wait_for_status(api, account_key, task_id, {"SUCCESS", "FAILURE"}, 180)
    finally:
        replacement.stop()
    assert body["status"] == "SUCCESS", body["error"]

    database = Database(session_settings)
    with database.session() as session:
        task = session.scalars(select(Task).where(Task.id == uuid.UUID(task_id))).one()
    database.dispose()
    assert task.attempts == 2

    events = parse_sse(
        httpx.get(
            f"{api}/v1/tasks/{task_id}/stream", headers={"X-API-Key": account_key}, timeout=30
        ).text
    )
    types = [message["event"] for message in events]
    assert types.count("result") == 1
    assert types.count("done") == 1
    started = [json.loads(m["data"])["data"] for m in events if m["event"] == "status"]
    assert [s.get("attempt") for s in started if s["status"] == "STARTED"] == [1, 2]
