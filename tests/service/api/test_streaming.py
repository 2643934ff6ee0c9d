"""Streams: heartbeats, headers, resume, no held connection, disconnects, Redis down."""

from __future__ import annotations

import json
import os
import re
import socket
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import redis

from gl_deep_research.db.database import Database
from gl_deep_research.db.models import Task
from gl_deep_research.events.publisher import EventPublisher
from gl_deep_research.events.redis_store import RedisEventStore
from gl_deep_research.events.store import StoredEvent
from gl_deep_research.settings import Settings
from gl_deep_research.tasks.stream import renumber_after
from tests.service.api.conftest import Stack, create_account, wait_for_status
from tests.service.support import free_port, parse_sse, start_api, wait_until

pytestmark = pytest.mark.services


def metric(base_url: str, name: str) -> float:
    text = httpx.get(f"{base_url}/metrics").text
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    assert match is not None, f"{name} missing from /metrics"
    return float(match.group(1))


def pending_task(base_url: str) -> tuple[str, dict[str, str]]:
    _, key = create_account(base_url, "stream")
    headers = {"X-API-Key": key}
    response = httpx.post(f"{base_url}/v1/tasks", data={"query": "Q?"}, headers=headers)
    return str(response.json()["task_id"]), headers


def test_idle_stream_pings_without_connection(idle_api: str) -> None:
    task_id, headers = pending_task(idle_api)
    pings = 0
    with httpx.stream(
        "GET", f"{idle_api}/v1/tasks/{task_id}/stream", headers=headers, timeout=10
    ) as response:
        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-cache"
        assert response.headers["x-accel-buffering"] == "no"
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith(": ping"):
                pings += 1
                # Checked while the stream waits for events between heartbeats.
                assert metric(idle_api, "gldr_db_pool_checked_out") == 0.0
                assert metric(idle_api, "gldr_stream_connections") == 1.0
            if pings == 3:
                break
    assert pings == 3

    # The client went away: the server notices within a heartbeat or two.
    wait_until(
        lambda: metric(idle_api, "gldr_stream_connections") == 0.0,
        timeout=5,
        what="stream closed on the server",
    )


def test_history_then_resume(stack: Stack) -> None:
    key = stack.new_account("resume")
    headers = {"X-API-Key": key}
    task_id = httpx.post(
        f"{stack.base_url}/v1/tasks",
        data={"query": "What is OPEC?", "profile": "fast"},
        headers=headers,
    ).json()["task_id"]
    wait_for_status(stack.base_url, key, task_id, {"SUCCESS"})
    url = f"{stack.base_url}/v1/tasks/{task_id}/stream"

    full = parse_sse(httpx.get(url, headers=headers, timeout=30).text)
    assert full[0]["event"] == "status"
    assert full[-1]["event"] == "done"
    ids = [message["id"] for message in full]
    assert ids == sorted(ids, key=lambda value: tuple(int(p) for p in value.split("-")))

    # The events live in REDIS_DB=7 and expire DEFAULT_STREAM_REDIS_CACHE_TTL (86,400 s)
    # after the last write.
    client = redis.Redis(
        host=stack.env["REDIS_HOST"],
        port=int(stack.env["REDIS_PORT"]),
        db=int(stack.env["REDIS_DB"]),
    )
    assert stack.env["REDIS_DB"] == "7"
    assert 86_000 < client.ttl(f"gldr:events:{task_id}") <= 86_400
    client.close()

    for index in (0, len(full) // 2, len(full) - 2):
        resumed = parse_sse(
            httpx.get(url, headers={**headers, "Last-Event-ID": full[index]["id"]}, timeout=30).text
        )
        assert resumed == full[index + 1 :]


@pytest.mark.parametrize("value", ["abc", "1-", "-1", "1.5-0"])
def test_malformed_last_event_id_is_400(idle_api: str, value: str) -> None:
    task_id, headers = pending_task(idle_api)
    response = httpx.get(
        f"{idle_api}/v1/tasks/{task_id}/stream", headers={**headers, "Last-Event-ID": value}
    )
    assert response.status_code == 400
    assert "Last-Event-ID" in response.json()["detail"]


def test_expired_events_come_from_row(stack: Stack, database: Database) -> None:
    account_id, key = stack.new_account_with_id("expired")
    moment = datetime(2026, 3, 1, tzinfo=UTC)
    task = Task(
        id=uuid.uuid4(),
        account_id=uuid.UUID(account_id),
        account_key=account_id,
        query="Old question?",
        profile="local",
        provider="local",
        params={},
        status="SUCCESS",
        result="# Old report",
        error="",
        attempts=1,
        cancel_requested=False,
        created_at=moment,
        enqueued_at=moment,
        started_at=moment,
        completed_at=moment,
    )
    with database.session() as session:
        session.add(task)

    stream = httpx.get(
        f"{stack.base_url}/v1/tasks/{task.id}/stream", headers={"X-API-Key": key}, timeout=30
    )
    messages = parse_sse(stream.text)
    assert [message["event"] for message in messages] == ["status", "result", "done"]
    assert json.loads(messages[1]["data"])["data"] == {"result": "# Old report"}
    assert json.loads(messages[2]["data"])["data"] == {"status": "SUCCESS"}


def entry_id(value: str) -> tuple[int, int]:
    milliseconds, _, sequence = value.partition("-")
    return int(milliseconds), int(sequence)


def insert_finished_task(database: Database, account_id: str, moment: datetime) -> Task:
    """Insert a successful task that has no event stream, as if its events expired."""
    task = Task(
        id=uuid.uuid4(),
        account_id=uuid.UUID(account_id),
        account_key=account_id,
        query="Old question?",
        profile="local",
        provider="local",
        params={},
        status="SUCCESS",
        result="# Old report",
        error="",
        attempts=1,
        cancel_requested=False,
        created_at=moment,
        enqueued_at=moment,
        started_at=moment,
        completed_at=moment,
    )
    with database.session() as session:
        session.add(task)
    return task


def test_resume_after_done_is_204(stack: Stack) -> None:
    key = stack.new_account("resumedone")
    headers = {"X-API-Key": key}
    task_id = httpx.post(
        f"{stack.base_url}/v1/tasks",
        data={"query": "What is OPEC?", "profile": "fast"},
        headers=headers,
    ).json()["task_id"]
    wait_for_status(stack.base_url, key, task_id, {"SUCCESS"})
    url = f"{stack.base_url}/v1/tasks/{task_id}/stream"
    full = parse_sse(httpx.get(url, headers=headers, timeout=30).text)
    done_id = full[-1]["id"]
    assert full[-1]["event"] == "done"

    milliseconds, sequence = entry_id(done_id)
    for last_event_id in (done_id, f"{milliseconds}-{sequence + 1}", f"{milliseconds + 1}-0"):
        started = time.monotonic()
        response = httpx.get(url, headers={**headers, "Last-Event-ID": last_event_id}, timeout=30)
        assert response.status_code == 204, last_event_id
        assert response.text == ""
        # Without the check the stream waited two 5 s read windows, then replayed.
        assert time.monotonic() - started < 3, last_event_id


def test_row_events_resume_without_repeats(stack: Stack, database: Database) -> None:
    account_id, key = stack.new_account_with_id("rowresume")
    task = insert_finished_task(database, account_id, datetime(2026, 3, 2, tzinfo=UTC))
    url = f"{stack.base_url}/v1/tasks/{task.id}/stream"
    headers = {"X-API-Key": key}
    built = parse_sse(httpx.get(url, headers=headers, timeout=30).text)
    assert [message["event"] for message in built] == ["status", "result", "done"]

    # The client received `status` only: the rest follows, with the same ids.
    after_status = httpx.get(url, headers={**headers, "Last-Event-ID": built[0]["id"]}, timeout=30)
    resumed = parse_sse(after_status.text)
    # The events are built per stream, so only their timestamps may differ.
    assert [(message["id"], message["event"]) for message in resumed] == [
        (message["id"], message["event"]) for message in built[1:]
    ]

    after_done = httpx.get(url, headers={**headers, "Last-Event-ID": built[2]["id"]}, timeout=30)
    assert after_done.status_code == 204


def test_row_events_after_older_id(stack: Stack, database: Database) -> None:
    account_id, key = stack.new_account_with_id("rowlater")
    moment = datetime(2026, 3, 3, tzinfo=UTC)
    task = insert_finished_task(database, account_id, moment)
    # A progress event id the client received before the task finished, from a
    # stream entry that expired since, with a lower time than the row's.
    earlier = f"{int(moment.timestamp() * 1000) - 5000}-7"
    response = httpx.get(
        f"{stack.base_url}/v1/tasks/{task.id}/stream",
        headers={"X-API-Key": key, "Last-Event-ID": earlier},
        timeout=30,
    )
    messages = parse_sse(response.text)
    assert [message["event"] for message in messages] == ["status", "result", "done"]
    assert all(entry_id(message["id"]) > entry_id(earlier) for message in messages)


def test_renumber_after_keeps_ids_rising() -> None:
    events = [
        StoredEvent(id=f"1000-{sequence}", type=event_type, payload={})
        for sequence, event_type in enumerate(["status", "result", "done"])
    ]
    assert renumber_after(events, None) == events
    assert renumber_after(events, "999-5") == events
    assert renumber_after(events, "1000-0") == events[1:]
    assert renumber_after(events, "1000-2") == []
    renumbered = renumber_after(events, "2000-4")
    assert [event.id for event in renumbered] == ["2000-5", "2000-6", "2000-7"]
    assert [event.type for event in renumbered] == ["status", "result", "done"]


def test_redis_down_streams_503_rest_works(
    start_api_with: Callable[[dict[str, str]], str],
) -> None:
    # Nothing listens on a port that was just free, so every Redis call fails.
    base_url = start_api_with({"REDIS_PORT": str(free_port())})
    task_id, headers = pending_task(base_url)
    assert httpx.get(f"{base_url}/v1/tasks/{task_id}", headers=headers).status_code == 200

    response = httpx.get(f"{base_url}/v1/tasks/{task_id}/stream", headers=headers)
    assert response.status_code == 503
    assert response.json()["detail"].startswith(
        "Event streaming is temporarily unavailable because the event store (Redis) cannot "
        "be reached"
    )
    group = httpx.post(f"{base_url}/v1/taskgroups", headers=headers).json()["taskgroup_id"]
    group_stream = httpx.get(f"{base_url}/v1/taskgroups/{group}/stream", headers=headers)
    assert group_stream.status_code == 503

    ready = httpx.get(f"{base_url}/health/ready")
    assert ready.status_code == 503
    assert ready.json()["failed"] == ["events"]
    assert ready.json()["checks"]["database"] == "ok"
    assert ready.json()["checks"]["broker"] == "ok"


def test_queue_depth_counts_waiting_tasks(idle_api: str) -> None:
    before = metric_or_zero(idle_api, "gldr_queue_depth")
    pending_task(idle_api)
    pending_task(idle_api)
    after = wait_until(
        lambda: metric_or_zero(idle_api, "gldr_queue_depth") or None,
        timeout=10,
        what="queue depth",
    )
    assert after == before + 2


def metric_or_zero(base_url: str, name: str) -> float:
    text = httpx.get(f"{base_url}/metrics").text
    match = re.search(rf"^{re.escape(name)}\{{[^}}]*\}} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def test_streams_share_one_reader(
    session_env: dict[str, str], session_settings: Settings, log_dir: Path
) -> None:
    env = {
        **os.environ,
        **session_env,
        "CELERY_QUEUE_NAME": f"idle_{uuid.uuid4().hex[:8]}",
        "STREAM_HEARTBEAT_SECONDS": "1",
    }
    api, base_url = start_api(env, log_dir)
    store = RedisEventStore(session_settings)
    try:
        _, key = create_account(base_url, "shared")
        headers = {"X-API-Key": key}
        task_ids = [
            httpx.post(f"{base_url}/v1/tasks", data={"query": "Q?"}, headers=headers).json()[
                "task_id"
            ]
            for _ in range(3)
        ]
        followed = [task_id for task_id in task_ids for _ in range(4)]

        def read_stream(task_id: str) -> list[dict[str, str]]:
            url = f"{base_url}/v1/tasks/{task_id}/stream"
            return parse_sse(httpx.get(url, headers=headers, timeout=60).text)

        with ThreadPoolExecutor(max_workers=len(followed)) as pool:
            streams = [pool.submit(read_stream, task_id) for task_id in followed]
            wait_until(
                lambda: metric(base_url, "gldr_stream_connections") == len(followed),
                timeout=30,
                what="12 open streams",
            )
            reader_name = f"gldr-stream-reader:{socket.gethostname()}:{api.process.pid}"
            client = redis.Redis(host=session_settings.redis_host, port=session_settings.redis_port)
            readers = [item for item in client.client_list() if item["name"] == reader_name]
            client.close()

            publisher = EventPublisher(store)
            for number in range(5):
                for task_id in task_ids:
                    publisher.append(task_id, None, "progress", {"n": number})
            for task_id in task_ids:
                publisher.append(task_id, None, "done", {"status": "SUCCESS"})
            results = [stream.result() for stream in streams]
    finally:
        store.close()
        api.stop()

    assert len(readers) == 1
    for task_id, messages in zip(followed, results, strict=True):
        payloads = [json.loads(message["data"]) for message in messages]
        assert {payload["task_id"] for payload in payloads} == {task_id}
        numbers = [payload["data"]["n"] for payload in payloads if payload["type"] == "progress"]
        assert numbers == [0, 1, 2, 3, 4]
        assert messages[-1]["event"] == "done"
