"""The consumer heartbeat, its bootstep and GET /livez, without a broker."""

from __future__ import annotations

import json
import runpy
from collections.abc import Iterable
from types import SimpleNamespace
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest
from kombu.asynchronous.timer import Timer
from prometheus_client import CollectorRegistry, Counter

from gl_deep_research.worker import liveness
from gl_deep_research.worker.liveness import (
    ConsumerHeartbeat,
    ConsumerHeartbeatStep,
    heartbeat_interval,
)
from gl_deep_research.worker.metrics_server import worker_http_app
from tests.service.support import REPO_ROOT

pytestmark = pytest.mark.unit


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def call_app(app: Any, path: str) -> tuple[str, bytes]:
    environ: dict[str, Any] = {"PATH_INFO": path}
    setup_testing_defaults(environ)
    statuses = []

    def start_response(status: str, headers: list[tuple[str, str]], *_: Any) -> None:
        statuses.append(status)

    body: Iterable[bytes] = app(environ, start_response)
    return statuses[0], b"".join(body)


def test_livez_fresh_heartbeat_ok() -> None:
    clock = FakeClock()
    app = worker_http_app(CollectorRegistry(), ConsumerHeartbeat(clock), max_age_seconds=10)
    clock.now += 10
    status, body = call_app(app, "/livez")
    assert status == "200 OK"
    assert json.loads(body) == {
        "status": "ok",
        "heartbeat_age_seconds": 10,
        "max_age_seconds": 10,
    }


def test_livez_stale_heartbeat_503() -> None:
    clock = FakeClock()
    heartbeat = ConsumerHeartbeat(clock)
    app = worker_http_app(CollectorRegistry(), heartbeat, max_age_seconds=10)
    clock.now += 10.5
    status, body = call_app(app, "/livez")
    assert status == "503 Service Unavailable"
    assert json.loads(body)["status"] == "stale"
    heartbeat.record()
    status, _ = call_app(app, "/livez")
    assert status == "200 OK"


def test_other_paths_serve_metrics() -> None:
    registry = CollectorRegistry()
    Counter("gldr_test_events", "Events of the test.", registry=registry).inc()
    app = worker_http_app(registry, ConsumerHeartbeat(), max_age_seconds=10)
    status, body = call_app(app, "/metrics")
    assert status.startswith("200")
    assert b"gldr_test_events_total 1.0" in body


def test_heartbeat_interval_fits_max_age() -> None:
    assert heartbeat_interval(120) == 10
    assert heartbeat_interval(8) == 2


def fake_consumer(connected: bool) -> SimpleNamespace:
    return SimpleNamespace(
        hub=object(), timer=Timer(), connection=SimpleNamespace(connected=connected)
    )


def test_step_records_on_consumer_timer(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    heartbeat = ConsumerHeartbeat(clock)
    monkeypatch.setattr(liveness, "consumer_heartbeat", heartbeat)
    consumer = fake_consumer(connected=True)
    step = ConsumerHeartbeatStep(consumer)
    clock.now += 50
    step.start(consumer)
    assert heartbeat.age() == 0
    entries = [scheduled.entry for scheduled in consumer.timer.queue]
    assert entries == [step.timer_entry]

    clock.now += 50
    step.timer_entry()
    assert heartbeat.age() == 0

    consumer.connection.connected = False
    clock.now += 50
    step.timer_entry()
    assert heartbeat.age() == 50

    entry = step.timer_entry
    step.stop(consumer)
    assert entry.canceled
    assert step.timer_entry is None


HEALTHCHECK = runpy.run_path(str(REPO_ROOT / "docker/healthcheck.py"))
WORKER = "/app/.venv/bin/python /app/.venv/bin/celery -A gl_deep_research.worker.celery_app"


@pytest.mark.parametrize(
    ("command", "environ", "url"),
    [
        (
            f"{WORKER} worker -Q deep_research",
            {"WORKER_METRICS_PORT": "9540"},
            "http://127.0.0.1:9540/livez",
        ),
        (f"{WORKER} worker -Q deep_research", {}, None),
        (f"{WORKER} beat --schedule=/tmp/s", {"WORKER_METRICS_PORT": "9540"}, None),
        (f"{WORKER} flower --port=5555", {}, "http://127.0.0.1:5555/healthcheck"),
        (
            "/app/.venv/bin/python /app/.venv/bin/gldr serve",
            {"PORT": "8001"},
            "http://127.0.0.1:8001/health",
        ),
    ],
)
def test_healthcheck_url_by_process(command: str, environ: dict[str, str], url: str | None) -> None:
    assert HEALTHCHECK["health_url"](command, environ) == url
