"""Embedded mode (SQLite, in-process worker, in-memory events) sends and retries webhooks."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gl_deep_research.webhooks import verify_signature
from tests.service.api.conftest import FAST_PROFILE, create_account, wait_for_status
from tests.service.api.receiver import Receiver
from tests.service.conftest import MASTER_KEY
from tests.service.support import REPO_ROOT, ChildProcess, free_port, wait_until

pytestmark = [pytest.mark.services, pytest.mark.slow]

SECRET = "whsec-embedded-9f2"
SERVICE_VARIABLES = ("GL_DEEP_RESEARCH_DB_URL", "REDIS_HOST", "CELERY_BROKER_URL")


@pytest.fixture
def embedded_api(
    session_env: dict[str, str], tmp_path: Path, log_dir: Path
) -> Iterator[tuple[str, ChildProcess]]:
    env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARIABLES}
    env.update(
        {
            # The session's data folder already has the search index built.
            "GLDR_DATA_DIR": session_env["GLDR_DATA_DIR"],
            "GL_DEEP_RESEARCH_MASTER_API_KEY": MASTER_KEY,
            "GLDR_SECRET": "embedded-secret",
            "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
            "WEBHOOK_RETRY_BASE_SECONDS": "0.3",
            "PROFILES_CONFIG_PATH": str(REPO_ROOT / "profiles.yaml"),
        }
    )
    port = free_port()
    argv = ["gldr", "serve", "--host", "127.0.0.1", "--port", str(port)]
    process = ChildProcess(argv, env, log_dir / "embedded-api.log")
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: httpx.get(f"{base_url}/health", timeout=1).status_code == 200,
            timeout=60,
            what="embedded API",
        )
        yield base_url, process
    finally:
        process.stop()


def test_embedded_webhook_retries_with_same_id(
    embedded_api: tuple[str, ChildProcess],
) -> None:
    base_url, process = embedded_api
    receiver = Receiver(fail_first=1).start()
    try:
        httpx.post(f"{base_url}/v1/profiles", json=FAST_PROFILE, headers={"X-API-Key": MASTER_KEY})
        _, key = create_account(base_url, "embedded")
        task_id = httpx.post(
            f"{base_url}/v1/tasks",
            data={
                "query": "What is OPEC?",
                "profile": "fast",
                "webhook": json.dumps({"url": receiver.url, "secret": SECRET}),
            },
            headers={"X-API-Key": key},
        ).json()["task_id"]
        wait_for_status(base_url, key, task_id, {"SUCCESS"})

        def four_requests() -> list[object] | None:
            requests = receiver.snapshot()
            return list(requests) if len(requests) >= 4 else None

        wait_until(four_requests, timeout=30, what="two deliveries, each retried once")
        requests = receiver.snapshot()
        by_id: dict[str, list[str]] = {}
        for request in requests:
            verify_signature(SECRET, request.body, request.headers["x-webhook-signature"])
            by_id.setdefault(request.headers["x-webhook-id"], []).append(
                request.headers["x-webhook-attempt"]
            )
        assert sorted(by_id.values()) == [["1", "2"], ["1", "2"]]
        assert "database=sqlite, events=memory, queue=in-process" in process.log_text()
        assert SECRET not in process.log_text()
    finally:
        receiver.stop()
