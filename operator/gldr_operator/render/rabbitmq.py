"""Managed RabbitMQ: StatefulSet, headless Service and the credentials Secret."""

from __future__ import annotations

from gldr_operator.constants import AMQP_PORT
from gldr_operator.render.common import Object, child_name, resources, stable_hash
from gldr_operator.render.env import amqp_url
from gldr_operator.render.inputs import Credentials
from gldr_operator.render.stateful import (
    render_credentials_secret,
    render_headless_service,
    render_stateful_set,
    tcp_probe,
)
from gldr_operator.spec import DeepResearchDeployment, ManagedRabbitMQ

# The deployment guide's RabbitMQ storage size.
DEFAULT_STORAGE = "5Gi"


def render_rabbitmq(
    drd: DeepResearchDeployment, managed: ManagedRabbitMQ, credentials: Credentials
) -> list[Object]:
    name = child_name(drd, "rabbitmq")
    secret_values = {
        "username": credentials.rabbitmq_username,
        "password": credentials.rabbitmq_password,
        "url": amqp_url(name, credentials.rabbitmq_username, credentials.rabbitmq_password),
    }

    def from_secret(variable: str, key: str) -> Object:
        return {"name": variable, "valueFrom": {"secretKeyRef": {"name": name, "key": key}}}

    container: Object = {
        "name": "rabbitmq",
        "image": managed.image,
        # NOTE: the image creates this user only on a first start with an empty
        # data folder, so a regenerated password (after someone deleted the
        # Secret) does not reach a RabbitMQ that keeps its volume.
        "env": [
            from_secret("RABBITMQ_DEFAULT_USER", "username"),
            from_secret("RABBITMQ_DEFAULT_PASS", "password"),
        ],
        "ports": [{"name": "amqp", "containerPort": AMQP_PORT, "protocol": "TCP"}],
        "resources": resources("rabbitmq", managed.resources),
        "readinessProbe": tcp_probe(AMQP_PORT, initial_delay=10, period=10),
        "livenessProbe": tcp_probe(AMQP_PORT, initial_delay=60, period=30),
    }
    return [
        render_credentials_secret(drd, "rabbitmq", secret_values),
        render_headless_service(drd, "rabbitmq", AMQP_PORT),
        render_stateful_set(
            drd,
            "rabbitmq",
            container,
            managed.storage,
            DEFAULT_STORAGE,
            "/var/lib/rabbitmq",
            config_hash=stable_hash(secret_values),
        ),
    ]
