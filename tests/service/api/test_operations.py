"""Operations: readiness, metrics on API and worker, JSON logs, Sentry, cleanup, beat."""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest
import sentry_sdk
from celery.schedules import crontab
from sqlalchemy import func, select, text

from gl_deep_research.db.database import Database
from gl_deep_research.db.migrate import upgrade_database
from gl_deep_research.db.models import Task, TaskGroup, WebhookDelivery
from gl_deep_research.sentry import init_sentry
from gl_deep_research.settings import ConfigurationError, Settings, load_settings
from gl_deep_research.tasks.cleanup import cleanup_tables
from gl_deep_research.worker.schedule import WEBHOOK_SWEEP_SECONDS, beat_schedule
from tests.service.api.conftest import Stack, wait_for_status
from tests.service.support import free_port, wait_until


def sample(metrics_text: str, name: str, labels: str = "") -> float | None:
    pattern = rf"^{re.escape(name)}{re.escape(labels)} (\S+)$"
    match = re.search(pattern, metrics_text, re.MULTILINE)
    return float(match.group(1)) if match else None


@pytest.mark.services
def test_ready_when_all_dependencies_answer(stack: Stack) -> None:
    response = httpx.get(f"{stack.base_url}/health/ready")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "events": "ok", "broker": "ok"},
    }
    assert httpx.get(f"{stack.base_url}/health").json() == {"status": "ok"}


@pytest.mark.services
def test_ready_names_failed_broker(start_api_with: Callable[[dict[str, str]], str]) -> None:
    # Nothing listens on a port that was just free, so the broker check fails.
    broker_url = f"amqp://guest:guest@127.0.0.1:{free_port()}//"
    base_url = start_api_with({"CELERY_BROKER_URL": broker_url})
    response = httpx.get(f"{base_url}/health/ready", timeout=30)
    assert response.status_code == 503
    assert response.json()["failed"] == ["broker"]
    assert response.json()["checks"]["broker"].startswith("broker connection failed")


@pytest.mark.services
@pytest.mark.slow
def test_metrics_on_api_and_worker(stack: Stack) -> None:
    key = stack.new_account("metrics")
    headers = {"X-API-Key": key}
    task_id = httpx.post(
        f"{stack.base_url}/v1/tasks",
        data={"query": "What is OPEC?", "profile": "fast"},
        headers=headers,
    ).json()["task_id"]
    wait_for_status(stack.base_url, key, task_id, {"SUCCESS"})
    httpx.get(f"{stack.base_url}/v1/tasks/{task_id}", headers=headers)

    api_text = httpx.get(f"{stack.base_url}/metrics").text
    labels = '{method="GET",route="/v1/tasks/{task_id}",status="200"}'
    assert (sample(api_text, "gldr_http_requests_total", labels) or 0) >= 1
    assert "gldr_http_request_duration_seconds_bucket" in api_text
    assert (sample(api_text, "gldr_tasks", '{status="SUCCESS"}') or 0) >= 1
    # DB_POOL_SIZE=7 in the test stack.
    assert sample(api_text, "gldr_db_pool_size") == 7.0
    assert sample(api_text, "gldr_stream_connections") is not None
    assert task_id not in api_text

    def worker_counts() -> str | None:
        body = httpx.get(stack.worker_metrics_url).text
        runs = sample(body, "gldr_worker_task_runs_total", '{status="SUCCESS"}')
        return body if runs and runs >= 1 else None

    worker_text = wait_until(worker_counts, timeout=20, what="worker metrics")
    assert "gldr_worker_task_run_seconds_bucket" in worker_text


@pytest.mark.services
def test_json_logs_carry_request_and_task_ids(stack: Stack) -> None:
    key = stack.new_account("logs")
    request_id = f"req-{uuid.uuid4().hex[:12]}"
    task_id = httpx.post(
        f"{stack.base_url}/v1/tasks",
        data={"query": "What is OPEC?", "profile": "fast"},
        headers={"X-API-Key": key, "X-Request-ID": request_id},
    ).json()["task_id"]
    wait_for_status(stack.base_url, key, task_id, {"SUCCESS"})

    api_lines = [
        json.loads(line)
        for line in stack.api.log_text().splitlines()
        if line.startswith("{") and request_id in line
    ]
    assert any(line["message"] == f"Accepted task {task_id} (profile fast)" for line in api_lines)
    assert all(line["request_id"] == request_id for line in api_lines)

    def worker_lines() -> list[dict[str, object]] | None:
        lines = [
            json.loads(line)
            for line in stack.worker.log_text().splitlines()
            if line.startswith("{") and f"Task {task_id} succeeded" in line
        ]
        return lines or None

    [line] = wait_until(worker_lines, timeout=20, what="worker log line")
    assert line["task_id"] == task_id
    assert line["level"] == "INFO"
    assert key not in stack.api.log_text()
    assert key not in stack.worker.log_text()


@pytest.mark.unit
def test_sentry_off_without_dsn() -> None:
    assert init_sentry(Settings(sentry_dsn=None), role="api") is False
    assert sentry_sdk.get_client().is_active() is False


@pytest.mark.unit
def test_sentry_tags_environment_and_project() -> None:
    # Nothing listens on this loopback port, and no event is captured anyway.
    dsn = f"http://public@127.0.0.1:{free_port()}/1"
    settings = Settings(sentry_dsn=dsn, environment="staging", sentry_project="gldr-test")
    try:
        assert init_sentry(settings, role="worker") is True
        client = sentry_sdk.get_client()
        assert client.is_active() is True
        assert client.options["environment"] == "staging"
        tags = sentry_sdk.get_isolation_scope()._tags
        assert tags["project"] == "gldr-test"
        assert tags["role"] == "worker"
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.init(dsn=None)


@pytest.mark.unit
def test_beat_schedule_from_settings() -> None:
    schedule = beat_schedule(Settings(table_cleanup_schedule="15 4 * * 1", celery_queue_name="q"))
    cleanup = schedule["cleanup-tables"]
    assert cleanup["task"] == "gl_deep_research.cleanup_tables"
    assert cleanup["schedule"] == crontab(minute="15", hour="4", day_of_week="1")
    assert cleanup["options"] == {"queue": "q"}
    assert schedule["send-webhooks"]["schedule"] == WEBHOOK_SWEEP_SECONDS

    disabled = beat_schedule(Settings(table_cleanup_enabled=False))
    assert "cleanup-tables" not in disabled


@pytest.mark.unit
@pytest.mark.parametrize("value", ["0 3 * *", "every day", "61 3 * * *"])
def test_invalid_cleanup_schedule_is_rejected(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("TABLE_CLEANUP_SCHEDULE", value)
    with pytest.raises(ConfigurationError, match="TABLE_CLEANUP_SCHEDULE"):
        beat_schedule(load_settings())


def add_finished(database: Database, completed: datetime, group: TaskGroup | None = None) -> Task:
    task = Task(
        id=uuid.uuid4(),
        account_key="master",
        taskgroup_id=group.id if group else None,
        query="old?",
        profile="local",
        provider="local",
        params={},
        status="SUCCESS",
        error="",
        attempts=1,
        cancel_requested=False,
        created_at=completed,
        enqueued_at=completed,
        completed_at=completed,
    )
    if group is not None:
        with database.session() as session:
            session.merge(group)
    with database.session() as session:
        session.add(task)
    return task


@pytest.fixture
def fresh_database(service_urls: dict[str, str]) -> Iterator[Database]:
    """A database of its own, because cleanup counts rows across whole tables."""
    admin_url = service_urls["GL_DEEP_RESEARCH_DB_URL"]
    name = f"gldr_cleanup_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    settings = Settings(gl_deep_research_db_url=admin_url.rsplit("/", 1)[0] + "/" + name)
    upgrade_database(settings)
    database = Database(settings)
    yield database
    database.dispose()
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.services
def test_cleanup_removes_only_old_finished_rows(fresh_database: Database) -> None:
    database = fresh_database
    now = datetime.now(UTC)
    old = now - timedelta(days=40)
    old_task = add_finished(database, old)
    new_task = add_finished(database, now)
    old_group = TaskGroup(id=uuid.uuid4(), created_at=old, updated_at=old)
    add_finished(database, old, old_group)
    add_finished(database, old, old_group)
    mixed_group = TaskGroup(id=uuid.uuid4(), created_at=old, updated_at=old)
    add_finished(database, old, mixed_group)
    add_finished(database, now, mixed_group)
    with database.session() as session:
        for state, created in (
            ("delivered", old),
            ("failed", old),
            ("pending", old),
            ("delivered", now),
        ):
            session.add(
                WebhookDelivery(
                    id=uuid.uuid4(),
                    task_id=new_task.id,
                    url="http://127.0.0.1:9/",
                    event="task.SUCCESS",
                    payload={},
                    state=state,
                    attempts=1,
                    next_attempt_at=created,
                    created_at=created,
                )
            )
        session.execute(
            text(
                "CREATE TABLE IF NOT EXISTS celery_taskmeta "
                "(id SERIAL PRIMARY KEY, task_id VARCHAR(155), date_done TIMESTAMP)"
            )
        )
        for days in (40, 35, 1):
            session.execute(
                text("INSERT INTO celery_taskmeta (task_id, date_done) VALUES (:id, :done)"),
                {"id": uuid.uuid4().hex, "done": (now - timedelta(days=days)).replace(tzinfo=None)},
            )

    counts = cleanup_tables(database, retention_days=30, batch_size=1)
    assert counts == {
        "webhook_deliveries": 2,
        "tasks": 3,
        "task_groups": 1,
        "celery_taskmeta": 2,
    }
    with database.session() as session:
        remaining = set(session.scalars(select(Task.id)))
        assert old_task.id not in remaining
        assert new_task.id in remaining
        assert len(remaining) == 3
        assert session.scalar(select(func.count()).select_from(WebhookDelivery)) == 2
        assert session.scalar(select(TaskGroup.id)) == mixed_group.id
        assert session.scalar(text("SELECT count(*) FROM celery_taskmeta")) == 1


@pytest.mark.services
def test_cleanup_task_uses_retention(
    fresh_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gl_deep_research.worker import celery_app, process

    add_finished(fresh_database, datetime.now(UTC) - timedelta(days=40))
    monkeypatch.setenv("GL_DEEP_RESEARCH_DB_URL", fresh_database.url)
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    monkeypatch.delenv("REDIS_HOST", raising=False)
    for days, removed in (("50", 0), ("30", 1)):
        monkeypatch.setenv("TABLE_CLEANUP_RETENTION_DAYS", days)
        process.reset_worker_runtime()
        try:
            counts = celery_app.cleanup_tables.run()
        finally:
            process.worker_runtime().close()
            process.reset_worker_runtime()
        assert counts["tasks"] == removed, days


@pytest.mark.unit
def test_gldr_beat_runs_celery_beat() -> None:
    # After `--`, `--help` goes through to `celery beat`, which prints its options and exits.
    env = {**os.environ, "CELERY_BROKER_URL": "amqp://guest:guest@127.0.0.1:5672//"}
    result = subprocess.run(
        ["gldr", "beat", "--", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert "celery beat" in result.stdout
    assert "--schedule" in result.stdout
