"""PostgreSQL stopped and started again while clients submit tasks and workers run them."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
import redis

from tests.reliability.conftest import ResultsLog, make_data_dir
from tests.reliability.load import LoadRun
from tests.reliability.services import FaultServices
from tests.reliability.stack import (
    create_account,
    progress_percent,
    start_stack,
    submit_task,
    wait_all_final,
)
from tests.service.support import ChildProcess, wait_until

pytestmark = [pytest.mark.services, pytest.mark.slow]

CLIENTS = 8
# The database stays down until clients have seen errors for this long.
OUTAGE_SECONDS = 5.0
# Clients may see errors while the database is down and until the pools have
# replaced their broken connections; this bounds the time after the restart.
RECOVERY_BOUND_SECONDS = 30.0
LOADING_PERCENT = 10  # the local engine's progress while it loads a collection


@pytest.mark.timeout(600)
def test_postgres_restart_under_load(
    fault_services: FaultServices,
    fault_env: dict[str, str],
    log_dir: Path,
    tmp_path: Path,
    children: list[ChildProcess],
    results: ResultsLog,
) -> None:
    database_url = fault_env["GL_DEEP_RESEARCH_DB_URL"]
    # A fresh data folder makes the Wikipedia tasks build their index first,
    # which takes seconds, so the database stops in the middle of them.
    env = {**fault_env, "GLDR_DATA_DIR": str(make_data_dir(tmp_path / "data"))}
    _api, base_url = start_stack(env, log_dir, children, workers=2, concurrency=2)
    key = create_account(base_url)
    events = redis.Redis(port=fault_services.redis_port)

    long_tasks = [
        submit_task(base_url, key, "local", f"Who was Marie Curie? Run {number}.")
        for number in (1, 2)
    ]
    wait_until(
        lambda: all(progress_percent(events, task) == LOADING_PERCENT for task in long_tasks),
        timeout=180,
        what="both Wikipedia tasks loading their collection",
    )
    load = LoadRun(base_url, key, clients=CLIENTS, pause=0.1).start()
    try:
        wait_until(lambda: load.accepted_count() >= 20, timeout=120, what="20 accepted tasks")

        stopped_at = time.monotonic()
        fault_services.stop_postgres()
        # Down until clients saw errors and both Wikipedia tasks went on past a
        # cancel check, which reads the database, with the database gone.
        wait_until(
            lambda: (
                load.report.error_window >= OUTAGE_SECONDS
                and all(progress_percent(events, task) > LOADING_PERCENT for task in long_tasks)
            ),
            timeout=240,
            what="client errors and both Wikipedia tasks past loading while the database is down",
        )
        fault_services.start_postgres()
        restarted_at = time.monotonic()

        before = load.accepted_count()
        wait_until(
            lambda: load.accepted_count() >= before + 40,
            timeout=120,
            what="40 more accepted tasks after the restart",
        )
    finally:
        report = load.stop()

    accepted_ids = set(report.accepted.values()) | set(long_tasks)
    drain_started = time.monotonic()
    counts = wait_all_final(database_url, len(accepted_ids), 300)
    drain_seconds = time.monotonic() - drain_started
    lost = accepted_ids - counts.ids
    not_succeeded = counts.total - counts.by_status.get("SUCCESS", 0)

    results.record(
        "postgres-restart",
        fault="PostgreSQL stopped (fast shutdown) and started again",
        load=f"{CLIENTS} clients submitting; 2 Wikipedia tasks running; 2 workers x 2 processes",
        accepted=len(accepted_ids),
        completed=counts.by_status.get("SUCCESS", 0),
        lost=len(lost),
        duplicated=counts.duplicated,
        client_errors=len(report.errors),
        error_kinds=report.error_kinds(),
        error_window_seconds=round(report.error_window, 1),
        outage_seconds=round(restarted_at - stopped_at, 1),
        load_seconds=round(report.seconds, 1),
        drain_seconds=round(drain_seconds, 1),
        command="uv run pytest tests/reliability/test_postgres_restart.py",
    )

    assert lost == set()
    assert counts.ids == accepted_ids
    assert counts.duplicated == 0
    assert not_succeeded == 0, counts.by_status
    assert report.rejected == []
    assert report.replay_mismatches == []
    assert report.error_window <= (restarted_at - stopped_at) + RECOVERY_BOUND_SECONDS
    # The same API and worker processes served before and after the restart.
    assert [child.process.poll() for child in children] == [None] * len(children)
    ready = httpx.get(f"{base_url}/health/ready", timeout=10)
    assert ready.status_code == 200, ready.text
