"""Embedded mode: tasks accepted before `kill -9` of `gldr serve` finish after a restart."""

from __future__ import annotations

import logging
import os
import sqlite3
import subprocess
import uuid
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from gl_deep_research.api.app import create_app
from gl_deep_research.db.database import Database
from gl_deep_research.db.migrate import upgrade_database
from gl_deep_research.db.models import Task
from gl_deep_research.settings import Settings
from tests.service.support import REPO_ROOT, ChildProcess, free_port, parse_sse, wait_until

pytestmark = [pytest.mark.unit, pytest.mark.slow, pytest.mark.timeout(300)]

SERVICE_VARIABLES = ("GL_DEEP_RESEARCH_DB_URL", "REDIS_HOST", "CELERY_BROKER_URL")
MASTER_KEY = "embedded-restart-master-key"
HEADERS = {"X-API-Key": MASTER_KEY}
QUESTIONS = (
    "What caused the 1973 oil crisis, and how did it affect the world economy?",
    "Who painted the Mona Lisa?",
    "What was the Cold War and how did it end?",
)


def embedded_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARIABLES}
    env.update(
        {
            "GLDR_DATA_DIR": str(data_dir),
            "GL_DEEP_RESEARCH_MASTER_API_KEY": MASTER_KEY,
            "PROFILES_CONFIG_PATH": str(REPO_ROOT / "profiles.yaml"),
            # One thread, so that one task runs while the others wait in the queue.
            "WORKER_CONCURRENCY": "1",
        }
    )
    return env


def serve(env: dict[str, str], log_path: Path) -> tuple[ChildProcess, str]:
    port = free_port()
    argv = ["gldr", "serve", "--host", "127.0.0.1", "--port", str(port)]
    process = ChildProcess(argv, env, log_path)
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: httpx.get(f"{base_url}/health", timeout=1).status_code == 200,
            timeout=90,
            what="embedded API",
        )
    except TimeoutError:
        process.stop()
        raise AssertionError(f"API did not start:\n{process.log_text()[-3000:]}") from None
    return process, base_url


def task_status(base_url: str, task_id: str) -> str:
    response = httpx.get(f"{base_url}/v1/tasks/{task_id}", headers=HEADERS, timeout=5)
    return str(response.json()["status"])


def stored_tasks(data_dir: Path) -> dict[str, tuple[str, int]]:
    """Return status and attempts of each task, read from the SQLite file."""
    with sqlite3.connect(data_dir / "gldr.sqlite3") as connection:
        rows = connection.execute("SELECT id, status, attempts FROM tasks").fetchall()
    return {str(row[0]).replace("-", ""): (row[1], row[2]) for row in rows}


def stream_events(base_url: str, task_id: str) -> list[dict[str, str]]:
    with httpx.stream(
        "GET", f"{base_url}/v1/tasks/{task_id}/stream", headers=HEADERS, timeout=30
    ) as response:
        body = "".join(response.iter_text())
    return parse_sse(body)


def test_killed_server_tasks_finish_after_restart(tmp_path: Path) -> None:
    env = embedded_env(tmp_path / "data")
    first, base_url = serve(env, tmp_path / "first.log")
    try:
        task_ids = []
        for question in QUESTIONS:
            response = httpx.post(
                f"{base_url}/v1/tasks",
                data={"query": question, "profile": "local"},
                headers=HEADERS,
                timeout=10,
            )
            assert response.status_code == 202, response.text
            task_ids.append(str(response.json()["task_id"]))
        wait_until(
            lambda: task_status(base_url, task_ids[0]) == "STARTED", timeout=30, what="STARTED"
        )
    finally:
        first.kill()
        first.stop()

    before = stored_tasks(tmp_path / "data")
    statuses = [before[task_id.replace("-", "")][0] for task_id in task_ids]
    assert statuses[0] == "STARTED"
    assert statuses[1:] == ["PENDING", "PENDING"]

    second, base_url = serve(env, tmp_path / "second.log")
    try:
        for task_id in task_ids:
            wait_until(
                lambda task_id=task_id: task_status(base_url, task_id) == "SUCCESS",
                timeout=120,
                what=f"task {task_id} SUCCESS",
            )
        restart_events = [
            event
            for event in stream_events(base_url, task_ids[0])
            if event.get("event") == "activity" and '"restart"' in event["data"]
        ]
        pending_events = stream_events(base_url, task_ids[1])
    finally:
        second.stop()

    log = second.log_text()
    assert "Enqueued 3 unfinished tasks of a previous server process (1 of them" in log
    for task_id in task_ids:
        assert log.count(f"Task {task_id} succeeded") == 1
        assert f"Task {task_id} succeeded" not in first.log_text()
    after = stored_tasks(tmp_path / "data")
    assert after[task_ids[0].replace("-", "")] == ("SUCCESS", 2)
    assert after[task_ids[1].replace("-", "")] == ("SUCCESS", 1)
    assert after[task_ids[2].replace("-", "")] == ("SUCCESS", 1)
    assert len(restart_events) == 1
    pending_types = [event.get("event") for event in pending_events]
    assert "activity" in pending_types
    assert not any('"restart"' in event["data"] for event in pending_events)


def test_broker_mode_leaves_started_tasks(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # With a broker, Celery redelivers the message of a lost worker, so the API must not.
    settings = Settings(
        gldr_data_dir=tmp_path,
        celery_broker_url="amqp://guest:guest@127.0.0.1:1//",
        profiles_config_path=REPO_ROOT / "profiles.yaml",
    )
    upgrade_database(settings)
    database = Database(settings)
    task_id = uuid.uuid4()
    with database.session() as session:
        session.add(
            Task(
                id=task_id,
                account_key="master",
                query="Q?",
                profile="local",
                provider="local",
                params={},
                status="STARTED",
                attempts=1,
            )
        )
    with caplog.at_level(logging.INFO), TestClient(create_app(settings)):
        pass
    with database.session() as session:
        task = session.get(Task, task_id)
        assert task is not None
        assert task.status == "STARTED"
        assert task.attempts == 1
    database.dispose()
    assert "unfinished tasks of a previous server process" not in caplog.text


def test_serve_workers_need_broker(tmp_path: Path) -> None:
    result = subprocess.run(
        ["gldr", "serve", "--workers", "2", "--port", str(free_port())],
        env=embedded_env(tmp_path),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "--workers 2 needs CELERY_BROKER_URL" in result.stderr
    assert not (tmp_path / "gldr.sqlite3").exists()
