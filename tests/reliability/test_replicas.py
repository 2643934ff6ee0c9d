"""Three API replicas starting at once against an empty database."""

from __future__ import annotations

from pathlib import Path

import httpx
import psycopg
import pytest

from gl_deep_research.db.migrate import head_revision
from tests.reliability.conftest import create_database, drop_database
from tests.reliability.services import FaultServices
from tests.service.support import ChildProcess, free_port, wait_until

pytestmark = [pytest.mark.services, pytest.mark.slow]

REPLICAS = 3


@pytest.mark.timeout(300)
def test_replicas_migrate_once(
    fault_services: FaultServices,
    fault_env: dict[str, str],
    log_dir: Path,
    children: list[ChildProcess],
) -> None:
    empty_url = create_database(fault_services.admin_database_url)
    try:
        env = {**fault_env, "GL_DEEP_RESEARCH_DB_URL": empty_url}
        ports = [free_port() for _ in range(REPLICAS)]
        replicas = [
            ChildProcess(
                ["gldr", "serve", "--host", "127.0.0.1", "--port", str(port)],
                env,
                log_dir / f"serve-{port}.log",
            )
            for port in ports
        ]
        children.extend(replicas)
        for port in ports:
            wait_until(
                lambda port=port: (
                    httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200
                ),
                timeout=180,
                what=f"replica on port {port} serving /health",
            )
        logs = [replica.log_text() for replica in replicas]
        with psycopg.connect(empty_url) as connection:
            versions = connection.execute("SELECT version_num FROM alembic_version").fetchall()
        ready = [
            httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=30).status_code
            for port in ports
        ]
    finally:
        for replica in children:
            replica.stop()
        drop_database(fault_services.admin_database_url, empty_url)

    migrated = [log for log in logs if "Migrated database schema" in log]
    skipped = [log for log in logs if "already at revision" in log]
    assert len(migrated) == 1, logs
    assert len(skipped) == REPLICAS - 1, logs
    assert versions == [(head_revision(),)]
    assert ready == [200] * REPLICAS
