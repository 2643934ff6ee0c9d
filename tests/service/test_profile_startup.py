"""Start-up checks of PROFILES_CONFIG_PATH and DEFAULT_PROFILE."""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from gl_deep_research.db.database import Database
from gl_deep_research.db.migrate import upgrade_database
from gl_deep_research.db.models import Profile
from gl_deep_research.profiles.registry import read_profiles_file
from gl_deep_research.profiles.startup import check_profile_settings
from gl_deep_research.settings import ConfigurationError, Settings
from tests.service.support import REPO_ROOT, ChildProcess, free_port, wait_until

pytestmark = pytest.mark.unit

SERVICE_VARIABLES = ("GL_DEEP_RESEARCH_DB_URL", "REDIS_HOST", "CELERY_BROKER_URL")


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    settings = Settings(gldr_data_dir=tmp_path)
    upgrade_database(settings)
    database = Database(settings)
    yield database
    database.dispose()


def embedded_env(data_dir: Path, **variables: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARIABLES}
    env["GLDR_DATA_DIR"] = str(data_dir)
    env.update(variables)
    return env


def test_explicit_missing_file_is_rejected(tmp_path: Path, database: Database) -> None:
    settings = Settings(profiles_config_path=tmp_path / "absent.yaml")
    with pytest.raises(ConfigurationError) as caught:
        check_profile_settings(settings, database)
    assert f"PROFILES_CONFIG_PATH='{tmp_path / 'absent.yaml'}': file not found" in str(caught.value)


def test_default_missing_file_warns(
    tmp_path: Path,
    database: Database,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings()
    assert "profiles_config_path" not in settings.model_fields_set
    check_profile_settings(settings, database)
    with caplog.at_level(logging.INFO):
        profiles = read_profiles_file(settings.profiles_config_path)
    assert list(profiles.profiles) == ["local"]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "PROFILES_CONFIG_PATH" in warnings[0].getMessage()


def test_invalid_file_is_named(tmp_path: Path, database: Database) -> None:
    path = tmp_path / "profiles.yaml"
    path.write_text("profiles: [not, a, mapping]\n", encoding="utf-8")
    with pytest.raises(ConfigurationError) as caught:
        check_profile_settings(Settings(profiles_config_path=path), database)
    assert f"PROFILES_CONFIG_PATH='{path}'" in str(caught.value)
    assert "'profiles' must map names to profiles" in str(caught.value)


def test_unknown_default_profile_is_rejected(database: Database) -> None:
    settings = Settings(profiles_config_path=REPO_ROOT / "profiles.yaml", default_profile="nope")
    with pytest.raises(ConfigurationError) as caught:
        check_profile_settings(settings, database)
    message = str(caught.value)
    assert message.startswith("DEFAULT_PROFILE='nope': no such profile")
    assert "local, local-brief" in message


def test_default_profile_from_file_or_api(database: Database) -> None:
    with database.session() as session:
        session.add(Profile(name="made-by-api", provider="local", params={}, source="api"))
    for name in ("local-brief", "made-by-api"):
        settings = Settings(profiles_config_path=REPO_ROOT / "profiles.yaml", default_profile=name)
        check_profile_settings(settings, database)


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("DEFAULT_PROFILE", "nope", "DEFAULT_PROFILE='nope': no such profile; expected one of"),
        ("PROFILES_CONFIG_PATH", "/nonexistent.yaml", "PROFILES_CONFIG_PATH='/nonexistent.yaml'"),
        ("CELERY_BROKER_URL", "foo://", "CELERY_BROKER_URL='foo://'"),
        ("GL_DEEP_RESEARCH_DB_URL", "mysql://x/y", "GL_DEEP_RESEARCH_DB_URL='mysql://x/y'"),
        ("SENTRY_DSN", "notadsn", "SENTRY_DSN=<hidden>: expected a Sentry DSN"),
    ],
)
def test_serve_stops_without_traceback(
    tmp_path: Path, variable: str, value: str, expected: str
) -> None:
    result = subprocess.run(
        ["gldr", "serve", "--host", "127.0.0.1", "--port", str(free_port())],
        env=embedded_env(tmp_path, **{variable: value}),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_lifespan_rejects_unknown_default(tmp_path: Path) -> None:
    # Started by uvicorn directly, without `gldr serve`, the lifespan runs the check.
    upgrade_database(Settings(gldr_data_dir=tmp_path))
    argv = ["uvicorn", "gl_deep_research.api.main:app", "--host", "127.0.0.1"]
    env = embedded_env(tmp_path, DEFAULT_PROFILE="nope")
    process = ChildProcess([*argv, "--port", str(free_port())], env, tmp_path / "api.log")
    try:
        wait_until(lambda: process.process.poll() is not None, timeout=60, what="API exit")
    finally:
        process.stop()
    assert process.process.returncode != 0
    assert "DEFAULT_PROFILE='nope': no such profile" in process.log_text()
