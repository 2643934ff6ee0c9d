"""Fixtures for the local engine: settings with private data folders and sample files."""

from __future__ import annotations

from pathlib import Path

import pytest

from gl_deep_research.engines.local.index import CollectionIndex, load_index
from gl_deep_research.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings whose data and collections folders are private to one test."""
    return Settings(gldr_data_dir=tmp_path / "data", gldr_collections_dir=tmp_path / "collections")


@pytest.fixture(scope="session")
def wiki_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings shared by the tests that search the Wikipedia collection."""
    root = tmp_path_factory.mktemp("wiki")
    return Settings(gldr_data_dir=root / "data", gldr_collections_dir=root / "collections")


@pytest.fixture(scope="session")
def wiki_index(wiki_settings: Settings) -> CollectionIndex:
    """The Wikipedia index, built once per test session."""
    return load_index(wiki_settings, "wikipedia")
