"""One API process and one Celery worker (with beat) shared by the API tests.

Starting processes is the slow part of these tests, so the shared stack
starts once per session. Each test isolates itself by creating its own
account. Tests that need other settings start an API-only process of their
own through `start_api_with`.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from gl_deep_research.db.database import Database
from gl_deep_research.settings import Settings
from tests.service.conftest import MASTER_KEY
from tests.service.support import REPO_ROOT, ChildProcess, free_port, start_api, wait_until

FAST_PROFILE = {
    "name": "fast",
    "provider": "local",
    "params": {"sub_queries": 0, "follow_up_queries": 0, "max_sentences": 3},
    "description": "The quickest local report, for tests.",
}


@dataclass
class Stack:
    base_url: str
    env: dict[str, str]
    worker_metrics_url: str
    api: ChildProcess
    worker: ChildProcess
    profiles_path: Path

    def new_account(self, prefix: str = "acct") -> str:
        """Create an account and return its API key."""
        return self.new_account_with_id(prefix)[1]

    def new_account_with_id(self, prefix: str = "acct") -> tuple[str, str]:
        """Create an account and return its id and API key."""
        return create_account(self.base_url, prefix)


def create_account(base_url: str, prefix: str = "acct") -> tuple[str, str]:
    response = httpx.post(
        f"{base_url}/v1/accounts/",
        json={"name": f"{prefix}-{uuid.uuid4().hex[:8]}"},
        headers={"X-API-Key": MASTER_KEY},
    )
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    return str(data["id"]), str(data["api_key"])


def start_worker_with_beat(env: dict[str, str], log_dir: Path, name: str) -> ChildProcess:
    argv = [
        "celery",
        "-A",
        "gl_deep_research.worker.celery_app",
        "worker",
        "--beat",
        "--loglevel=INFO",
        "--concurrency=2",
        "-Q",
        env["CELERY_QUEUE_NAME"],
        "-n",
        f"{name}@%h",
        "--without-gossip",
        "--without-mingle",
    ]
    process = ChildProcess(argv, env, log_dir / f"worker-{name}.log")
    try:
        wait_until(lambda: " ready." in process.log_text(), timeout=90, what="worker ready")
    except TimeoutError:
        process.stop()
        raise AssertionError(f"worker did not start:\n{process.log_text()[-3000:]}") from None
    return process


@pytest.fixture(scope="session")
def stack_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("api-stack-logs")


@pytest.fixture(scope="session")
def stack(
    session_env: dict[str, str], stack_logs: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    profiles_dir = tmp_path_factory.mktemp("profiles")
    profiles_path = profiles_dir / "profiles.yaml"
    shutil.copy(REPO_ROOT / "profiles.yaml", profiles_path)
    metrics_dir = tmp_path_factory.mktemp("worker-metrics")
    metrics_port = free_port()
    env = {
        **os.environ,
        **session_env,
        "CELERY_QUEUE_NAME": f"api_tests_{uuid.uuid4().hex[:8]}",
        "PROFILES_CONFIG_PATH": str(profiles_path),
        "STREAM_HEARTBEAT_SECONDS": "1",
        "WEBHOOK_RETRY_BASE_SECONDS": "0.5",
        "WEBHOOK_MAX_RETRIES": "3",
        "WEBHOOK_TIMEOUT_SECONDS": "2",
        "WORKER_METRICS_PORT": str(metrics_port),
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "LOG_FORMAT": "json",
        "DB_POOL_SIZE": "7",
    }
    api, base_url = start_api(env, stack_logs)
    worker = start_worker_with_beat(env, stack_logs, name=f"api-{uuid.uuid4().hex[:6]}")
    response = httpx.post(
        f"{base_url}/v1/profiles", json=FAST_PROFILE, headers={"X-API-Key": MASTER_KEY}
    )
    assert response.status_code in (201, 409), response.text
    yield Stack(
        base_url=base_url,
        env=env,
        worker_metrics_url=f"http://127.0.0.1:{metrics_port}/metrics",
        api=api,
        worker=worker,
        profiles_path=profiles_path,
    )
    worker.stop()
    api.stop()


@pytest.fixture(scope="session")
def idle_api(session_env: dict[str, str], stack_logs: Path) -> Iterator[str]:
    """An API process whose queue no worker consumes, so its tasks stay PENDING."""
    env = {
        **os.environ,
        **session_env,
        "CELERY_QUEUE_NAME": f"idle_{uuid.uuid4().hex[:8]}",
        "STREAM_HEARTBEAT_SECONDS": "1",
    }
    process, base_url = start_api(env, stack_logs)
    yield base_url
    process.stop()


@pytest.fixture
def start_api_with(
    session_env: dict[str, str], log_dir: Path
) -> Iterator[Callable[[dict[str, str]], str]]:
    """Start an API-only process with extra variables; it stops after the test."""
    processes: list[ChildProcess] = []

    def start(extra: dict[str, str]) -> str:
        env = {
            **os.environ,
            **session_env,
            # No worker consumes this queue, so tasks stay PENDING.
            "CELERY_QUEUE_NAME": f"idle_{uuid.uuid4().hex[:8]}",
            **extra,
        }
        process, base_url = start_api(env, log_dir)
        processes.append(process)
        return base_url

    yield start
    for process in processes:
        process.stop()


@pytest.fixture
def database(session_settings: Settings) -> Iterator[Database]:
    database = Database(session_settings)
    yield database
    database.dispose()


def wait_for_status(
    base_url: str, key: str, task_id: str, statuses: set[str], timeout: float = 90
) -> dict[str, object]:
    def check() -> dict[str, object] | None:
        body: dict[str, object] = httpx.get(
            f"{base_url}/v1/tasks/{task_id}", headers={"X-API-Key": key}
        ).json()
        return body if body["status"] in statuses else None

    return wait_until(check, timeout=timeout, interval=0.2, what=f"task {task_id} in {statuses}")
