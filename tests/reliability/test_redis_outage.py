"""Redis stopped: tasks are still accepted, run and readable; streams answer 503."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from tests.reliability.conftest import ResultsLog
from tests.reliability.load import LoadRun
from tests.reliability.services import FaultServices
from tests.reliability.stack import create_account, start_stack, submit_task, wait_all_final
from tests.service.support import ChildProcess, parse_sse, wait_until

pytestmark = [pytest.mark.services, pytest.mark.slow]

CLIENTS = 4
TASKS_WHILE_DOWN = 40


@pytest.mark.timeout(420)
def test_redis_outage_keeps_tasks_running(
    fault_services: FaultServices,
    fault_env: dict[str, str],
    log_dir: Path,
    children: list[ChildProcess],
    results: ResultsLog,
) -> None:
    database_url = fault_env["GL_DEEP_RESEARCH_DB_URL"]
    _api, base_url = start_stack(fault_env, log_dir, children, workers=1, concurrency=2)
    key = create_account(base_url)
    headers = {"X-API-Key": key}

    fault_services.stop_redis()
    stopped_at = time.monotonic()
    load = LoadRun(base_url, key, clients=CLIENTS, count=TASKS_WHILE_DOWN).start()
    report = load.join()
    counts = wait_all_final(database_url, TASKS_WHILE_DOWN, 240)

    # Every task ran and is readable while Redis is still down.
    task_id = next(iter(report.accepted.values()))
    body = httpx.get(f"{base_url}/v1/tasks/{task_id}", headers=headers, timeout=30).json()
    stream = httpx.get(f"{base_url}/v1/tasks/{task_id}/stream", headers=headers, timeout=30)
    ready = httpx.get(f"{base_url}/health/ready", timeout=30)
    down_seconds = time.monotonic() - stopped_at

    fault_services.start_redis()
    # Events flow again: a new task streams its whole history from Redis.
    after_id = submit_task(base_url, key, "notes", "What raises the tides?")
    wait_all_final(database_url, TASKS_WHILE_DOWN + 1, 120)
    resumed = wait_until(
        lambda: _stream_if_ok(base_url, after_id, headers),
        timeout=60,
        what="a stream once Redis is back",
    )
    messages = parse_sse(resumed.text)
    event_types = [message["event"] for message in messages]

    accepted_ids = set(report.accepted.values())
    results.record(
        "redis-stopped",
        fault="Redis stopped while tasks were submitted and run; started again",
        load=f"{TASKS_WHILE_DOWN} tasks from {CLIENTS} clients while Redis was down; 1 worker",
        accepted=len(accepted_ids) + 1,
        completed=counts.by_status.get("SUCCESS", 0) + 1,
        lost=len(accepted_ids - counts.ids),
        duplicated=counts.duplicated,
        client_errors=len(report.errors),
        error_kinds=report.error_kinds(),
        outage_seconds=round(down_seconds, 1),
        stream_status_while_down=stream.status_code,
        command="uv run pytest tests/reliability/test_redis_outage.py",
    )

    assert report.errors == []
    assert report.rejected == []
    assert counts.ids == accepted_ids
    assert counts.duplicated == 0
    assert counts.by_status == {"SUCCESS": TASKS_WHILE_DOWN}
    assert body["status"] == "SUCCESS"
    assert body["data"]["result"]
    assert stream.status_code == 503
    assert "Redis" in stream.json()["detail"]
    assert f"GET /v1/tasks/{task_id}" in stream.json()["detail"]
    assert ready.status_code == 503
    assert ready.json()["failed"] == ["events"]
    assert event_types[-1] == "done"
    assert "progress" in event_types
    assert json.loads(messages[-1]["data"])["data"] == {"status": "SUCCESS"}


def _stream_if_ok(base_url: str, task_id: str, headers: dict[str, str]) -> httpx.Response | None:
    response = httpx.get(f"{base_url}/v1/tasks/{task_id}/stream", headers=headers, timeout=30)
    return response if response.status_code == 200 else None
