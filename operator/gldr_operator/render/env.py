"""Environment variables of the API, worker, Flower and migration containers."""

from __future__ import annotations

from gldr_operator.constants import AMQP_PORT, PROFILES_FILE, PROFILES_MOUNT_DIR, REDIS_PORT
from gldr_operator.render.common import Object, child_name
from gldr_operator.render.inputs import RenderInputs
from gldr_operator.spec import DeepResearchDeployment, SecretKeyRef


def _secret(name: str, ref: SecretKeyRef) -> Object:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": ref.name, "key": ref.key}}}


def _value(name: str, value: str) -> Object:
    return {"name": name, "value": value}


def broker_url_ref(drd: DeepResearchDeployment) -> SecretKeyRef:
    external = drd.spec.rabbitmq.external
    if external is not None:
        return external.url_secret_ref
    return SecretKeyRef(name=child_name(drd, "rabbitmq"), key="url")


def _redis_env(drd: DeepResearchDeployment) -> list[Object]:
    external = drd.spec.redis.external
    if external is None:
        return [
            _value("REDIS_HOST", child_name(drd, "redis")),
            _value("REDIS_PORT", str(REDIS_PORT)),
            _value("REDIS_DB", "0"),
            _value("REDIS_TLS_ENABLED", "false"),
            _secret("REDIS_PASSWORD", SecretKeyRef(name=child_name(drd, "redis"), key="password")),
        ]
    result = [
        _value("REDIS_HOST", external.host),
        _value("REDIS_PORT", str(external.port)),
        _value("REDIS_DB", str(external.db)),
        _value("REDIS_TLS_ENABLED", "true" if external.tls_enabled else "false"),
    ]
    if external.password_secret_ref is not None:
        result.append(_secret("REDIS_PASSWORD", external.password_secret_ref))
    return result


def _secret_env(drd: DeepResearchDeployment) -> list[Object]:
    secrets = drd.spec.secrets
    optional = {
        "GLDR_SECRET": secrets.webhook_secret,
        "SENTRY_DSN": secrets.sentry_dsn,
        "TONGYI_API_KEY": secrets.tongyi_api_key,
        "SEA_LION_API_KEY": secrets.sea_lion_api_key,
        "SMARTSEARCH_TOKEN": secrets.smartsearch_token,
        "TAVILY_API_KEY": secrets.tavily_api_key,
        "CELERY_RESULT_BACKEND": drd.spec.database.result_backend_secret_ref,
    }
    result = [
        _secret("GL_DEEP_RESEARCH_DB_URL", drd.spec.database.url_secret_ref),
        _secret("GL_DEEP_RESEARCH_MASTER_API_KEY", secrets.master_api_key),
        _secret("CELERY_BROKER_URL", broker_url_ref(drd)),
    ]
    result += [_secret(name, ref) for name, ref in optional.items() if ref is not None]
    return result


def _config_env(drd: DeepResearchDeployment, inputs: RenderInputs) -> list[Object]:
    config = drd.spec.config
    worker = drd.spec.worker
    result = [
        _value("LOG_LEVEL", config.log_level),
        _value("LOG_FORMAT", config.log_format),
        _value("ENVIRONMENT", config.environment),
        _value("CELERY_QUEUE_NAME", worker.queue),
        _value("WORKER_CONCURRENCY", str(worker.concurrency)),
        _value("WORKER_PREFETCH_MULTIPLIER", str(worker.prefetch_multiplier)),
        _value("PROFILES_CONFIG_PATH", f"{PROFILES_MOUNT_DIR}/{PROFILES_FILE}"),
    ]
    if inputs.default_profile is not None:
        result.append(_value("DEFAULT_PROFILE", inputs.default_profile))
    optional = {
        "TONGYI_BASE_URL": config.tongyi_base_url,
        "TONGYI_MODEL": config.tongyi_model,
        "SEA_LION_BASE_URL": config.sea_lion_base_url,
        "SMARTSEARCH_BASE_URL": config.smartsearch_base_url,
        "SEARXNG_URL": config.searxng_url,
    }
    result += [_value(name, value) for name, value in optional.items() if value is not None]
    return result


def service_env(drd: DeepResearchDeployment, inputs: RenderInputs) -> list[Object]:
    """Environment of the service containers; spec.env replaces entries by name."""
    result = _secret_env(drd) + _redis_env(drd) + _config_env(drd, inputs)
    positions = {item["name"]: index for index, item in enumerate(result)}
    for override in drd.spec.env:
        if override.secret_key_ref is not None:
            item = _secret(override.name, override.secret_key_ref)
        else:
            item = _value(override.name, override.value or "")
        if override.name in positions:
            result[positions[override.name]] = item
        else:
            positions[override.name] = len(result)
            result.append(item)
    return result


def referenced_secrets(drd: DeepResearchDeployment) -> list[str]:
    """Names of the user-provided Secrets the spec references, sorted."""
    spec = drd.spec
    refs: list[SecretKeyRef | None] = [
        spec.database.url_secret_ref,
        spec.database.result_backend_secret_ref,
        *(getattr(spec.secrets, field) for field in type(spec.secrets).model_fields),
        *(item.secret_key_ref for item in spec.env),
    ]
    if spec.redis.external is not None:
        refs.append(spec.redis.external.password_secret_ref)
    if spec.rabbitmq.external is not None:
        refs.append(spec.rabbitmq.external.url_secret_ref)
    return sorted({ref.name for ref in refs if ref is not None})


def amqp_url(host: str, username: str, password: str) -> str:
    """Broker URL of the managed RabbitMQ; the credentials are URL-safe by construction."""
    return f"amqp://{username}:{password}@{host}:{AMQP_PORT}//"
