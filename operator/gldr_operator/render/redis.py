"""Managed Redis: StatefulSet, headless Service and the password Secret."""

from __future__ import annotations

from gldr_operator.constants import REDIS_PORT
from gldr_operator.render.common import Object, child_name, resources, stable_hash
from gldr_operator.render.stateful import (
    render_credentials_secret,
    render_headless_service,
    render_stateful_set,
    tcp_probe,
)
from gldr_operator.spec import DeepResearchDeployment, ManagedRedis

# The deployment guide's Redis storage size.
DEFAULT_STORAGE = "10Gi"


def render_redis(drd: DeepResearchDeployment, managed: ManagedRedis, password: str) -> list[Object]:
    secret_name = child_name(drd, "redis")
    container: Object = {
        "name": "redis",
        "image": managed.image,
        # Kubernetes expands $(REDIS_PASSWORD) from the container's env.
        "command": [
            "redis-server",
            "--requirepass",
            "$(REDIS_PASSWORD)",
            "--appendonly",
            "yes",
            "--dir",
            "/data",
        ],
        "env": [
            {
                "name": "REDIS_PASSWORD",
                "valueFrom": {"secretKeyRef": {"name": secret_name, "key": "password"}},
            }
        ],
        "ports": [{"name": "redis", "containerPort": REDIS_PORT, "protocol": "TCP"}],
        "resources": resources("redis", managed.resources),
        "readinessProbe": tcp_probe(REDIS_PORT, initial_delay=5, period=10),
        "livenessProbe": tcp_probe(REDIS_PORT, initial_delay=15, period=20),
    }
    return [
        render_credentials_secret(drd, "redis", {"password": password}),
        render_headless_service(drd, "redis", REDIS_PORT),
        render_stateful_set(
            drd,
            "redis",
            container,
            managed.storage,
            DEFAULT_STORAGE,
            "/data",
            config_hash=stable_hash(password),
        ),
    ]
