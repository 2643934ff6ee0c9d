"""Start the API and workers for a fault test, and wait for tasks to finish."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx
import redis

from gl_deep_research.events.redis_store import KEY_PREFIX as EVENT_KEY_PREFIX
from tests.reliability.load import TaskCounts, count_tasks
from tests.service.support import ChildProcess, start_api, start_worker, wait_until

MASTER_KEY = "reliability-master-key-0123456789"
WEBHOOK_SECRET_KEY = "reliability-secret-for-webhooks"


def start_stack(
    env: dict[str, str],
    log_dir: Path,
    children: list[ChildProcess],
    workers: int = 2,
    concurrency: int = 2,
) -> tuple[ChildProcess, str]:
    """Start one API and `workers` Celery workers; return the API process and its URL."""
    api, base_url = start_api(env, log_dir)
    children.append(api)
    for number in range(workers):
        children.append(start_worker(env, log_dir, f"w{number}", concurrency=concurrency))
    return api, base_url


def create_account(base_url: str, name: str | None = None) -> str:
    """Create an account with the master key and return its API key."""
    response = httpx.post(
        f"{base_url}/v1/accounts/",
        json={"name": name or f"reliability-{uuid.uuid4().hex[:8]}"},
        headers={"X-API-Key": MASTER_KEY},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    key: str = response.json()["data"]["api_key"]
    return key


def submit_task(base_url: str, api_key: str, profile: str, query: str) -> str:
    """Submit one task and return its id; any status but 202 fails the test."""
    response = httpx.post(
        f"{base_url}/v1/tasks",
        data={"query": query, "profile": profile},
        headers={"X-API-Key": api_key},
        timeout=30,
    )
    assert response.status_code == 202, response.text
    task_id: str = response.json()["task_id"]
    return task_id


def progress_percent(events: redis.Redis, task_id: str) -> int:
    """Return the highest `percent` among the task's `progress` events, or -1."""
    highest = -1
    for _, fields in events.xrange(f"{EVENT_KEY_PREFIX}{task_id}"):
        if fields[b"type"] == b"progress":
            highest = max(highest, int(json.loads(fields[b"payload"])["data"]["percent"]))
    return highest


def wait_all_final(database_url: str, expected: int, timeout: float) -> TaskCounts:
    """Wait until the database contains `expected` tasks or more, all finished."""

    def check() -> TaskCounts | None:
        counts = count_tasks(database_url)
        return counts if counts.total >= expected and counts.final == counts.total else None

    try:
        return wait_until(check, timeout=timeout, interval=1.0, what="every task finished")
    except TimeoutError:
        counts = count_tasks(database_url)
        raise AssertionError(
            f"After {timeout} s, {counts.final} of {counts.total} tasks had finished "
            f"(expected {expected}); statuses: {counts.by_status}"
        ) from None
