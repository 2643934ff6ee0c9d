"""Fixtures for fault, load and hostile-input tests on their own services.

The session starts a separate PostgreSQL, Redis and RabbitMQ (see
`services.py`) that tests may stop and restart. Each test gets a fresh
database, a fresh Redis database and its own queue, so counts read from the
database belong to that test alone. Measured counts go to the JSON file
named by `GLDR_RELIABILITY_RESULTS` (a temporary file when unset), from
which `scripts/reliability.sh report` renders docs/reliability.md.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis

from gl_deep_research.db.migrate import upgrade_database
from gl_deep_research.settings import Settings
from tests.reliability.services import FaultServices, claim_free_slot, release_slot
from tests.reliability.stack import MASTER_KEY, WEBHOOK_SECRET_KEY
from tests.service.support import ChildProcess

# A tiny collection keeps the engine's work per task to milliseconds, so a
# test measures the service (API, broker, database, workers), not BM25.
NOTES = {
    "tides.md": "# Tides\n\nTides are the rise and fall of sea levels caused by the Moon's "
    "gravity and the rotation of the Earth. Spring tides happen at new and full moon.\n",
    "moon.md": "# Moon\n\nThe Moon is Earth's only natural satellite. Its gravity raises "
    "the ocean tides and slows the rotation of the Earth.\n",
}

PROFILES_YAML = """\
default_profile: notes
profiles:
  notes:
    provider: local
    description: A one-sentence report over two short notes; cheap engine work.
    params:
      collections: [notes]
      sub_queries: 0
      follow_up_queries: 0
      passages_per_query: 2
      max_sentences: 1
  local:
    provider: local
    description: Offline research over the bundled Wikipedia summaries.
    params:
      collections: [wikipedia]
  local-brief:
    provider: local
    description: A shorter offline report over Wikipedia.
    params:
      collections: [wikipedia]
      sub_queries: 1
      max_sentences: 5
"""


@pytest.fixture(scope="session")
def fault_services() -> Iterator[FaultServices]:
    services = claim_free_slot()
    try:
        services.up()
        yield services
    finally:
        if os.environ.get("GLDR_RELIABILITY_KEEP_SERVICES") != "1":
            services.down()
        release_slot(services)


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """GLDR_DATA_DIR shared by the session, so the Wikipedia index is built once."""
    return make_data_dir(tmp_path_factory.mktemp("reliability-data"))


def make_data_dir(root: Path) -> Path:
    """Fill GLDR_DATA_DIR with the `notes` collection; indexes are built on first use."""
    notes = root / "collections" / "notes"
    notes.mkdir(parents=True)
    for name, text in NOTES.items():
        (notes / name).write_text(text)
    return root


@pytest.fixture(scope="session")
def profiles_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("reliability-profiles") / "profiles.yaml"
    path.write_text(PROFILES_YAML)
    return path


def create_database(admin_url: str) -> str:
    name = f"gldr_fault_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return admin_url.rsplit("/", 1)[0] + "/" + name


def drop_database(admin_url: str, url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def prepared_env(
    fault_services: FaultServices, data_dir: Path, profiles_path: Path
) -> Iterator[dict[str, str]]:
    """Yield the environment of a child process (API, worker) on a fresh, migrated database."""
    fault_services.up()
    database_url = create_database(fault_services.admin_database_url)
    env = {
        **os.environ,
        "GL_DEEP_RESEARCH_DB_URL": database_url,
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": str(fault_services.redis_port),
        "REDIS_DB": "0",
        "CELERY_BROKER_URL": fault_services.broker_url,
        "CELERY_QUEUE_NAME": f"reliability_{uuid.uuid4().hex[:8]}",
        "GL_DEEP_RESEARCH_MASTER_API_KEY": MASTER_KEY,
        "GLDR_SECRET": WEBHOOK_SECRET_KEY,
        "GLDR_DATA_DIR": str(data_dir),
        "PROFILES_CONFIG_PATH": str(profiles_path),
        "WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
        "LOG_LEVEL": "INFO",
    }
    upgrade_database(settings_from(env))
    redis.Redis(port=fault_services.redis_port).flushdb()
    yield env
    # A failed test may leave a service stopped; start it for the next test.
    fault_services.up()
    drop_database(fault_services.admin_database_url, database_url)


@pytest.fixture
def fault_env(
    fault_services: FaultServices, data_dir: Path, profiles_path: Path
) -> Iterator[dict[str, str]]:
    with prepared_env(fault_services, data_dir, profiles_path) as env:
        yield env


@pytest.fixture(scope="module")
def module_fault_env(
    fault_services: FaultServices, data_dir: Path, profiles_path: Path
) -> Iterator[dict[str, str]]:
    """Like `fault_env`, shared by the tests of one module that fault nothing."""
    with prepared_env(fault_services, data_dir, profiles_path) as env:
        yield env


def settings_from(env: dict[str, str]) -> Settings:
    names = set(Settings.model_fields)
    return Settings(**{key.lower(): value for key, value in env.items() if key.lower() in names})


@pytest.fixture
def children() -> Iterator[list[ChildProcess]]:
    """Child processes a test starts; each is stopped at the end, whatever happened."""
    started: list[ChildProcess] = []
    yield started
    for child in started:
        child.stop()


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    path = tmp_path / "logs"
    path.mkdir()
    return path


class ResultsLog:
    """Measured counts per fault, merged into one JSON file that the results page is built from."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def record(self, name: str, **values: Any) -> None:
        entries: dict[str, Any] = {}
        if self.path.exists():
            entries = json.loads(self.path.read_text())
        entries[name] = {
            **values,
            "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(entries, indent=2, sort_keys=True) + "\n")


@pytest.fixture(scope="session")
def results(tmp_path_factory: pytest.TempPathFactory) -> ResultsLog:
    configured = os.environ.get("GLDR_RELIABILITY_RESULTS")
    if configured:
        return ResultsLog(Path(configured))
    return ResultsLog(tmp_path_factory.mktemp("reliability-results") / "reliability.json")
