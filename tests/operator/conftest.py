"""Fixtures that load the example manifests and the CRDs from the repository."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
CRDS = REPO / "crds"


def load_documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if isinstance(doc, dict)]


@pytest.fixture
def minimal() -> dict[str, Any]:
    return load_documents(EXAMPLES / "deployment-minimal.yaml")[0]


@pytest.fixture
def full() -> dict[str, Any]:
    return load_documents(EXAMPLES / "deployment-full.yaml")[0]


@pytest.fixture
def profiles() -> list[dict[str, Any]]:
    return load_documents(EXAMPLES / "profiles.yaml")
