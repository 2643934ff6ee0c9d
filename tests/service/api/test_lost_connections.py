"""Database connections that PostgreSQL closed, as a restart does, under an API without pre-ping.

The API process skips `pool_pre_ping`. Its reads retry once on a lost
connection, and the first failure makes SQLAlchemy replace every older
pooled connection. These tests close the connections of one process with
`pg_terminate_backend`, found by their `application_name`, so other tests'
processes keep theirs.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator

import httpx
import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from gl_deep_research.db.database import Database
from gl_deep_research.settings import Settings
from tests.service.api.conftest import MASTER_KEY, create_account

pytestmark = pytest.mark.services


def terminate_backends(database_url: str, application_name: str) -> int:
    """Close the server connections with `application_name` and return their count."""
    with psycopg.connect(database_url, autocommit=True) as connection:
        closed = connection.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = %s",
            (application_name,),
        ).fetchone()
    assert closed is not None
    return int(closed[0])


@pytest.fixture
def application_name() -> str:
    return f"gldr-lost-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def unpinged_database(session_env: dict[str, str], application_name: str) -> Iterator[Database]:
    url = f"{session_env['GL_DEEP_RESEARCH_DB_URL']}?application_name={application_name}"
    values = {name.lower(): value for name, value in session_env.items()}
    database = Database(Settings(**{**values, "gl_deep_research_db_url": url}), pre_ping=False)
    yield database
    database.dispose()


def test_read_retries_on_lost_connection(
    unpinged_database: Database,
    session_env: dict[str, str],
    application_name: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert unpinged_database.read(lambda connection: connection.scalar(text("SELECT 1"))) == 1
    assert terminate_backends(session_env["GL_DEEP_RESEARCH_DB_URL"], application_name) == 1

    with caplog.at_level(logging.WARNING, logger="gl_deep_research.db.database"):
        value = unpinged_database.read(lambda connection: connection.scalar(text("SELECT 2")))
    assert value == 2
    assert "retrying once" in caplog.text


def test_session_after_lost_connection_fails_once(
    unpinged_database: Database, session_env: dict[str, str], application_name: str
) -> None:
    # Writes are not retried, so the first statement fails and the pool replaces the connection.
    with unpinged_database.session() as session:
        session.execute(text("SELECT 1"))
    assert terminate_backends(session_env["GL_DEEP_RESEARCH_DB_URL"], application_name) == 1

    with pytest.raises(OperationalError), unpinged_database.session() as session:
        session.execute(text("SELECT 2"))
    with unpinged_database.session() as session:
        assert session.scalar(text("SELECT 3")) == 3


@pytest.fixture
def named_api(
    start_api_with: Callable[[dict[str, str]], str],
    session_env: dict[str, str],
    application_name: str,
) -> str:
    """Start an API whose connections carry `application_name`; return its base URL."""
    database_url = session_env["GL_DEEP_RESEARCH_DB_URL"]
    return start_api_with(
        {"GL_DEEP_RESEARCH_DB_URL": f"{database_url}?application_name={application_name}"}
    )


def test_api_reads_after_lost_connections(
    named_api: str, session_env: dict[str, str], application_name: str
) -> None:
    database_url = session_env["GL_DEEP_RESEARCH_DB_URL"]
    base_url = named_api
    _, key = create_account(base_url, "lost")
    headers = {"X-API-Key": key}
    accepted = httpx.post(f"{base_url}/v1/tasks", data={"query": "Tides?"}, headers=headers)
    assert accepted.status_code == 202, accepted.text
    task_path = f"/v1/tasks/{accepted.json()['task_id']}"
    assert httpx.get(f"{base_url}{task_path}", headers=headers).status_code == 200

    assert terminate_backends(database_url, application_name) >= 1

    response = httpx.get(f"{base_url}{task_path}", headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "PENDING"
    listing = httpx.get(f"{base_url}/v1/tasks", headers=headers)
    assert listing.status_code == 200, listing.text


def test_api_write_on_lost_connection_is_503(
    named_api: str, session_env: dict[str, str], application_name: str
) -> None:
    database_url = session_env["GL_DEEP_RESEARCH_DB_URL"]
    base_url = named_api
    create_account(base_url, "before")
    assert terminate_backends(database_url, application_name) >= 1

    # Creating an account writes first, with no read before it to retry.
    response = httpx.post(
        f"{base_url}/v1/accounts/", json={"name": "during"}, headers={"X-API-Key": MASTER_KEY}
    )
    assert response.status_code == 503, response.text
    assert "retry the request" in response.json()["detail"]
    assert response.headers["Retry-After"] == "2"
    create_account(base_url, "after")
