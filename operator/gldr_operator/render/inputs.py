"""Everything besides the resource itself that rendering depends on.

The reconciler reads these from the cluster; the `render` command and the
unit tests build them by hand. Keeping them explicit is what makes every
renderer a pure function.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Credentials:
    """Passwords of the managed Redis and RabbitMQ, kept in generated Secrets."""

    redis_password: str
    rabbitmq_username: str
    rabbitmq_password: str


@dataclass(frozen=True)
class RenderInputs:
    profiles_yaml: str
    default_profile: str | None
    credentials: Credentials
    # Version the API and worker Deployments run. It trails spec.version
    # until the migration Job for spec.version has succeeded.
    workload_version: str
    # Whether the migration Job for spec.version is part of the desired state.
    migrate: bool
    # resourceVersion of every Secret the spec references, by name; a missing
    # Secret maps to "missing". A changed version changes the config hash.
    secret_versions: Mapping[str, str] = field(default_factory=dict)
