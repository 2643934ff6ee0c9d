"""Rendering of the examples and edge cases, checked against Kubernetes' schemas."""

from __future__ import annotations

import copy
from typing import Any

import kubernetes_validate
import pytest

from gldr_operator.constants import CONFIG_HASH_ANNOTATION
from gldr_operator.preview import render_documents

pytestmark = pytest.mark.unit

KUBERNETES_VERSIONS = ("1.31", "1.33")


def render(deployment: dict[str, Any], profiles: list[dict[str, Any]]) -> list[dict[str, Any]]:
    documents = [("deployment", deployment)] + [("profiles", item) for item in profiles]
    return render_documents(documents)


def by_kind_name(objects: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(item["kind"], item["metadata"]["name"]): item for item in objects}


def edited(document: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    result = copy.deepcopy(document)
    target = result
    *parents, last = path.split(".")
    for key in parents:
        target = target.setdefault(key, {})
    target[last] = value
    return result


def edge_cases(minimal: dict[str, Any], full: dict[str, Any]) -> dict[str, dict[str, Any]]:
    external_redis = {"host": "redis.internal", "passwordSecretRef": {"name": "r", "key": "p"}}
    ingress = {
        "enabled": True,
        "host": "research.example.com",
        "tls": {"enabled": True, "secretName": "research-tls"},
    }
    return {
        "minimal": minimal,
        "full": full,
        "external-redis": edited(minimal, "spec.redis", {"external": external_redis}),
        "external-rabbitmq": edited(
            minimal, "spec.rabbitmq", {"external": {"urlSecretRef": {"name": "b", "key": "url"}}}
        ),
        "no-flower": edited(full, "spec.flower", {"enabled": False}),
        "autoscaling": edited(
            minimal, "spec.worker", {"autoscaling": {"enabled": True, "maxReplicas": 8}}
        ),
        "ingress-tls": edited(minimal, "spec.api", {"ingress": ingress}),
        "no-network-policy": edited(minimal, "spec.networkPolicy", {"enabled": False}),
    }


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_rendered_objects_validate(
    minimal: dict[str, Any], full: dict[str, Any], profiles: list[dict[str, Any]], version: str
) -> None:
    for case, deployment in edge_cases(minimal, full).items():
        for item in render(deployment, profiles):
            try:
                kubernetes_validate.validate(item, version, strict=True)
            except kubernetes_validate.ValidationError as err:
                name = f"{item['kind']} {item['metadata']['name']}"
                path = ".".join(map(str, err.path))
                pytest.fail(f"{case}: {name} is invalid for {version} at {path}: {err.message}")


def test_minimal_creates_expected_children(
    minimal: dict[str, Any], profiles: list[dict[str, Any]]
) -> None:
    names = set(by_kind_name(render(minimal, profiles)))
    expected = {
        ("ConfigMap", "research-profiles"),
        ("Secret", "research-redis"),
        ("Secret", "research-rabbitmq"),
        ("Service", "research-redis"),
        ("Service", "research-rabbitmq"),
        ("StatefulSet", "research-redis"),
        ("StatefulSet", "research-rabbitmq"),
        ("Service", "research-api"),
        ("Deployment", "research-api"),
        ("Deployment", "research-worker"),
        ("Deployment", "research-beat"),
        ("PodDisruptionBudget", "research-api"),
        ("PodDisruptionBudget", "research-worker"),
        ("NetworkPolicy", "research-api"),
        ("NetworkPolicy", "research-worker"),
        ("NetworkPolicy", "research-migration"),
        ("NetworkPolicy", "research-beat"),
        ("NetworkPolicy", "research-redis"),
        ("NetworkPolicy", "research-rabbitmq"),
    }
    assert expected <= names
    assert not {kind for kind, _ in names} & {"Ingress", "HorizontalPodAutoscaler"}
    assert any(kind == "Job" for kind, _ in names)


def test_every_child_is_labelled_and_owned(
    full: dict[str, Any], profiles: list[dict[str, Any]]
) -> None:
    for item in render(full, profiles):
        labels = item["metadata"]["labels"]
        assert labels["app.kubernetes.io/instance"] == "research-full"
        assert labels["app.kubernetes.io/managed-by"] == "gldr-operator"
        assert labels["app.kubernetes.io/name"] == "gl-open-deepresearch"
        owners = item["metadata"]["ownerReferences"]
        assert len(owners) == 1
        assert owners[0]["controller"] is True
        assert owners[0]["kind"] == "DeepResearchDeployment"


def test_api_probes_and_resources(minimal: dict[str, Any], profiles: list[dict[str, Any]]) -> None:
    api = by_kind_name(render(minimal, profiles))[("Deployment", "research-api")]
    container = api["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"] == {
        "path": "/health",
        "port": 8000,
        "scheme": "HTTP",
    }
    assert container["readinessProbe"]["initialDelaySeconds"] == 15
    assert container["readinessProbe"]["periodSeconds"] == 10
    assert container["livenessProbe"]["initialDelaySeconds"] == 30
    assert container["livenessProbe"]["periodSeconds"] == 10
    assert container["resources"] == {
        "requests": {"cpu": "2", "memory": "2Gi"},
        "limits": {"cpu": "2", "memory": "4Gi"},
    }
    assert container["ports"][0]["containerPort"] == 8000
    pod = api["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_resource_override_replaces_one_key(
    full: dict[str, Any], profiles: list[dict[str, Any]]
) -> None:
    api = by_kind_name(render(full, profiles))[("Deployment", "research-full-api")]
    resources = api["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert resources["requests"] == {"cpu": "2", "memory": "3Gi"}


def test_worker_command_from_spec(full: dict[str, Any], profiles: list[dict[str, Any]]) -> None:
    deployment = edited(full, "spec.worker.concurrency", 6)
    deployment = edited(deployment, "spec.worker.queue", "reports")
    worker = by_kind_name(render(deployment, profiles))[("Deployment", "research-full-worker")]
    container = worker["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == [
        "celery",
        "-A",
        "gl_deep_research.worker.celery_app",
        "worker",
        "--loglevel=INFO",
        "--concurrency=6",
        "--prefetch-multiplier=1",
        "-Q",
        "reports",
    ]
    assert container["resources"]["limits"] == {"cpu": "4", "memory": "8Gi"}


def test_beat_runs_one_scheduler(full: dict[str, Any], profiles: list[dict[str, Any]]) -> None:
    objects = by_kind_name(render(full, profiles))
    beat = objects[("Deployment", "research-full-beat")]["spec"]
    container = beat["template"]["spec"]["containers"][0]
    assert beat["replicas"] == 1
    assert beat["strategy"] == {"type": "Recreate"}
    assert container["command"] == [
        "celery",
        "-A",
        "gl_deep_research.worker.celery_app",
        "beat",
        "--loglevel=INFO",
        "--schedule=/tmp/celerybeat-schedule",
    ]
    policy = objects[("NetworkPolicy", "research-full-beat")]["spec"]
    assert "ingress" not in policy
    assert len(policy["egress"]) == 2


def worker_container(deployment: dict[str, Any], profiles: list[dict[str, Any]]) -> Any:
    name = f"{deployment['metadata']['name']}-worker"
    worker = by_kind_name(render(deployment, profiles))[("Deployment", name)]
    return worker["spec"]["template"]["spec"]["containers"][0]


def test_worker_liveness_probe(minimal: dict[str, Any], profiles: list[dict[str, Any]]) -> None:
    container = worker_container(minimal, profiles)
    probe = container["livenessProbe"]
    assert probe["httpGet"] == {"path": "/livez", "port": 9540, "scheme": "HTTP"}
    assert probe["periodSeconds"] == 30
    assert probe["failureThreshold"] == 3
    assert container["ports"] == [{"name": "metrics", "containerPort": 9540, "protocol": "TCP"}]
    env = {item["name"]: item.get("value") for item in container["env"]}
    assert env["WORKER_METRICS_PORT"] == "9540"


def test_worker_metrics_folder_mounted(
    minimal: dict[str, Any], profiles: list[dict[str, Any]]
) -> None:
    worker = by_kind_name(render(minimal, profiles))[("Deployment", "research-worker")]
    pod = worker["spec"]["template"]["spec"]
    container = pod["containers"][0]
    env = {item["name"]: item.get("value") for item in container["env"]}
    assert env["PROMETHEUS_MULTIPROC_DIR"] == "/var/gldr/metrics"
    mounts = {mount["name"]: mount["mountPath"] for mount in container["volumeMounts"]}
    assert mounts["metrics"] == "/var/gldr/metrics"
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    assert volumes["metrics"]["emptyDir"] == {"sizeLimit": "64Mi"}


def test_worker_metrics_port_not_overridden(
    minimal: dict[str, Any], profiles: list[dict[str, Any]]
) -> None:
    overrides = [
        {"name": "WORKER_METRICS_PORT", "value": "9999"},
        {"name": "PROMETHEUS_MULTIPROC_DIR", "value": "/elsewhere"},
        {"name": "WORKER_LIVENESS_MAX_AGE_SECONDS", "value": "300"},
    ]
    container = worker_container(edited(minimal, "spec.env", overrides), profiles)
    ports = [item for item in container["env"] if item["name"] == "WORKER_METRICS_PORT"]
    assert ports == [{"name": "WORKER_METRICS_PORT", "value": "9540"}]
    folders = [item for item in container["env"] if item["name"] == "PROMETHEUS_MULTIPROC_DIR"]
    assert folders == [{"name": "PROMETHEUS_MULTIPROC_DIR", "value": "/var/gldr/metrics"}]
    max_ages = [
        item for item in container["env"] if item["name"] == "WORKER_LIVENESS_MAX_AGE_SECONDS"
    ]
    assert max_ages == [{"name": "WORKER_LIVENESS_MAX_AGE_SECONDS", "value": "300"}]


def test_metrics_port_only_on_worker(
    minimal: dict[str, Any], profiles: list[dict[str, Any]]
) -> None:
    objects = by_kind_name(render(minimal, profiles))
    for name in ("research-api", "research-beat"):
        container = objects[("Deployment", name)]["spec"]["template"]["spec"]["containers"][0]
        names = {item["name"] for item in container["env"]}
        assert "WORKER_METRICS_PORT" not in names, name


def beat_resources(deployment: dict[str, Any], profiles: list[dict[str, Any]]) -> Any:
    name = f"{deployment['metadata']['name']}-beat"
    beat = by_kind_name(render(deployment, profiles))[("Deployment", name)]
    return beat["spec"]["template"]["spec"]["containers"][0]["resources"]


def test_beat_resources_default(minimal: dict[str, Any], profiles: list[dict[str, Any]]) -> None:
    resources = beat_resources(minimal, profiles)
    assert resources["requests"] == {"cpu": "50m", "memory": "128Mi"}
    assert resources["limits"] == {"cpu": "250m", "memory": "256Mi"}


def test_beat_resources_from_spec(minimal: dict[str, Any], profiles: list[dict[str, Any]]) -> None:
    override = {"requests": {"memory": "192Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}}
    deployment = edited(minimal, "spec.beat", {"resources": override})
    resources = beat_resources(deployment, profiles)
    # Keys the spec leaves out keep their defaults.
    assert resources["requests"] == {"cpu": "50m", "memory": "192Mi"}
    assert resources["limits"] == {"cpu": "1", "memory": "512Mi"}


def test_autoscaling_leaves_replicas_unset(
    full: dict[str, Any], profiles: list[dict[str, Any]]
) -> None:
    objects = by_kind_name(render(full, profiles))
    assert "replicas" not in objects[("Deployment", "research-full-api")]["spec"]
    assert "replicas" not in objects[("Deployment", "research-full-worker")]["spec"]
    hpa = objects[("HorizontalPodAutoscaler", "research-full-worker")]
    assert hpa["spec"]["maxReplicas"] == 10


def test_external_redis_has_no_statefulset(
    full: dict[str, Any], profiles: list[dict[str, Any]]
) -> None:
    objects = by_kind_name(render(full, profiles))
    assert ("StatefulSet", "research-full-redis") not in objects
    env = objects[("Deployment", "research-full-api")]["spec"]["template"]["spec"]["containers"][0][
        "env"
    ]
    values = {item["name"]: item.get("value") for item in env}
    assert values["REDIS_HOST"] == "redis.example.internal"
    assert values["REDIS_PORT"] == "6380"
    assert values["REDIS_TLS_ENABLED"] == "true"


def test_ingress_alb_annotations_and_tls(
    full: dict[str, Any], profiles: list[dict[str, Any]]
) -> None:
    ingress = by_kind_name(render(full, profiles))[("Ingress", "research-full-api")]
    annotations = ingress["metadata"]["annotations"]
    assert ingress["spec"]["ingressClassName"] == "alb"
    assert annotations["alb.ingress.kubernetes.io/scheme"] == "internet-facing"
    assert annotations["alb.ingress.kubernetes.io/target-type"] == "ip"
    assert annotations["alb.ingress.kubernetes.io/certificate-arn"].startswith("arn:")
    assert annotations["alb.ingress.kubernetes.io/group.name"] == "research"
    assert ingress["spec"]["tls"] == [{"hosts": ["research.example.com"]}]


def test_flower_service_is_cluster_internal(
    full: dict[str, Any], profiles: list[dict[str, Any]]
) -> None:
    service = by_kind_name(render(full, profiles))[("Service", "research-full-flower")]
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["ports"][0]["port"] == 5555


def test_env_override_replaces_by_name(
    minimal: dict[str, Any], profiles: list[dict[str, Any]]
) -> None:
    deployment = edited(minimal, "spec.env", [{"name": "LOG_LEVEL", "value": "DEBUG"}])
    api = by_kind_name(render(deployment, profiles))[("Deployment", "research-api")]
    env = api["spec"]["template"]["spec"]["containers"][0]["env"]
    log_levels = [item for item in env if item["name"] == "LOG_LEVEL"]
    assert log_levels == [{"name": "LOG_LEVEL", "value": "DEBUG"}]


def test_rendering_is_deterministic(full: dict[str, Any], profiles: list[dict[str, Any]]) -> None:
    assert render(full, profiles) == render(full, list(reversed(profiles)))


def config_hashes(objects: list[dict[str, Any]]) -> dict[str, str]:
    return {
        item["metadata"]["name"]: item["spec"]["template"]["metadata"]["annotations"][
            CONFIG_HASH_ANNOTATION
        ]
        for item in objects
        if item["kind"] == "Deployment"
    }


def test_config_hash_follows_profiles(
    minimal: dict[str, Any], profiles: list[dict[str, Any]]
) -> None:
    before = config_hashes(render(minimal, profiles))
    changed = copy.deepcopy(profiles)
    changed[0]["spec"]["params"]["sub_queries"] = 3
    after = config_hashes(render(minimal, changed))
    assert set(before) == {"research-api", "research-worker", "research-beat"}
    for name in before:
        assert before[name] != after[name]


def test_config_hash_follows_env(minimal: dict[str, Any], profiles: list[dict[str, Any]]) -> None:
    before = config_hashes(render(minimal, profiles))
    deployment = edited(minimal, "spec.env", [{"name": "TASK_MAX_RETRIES", "value": "5"}])
    after = config_hashes(render(deployment, profiles))
    assert before["research-api"] != after["research-api"]


def test_network_policies_limit_paths(
    minimal: dict[str, Any], profiles: list[dict[str, Any]]
) -> None:
    objects = by_kind_name(render(minimal, profiles))
    redis = objects[("NetworkPolicy", "research-redis")]["spec"]
    sources = [
        peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
        for peer in redis["ingress"][0]["from"]
    ]
    assert sources == ["api", "worker"]
    worker = objects[("NetworkPolicy", "research-worker")]["spec"]
    assert "ingress" not in worker
    assert worker["policyTypes"] == ["Ingress", "Egress"]
    api = objects[("NetworkPolicy", "research-api")]["spec"]
    assert api["ingress"] == [{"ports": [{"port": 8000, "protocol": "TCP"}]}]
