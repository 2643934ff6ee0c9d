"""ConfigMap holding profiles.yaml, mounted into the service pods."""

from __future__ import annotations

from gldr_operator.constants import PROFILES_FILE
from gldr_operator.render.common import Object, metadata
from gldr_operator.spec import DeepResearchDeployment


def render_profiles_config_map(drd: DeepResearchDeployment, profiles_yaml: str) -> Object:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(drd, "profiles"),
        "data": {PROFILES_FILE: profiles_yaml},
    }
