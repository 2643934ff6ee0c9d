"""Webhooks end to end: signed deliveries to a loopback receiver, retries and groups."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from gl_deep_research.db.database import Database
from gl_deep_research.db.models import WebhookAttempt, WebhookDelivery, utcnow
from gl_deep_research.settings import Settings
from gl_deep_research.webhooks import verify_signature
from gl_deep_research.webhooks.outbox import add_delivery
from gl_deep_research.webhooks.secrets import SecretBox
from gl_deep_research.webhooks.sender import WebhookSender
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


MALFORMED_URLS = [
    ("http://127.0.0.1:18438/x\r\nX-Injected: 1", "control or format character (U+000D)"),
    ("http://127.0.0.1:18438/a\x00b", "control or format character (U+0000)"),
    ("http://127.0.0.1:18438/a b", "whitespace (U+0020)"),
    ("http://127.0.0.1:0/x", "has the port 0, outside 1-65535"),
    ("http://127.0.0.1:70000/x", "Port out of range"),
    ("http://[::1/x", "Invalid IPv6 URL"),
    ("http://127.0.0.1/" + "a" * 3000, "more than the maximum of 2048"),
]


@pytest.mark.parametrize(("url", "problem"), MALFORMED_URLS)
def test_submit_rejects_malformed_webhook_url(stack: Stack, url: str, problem: str) -> None:
    key = stack.new_account("badurl")
    webhook = json.dumps({"url": url, "secret": SECRET})
    for path, query in (("tasks", "What is OPEC?"), ("taskgroups", json.dumps(["Q1?", "Q2?"]))):
        response = httpx.post(
            f"{stack.base_url}/v1/{path}",
            data={"query": query, "profile": "fast", "webhook": webhook},
            headers={"X-API-Key": key},
        )
        assert response.status_code == 400, (path, response.text)
        detail = response.json()["detail"]
        assert detail.startswith("Field 'webhook.url' must be an absolute http(s) URL, but ")
        assert repr(url[:100]) in detail
        assert problem in detail
        assert "Send a URL such as https://hooks.example.com/gldr" in detail
        assert len(detail) < 500


def test_stored_malformed_url_fails_once(
    receiver: Receiver, database: Database, session_settings: Settings
) -> None:
    # Rows queued before submit-time validation can hold such URLs. PostgreSQL text
    # cannot hold NUL, so the NUL case is covered by the unit tests only.
    bad_urls = ["http://127.0.0.1:18438/x\r\nX-Injected: 1", "http://[::1/x"]
    now = utcnow()
    with database.session() as session:
        bad_ids = []
        for offset, url in enumerate(bad_urls):
            row = add_delivery(session, url=url, encrypted_secret=None, event="t", payload={})
            row.next_attempt_at = now - timedelta(seconds=10 - offset)
            bad_ids.append(row.id)
        good_id = add_delivery(
            session, url=receiver.url, encrypted_secret=None, event="t", payload={"ok": 1}
        ).id

    # The stack's worker sweeps the same table, so it may claim some rows before
    # this sender does. Either way every row must end in its final state.
    sender = WebhookSender(session_settings, database, SecretBox(None))
    sender.send_due()

    def settled() -> dict[uuid.UUID, WebhookDelivery] | None:
        with database.session() as session:
            rows = {
                row.id: row
                for row in session.scalars(
                    select(WebhookDelivery).where(WebhookDelivery.id.in_([*bad_ids, good_id]))
                )
            }
        return rows if all(row.state != "pending" for row in rows.values()) else None

    rows = wait_until(settled, timeout=30, interval=0.3, what="three deliveries settled")
    for bad_id in bad_ids:
        assert rows[bad_id].state == "failed"
        assert rows[bad_id].attempts == 1
        assert rows[bad_id].last_error is not None
        assert rows[bad_id].last_error.startswith("The webhook URL ")
    assert rows[good_id].state == "delivered"
    assert [r.headers["x-webhook-id"] for r in receiver.snapshot()] == [str(good_id)]
    with database.session() as session:
        recorded = list(
            session.scalars(select(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(bad_ids)))
        )
    assert len(recorded) == 2
    assert all(attempt.status_code is None for attempt in recorded)
