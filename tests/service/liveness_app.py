"""The service's Celery app plus one task that keeps a pool process busy until a file appears.

`celery -A tests.service.liveness_app worker` runs a worker with every
signal handler and bootstep of the service, so the liveness test can keep a
task running for as long as it needs.
"""

from __future__ import annotations

import time
from pathlib import Path

from gl_deep_research.worker.celery_app import app

__all__ = ["app", "hold_until_released"]

HOLD_TASK_NAME = "tests.hold_until_released"


@app.task(name=HOLD_TASK_NAME, ignore_result=True)
def hold_until_released(started_path: str, release_path: str, done_path: str) -> None:
    """Create `started_path`, wait until `release_path` exists, then create `done_path`."""
    Path(started_path).touch()
    # The bound only stops a task that a failed test never releases.
    deadline = time.monotonic() + 600
    while not Path(release_path).exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    Path(done_path).touch()
