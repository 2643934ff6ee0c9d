"""RabbitMQ stopped and started again while tasks wait in its queue."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.reliability.conftest import ResultsLog
from tests.reliability.load import LoadRun
from tests.reliability.services import FaultServices
from tests.reliability.stack import create_account, wait_all_final
from tests.service.support import ChildProcess, start_api, start_worker, wait_until

pytestmark = [pytest.mark.services, pytest.mark.slow]

CLIENTS = 8
QUEUED = 60


@pytest.mark.timeout(600)
def test_rabbitmq_restart_with_queued_tasks(
    fault_services: FaultServices,
    fault_env: dict[str, str],
    log_dir: Path,
    children: list[ChildProcess],
    results: ResultsLog,
) -> None:
    database_url = fault_env["GL_DEEP_RESEARCH_DB_URL"]
    api, base_url = start_api(fault_env, log_dir)
    children.append(api)
    key = create_account(base_url)

    # No worker yet, so every accepted task waits in the durable queue.
    queued = LoadRun(base_url, key, clients=CLIENTS, count=QUEUED).start().join()

    stopped_at = time.monotonic()
    fault_services.stop_rabbitmq()
    # Submissions while the broker is down are committed; their enqueue fails
    # and the API's outbox sweeper sends them once RabbitMQ is back.
    during = LoadRun(base_url, key, clients=CLIENTS, count=QUEUED).start()
    wait_until(lambda: during.accepted_count() >= 20, timeout=120, what="20 tasks accepted")
    fault_services.start_rabbitmq()
    restarted_at = time.monotonic()
    during_report = during.join()

    children.append(start_worker(fault_env, log_dir, "w0", concurrency=2))
    children.append(start_worker(fault_env, log_dir, "w1", concurrency=2))
    accepted_ids = set(queued.accepted.values()) | set(during_report.accepted.values())
    drain_started = time.monotonic()
    counts = wait_all_final(database_url, len(accepted_ids), 300)
    drain_seconds = time.monotonic() - drain_started
    errors = queued.errors + during_report.errors

    results.record(
        "rabbitmq-restart",
        fault="RabbitMQ node stopped and started again with tasks in its queue",
        load=f"{QUEUED} tasks queued before, {QUEUED} submitted during the outage; 2 workers",
        accepted=len(accepted_ids),
        completed=counts.by_status.get("SUCCESS", 0),
        lost=len(accepted_ids - counts.ids) + counts.total - counts.by_status.get("SUCCESS", 0),
        duplicated=counts.duplicated,
        client_errors=len(errors),
        error_kinds=during_report.error_kinds(),
        outage_seconds=round(restarted_at - stopped_at, 1),
        drain_seconds=round(drain_seconds, 1),
        command="uv run pytest tests/reliability/test_rabbitmq_restart.py",
    )

    assert len(accepted_ids) == 2 * QUEUED
    assert counts.ids == accepted_ids
    assert counts.duplicated == 0
    assert counts.by_status == {"SUCCESS": 2 * QUEUED}
    assert queued.rejected == []
    assert during_report.rejected == []
    assert during_report.replay_mismatches == []
