"""NetworkPolicies that allow only the traffic the service needs.

Each component's pods get one policy with both policy types, so anything not
listed here is denied:

- API: ingress on 8000 from anywhere; egress to PostgreSQL, Redis and the
  broker (the API publishes Celery tasks).
- Worker: no ingress; egress to PostgreSQL, Redis, the broker, and HTTP(S)
  anywhere for LLM, search and the web pages it reads.
- Flower: ingress on 5555 from pods of the same namespace; egress to the broker.
- Migration Job: egress to PostgreSQL.
- Managed Redis and RabbitMQ: ingress from their clients only.

Every pod may reach DNS.
"""

from __future__ import annotations

from gldr_operator.constants import AMQP_PORT, API_PORT, FLOWER_PORT, REDIS_PORT
from gldr_operator.render.common import Object, metadata, selector_labels
from gldr_operator.spec import DeepResearchDeployment

WEB_PORTS = (80, 443)


def _ports(*ports: int) -> list[Object]:
    return [{"port": port, "protocol": "TCP"} for port in ports]


def _pods(drd: DeepResearchDeployment, *components: str) -> list[Object]:
    return [{"podSelector": {"matchLabels": selector_labels(drd, name)}} for name in components]


def _external(drd: DeepResearchDeployment, port: int) -> Object:
    """Egress to a service outside the cluster, limited to spec.networkPolicy.egressCidrs."""
    rule: Object = {"ports": _ports(port)}
    cidrs = drd.spec.network_policy.egress_cidrs
    if cidrs:
        rule["to"] = [{"ipBlock": {"cidr": cidr}} for cidr in cidrs]
    return rule


def _dns() -> Object:
    return {"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}


def _database(drd: DeepResearchDeployment) -> Object:
    return _external(drd, drd.spec.database.port)


def _redis(drd: DeepResearchDeployment) -> Object:
    external = drd.spec.redis.external
    if external is not None:
        return _external(drd, external.port)
    return {"to": _pods(drd, "redis"), "ports": _ports(REDIS_PORT)}


def _broker(drd: DeepResearchDeployment) -> Object:
    external = drd.spec.rabbitmq.external
    if external is not None:
        return _external(drd, external.port)
    return {"to": _pods(drd, "rabbitmq"), "ports": _ports(AMQP_PORT)}


def _policy(
    drd: DeepResearchDeployment, component: str, ingress: list[Object], egress: list[Object]
) -> Object:
    spec: Object = {
        "podSelector": {"matchLabels": selector_labels(drd, component)},
        "policyTypes": ["Ingress", "Egress"],
        "egress": egress,
    }
    # With policyType Ingress listed, no ingress rules denies all ingress. The
    # key is left out then, because the API server drops an empty list and
    # the live object would never match the rendered one.
    if ingress:
        spec["ingress"] = ingress
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata(drd, component),
        "spec": spec,
    }


def render_network_policies(drd: DeepResearchDeployment) -> list[Object]:
    service_egress = [_dns(), _database(drd), _redis(drd), _broker(drd)]
    policies = [
        _policy(drd, "api", [{"ports": _ports(API_PORT)}], service_egress),
        _policy(drd, "worker", [], [*service_egress, {"ports": _ports(*WEB_PORTS)}]),
        _policy(drd, "migration", [], [_dns(), _database(drd)]),
        # Beat only publishes scheduled tasks to the broker.
        _policy(drd, "beat", [], [_dns(), _broker(drd)]),
    ]
    if drd.spec.flower.enabled:
        same_namespace: list[Object] = [{"podSelector": {}}]
        flower_ingress = [{"from": same_namespace, "ports": _ports(FLOWER_PORT)}]
        policies.append(_policy(drd, "flower", flower_ingress, [_dns(), _broker(drd)]))
    if drd.spec.managed_redis is not None:
        redis_ingress = [{"from": _pods(drd, "api", "worker"), "ports": _ports(REDIS_PORT)}]
        policies.append(_policy(drd, "redis", redis_ingress, [_dns()]))
    if drd.spec.managed_rabbitmq is not None:
        clients = _pods(drd, "api", "worker", "flower", "beat")
        policies.append(
            _policy(drd, "rabbitmq", [{"from": clients, "ports": _ports(AMQP_PORT)}], [_dns()])
        )
    return policies
