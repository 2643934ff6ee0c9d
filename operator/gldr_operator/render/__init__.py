"""Pure rendering of a DeepResearchDeployment into the objects it owns.

`render_children` is called by the reconciler with inputs read from the
cluster, and by `gldr-operator render` with inputs built offline. It returns
plain dicts ready for server-side apply, in the order they should be applied.
"""

from __future__ import annotations

from dataclasses import asdict

from gldr_operator.render.api import render_api_deployment, render_api_service
from gldr_operator.render.beat import render_beat_deployment
from gldr_operator.render.common import Object, stable_hash
from gldr_operator.render.env import service_env
from gldr_operator.render.flower import render_flower_deployment, render_flower_service
from gldr_operator.render.ingress import render_ingress
from gldr_operator.render.inputs import Credentials, RenderInputs
from gldr_operator.render.migration import render_migration_job
from gldr_operator.render.network import render_network_policies
from gldr_operator.render.profiles import render_profiles_config_map
from gldr_operator.render.rabbitmq import render_rabbitmq
from gldr_operator.render.redis import render_redis
from gldr_operator.render.scaling import render_autoscaler, render_pod_disruption_budget
from gldr_operator.render.worker import render_worker_deployment
from gldr_operator.spec import DeepResearchDeployment

__all__ = ["Credentials", "Object", "RenderInputs", "config_hash", "render_children"]


def config_hash(drd: DeepResearchDeployment, inputs: RenderInputs) -> str:
    """Hash of everything a service pod reads at start but that its template does not show."""
    return stable_hash(
        {
            "profiles": inputs.profiles_yaml,
            "env": service_env(drd, inputs),
            "secrets": dict(sorted(inputs.secret_versions.items())),
            # Only a digest of the generated passwords, never the passwords.
            "credentials": stable_hash(asdict(inputs.credentials)),
        }
    )


def render_children(drd: DeepResearchDeployment, inputs: RenderInputs) -> list[Object]:
    spec = drd.spec
    env = service_env(drd, inputs)
    digest = config_hash(drd, inputs)
    version = inputs.workload_version

    children = [render_profiles_config_map(drd, inputs.profiles_yaml)]
    if spec.managed_redis is not None:
        children += render_redis(drd, spec.managed_redis, inputs.credentials.redis_password)
    if spec.managed_rabbitmq is not None:
        children += render_rabbitmq(drd, spec.managed_rabbitmq, inputs.credentials)
    if inputs.migrate:
        children.append(render_migration_job(drd, env))

    children += [
        render_api_service(drd),
        render_api_deployment(drd, version, env, digest),
        render_worker_deployment(drd, version, env, digest),
        render_beat_deployment(drd, version, env, digest),
    ]
    if spec.flower.enabled:
        children += [
            render_flower_service(drd),
            render_flower_deployment(drd, version, env, digest),
        ]
    if spec.api.ingress.enabled:
        children.append(render_ingress(drd))
    if spec.pod_disruption_budget.enabled:
        children += [
            render_pod_disruption_budget(drd, "api"),
            render_pod_disruption_budget(drd, "worker"),
        ]
    if spec.api.autoscaling.enabled:
        children.append(render_autoscaler(drd, "api", spec.api.autoscaling))
    if spec.worker.autoscaling.enabled:
        children.append(render_autoscaler(drd, "worker", spec.worker.autoscaling))
    if spec.network_policy.enabled:
        children += render_network_policies(drd)
    return children
