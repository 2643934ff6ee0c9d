"""Process configuration, read once from the environment.

Variable names follow the deployment guide exactly (`GL_DEEP_RESEARCH_DB_URL`,
`REDIS_HOST`, `CELERY_BROKER_URL`, ...). When the database, broker or Redis
variables are unset, the process runs in embedded mode: SQLite, an
in-process worker pool and an in-memory event store.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConfigurationError(Exception):
    """An environment variable has an invalid value; the message names it."""


# Schemes of GL_DEEP_RESEARCH_DB_URL with a driver in the image. `postgresql`
# and `postgres` get the psycopg 3 driver (`normalise_database_url`).
DATABASE_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg", "sqlite", "sqlite+pysqlite")
# Kombu transports of CELERY_BROKER_URL that the image can reach: RabbitMQ
# through py-amqp and Redis through redis-py. `memory://` is rejected, because
# a worker in another process cannot consume that queue.
BROKER_SCHEMES = ("amqp", "amqps", "pyamqp", "redis", "rediss")
# Variables whose value is a URL that may carry a password.
URL_VARIABLES = ("GL_DEEP_RESEARCH_DB_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND")


def _default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "gl-deep-research"


class Settings(BaseSettings):
    """Every setting of the service, the worker and the CLI."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True)

    # Database
    gl_deep_research_db_url: str | None = None
    db_pool_size: int = Field(default=10, ge=1, le=1000)
    db_max_overflow: int = Field(default=20, ge=0, le=1000)
    db_pool_timeout: float = Field(default=30.0, gt=0)

    # Authentication
    gl_deep_research_master_api_key: SecretStr | None = None

    # LLM endpoints (OpenAI-compatible)
    tongyi_base_url: str | None = None
    tongyi_api_key: SecretStr | None = None
    tongyi_model: str = "alibaba/tongyi-deepresearch-30b-a3b"
    sea_lion_base_url: str | None = None
    sea_lion_api_key: SecretStr | None = None
    sea_lion_model: str = "aisingapore/Llama-SEA-LION-v3-70B-IT"

    # Search providers
    smartsearch_base_url: str | None = None
    smartsearch_token: SecretStr | None = None
    searxng_url: str | None = None
    tavily_api_key: SecretStr | None = None
    search_timeout_seconds: float = Field(default=15.0, gt=0)

    # Redis (event streams)
    redis_host: str | None = None
    redis_port: int = Field(default=6379, ge=1, le=65535)
    redis_password: SecretStr | None = None
    redis_db: int = Field(default=0, ge=0)
    redis_tls_enabled: bool = False
    redis_tls_ca_file: Path | None = None
    redis_tls_verify: Literal["required", "optional", "none"] = "required"
    default_stream_redis_cache_ttl: int = Field(default=86_400, ge=1)
    stream_heartbeat_seconds: float = Field(default=15.0, gt=0, le=300)

    # Celery
    celery_broker_url: str | None = None
    celery_result_backend: str | None = None
    celery_queue_name: str = Field(default="deep_research", min_length=1)
    worker_concurrency: int = Field(default=4, ge=1, le=512)
    worker_prefetch_multiplier: int = Field(default=1, ge=1, le=1000)
    # Port of the worker's Prometheus endpoint; unset means no endpoint.
    worker_metrics_port: int | None = Field(default=None, ge=1, le=65535)
    # GET /livez on that port returns 503 once the consumer's heartbeat is older than this.
    worker_liveness_max_age_seconds: float = Field(default=120.0, ge=1, le=3600)

    # Tasks
    task_timeout_seconds: int = Field(default=1800, ge=1)
    task_max_retries: int = Field(default=3, ge=0, le=100)
    max_query_length: int = Field(default=20_000, ge=1)
    account_max_active_tasks: int = Field(default=1000, ge=1)

    # Webhooks
    gldr_secret: SecretStr | None = None
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    webhook_max_retries: int = Field(default=5, ge=0, le=50)
    webhook_allow_private_targets: bool = False
    # Wait before the first retry; later retries double it (with jitter), up to one hour.
    webhook_retry_base_seconds: float = Field(default=5.0, gt=0, le=3600)

    # Table cleanup
    table_cleanup_enabled: bool = True
    table_cleanup_retention_days: int = Field(default=30, ge=1)
    table_cleanup_schedule: str = "0 3 * * *"

    # Application
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_format: Literal["json", "text"] = "text"
    environment: str = "development"
    sentry_dsn: SecretStr | None = None
    sentry_project: str | None = None
    profiles_config_path: Path = Path("profiles.yaml")
    default_profile: str | None = None
    gldr_data_dir: Path = Field(default_factory=_default_data_dir)
    gldr_collections_dir: Path | None = None

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower_log_format(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator("table_cleanup_schedule")
    @classmethod
    def _check_cron(cls, value: str) -> str:
        fields = value.split()
        if len(fields) != 5:
            raise ValueError(
                "expected a cron expression of 5 fields (minute hour day-of-month month "
                "day-of-week), for example '0 3 * * *'"
            )
        return value

    @field_validator("gl_deep_research_db_url", "celery_broker_url")
    @classmethod
    def _empty_url_is_unset(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("gl_deep_research_db_url")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        if value is not None and _url_scheme(value) not in DATABASE_SCHEMES:
            raise ValueError(
                "expected a PostgreSQL or SQLite URL such as "
                "postgresql://USER:PASSWORD@HOST:5432/DATABASE or sqlite:////PATH/gldr.sqlite3; "
                "unset it to use SQLite in GLDR_DATA_DIR"
            )
        return value

    @field_validator("celery_broker_url")
    @classmethod
    def _check_broker_url(cls, value: str | None) -> str | None:
        if value is not None and _url_scheme(value) not in BROKER_SCHEMES:
            schemes = ", ".join(f"{scheme}://" for scheme in BROKER_SCHEMES)
            raise ValueError(
                f"expected a RabbitMQ or Redis URL ({schemes}) such as "
                "amqp://USER:PASSWORD@HOST:5672//; unset it to run tasks in-process"
            )
        return value

    @field_validator("sentry_dsn")
    @classmethod
    def _check_sentry_dsn(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return value
        from sentry_sdk.utils import BadDsn, Dsn

        try:
            Dsn(value.get_secret_value())
        except BadDsn as err:
            raise ValueError(
                f"expected a Sentry DSN such as https://PUBLIC_KEY@HOST/PROJECT_ID ({err})"
            ) from None
        return value

    @cached_property
    def database_url(self) -> str:
        """SQLAlchemy URL: the configured PostgreSQL, or a SQLite file in embedded mode."""
        if self.gl_deep_research_db_url:
            return normalise_database_url(self.gl_deep_research_db_url)
        return f"sqlite+pysqlite:///{self.gldr_data_dir / 'gldr.sqlite3'}"

    @property
    def embedded_database(self) -> bool:
        return not self.gl_deep_research_db_url

    @property
    def collections_dir(self) -> Path:
        return self.gldr_collections_dir or self.gldr_data_dir / "collections"

    @property
    def index_dir(self) -> Path:
        return self.gldr_data_dir / "index"


def normalise_database_url(url: str) -> str:
    """Select the psycopg 3 driver for plain `postgresql://` URLs."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def load_settings() -> Settings:
    """Read the environment, raising `ConfigurationError` that names each bad variable."""
    try:
        return Settings()
    except ValidationError as err:
        problems = []
        for error in err.errors():
            variable = str(error["loc"][0]).upper() if error["loc"] else "?"
            value = error.get("input")
            shown = _shown_value(variable, value)
            message = error["msg"].removeprefix("Value error, ")
            problems.append(f"{variable}={shown}: {message}")
        raise ConfigurationError(
            "Invalid environment configuration; fix these variables and start again: "
            + "; ".join(problems)
        ) from None


def _url_scheme(url: str) -> str:
    return url.partition("://")[0].lower() if "://" in url else ""


def _shown_value(variable: str, value: object) -> str:
    if _is_secret(variable):
        return "<hidden>"
    if variable in URL_VARIABLES and isinstance(value, str):
        return repr(mask_password(value))
    return repr(value)


def mask_password(url: str) -> str:
    """Return `url` with the password of its user part replaced by `***`."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<hidden>"
    if parts.password is None:
        return url
    user_part, _, host_part = parts.netloc.rpartition("@")
    user = user_part.partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host_part}"))


def _is_secret(variable: str) -> bool:
    return any(word in variable for word in ("KEY", "SECRET", "TOKEN", "PASSWORD", "DSN"))
