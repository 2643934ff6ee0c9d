"""Typed model of the two custom resources.

The CRDs in `crds/` are the schema that the API server enforces; these models
mirror them with the same defaults, so the renderers read typed fields and the
`render` command can check a file without a cluster. Unknown fields are
rejected, which catches typos that the API server would silently prune.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


class SecretKeyRef(_Model):
    """One key of a Secret in the resource's namespace."""

    name: str = Field(min_length=1, max_length=253)
    key: str = Field(min_length=1, max_length=253)


class ResourceList(_Model):
    cpu: str | None = None
    memory: str | None = None


class Resources(_Model):
    """Requests and limits; a key set here replaces the component's default."""

    requests: ResourceList = ResourceList()
    limits: ResourceList = ResourceList()


class Image(_Model):
    repository: str = Field(min_length=1)
    pull_policy: Literal["Always", "IfNotPresent", "Never"] = "IfNotPresent"
    pull_secrets: list[str] = []


class Database(_Model):
    url_secret_ref: SecretKeyRef
    result_backend_secret_ref: SecretKeyRef | None = None
    port: int = Field(default=5432, ge=1, le=65535)


class Secrets(_Model):
    master_api_key: SecretKeyRef
    webhook_secret: SecretKeyRef | None = None
    sentry_dsn: SecretKeyRef | None = None
    tongyi_api_key: SecretKeyRef | None = None
    sea_lion_api_key: SecretKeyRef | None = None
    smartsearch_token: SecretKeyRef | None = None
    tavily_api_key: SecretKeyRef | None = None


class Config(_Model):
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_format: Literal["json", "text"] = "json"
    environment: str = "production"
    tongyi_base_url: str | None = None
    tongyi_model: str | None = None
    sea_lion_base_url: str | None = None
    smartsearch_base_url: str | None = None
    searxng_url: str | None = None


class EnvVar(_Model):
    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    value: str | None = None
    secret_key_ref: SecretKeyRef | None = None


class LabelSelectorRequirement(_Model):
    key: str
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: list[str] = []


class LabelSelector(_Model):
    match_labels: dict[str, str] = {}
    match_expressions: list[LabelSelectorRequirement] = []


class Autoscaling(_Model):
    enabled: bool = False
    min_replicas: int = Field(default=1, ge=1, le=100)
    max_replicas: int = Field(default=4, ge=1, le=100)
    target_cpu_utilization_percentage: int = Field(
        default=70, ge=1, le=100, alias="targetCPUUtilizationPercentage"
    )


class Service(_Model):
    type: Literal["ClusterIP", "NodePort", "LoadBalancer"] = "ClusterIP"
    port: int = Field(default=8000, ge=1, le=65535)


class IngressTLS(_Model):
    enabled: bool = False
    secret_name: str | None = None
    certificate_arn: str | None = None


class Ingress(_Model):
    enabled: bool = False
    host: str | None = None
    class_name: str = "alb"
    scheme: Literal["internet-facing", "internal"] = "internet-facing"
    target_type: Literal["ip", "instance"] = "ip"
    tls: IngressTLS = IngressTLS()
    annotations: dict[str, str] = {}


class Api(_Model):
    replicas: int = Field(default=1, ge=0, le=100)
    resources: Resources = Resources()
    autoscaling: Autoscaling = Autoscaling()
    service: Service = Service()
    ingress: Ingress = Ingress()


class Worker(_Model):
    replicas: int = Field(default=1, ge=0, le=100)
    concurrency: int = Field(default=4, ge=1, le=512)
    prefetch_multiplier: int = Field(default=1, ge=1, le=1000)
    queue: str = Field(default="deep_research", pattern=r"^[A-Za-z0-9_.-]+$")
    resources: Resources = Resources()
    autoscaling: Autoscaling = Autoscaling()


class Flower(_Model):
    enabled: bool = False
    resources: Resources = Resources()


class Beat(_Model):
    resources: Resources = Resources()


class Storage(_Model):
    size: str | None = None
    storage_class_name: str | None = None


class ManagedRedis(_Model):
    image: str = "redis:7.4"
    resources: Resources = Resources()
    storage: Storage = Storage()


class ExternalRedis(_Model):
    host: str = Field(min_length=1)
    port: int = Field(default=6379, ge=1, le=65535)
    db: int = Field(default=0, ge=0)
    tls_enabled: bool = True
    password_secret_ref: SecretKeyRef | None = None


class Redis(_Model):
    managed: ManagedRedis | None = None
    external: ExternalRedis | None = None


class ManagedRabbitMQ(_Model):
    image: str = "rabbitmq:3.13"
    resources: Resources = Resources()
    storage: Storage = Storage()


class ExternalRabbitMQ(_Model):
    url_secret_ref: SecretKeyRef
    port: int = Field(default=5672, ge=1, le=65535)


class RabbitMQ(_Model):
    managed: ManagedRabbitMQ | None = None
    external: ExternalRabbitMQ | None = None


class NetworkPolicy(_Model):
    enabled: bool = True
    egress_cidrs: list[str] = []


class PodDisruptionBudget(_Model):
    enabled: bool = True


class PodSecurityContext(_Model):
    run_as_user: int = Field(default=10001, ge=1)
    run_as_group: int = Field(default=10001, ge=1)
    fs_group: int = Field(default=10001, ge=1)


class Migration(_Model):
    backoff_limit: int = Field(default=1, ge=0, le=10)
    active_deadline_seconds: int = Field(default=1800, ge=30, le=86400)


class DeploymentSpec(_Model):
    """`spec` of a DeepResearchDeployment."""

    version: str = Field(min_length=1, max_length=128)
    image: Image
    database: Database
    secrets: Secrets
    config: Config = Config()
    env: list[EnvVar] = []
    profile_selector: LabelSelector = LabelSelector()
    default_profile: str | None = None
    api: Api = Api()
    worker: Worker = Worker()
    flower: Flower = Flower()
    beat: Beat = Beat()
    redis: Redis = Redis()
    rabbitmq: RabbitMQ = RabbitMQ()
    network_policy: NetworkPolicy = NetworkPolicy()
    pod_disruption_budget: PodDisruptionBudget = PodDisruptionBudget()
    pod_security_context: PodSecurityContext = PodSecurityContext()
    migration: Migration = Migration()

    @property
    def managed_redis(self) -> ManagedRedis | None:
        """Managed Redis settings, the default when neither managed nor external is set."""
        if self.redis.external is not None:
            return None
        return self.redis.managed or ManagedRedis()

    @property
    def managed_rabbitmq(self) -> ManagedRabbitMQ | None:
        """Managed RabbitMQ settings, the default when neither managed nor external is set."""
        if self.rabbitmq.external is not None:
            return None
        return self.rabbitmq.managed or ManagedRabbitMQ()


class ProfileSpec(BaseModel):
    """`spec` of a ResearchProfile; `params` are checked later by `validate_params`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: str
    description: str = ""
    default: bool = False
    params: dict[str, Any] = {}


class ObjectMeta(_Model):
    """The part of `metadata` that rendering reads."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True
    )

    name: str
    namespace: str = "default"
    uid: str = ""
    generation: int = 0
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}


class DeepResearchDeployment(_Model):
    """A whole DeepResearchDeployment; `status` is ignored when reading."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True
    )

    metadata: ObjectMeta
    spec: DeploymentSpec


class ResearchProfile(_Model):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True
    )

    metadata: ObjectMeta
    spec: ProfileSpec
