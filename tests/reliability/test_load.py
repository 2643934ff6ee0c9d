"""Many clients submitting at once with idempotency keys and retries.

The default suite submits 1,000 tasks; `scripts/reliability.sh load` sets
GLDR_RELIABILITY_LOAD_TASKS=10000 for the full run.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.reliability.conftest import ResultsLog
from tests.reliability.load import LoadRun
from tests.reliability.stack import create_account, wait_all_final
from tests.service.support import ChildProcess, start_api, start_worker

pytestmark = [pytest.mark.services, pytest.mark.slow]

TASKS = int(os.environ.get("GLDR_RELIABILITY_LOAD_TASKS", "1000"))
CLIENTS = 50
WORKERS = 3
WORKER_PROCESSES = 2
# About 0.1 s of machine time per task on a 2-core machine, with room for sharing it.
SECONDS_PER_TASK = 0.5


@pytest.mark.timeout(int(300 + TASKS * SECONDS_PER_TASK * 2))
def test_load_accounts_for_every_task(
    fault_env: dict[str, str],
    log_dir: Path,
    children: list[ChildProcess],
    results: ResultsLog,
) -> None:
    database_url = fault_env["GL_DEEP_RESEARCH_DB_URL"]
    api, base_url = start_api(fault_env, log_dir)
    children.append(api)
    with ThreadPoolExecutor(WORKERS) as pool:
        workers = pool.map(
            lambda number: start_worker(
                fault_env, log_dir, f"w{number}", concurrency=WORKER_PROCESSES
            ),
            range(WORKERS),
        )
        children.extend(workers)
    key = create_account(base_url)

    started = time.monotonic()
    report = LoadRun(
        base_url, key, clients=CLIENTS, count=TASKS, deadline=TASKS * SECONDS_PER_TASK
    ).start()
    report = report.join()
    counts = wait_all_final(database_url, TASKS, TASKS * SECONDS_PER_TASK)
    total_seconds = time.monotonic() - started

    accepted_ids = set(report.accepted.values())
    results.record(
        f"load-{TASKS}",
        fault="none: load only",
        load=(
            f"{TASKS} tasks from {CLIENTS} concurrent clients, every 10th resubmitted; "
            f"{WORKERS} workers x {WORKER_PROCESSES} processes"
        ),
        accepted=len(accepted_ids),
        completed=counts.by_status.get("SUCCESS", 0),
        lost=len(accepted_ids - counts.ids),
        duplicated=counts.duplicated,
        client_errors=len(report.errors),
        error_kinds=report.error_kinds(),
        replays=report.replays,
        submit_seconds=round(report.seconds, 1),
        total_seconds=round(total_seconds, 1),
        tasks_per_second=round(TASKS / total_seconds, 1),
        command=(
            "scripts/reliability.sh load"
            if TASKS != 1000
            else "uv run pytest tests/reliability/test_load.py"
        ),
    )

    assert len(report.accepted) == TASKS
    assert report.rejected == []
    assert report.replays == TASKS // 10
    assert report.replay_mismatches == []
    assert len(accepted_ids) == TASKS
    assert counts.ids == accepted_ids
    assert counts.duplicated == 0
    assert counts.by_status == {"SUCCESS": TASKS}
