"""Keys longer than bcrypt's 72-byte input, and secrets kept out of logs, errors and metrics.

Tenant isolation over every task and group route is covered by
tests/service/api/test_isolation.py::test_other_account_gets_404_everywhere.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.service.support import ChildProcess, start_api

pytestmark = [pytest.mark.services, pytest.mark.slow]

# 100 bytes, so a check that reads only bcrypt's first 72 bytes would accept a prefix.
LONG_MASTER_KEY = "master-" + "k" * 65 + uuid.uuid4().hex[:28]
DATABASE_PASSWORD = f"db-password-{uuid.uuid4().hex}"
APP_SECRET = f"app-secret-{uuid.uuid4().hex}"
WEBHOOK_SECRET = f"webhook-secret-{uuid.uuid4().hex}"


@pytest.fixture
def secret_api(
    fault_env: dict[str, str], log_dir: Path, children: list[ChildProcess]
) -> Iterator[tuple[str, ChildProcess]]:
    """Start an API that logs at DEBUG and reaches PostgreSQL with a password-bearing URL."""
    database_url = fault_env["GL_DEEP_RESEARCH_DB_URL"]
    role = f"gldr_secret_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(database_url, autocommit=True, connect_timeout=10) as connection:
        connection.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{DATABASE_PASSWORD}' IN ROLE gldr")
    host_and_database = database_url.split("@", 1)[1]
    env = {
        **fault_env,
        "GL_DEEP_RESEARCH_DB_URL": f"postgresql://{role}:{DATABASE_PASSWORD}@{host_and_database}",
        "GL_DEEP_RESEARCH_MASTER_API_KEY": LONG_MASTER_KEY,
        "GLDR_SECRET": APP_SECRET,
        "LOG_LEVEL": "DEBUG",
    }
    api, base_url = start_api(env, log_dir)
    children.append(api)
    yield base_url, api
    with psycopg.connect(database_url, autocommit=True, connect_timeout=10) as connection:
        connection.execute(f"DROP OWNED BY {role}")
        connection.execute(f"DROP ROLE {role}")


def test_long_keys_and_secrets(secret_api: tuple[str, ChildProcess]) -> None:
    base_url, api = secret_api
    error_bodies: list[str] = []

    def call(method: str, path: str, key: str, expected: int, **kwargs: object) -> httpx.Response:
        response = httpx.request(
            method, f"{base_url}{path}", headers={"X-API-Key": key}, timeout=30, **kwargs
        )
        assert response.status_code == expected, (method, path, response.text)
        if response.status_code >= 400:
            error_bodies.append(response.text)
        return response

    # The master key is 100 bytes: its first 72 bytes, or one more byte, are rejected.
    assert len(LONG_MASTER_KEY.encode()) == 100
    call("GET", "/v1/accounts", LONG_MASTER_KEY[:72], 401)
    call("GET", "/v1/accounts", LONG_MASTER_KEY + "x", 401)
    call("GET", "/v1/accounts", LONG_MASTER_KEY[:-1] + "!", 401)
    created = call("POST", "/v1/accounts", LONG_MASTER_KEY, 201, json={"name": "long-keys"})
    account_key = created.json()["data"]["api_key"]

    # An account key with bytes appended past 72 is a different key.
    padded = account_key + "p" * (80 - len(account_key))
    assert len(padded.encode()) == 80
    call("GET", "/v1/tasks", account_key, 200)
    call("GET", "/v1/tasks", padded, 401)
    call("GET", "/v1/tasks", account_key[:-1] + ("A" if account_key[-1] != "A" else "B"), 401)

    # Requests that carry each secret, and ones that fail, so the log has chances to leak.
    webhook = json.dumps({"url": "http://127.0.0.1:9/hook", "secret": WEBHOOK_SECRET})
    accepted = call(
        "POST", "/v1/tasks", account_key, 202, data={"query": "Tides?", "webhook": webhook}
    )
    bad_webhook = json.dumps({"url": "not a url", "secret": WEBHOOK_SECRET})
    call("POST", "/v1/tasks", account_key, 400, data={"query": "Tides?", "webhook": bad_webhook})
    call("GET", "/v1/accounts", account_key, 401)
    call("GET", f"/v1/tasks/{uuid.uuid4()}", account_key, 404)
    call("GET", "/v1/tasks", WEBHOOK_SECRET, 401)
    call("GET", "/v1/tasks", DATABASE_PASSWORD, 401)
    metrics = httpx.get(f"{base_url}/metrics", timeout=30)
    assert metrics.status_code == 200
    api.stop()
    log = api.log_text()

    # The log records the requests above, so a leak would have had a place to appear.
    assert f"Created account {created.json()['data']['id']} (long-keys)" in log
    assert f"Accepted task {accepted.json()['task_id']} (profile notes)" in log
    secrets = {
        "master key": LONG_MASTER_KEY,
        "account key": account_key,
        "account key secret part": account_key.rsplit("_", 1)[1],
        "webhook secret": WEBHOOK_SECRET,
        "GLDR_SECRET": APP_SECRET,
        "database password": DATABASE_PASSWORD,
    }
    for name, secret in secrets.items():
        assert secret not in log, f"{name} in the API log"
        assert secret not in metrics.text, f"{name} in /metrics"
        for body in error_bodies:
            assert secret not in body, f"{name} in error body {body!r}"
    assert len(error_bodies) == 10
