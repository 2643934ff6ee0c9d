"""The runner's exactly-once rules and the outbox, on real PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from gl_deep_research.auth.verifier import MASTER
from gl_deep_research.db.database import Database
from gl_deep_research.db.models import Profile, Task
from gl_deep_research.profiles.registry import read_profiles_file
from gl_deep_research.runtime import Runtime, build_runtime
from gl_deep_research.settings import Settings
from tests.service.support import REPO_ROOT

pytestmark = pytest.mark.services


class FailingDispatcher:
    name = "failing"

    def __init__(self) -> None:
        self.calls = 0

    def enqueue(self, task_id: uuid.UUID) -> None:
        self.calls += 1
        raise ConnectionError("broker unreachable")

    def close(self) -> None:
        return None


class RecordingDispatcher:
    name = "recording"

    def __init__(self) -> None:
        self.sent: list[uuid.UUID] = []

    def enqueue(self, task_id: uuid.UUID) -> None:
        self.sent.append(task_id)

    def close(self) -> None:
        return None


@pytest.fixture
def runtime(session_settings: Settings, clean_database: Database) -> Iterator[Runtime]:
    active = build_runtime(session_settings, role="worker")
    active.profiles.sync_file(read_profiles_file(REPO_ROOT / "profiles.yaml"))
    yield active
    active.close()


def load(runtime: Runtime, task_id: uuid.UUID) -> Task:
    with runtime.database.session() as session:
        return session.scalars(select(Task).where(Task.id == task_id)).one()


def test_finished_task_is_not_run_again(runtime: Runtime) -> None:
    runtime.tasks._dispatcher = RecordingDispatcher()
    task = runtime.tasks.create_task(MASTER, "Who was Ada Lovelace?", "local-brief")
    assert runtime.runner.execute(task.id) == "SUCCESS"
    first = load(runtime, task.id)

    # A redelivered message for the same task finds it finished and skips it.
    assert runtime.runner.execute(task.id) is None
    again = load(runtime, task.id)
    assert again.attempts == 1
    assert again.completed_at == first.completed_at
    assert again.result == first.result


def test_interrupted_task_gives_up_after_max_retries(runtime: Runtime) -> None:
    runtime.tasks._dispatcher = RecordingDispatcher()
    task = runtime.tasks.create_task(MASTER, "Who was Ada Lovelace?", "local-brief")
    max_attempts = runtime.settings.task_max_retries + 1
    with runtime.database.session() as session:
        session.execute(
            update(Task).where(Task.id == task.id).values(status="STARTED", attempts=max_attempts)
        )
    assert runtime.runner.execute(task.id) is None
    failed = load(runtime, task.id)
    assert failed.status == "FAILURE"
    assert "TASK_MAX_RETRIES=3" in failed.error
    assert failed.attempts == max_attempts


def test_revoked_task_keeps_its_status(runtime: Runtime) -> None:
    runtime.tasks._dispatcher = RecordingDispatcher()
    task = runtime.tasks.create_task(MASTER, "Who was Ada Lovelace?", "local-brief")
    with runtime.database.session() as session:
        session.execute(
            update(Task).where(Task.id == task.id).values(status="REVOKED", cancel_requested=True)
        )
    assert runtime.runner.execute(task.id) is None
    assert load(runtime, task.id).status == "REVOKED"


def test_failed_enqueue_is_retried_by_outbox(runtime: Runtime) -> None:
    failing = FailingDispatcher()
    runtime.tasks._dispatcher = failing
    task = runtime.tasks.create_task(MASTER, "What is photosynthesis?")
    assert failing.calls == 1
    stored = load(runtime, task.id)
    assert stored.status == "PENDING"
    assert stored.enqueued_at is None

    recording = RecordingDispatcher()
    runtime.tasks._dispatcher = recording
    assert runtime.tasks.enqueue_pending(older_than=__import__("datetime").timedelta(0)) == 1
    assert recording.sent == [task.id]
    assert load(runtime, task.id).enqueued_at is not None


def test_unknown_engine_fails_task_with_reason(runtime: Runtime) -> None:
    runtime.tasks._dispatcher = RecordingDispatcher()
    task = runtime.tasks.create_task(MASTER, "What is photosynthesis?")
    with runtime.database.session() as session:
        session.execute(update(Task).where(Task.id == task.id).values(provider="nonexistent"))
    assert runtime.runner.execute(task.id) == "FAILURE"
    failed = load(runtime, task.id)
    assert "No research engine is registered for provider 'nonexistent'" in failed.error


def test_events_reach_redis_stream(runtime: Runtime) -> None:
    runtime.tasks._dispatcher = RecordingDispatcher()
    task = runtime.tasks.create_task(MASTER, "Who was Ada Lovelace?", "local-brief")
    runtime.runner.execute(task.id)
    events = asyncio.run(runtime.events.read(str(task.id), "0-0", block_ms=0))
    types = [event.type for event in events]
    assert runtime.events.name == "redis"
    assert types[0] == "status"
    assert types[-3:] == ["result", "status", "done"]
    assert all(event.payload["task_id"] == str(task.id) for event in events)


def test_concurrent_profile_sync_retries(
    session_settings: Settings, clean_database: Database
) -> None:
    """A replica whose insert of a file profile loses the race retries and updates the row."""
    profiles_file = read_profiles_file(REPO_ROOT / "profiles.yaml")
    catalog = build_runtime(session_settings, role="api").profiles
    rival = Database(session_settings)
    raced = []

    def insert_first(session: Any, *_: Any) -> None:
        # Another replica commits the same profile between this one's read and its insert.
        if raced:
            return
        raced.append(True)
        with rival.session() as other:
            other.add(Profile(name="local", provider="local", params={}, source="file"))

    event.listen(Session, "before_flush", insert_first)
    try:
        catalog.sync_file(profiles_file)
    finally:
        event.remove(Session, "before_flush", insert_first)
        rival.dispose()
    assert raced == [True]
    with clean_database.session() as session:
        row = session.get(Profile, "local")
    assert row is not None
    assert row.params == profiles_file.profiles["local"].params
