"""Webhooks end to end: signed deliveries to a loopback receiver, retries and groups."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select

from gl_deep_research.db.database import Database
from gl_deep_research.db.models import WebhookAttempt, WebhookDelivery
from gl_deep_research.webhooks import verify_signature
from tests.service.api.conftest import Stack, wait_for_status
from tests.service.api.receiver import Received, Receiver
from tests.service.support import wait_until

pytestmark = [pytest.mark.services, pytest.mark.slow]

SECRET = "receiver-secret"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


def submit(stack: Stack, key: str, url: str, query: str = "What is OPEC?") -> str:
    response = httpx.post(
        f"{stack.base_url}/v1/tasks",
        data={
            "query": query,
            "profile": "fast",
            "webhook": json.dumps({"url": url, "secret": SECRET}),
        },
        headers={"X-API-Key": key},
    )
    assert response.status_code == 202, response.text
    return str(response.json()["task_id"])


def verified(request: Received) -> dict[str, object]:
    """Check the signature and timestamp of one delivery and return its JSON body."""
    timestamp = verify_signature(SECRET, request.body, request.headers["x-webhook-signature"])
    assert abs(time.time() - timestamp) < 120
    body: dict[str, object] = json.loads(request.body)
    return body


def test_task_webhooks_are_signed(stack: Stack, receiver: Receiver) -> None:
    key = stack.new_account("hook")
    task_id = submit(stack, key, receiver.url)
    wait_for_status(stack.base_url, key, task_id, {"SUCCESS"})

    requests = wait_until(
        lambda: receiver.snapshot() if len(receiver.snapshot()) >= 2 else None,
        timeout=30,
        what="two deliveries",
    )
    # Concurrent senders may deliver out of order, so sort by the event.
    requests = sorted(requests, key=lambda r: r.headers["x-webhook-event"] != "task.STARTED")
    bodies = [verified(request) for request in requests]
    assert [body["status"] for body in bodies] == ["STARTED", "SUCCESS"]
    assert [request.headers["x-webhook-event"] for request in requests] == [
        "task.STARTED",
        "task.SUCCESS",
    ]
    assert all(body["task_id"] == task_id for body in bodies)
    final = httpx.get(f"{stack.base_url}/v1/tasks/{task_id}", headers={"X-API-Key": key}).json()
    assert bodies[1] == final
    delivery_ids = {request.headers["x-webhook-id"] for request in requests}
    assert len(delivery_ids) == 2


def test_failed_attempts_retry_with_same_id(
    stack: Stack, receiver: Receiver, database: Database
) -> None:
    receiver.fail_first = 2
    key = stack.new_account("retry")
    task_id = submit(stack, key, receiver.url)
    wait_for_status(stack.base_url, key, task_id, {"SUCCESS"})

    def delivered() -> list[WebhookDelivery] | None:
        with database.session() as session:
            rows = list(
                session.scalars(
                    select(WebhookDelivery).where(WebhookDelivery.task_id == uuid.UUID(task_id))
                )
            )
        return rows if len(rows) == 2 and all(r.state == "delivered" for r in rows) else None

    rows = wait_until(delivered, timeout=60, interval=0.5, what="both deliveries delivered")
    requests = receiver.snapshot()
    for row in rows:
        attempts = [r for r in requests if r.headers["x-webhook-id"] == str(row.id)]
        assert len(attempts) == 3
        assert [r.headers["x-webhook-attempt"] for r in attempts] == ["1", "2", "3"]
        assert len({r.body for r in attempts}) == 1
        for attempt in attempts:
            verified(attempt)
        assert row.attempts == 3
        assert row.last_status_code == 200
        with database.session() as session:
            recorded = list(
                session.scalars(
                    select(WebhookAttempt)
                    .where(WebhookAttempt.delivery_id == row.id)
                    .order_by(WebhookAttempt.attempt)
                )
            )
        assert [(a.attempt, a.status_code, a.error) for a in recorded] == [
            (1, 500, "HTTP 500"),
            (2, 500, "HTTP 500"),
            (3, 200, None),
        ]


def test_final_failure_leaves_task_untouched(
    stack: Stack, receiver: Receiver, database: Database
) -> None:
    receiver.fail_first = 100
    key = stack.new_account("giveup")
    task_id = submit(stack, key, receiver.url)
    wait_for_status(stack.base_url, key, task_id, {"SUCCESS"})

    def failed() -> list[WebhookDelivery] | None:
        with database.session() as session:
            rows = list(
                session.scalars(
                    select(WebhookDelivery).where(WebhookDelivery.task_id == uuid.UUID(task_id))
                )
            )
        return rows if len(rows) == 2 and all(r.state == "failed" for r in rows) else None

    rows = wait_until(failed, timeout=90, interval=0.5, what="both deliveries failed")
    # WEBHOOK_MAX_RETRIES=3 in the test stack: one attempt and three retries.
    assert [row.attempts for row in rows] == [4, 4]
    body = httpx.get(f"{stack.base_url}/v1/tasks/{task_id}", headers={"X-API-Key": key}).json()
    assert body["status"] == "SUCCESS"
    assert body["error"] == ""
    assert "failed on attempt 4 of 4; no retries left" in stack.worker.log_text()


def test_redirect_to_metadata_is_rejected(
    stack: Stack, receiver: Receiver, database: Database
) -> None:
    receiver.redirect_to = "http://169.254.169.254/latest/meta-data/"
    key = stack.new_account("redirect")
    task_id = submit(stack, key, receiver.url)
    wait_for_status(stack.base_url, key, task_id, {"SUCCESS"})

    def attempts() -> list[WebhookAttempt] | None:
        with database.session() as session:
            rows = list(
                session.scalars(
                    select(WebhookAttempt)
                    .join(WebhookDelivery)
                    .where(WebhookDelivery.task_id == uuid.UUID(task_id))
                )
            )
        return rows or None

    recorded = wait_until(attempts, timeout=30, what="an attempt")
    assert recorded[0].url == "http://169.254.169.254/latest/meta-data/"
    assert recorded[0].status_code is None
    assert recorded[0].error is not None
    assert "a cloud metadata address" in recorded[0].error


def test_group_webhooks_on_transitions(stack: Stack, receiver: Receiver) -> None:
    key = stack.new_account("grouphook")
    headers = {"X-API-Key": key}
    created = httpx.post(
        f"{stack.base_url}/v1/taskgroups",
        data={
            "query": json.dumps(["Who was Marie Curie?", "What is OPEC?"]),
            "profile": "fast",
            "webhook": json.dumps({"url": receiver.url, "secret": SECRET}),
        },
        headers=headers,
    ).json()
    group_id = created["taskgroup_id"]

    def both_transitions() -> list[Received] | None:
        requests = receiver.snapshot()
        return requests if len(requests) >= 2 else None

    wait_until(both_transitions, timeout=90, interval=0.3, what="two group webhooks")
    # Concurrent senders may deliver out of order, so sort by the event.
    requests = sorted(
        receiver.snapshot(), key=lambda r: r.headers["x-webhook-event"] != "taskgroup.STARTED"
    )
    events = [r.headers["x-webhook-event"] for r in requests]
    assert events == ["taskgroup.STARTED", "taskgroup.SUCCESS"]
    bodies = [verified(request) for request in requests]
    assert bodies[0]["taskgroup_id"] == group_id
    assert bodies[1]["status"] == "SUCCESS"
    members = bodies[1]["tasks"]
    assert isinstance(members, list)
    assert [member["status"] for member in members] == ["SUCCESS", "SUCCESS"]
