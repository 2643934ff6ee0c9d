"""Webhook receivers that are down, slow, or never recover, against a real worker with beat.

A receiver that returns 500 for a while and then 200 is covered by
tests/service/api/test_webhooks.py::test_failed_attempts_retry_with_same_id.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from gl_deep_research.db.database import Database
from gl_deep_research.db.models import WebhookAttempt, WebhookDelivery
from tests.reliability.conftest import ResultsLog, settings_from
from tests.reliability.stack import create_account
from tests.service.api.conftest import start_worker_with_beat
from tests.service.support import ChildProcess, free_port, start_api, wait_until

pytestmark = [pytest.mark.services, pytest.mark.slow]

MAX_RETRIES = 3
TIMEOUT_SECONDS = 1.0
SLOW_SECONDS = 2.5


class ScriptedReceiver:
    """Records every POST on a fixed loopback port, delaying the first `slow_first` per id."""

    def __init__(self, port: int, status: int = 200, slow_first: int = 0) -> None:
        self.port = port
        self.status = status
        self.slow_first = slow_first
        self.ids: list[str] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", "0")))
                delivery_id = self.headers["x-webhook-id"]
                with receiver._lock:
                    receiver.ids.append(delivery_id)
                    seen = receiver.ids.count(delivery_id)
                if seen <= receiver.slow_first:
                    time.sleep(SLOW_SECONDS)
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


@pytest.fixture
def receivers() -> Iterator[list[ScriptedReceiver]]:
    started: list[ScriptedReceiver] = []
    yield started
    for receiver in started:
        receiver.stop()


def deliveries(database: Database, task_id: str) -> list[WebhookDelivery]:
    with database.session() as session:
        return list(
            session.scalars(
                select(WebhookDelivery)
                .where(WebhookDelivery.task_id == uuid.UUID(task_id))
                .order_by(WebhookDelivery.event)
            )
        )


def attempt_log(database: Database, delivery_id: uuid.UUID) -> list[tuple[int, int | None, str]]:
    """Return (attempt, status code, error class) per recorded attempt of one delivery."""
    with database.session() as session:
        rows = session.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id == delivery_id)
            .order_by(WebhookAttempt.attempt)
        )
        return [(a.attempt, a.status_code, (a.error or "").split(":")[0]) for a in rows]


def settled(database: Database, task_id: str) -> list[WebhookDelivery] | None:
    rows = deliveries(database, task_id)
    if len(rows) == 2 and all(row.state != "pending" for row in rows):
        return rows
    return None


@pytest.mark.timeout(300)
def test_receiver_down_slow_or_failing(
    fault_env: dict[str, str],
    log_dir: Path,
    children: list[ChildProcess],
    receivers: list[ScriptedReceiver],
    results: ResultsLog,
) -> None:
    env = {
        **fault_env,
        "WEBHOOK_MAX_RETRIES": str(MAX_RETRIES),
        "WEBHOOK_RETRY_BASE_SECONDS": "0.2",
        "WEBHOOK_TIMEOUT_SECONDS": str(TIMEOUT_SECONDS),
    }
    api, base_url = start_api(env, log_dir)
    children.append(api)
    children.append(start_worker_with_beat(env, log_dir, f"beat-{uuid.uuid4().hex[:6]}"))
    key = create_account(base_url)
    database = Database(settings_from(env))

    down = ScriptedReceiver(free_port())
    slow = ScriptedReceiver(free_port(), slow_first=2)
    broken = ScriptedReceiver(free_port(), status=500)
    for receiver in (slow, broken):
        receiver.start()
        receivers.append(receiver)

    task_ids = {}
    for name, receiver in (("down", down), ("slow", slow), ("broken", broken)):
        response = httpx.post(
            f"{base_url}/v1/tasks",
            data={
                "query": f"What causes the tides? ({name} receiver)",
                "profile": "notes",
                "webhook": json.dumps({"url": receiver.url}),
            },
            headers={"X-API-Key": key},
            timeout=30,
        )
        assert response.status_code == 202, response.text
        task_ids[name] = response.json()["task_id"]

    # The down receiver comes up only after both of its deliveries failed once.
    wait_until(
        lambda: (
            len(rows := deliveries(database, task_ids["down"])) == 2
            and all(row.attempts >= 1 for row in rows)
        ),
        timeout=60,
        interval=0.2,
        what="first failed attempts to the down receiver",
    )
    down.start()
    receivers.append(down)

    started = time.monotonic()
    settled_rows = {
        name: wait_until(
            lambda task_id=task_id: settled(database, task_id),
            timeout=120,
            interval=0.5,
            what=f"{name} deliveries settled",
        )
        for name, task_id in task_ids.items()
    }
    settle_seconds = time.monotonic() - started
    bodies = {
        name: httpx.get(
            f"{base_url}/v1/tasks/{task_id}", headers={"X-API-Key": key}, timeout=30
        ).json()
        for name, task_id in task_ids.items()
    }
    logs = {
        name: [attempt_log(database, row.id) for row in rows] for name, rows in settled_rows.items()
    }
    database.dispose()

    failed_deliveries = sum(row.state == "failed" for rows in settled_rows.values() for row in rows)
    results.record(
        "webhook-receiver-faults",
        fault="Webhook receivers down then up, slow then fast, always HTTP 500",
        load=f"3 tasks, 2 deliveries each; WEBHOOK_MAX_RETRIES={MAX_RETRIES}",
        accepted=3,
        completed=sum(body["status"] == "SUCCESS" for body in bodies.values()),
        lost=3 - sum(body["status"] == "SUCCESS" for body in bodies.values()),
        duplicated=0,
        client_errors=0,
        delivered=6 - failed_deliveries,
        failed_deliveries=failed_deliveries,
        settle_seconds=round(settle_seconds, 1),
        command="uv run pytest tests/reliability/test_webhook_receiver_faults.py",
    )

    for name, body in bodies.items():
        assert body["status"] == "SUCCESS", (name, body["error"])
        assert body["error"] == "", name

    # Down then up: connection errors, then one delivery with the same id.
    for row, log in zip(settled_rows["down"], logs["down"], strict=True):
        assert row.state == "delivered", log
        assert log[-1][1:] == (200, "")
        assert len(log) >= 2
        assert {error for _, _, error in log[:-1]} == {"ConnectError"}
        assert down.ids.count(str(row.id)) == 1
    assert set(down.ids) == {str(row.id) for row in settled_rows["down"]}

    # Slow then fast: two timeouts, then success, and the receiver got the same id 3 times.
    for row, log in zip(settled_rows["slow"], logs["slow"], strict=True):
        assert row.state == "delivered", log
        assert log == [(1, None, "ReadTimeout"), (2, None, "ReadTimeout"), (3, 200, "")]
        assert slow.ids.count(str(row.id)) == 3
    assert len(slow.ids) == 6

    # Never recovers: a failed row after the first attempt and every retry.
    for row, log in zip(settled_rows["broken"], logs["broken"], strict=True):
        assert row.state == "failed"
        assert row.attempts == MAX_RETRIES + 1
        assert row.last_status_code == 500
        assert row.last_error == "HTTP 500"
        assert log == [(n, 500, "HTTP 500") for n in range(1, MAX_RETRIES + 2)]
        assert broken.ids.count(str(row.id)) == MAX_RETRIES + 1
    assert failed_deliveries == 2
