from __future__ import annotations

import pytest

from gl_deep_research.settings import ConfigurationError, load_settings

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("DB_POOL_SIZE", "many", "DB_POOL_SIZE='many'"),
        ("WORKER_CONCURRENCY", "0", "WORKER_CONCURRENCY='0'"),
        ("LOG_FORMAT", "xml", "LOG_FORMAT='xml'"),
        ("REDIS_PORT", "70000", "REDIS_PORT='70000'"),
        ("TABLE_CLEANUP_ENABLED", "perhaps", "TABLE_CLEANUP_ENABLED='perhaps'"),
    ],
)
def test_invalid_variable_is_named(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert expected in str(caught.value)


def test_secret_value_is_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEARCH_TIMEOUT_SECONDS", "-1")
    monkeypatch.setenv("WEBHOOK_TIMEOUT_SECONDS", "not-a-number")
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert "WEBHOOK_TIMEOUT_SECONDS='not-a-number'" in str(caught.value)
    assert "SEARCH_TIMEOUT_SECONDS='-1'" in str(caught.value)


def test_embedded_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GL_DEEP_RESEARCH_DB_URL", "REDIS_HOST", "CELERY_BROKER_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GLDR_DATA_DIR", "/tmp/gldr-unit")
    settings = load_settings()
    assert settings.database_url == "sqlite+pysqlite:////tmp/gldr-unit/gldr.sqlite3"
    assert settings.embedded_database is True
    assert settings.celery_queue_name == "deep_research"
    assert settings.worker_concurrency == 4
    assert settings.worker_prefetch_multiplier == 1
    assert settings.default_stream_redis_cache_ttl == 86_400


def test_postgres_url_gets_psycopg_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GL_DEEP_RESEARCH_DB_URL", "postgresql://u:p@db:5432/gldr")
    assert load_settings().database_url == "postgresql+psycopg://u:p@db:5432/gldr"


def test_log_level_is_case_insensitive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_LEVEL", "debug")
    assert load_settings().log_level == "DEBUG"


@pytest.mark.parametrize(
    ("variable", "value", "shown"),
    [
        ("GL_DEEP_RESEARCH_DB_URL", "mysql://gldr:s3cret@db/gldr", "'mysql://gldr:***@db/gldr'"),
        ("GL_DEEP_RESEARCH_DB_URL", "notaurl", "'notaurl'"),
        ("CELERY_BROKER_URL", "foo://", "'foo://'"),
        ("CELERY_BROKER_URL", "memory://", "'memory://'"),
        ("CELERY_BROKER_URL", "kafka://user:s3cret@k:9092", "'kafka://user:***@k:9092'"),
        ("SENTRY_DSN", "notadsn", "<hidden>"),
        ("SENTRY_DSN", "https://o1.ingest.sentry.io/5", "<hidden>"),
    ],
)
def test_unsupported_url_is_named(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, shown: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    message = str(caught.value)
    assert f"{variable}={shown}: expected a" in message
    assert "s3cret" not in message


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("GL_DEEP_RESEARCH_DB_URL", "postgres://u:p@db/gldr"),
        ("GL_DEEP_RESEARCH_DB_URL", "postgresql+psycopg://u:p@db/gldr"),
        ("GL_DEEP_RESEARCH_DB_URL", "sqlite:////tmp/gldr.sqlite3"),
        ("CELERY_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//"),
        ("CELERY_BROKER_URL", "amqps://guest:guest@mq:5671//"),
        ("CELERY_BROKER_URL", "pyamqp://guest:guest@mq//"),
        ("CELERY_BROKER_URL", "redis://:pw@127.0.0.1:6379/0"),
        ("CELERY_BROKER_URL", "rediss://:pw@redis:6380/0"),
        ("SENTRY_DSN", "https://public@o1.ingest.sentry.io/5"),
    ],
)
def test_supported_url_is_accepted(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    settings = load_settings()
    assert getattr(settings, variable.lower()) is not None


def test_empty_url_means_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GL_DEEP_RESEARCH_DB_URL", "")
    monkeypatch.setenv("CELERY_BROKER_URL", "")
    settings = load_settings()
    assert settings.embedded_database is True
    assert settings.celery_broker_url is None
