"""Migrations under the advisory lock, with several processes starting at once."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from gl_deep_research.db.migrate import head_revision
from tests.service.support import REPO_ROOT

pytestmark = [pytest.mark.services, pytest.mark.timeout(180)]


@pytest.fixture
def empty_database(service_urls: dict[str, str]) -> Iterator[str]:
    admin_url = service_urls["GL_DEEP_RESEARCH_DB_URL"]
    name = f"gldr_migrate_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    yield admin_url.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_concurrent_migrations_run_once(empty_database: str) -> None:
    env = {**os.environ, "GL_DEEP_RESEARCH_DB_URL": empty_database}
    processes = [
        subprocess.Popen(
            ["gldr", "migrate"],
            env=env,
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [process.communicate(timeout=150)[0] for process in processes]
    assert [process.returncode for process in processes] == [0, 0, 0, 0], outputs

    applied = [output for output in outputs if "Migrated database schema" in output]
    skipped = [output for output in outputs if "already at revision" in output]
    assert len(applied) == 1
    assert len(skipped) == 3
    with psycopg.connect(empty_database) as connection:
        versions = connection.execute("SELECT version_num FROM alembic_version").fetchall()
        tables = {
            row[0]
            for row in connection.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            )
        }
    assert versions == [(head_revision(),)]
    assert {"accounts", "profiles", "tasks", "task_groups", "webhook_deliveries"} <= tables
