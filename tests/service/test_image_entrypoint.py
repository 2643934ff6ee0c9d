"""The image's entrypoint commands, run outside a container with the image's environment.

Each mode of `docker/entrypoint.sh` starts here exactly as in the image: the
API after a migration, the Celery worker and Flower, on real PostgreSQL and
RabbitMQ.
"""

from __future__ import annotations

import os
import re
import runpy
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.service.support import REPO_ROOT, ChildProcess, free_port, wait_until

pytestmark = [pytest.mark.services, pytest.mark.slow, pytest.mark.timeout(240)]

ENTRYPOINT = str(REPO_ROOT / "docker/entrypoint.sh")


def image_env(process_env: dict[str, str], port: int) -> dict[str, str]:
    return {
        **process_env,
        "PORT": str(port),
        "FLOWER_PORT": str(port),
        "WORKER_CONCURRENCY": "1",
        "PROFILES_CONFIG_PATH": str(REPO_ROOT / "profiles.yaml"),
    }


def test_api_mode_migrates_then_serves(process_env: dict[str, str], log_dir: Path) -> None:
    port = free_port()
    env = image_env(process_env, port)
    api = ChildProcess([ENTRYPOINT], env, log_dir / "entrypoint-api.log")
    try:
        wait_until(
            lambda: httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200,
            timeout=90,
            what="API /health",
        )
        log = api.log_text()
        assert "upgrading the database schema before the API starts" in log
        assert re.search(r"already at revision|Migrated database schema", log)
        # The image HEALTHCHECK picks its URL from PID 1, which is not ours here,
        # so its probe is called directly on the running API and on a closed port.
        healthcheck = runpy.run_path(str(REPO_ROOT / "docker/healthcheck.py"))
        assert healthcheck["probe"](f"http://127.0.0.1:{port}/health") == 0
        assert healthcheck["probe"](f"http://127.0.0.1:{free_port()}/health") == 1
    finally:
        api.stop()


def test_worker_mode_consumes_queue(process_env: dict[str, str], log_dir: Path) -> None:
    env = image_env(process_env, free_port())
    env["WORKER_METRICS_PORT"] = str(free_port())
    worker = ChildProcess([ENTRYPOINT, "worker"], env, log_dir / "entrypoint-worker.log")
    try:
        wait_until(lambda: " ready." in worker.log_text(), timeout=120, what="worker ready")
        log = worker.log_text()
        assert f".> {env['CELERY_QUEUE_NAME']}" in log
        assert "concurrency: 1 (prefork)" in log
        assert "gl_deep_research.research" in log
        # The entrypoint gives the pool processes a metrics folder.
        assert "PROMETHEUS_MULTIPROC_DIR is not set" not in log
        # The image HEALTHCHECK probes the worker on GET /livez of its metrics port.
        healthcheck = runpy.run_path(str(REPO_ROOT / "docker/healthcheck.py"))
        command = healthcheck["process_command"](worker.process.pid)
        url = healthcheck["health_url"](command, env)
        assert url == f"http://127.0.0.1:{env['WORKER_METRICS_PORT']}/livez"
        wait_until(lambda: healthcheck["probe"](url) == 0, timeout=60, what="worker /livez")
    finally:
        worker.stop()


def test_flower_mode_answers_healthcheck(process_env: dict[str, str], log_dir: Path) -> None:
    port = free_port()
    env = image_env(process_env, port)
    flower = ChildProcess([ENTRYPOINT, "flower"], env, log_dir / "entrypoint-flower.log")
    try:
        response = wait_until(
            lambda: httpx.get(f"http://127.0.0.1:{port}/healthcheck", timeout=2),
            timeout=120,
            what="Flower /healthcheck",
        )
        assert response.status_code == 200
        assert response.text == "OK"
    finally:
        flower.stop()


def test_other_command_runs_as_given(process_env: dict[str, str]) -> None:
    result = subprocess.run(
        [ENTRYPOINT, "gldr", "--help"],
        env={**os.environ, **process_env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "research" in result.stdout
    assert "serve" in result.stdout
