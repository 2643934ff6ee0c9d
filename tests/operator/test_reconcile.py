"""`reconcile` against an in-memory API server: what it applies and reports."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import pytest
import yaml
from tests.operator.conftest import EXAMPLES, load_documents

from gldr_operator.constants import PROFILES_FILE
from gldr_operator.kube import CHILD_KINDS, DeepResearchDeploymentResource, Kube
from gldr_operator.reconcile import reconcile

pytestmark = pytest.mark.unit

Object = dict[str, Any]
NAMESPACE = "research"
CONFIG_MAP = "research-profiles"


class MemoryKube(Kube):
    """Stores objects by (kind, name) in one namespace; apply replaces the whole object."""

    def __init__(self, objects: list[Object]) -> None:
        self.objects: dict[tuple[str, str], Object] = {}
        self.applied: list[Object] = []
        for item in objects:
            self.store(item)

    def store(self, item: Object) -> None:
        item = copy.deepcopy(item)
        item["metadata"].setdefault("namespace", NAMESPACE)
        self.objects[(item["kind"], item["metadata"]["name"])] = item

    @staticmethod
    def _kind(resource: Any) -> str:
        for kind, child in CHILD_KINDS.items():
            if child is resource:
                return kind
        return str(resource._api_info.resource.kind)

    async def get(self, kind: Any, namespace: str, name: str) -> Object:
        raise NotImplementedError

    async def get_or_none(self, kind: Any, namespace: str, name: str) -> Object | None:
        item = self.objects.get((self._kind(kind), name))
        return copy.deepcopy(item) if item else None

    async def list(
        self, kind: Any, namespace: str, labels: Mapping[str, str] | None = None
    ) -> list[Object]:
        wanted = self._kind(kind)
        return [
            copy.deepcopy(item)
            for (item_kind, _), item in sorted(self.objects.items())
            if item_kind == wanted
            and all(
                item["metadata"].get("labels", {}).get(key) == value
                for key, value in (labels or {}).items()
            )
        ]

    async def apply(self, desired: Object) -> Object:
        self.applied.append(copy.deepcopy(desired))
        self.store(desired)
        return copy.deepcopy(desired)

    async def delete(self, kind: Any, namespace: str, name: str) -> None:
        self.objects.pop((self._kind(kind), name), None)

    async def patch_status(self, kind: Any, namespace: str, name: str, status: Object) -> None:
        self.objects[("DeepResearchDeployment", name)]["status"] = status


def deployment(**spec: object) -> Object:
    document = load_documents(EXAMPLES / "deployment-minimal.yaml")[0]
    document["metadata"].update({"namespace": NAMESPACE, "uid": "uid-1", "generation": 1})
    document["spec"].update(spec)
    return document


def research_profile(name: str, **spec: object) -> Object:
    return {
        "apiVersion": "research.gdplabs.id/v1alpha1",
        "kind": "ResearchProfile",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"provider": "local", **spec},
    }


def condition(kube: MemoryKube, type_: str) -> Object:
    status = kube.objects[("DeepResearchDeployment", "research")]["status"]
    return next(item for item in status["conditions"] if item["type"] == type_)


def profiles_file(kube: MemoryKube) -> Object:
    loaded: Object = yaml.safe_load(kube.objects[("ConfigMap", CONFIG_MAP)]["data"][PROFILES_FILE])
    return loaded


async def test_valid_profiles_are_applied() -> None:
    kube = MemoryKube([deployment(), research_profile("quick")])
    await reconcile(kube, NAMESPACE, "research")
    assert profiles_file(kube)["default_profile"] == "quick"
    assert condition(kube, "ProfilesSynced")["status"] == "True"


async def test_rejected_profiles_keep_last_config_map() -> None:
    kube = MemoryKube([deployment(), research_profile("quick")])
    await reconcile(kube, NAMESPACE, "research")
    before = copy.deepcopy(kube.objects[("ConfigMap", CONFIG_MAP)])
    api_before = copy.deepcopy(kube.objects[("Deployment", "research-api")])

    drd = kube.objects[("DeepResearchDeployment", "research")]
    drd["spec"]["defaultProfile"] = "nonexistent"
    drd["metadata"]["generation"] = 2
    kube.applied.clear()
    await reconcile(kube, NAMESPACE, "research")

    assert kube.objects[("ConfigMap", CONFIG_MAP)] == before
    applied_kinds = [item["kind"] for item in kube.applied]
    assert "ConfigMap" not in applied_kinds
    # The pods keep the last good file and default, so they do not roll.
    assert kube.objects[("Deployment", "research-api")] == api_before
    synced = condition(kube, "ProfilesSynced")
    assert synced["status"] == "False"
    assert synced["reason"] == "ProfilesRejected"
    assert "nonexistent" in synced["message"]
    assert "keeps the last applied profiles.yaml" in synced["message"]
    degraded = condition(kube, "Degraded")
    assert degraded["status"] == "True"
    assert kube.objects[("DeepResearchDeployment", "research")]["status"]["phase"] == "Degraded"


async def test_rejected_profiles_on_first_install() -> None:
    kube = MemoryKube([deployment(defaultProfile="nonexistent"), research_profile("quick")])
    await reconcile(kube, NAMESPACE, "research")
    assert ("ConfigMap", CONFIG_MAP) not in kube.objects
    synced = condition(kube, "ProfilesSynced")
    assert synced["reason"] == "ProfilesRejected"
    assert "does not create the profiles ConfigMap" in synced["message"]


async def test_invalid_profile_left_out_but_applied() -> None:
    # Leaving out an invalid profile yields a file the service accepts.
    kube = MemoryKube(
        [
            deployment(),
            research_profile("quick"),
            research_profile("broken", params={"sub_queries": 99}),
        ]
    )
    await reconcile(kube, NAMESPACE, "research")
    assert list(profiles_file(kube)["profiles"]) == ["quick"]
    synced = condition(kube, "ProfilesSynced")
    assert synced["status"] == "False"
    assert synced["reason"] == "InvalidProfiles"
    assert "broken" in synced["message"]


async def test_fixed_profiles_replace_kept_file() -> None:
    kube = MemoryKube([deployment(), research_profile("quick"), research_profile("deep")])
    await reconcile(kube, NAMESPACE, "research")
    drd = kube.objects[("DeepResearchDeployment", "research")]
    drd["spec"]["defaultProfile"] = "nonexistent"
    await reconcile(kube, NAMESPACE, "research")
    drd["spec"]["defaultProfile"] = "quick"
    await reconcile(kube, NAMESPACE, "research")
    assert profiles_file(kube)["default_profile"] == "quick"
    assert condition(kube, "ProfilesSynced")["status"] == "True"


def test_memory_kube_uses_custom_resource_kind() -> None:
    assert MemoryKube._kind(DeepResearchDeploymentResource) == "DeepResearchDeployment"
