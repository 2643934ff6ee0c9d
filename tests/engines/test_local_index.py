"""Persistence, reuse and rebuilding of collection indexes, and collection search."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from gl_deep_research.engines.base import ResearchError
from gl_deep_research.engines.local import search_collections
from gl_deep_research.engines.local.index import (
    CollectionIndex,
    clear_index_cache,
    load_index,
)
from gl_deep_research.settings import Settings

pytestmark = pytest.mark.unit


def write_notes(settings: Settings) -> Path:
    folder = settings.collections_dir / "notes"
    folder.mkdir(parents=True)
    (folder / "volcano.md").write_text(
        "# Volcanoes\n\nA volcano is a rupture in the crust of a planet. Lava flows out of it.\n",
        encoding="utf-8",
    )
    (folder / "bees.txt").write_text(
        "Honey bees live in colonies. A colony has one queen.", encoding="utf-8"
    )
    return folder


def index_folders(settings: Settings) -> list[str]:
    return sorted(entry.name for entry in (settings.index_dir / "notes").iterdir())


def test_index_persisted_and_reused(settings: Settings) -> None:
    write_notes(settings)
    first = load_index(settings, "notes")
    folders = index_folders(settings)
    clear_index_cache()

    second = load_index(settings, "notes")

    assert len(folders) == 1
    assert index_folders(settings) == folders
    assert second is not first
    assert second.fingerprint == first.fingerprint
    assert second.passages == first.passages


def test_index_cached_in_memory(settings: Settings) -> None:
    write_notes(settings)

    assert load_index(settings, "notes") is load_index(settings, "notes")


def test_index_rebuilt_after_change(settings: Settings) -> None:
    folder = write_notes(settings)
    first = load_index(settings, "notes")
    (folder / "glacier.txt").write_text("Glaciers carve valleys.", encoding="utf-8")

    second = load_index(settings, "notes")

    assert second.fingerprint != first.fingerprint
    assert len(index_folders(settings)) == 1
    titles = sorted({passage.title for passage in second.passages})
    assert titles == ["Volcanoes", "bees", "glacier"]


def test_index_rebuilt_after_edit(settings: Settings) -> None:
    folder = write_notes(settings)
    first = load_index(settings, "notes")
    bees = folder / "bees.txt"
    bees.write_text("Bumble bees are larger than honey bees.", encoding="utf-8")
    stat = bees.stat()
    os.utime(bees, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))

    second = load_index(settings, "notes")

    assert second.fingerprint != first.fingerprint
    texts = [passage.text for passage in second.passages if passage.title == "bees"]
    assert texts == ["Bumble bees are larger than honey bees."]


def test_corrupt_index_rebuilt(settings: Settings) -> None:
    write_notes(settings)
    first = load_index(settings, "notes")
    folder = settings.index_dir / "notes" / index_folders(settings)[0]
    (folder / "passages.json").write_text("[", encoding="utf-8")
    clear_index_cache()

    second = load_index(settings, "notes")

    assert second.passages == first.passages


def test_concurrent_builds_agree(settings: Settings) -> None:
    write_notes(settings)
    results: list[CollectionIndex] = []

    def build() -> None:
        results.append(load_index(settings, "notes"))

    threads = [threading.Thread(target=build) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(results) == 4
    assert all(result is results[0] for result in results)
    assert len(index_folders(settings)) == 1


def test_empty_collection_rejected(settings: Settings) -> None:
    (settings.collections_dir / "empty").mkdir(parents=True)

    with pytest.raises(ResearchError, match="has no readable text"):
        load_index(settings, "empty")


def test_search_collections_returns_passages(settings: Settings) -> None:
    folder = write_notes(settings)

    results = search_collections(settings, "queen of a bee colony", ["notes"], k=5)

    assert [result.title for result in results] == ["bees"]
    result = results[0]
    document = (folder / "bees.txt").read_text(encoding="utf-8")
    assert document[result.start : result.end] == result.text
    assert result.url_or_path == "notes/bees.txt"
    assert result.score > 0


def test_search_collections_no_match(settings: Settings) -> None:
    write_notes(settings)

    assert search_collections(settings, "zyxwvut", ["notes"], k=5) == []


def test_search_collections_wikipedia(wiki_settings: Settings, wiki_index: CollectionIndex) -> None:
    results = search_collections(wiki_settings, "1973 oil crisis", ["wikipedia"], k=5)

    assert len(results) == 5
    assert results[0].title == "1973 oil crisis"
    assert results[0].url_or_path == "https://en.wikipedia.org/wiki/1973_oil_crisis"


def test_wikipedia_index_size(wiki_index: CollectionIndex) -> None:
    titles = {passage.title for passage in wiki_index.passages}

    assert len(titles) > 10_000
    assert len(wiki_index.passages) >= len(titles)
