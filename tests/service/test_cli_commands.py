"""`gldr worker` and `gldr beat`: the Celery command they replace themselves with."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from gl_deep_research import cli

pytestmark = pytest.mark.unit


@pytest.fixture
def exec_calls(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Record the argv of `os.execv` and `os.execvp` instead of replacing the test process."""
    calls: list[list[str]] = []
    monkeypatch.setattr(os, "execv", lambda path, argv: calls.append([path, *argv]))
    monkeypatch.setattr(os, "execvp", lambda path, argv: calls.append([path, *argv]))
    return calls


@pytest.fixture
def broker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CELERY_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")


def test_worker_runs_celery_of_interpreter(
    exec_calls: list[list[str]], broker: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The worker must not depend on a `celery` script on PATH.
    monkeypatch.setenv("PATH", "/nonexistent")
    result = CliRunner().invoke(cli.main, ["worker", "--pool=solo"])
    assert result.exit_code == 0, result.output
    assert len(exec_calls) == 1
    path, *argv = exec_calls[0]
    assert path == sys.executable
    assert argv[:3] == [sys.executable, "-m", "celery"]
    assert "worker" in argv
    assert argv[-1] == "--pool=solo"


def test_beat_creates_data_dir(
    exec_calls: list[list[str]], broker: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    data_dir = tmp_path / "new" / "data"
    monkeypatch.setenv("GLDR_DATA_DIR", str(data_dir))
    result = CliRunner().invoke(cli.main, ["beat"])
    assert result.exit_code == 0, result.output
    assert data_dir.is_dir()
    path, *argv = exec_calls[0]
    assert path == sys.executable
    assert argv[:3] == [sys.executable, "-m", "celery"]
    assert "beat" in argv


@pytest.mark.parametrize("command", ["worker", "beat"])
def test_command_without_broker_rejected(
    exec_calls: list[list[str]], monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    result = CliRunner().invoke(cli.main, [command])
    assert result.exit_code == 2
    assert f"gldr {command} needs CELERY_BROKER_URL" in result.output
    assert exec_calls == []
