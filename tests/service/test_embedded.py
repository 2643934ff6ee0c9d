"""Embedded mode: `gldr research` with no database, broker or Redis configured."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.service.support import REPO_ROOT

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

SERVICE_VARIABLES = ("GL_DEEP_RESEARCH_DB_URL", "REDIS_HOST", "CELERY_BROKER_URL")


def embedded_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARIABLES}
    env["GLDR_DATA_DIR"] = str(data_dir)
    return env


def gldr(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["gldr", *args], env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=240
    )


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("embedded")


@pytest.mark.unit
def test_research_prints_events_and_report(data_dir: Path) -> None:
    result = gldr(
        "research",
        "--verbose",
        "What caused the 1973 oil crisis, and how did it affect the world economy?",
        env=embedded_env(data_dir),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "database=sqlite, events=memory, queue=in-process" in result.stderr
    assert "status: STARTED" in result.stderr
    assert "status: SUCCESS" in result.stderr
    assert "[100%]" in result.stderr
    report = result.stdout
    assert report.lstrip().startswith("# ")
    assert "## Sources" in report
    assert "[1973 oil crisis](https://en.wikipedia.org/wiki/1973_oil_crisis)" in report


@pytest.mark.unit
def test_research_json_prints_task_body(data_dir: Path) -> None:
    result = gldr("research", "--json", "Who painted the Mona Lisa?", env=embedded_env(data_dir))
    assert result.returncode == 0, result.stderr[-3000:]
    body = json.loads(result.stdout)
    assert body["status"] == "SUCCESS"
    assert set(body) == {"task_id", "taskgroup_id", "status", "data", "error"}
    assert body["data"]["query"] == "Who painted the Mona Lisa?"
    titles = [source["title"] for source in body["data"]["sources"]]
    assert "Mona Lisa" in titles
    assert body["data"]["usage"]["search_calls"] >= 1


@pytest.mark.unit
def test_research_with_unknown_profile_fails(data_dir: Path) -> None:
    result = gldr("research", "--profile", "missing", "Anything?", env=embedded_env(data_dir))
    assert result.returncode != 0
    assert "Profile 'missing' not found" in result.stderr


@pytest.mark.unit
@pytest.mark.parametrize(
    ("question", "message"),
    [
        ("", "Error: Field 'query' is required and must not be empty."),
        ("x" * 24_000, "Error: Field 'query' has 24000 characters; the maximum is 20000."),
    ],
    ids=["empty", "too-long"],
)
def test_research_invalid_question_exits_2(data_dir: Path, question: str, message: str) -> None:
    result = gldr("research", question, env=embedded_env(data_dir))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.rstrip().splitlines()[-1] == message


@pytest.mark.unit
def test_invalid_setting_stops_start(data_dir: Path) -> None:
    env = embedded_env(data_dir) | {"WORKER_CONCURRENCY": "lots"}
    result = gldr("research", "Anything?", env=env)
    assert result.returncode != 0
    assert "WORKER_CONCURRENCY='lots'" in result.stderr


@pytest.mark.unit
def test_openapi_needs_no_services(tmp_path: Path) -> None:
    env = embedded_env(tmp_path / "never-created")
    result = gldr("openapi", env=env)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert "/v1/tasks" in document["paths"]
    assert "/v1/tasks/{task_id}/stream" in document["paths"]
    assert not (tmp_path / "never-created").exists()
