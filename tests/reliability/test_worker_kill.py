"""A worker SIGKILLed in the middle of a task that has a webhook."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from gl_deep_research.db.database import Database
from gl_deep_research.db.models import Task, WebhookDelivery
from tests.reliability.conftest import ResultsLog, settings_from
from tests.reliability.stack import create_account
from tests.service.api.conftest import wait_for_status
from tests.service.api.receiver import Receiver
from tests.service.support import ChildProcess, start_api, start_worker, wait_until

pytestmark = [pytest.mark.services, pytest.mark.slow]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


@pytest.mark.timeout(400)
def test_worker_sigkill_delivers_once(
    fault_env: dict[str, str],
    log_dir: Path,
    children: list[ChildProcess],
    receiver: Receiver,
    results: ResultsLog,
    tmp_path: Path,
) -> None:
    # A fresh data folder makes the worker build the Wikipedia index first,
    # which takes seconds, so the kill lands in the middle of the task.
    env = {**fault_env, "GLDR_DATA_DIR": str(tmp_path / "fresh-data")}
    api, base_url = start_api(env, log_dir)
    children.append(api)
    key = create_account(base_url)
    doomed = start_worker(env, log_dir, "doomed", concurrency=1)
    children.append(doomed)

    response = httpx.post(
        f"{base_url}/v1/tasks",
        data={
            "query": "What causes the tides?",
            "profile": "local-brief",
            "webhook": json.dumps({"url": receiver.url, "secret": "kill-test-secret"}),
        },
        headers={"X-API-Key": key},
        timeout=30,
    )
    assert response.status_code == 202, response.text
    task_id = response.json()["task_id"]
    wait_for_status(base_url, key, task_id, {"STARTED"}, 60)
    killed_at = time.monotonic()
    doomed.kill()

    children.append(start_worker(env, log_dir, "replacement", concurrency=1))
    body = wait_for_status(base_url, key, task_id, {"SUCCESS", "FAILURE"}, 240)
    recovery_seconds = time.monotonic() - killed_at
    assert body["status"] == "SUCCESS", body["error"]

    def success_requests() -> list | None:
        found = [
            request
            for request in receiver.snapshot()
            if request.headers["x-webhook-event"] == "task.SUCCESS"
        ]
        return found or None

    delivered = wait_until(success_requests, timeout=60, interval=0.5, what="SUCCESS webhook")
    # Let any duplicate send (a second sender, a retried lease) arrive before counting.
    time.sleep(3)
    delivered = success_requests() or []

    database = Database(settings_from(env))
    try:
        with database.session() as session:
            task = session.scalars(select(Task).where(Task.id == uuid.UUID(task_id))).one()
            rows = list(
                session.scalars(
                    select(WebhookDelivery).where(
                        WebhookDelivery.task_id == uuid.UUID(task_id),
                        WebhookDelivery.event == "task.SUCCESS",
                    )
                )
            )
    finally:
        database.dispose()

    results.record(
        "worker-sigkill",
        fault="Worker SIGKILLed mid-task; a replacement worker starts",
        load="1 task with a webhook to a loopback receiver; 1 worker at a time",
        accepted=1,
        completed=1 if body["status"] == "SUCCESS" else 0,
        lost=0 if body["status"] == "SUCCESS" else 1,
        duplicated=len(rows) - 1 + len(delivered) - 1,
        client_errors=0,
        recovery_seconds=round(recovery_seconds, 1),
        command="uv run pytest tests/reliability/test_worker_kill.py",
    )

    assert task.attempts == 2
    assert len(rows) == 1
    assert rows[0].state == "delivered"
    assert len(delivered) == 1
    assert {request.headers["x-webhook-id"] for request in delivered} == {str(rows[0].id)}
    assert json.loads(delivered[0].body)["status"] == "SUCCESS"
    assert json.loads(delivered[0].body)["task_id"] == task_id
