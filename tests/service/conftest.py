"""Fixtures for service tests against real PostgreSQL, Redis and RabbitMQ.

`scripts/services.sh up` starts the three on loopback; tests marked
`services` fail (never skip) when they cannot be reached, so a CI run can
not pass without them. Each test session gets its own PostgreSQL database and RabbitMQ queue, so
runs never see each other.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis
from sqlalchemy import text

from gl_deep_research.db.database import Database
from gl_deep_research.db.migrate import upgrade_database
from gl_deep_research.settings import Settings
from tests.service.support import REPO_ROOT

TABLES = ("webhook_deliveries", "tasks", "task_groups", "profiles", "accounts")
MASTER_KEY = "test-master-key-0123456789"


def _service_env() -> dict[str, str]:
    """The variables `scripts/services.sh env` prints, unless the environment sets them."""
    output = subprocess.run(
        ["bash", str(REPO_ROOT / "scripts/services.sh"), "env"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    env = {}
    for line in output.splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        env[name] = os.environ.get(f"GLDR_TEST_{name}", value)
    return env


@pytest.fixture(scope="session")
def service_urls() -> dict[str, str]:
    env = _service_env()
    try:
        with psycopg.connect(env["GL_DEEP_RESEARCH_DB_URL"], connect_timeout=3) as connection:
            connection.execute("SELECT 1")
        redis.Redis(host=env["REDIS_HOST"], port=int(env["REDIS_PORT"])).ping()
    except Exception as err:
        pytest.fail(
            f"PostgreSQL or Redis is not reachable ({err}); start them with "
            "`scripts/services.sh up`."
        )
    return env


@pytest.fixture(scope="session")
def test_database_url(service_urls: dict[str, str]) -> Iterator[str]:
    admin_url = service_urls["GL_DEEP_RESEARCH_DB_URL"]
    name = f"gldr_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    yield admin_url.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def session_env(
    service_urls: dict[str, str], test_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    """Environment of a service process in this test session (API, worker, CLI)."""
    data_dir = tmp_path_factory.mktemp("gldr-data")
    env = {
        **service_urls,
        "GL_DEEP_RESEARCH_DB_URL": test_database_url,
        "REDIS_DB": "7",
        "CELERY_QUEUE_NAME": f"deep_research_test_{uuid.uuid4().hex[:8]}",
        "GL_DEEP_RESEARCH_MASTER_API_KEY": MASTER_KEY,
        "GLDR_SECRET": "test-secret-for-webhooks",
        "GLDR_DATA_DIR": str(data_dir),
        "PROFILES_CONFIG_PATH": str(REPO_ROOT / "profiles.yaml"),
        "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
        "LOG_LEVEL": "INFO",
    }
    # Redis is not flushed: stream keys carry task UUIDs, so sessions cannot collide,
    # and a flush would delete the events of another session running at the same time.
    upgrade_database(Settings(**{k.lower(): v for k, v in env.items()}))
    return env


@pytest.fixture(scope="session")
def session_settings(session_env: dict[str, str]) -> Settings:
    return Settings(**{name.lower(): value for name, value in session_env.items()})


@pytest.fixture
def clean_database(session_settings: Settings) -> Iterator[Database]:
    database = Database(session_settings)
    with database.session() as session:
        session.execute(text(f"TRUNCATE {', '.join(TABLES)} CASCADE"))
    yield database
    database.dispose()


@pytest.fixture
def process_env(session_env: dict[str, str]) -> dict[str, str]:
    """The full environment for a child process: ours plus PATH and the venv."""
    return {**os.environ, **session_env}


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    path = tmp_path / "logs"
    path.mkdir()
    return path
