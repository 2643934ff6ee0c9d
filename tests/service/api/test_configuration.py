"""Variables passed through to SQLAlchemy, redis-py, Celery and httpx take effect."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from typing import Any, cast

import pytest

from gl_deep_research.db.database import Database
from gl_deep_research.events.redis_store import _connection_options
from gl_deep_research.settings import Settings
from gl_deep_research.webhooks.secrets import SecretBox, SecretBoxUnavailable
from gl_deep_research.webhooks.sender import WebhookSender
from gl_deep_research.worker.celery_app import create_celery_app, result_backend_url
from tests.service.api.receiver import Receiver

pytestmark = pytest.mark.unit

POSTGRES_URL = "postgresql://user:pw@127.0.0.1:1/none"


def test_pool_settings_reach_sqlalchemy() -> None:
    # Building the engine opens no connection, so the unreachable URL is fine.
    database = Database(
        Settings(
            gl_deep_research_db_url=POSTGRES_URL,
            db_pool_size=4,
            db_max_overflow=3,
            db_pool_timeout=2.5,
        )
    )
    pool = cast(Any, database.engine.pool)
    assert pool.size() == 4
    assert pool._max_overflow == 3
    assert pool._timeout == 2.5
    database.dispose()


def test_redis_settings_reach_client() -> None:
    options = _connection_options(
        Settings(
            redis_host="redis.internal",
            redis_port=6380,
            redis_db=3,
            redis_password="pw",
            redis_tls_enabled=True,
            redis_tls_ca_file="/etc/ca.pem",
            redis_tls_verify="optional",
        )
    )
    assert options["host"] == "redis.internal"
    assert options["port"] == 6380
    assert options["db"] == 3
    assert options["password"] == "pw"
    assert options["ssl"] is True
    assert options["ssl_cert_reqs"] == ssl.CERT_OPTIONAL
    assert options["ssl_ca_certs"] == "/etc/ca.pem"


def test_redis_tls_verifies_by_default() -> None:
    options = _connection_options(Settings(redis_host="r", redis_tls_enabled=True))
    assert options["ssl_cert_reqs"] == ssl.CERT_REQUIRED


def test_celery_settings_reach_app() -> None:
    settings = Settings(
        celery_broker_url="amqp://guest:guest@127.0.0.1:1//",
        celery_queue_name="custom",
        worker_concurrency=3,
        worker_prefetch_multiplier=2,
        task_timeout_seconds=100,
    )
    app = create_celery_app(settings)
    assert app.conf.task_default_queue == "custom"
    assert app.conf.worker_concurrency == 3
    assert app.conf.worker_prefetch_multiplier == 2
    assert app.conf.task_soft_time_limit == 130
    assert app.conf.beat_schedule["send-webhooks"]["options"]["queue"] == "custom"


def test_result_backend_choice() -> None:
    assert result_backend_url(Settings(celery_result_backend="redis://r/1")) == "redis://r/1"
    assert (
        result_backend_url(Settings(gl_deep_research_db_url=POSTGRES_URL))
        == "db+postgresql+psycopg://user:pw@127.0.0.1:1/none"
    )


def test_secret_rotation_decrypts_old_tokens() -> None:
    old_token = SecretBox("old-secret").encrypt("hook-secret")
    rotated = SecretBox("new-secret, old-secret")
    assert rotated.decrypt(old_token) == "hook-secret"
    assert SecretBox("new-secret").decrypt(rotated.encrypt("x")) == "x"
    with pytest.raises(SecretBoxUnavailable, match="cannot be decrypted"):
        SecretBox("new-secret").decrypt(old_token)


@pytest.fixture
def slow_receiver() -> Iterator[Receiver]:
    server = Receiver(delay_seconds=2.0).start()
    yield server
    server.stop()


def test_webhook_timeout_applies(slow_receiver: Receiver) -> None:
    settings = Settings(webhook_timeout_seconds=0.3, webhook_allow_private_targets=True)
    sender = WebhookSender(settings, database=cast(Any, None), secrets=SecretBox(None))
    result = sender._post(slow_receiver.url, b"{}", {})
    assert result.delivered is False
    assert result.error is not None
    assert result.error.startswith("ReadTimeout")
