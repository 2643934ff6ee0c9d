"""Ingestion of folder collections, chunking offsets and path safety."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from local_helpers import write_pdf

from gl_deep_research.engines.base import ResearchError
from gl_deep_research.engines.local.chunking import MAX_CHARS, split_passages
from gl_deep_research.engines.local.corpus import (
    Document,
    load_documents,
    resolve_collection,
    wikipedia_url,
)
from gl_deep_research.settings import Settings

pytestmark = pytest.mark.unit


def make_collection(settings: Settings, name: str = "notes") -> Path:
    folder = settings.collections_dir / name
    folder.mkdir(parents=True)
    return folder


def documents_by_path(settings: Settings, name: str = "notes") -> dict[str, Document]:
    collection = resolve_collection(settings, name)
    return {document.url_or_path: document for document in load_documents(collection)}


def test_markdown_title_and_text(settings: Settings) -> None:
    folder = make_collection(settings)
    text = "# Volcanoes\n\nA volcano is a rupture in the crust.\n"
    (folder / "volcano.md").write_text(text, encoding="utf-8")

    document = documents_by_path(settings)["notes/volcano.md"]

    assert document.title == "Volcanoes"
    assert document.text == text


def test_text_file_title_is_file_stem(settings: Settings) -> None:
    folder = make_collection(settings)
    (folder / "sub").mkdir()
    (folder / "sub" / "bees.txt").write_text("Bees make honey.", encoding="utf-8")

    document = documents_by_path(settings)["notes/sub/bees.txt"]

    assert document.title == "bees"
    assert document.text == "Bees make honey."


def test_html_boilerplate_removed(settings: Settings) -> None:
    folder = make_collection(settings)
    (folder / "tides.html").write_text(
        "<html><head><title>Tides</title></head><body><nav>Home | About</nav>"
        "<article><h1>Tidal power</h1><p>Tidal power converts the energy of tides into "
        "electricity. The Rance station in France opened in 1966.</p>"
        "<p>Tidal barrages hold water behind a dam.</p></article></body></html>",
        encoding="utf-8",
    )

    document = documents_by_path(settings)["notes/tides.html"]

    assert document.title == "Tidal power"
    assert "The Rance station in France opened in 1966." in document.text
    assert "Tidal barrages hold water behind a dam." in document.text
    assert "<p>" not in document.text


def test_pdf_text_and_title(settings: Settings) -> None:
    folder = make_collection(settings)
    write_pdf(
        folder / "ice.pdf",
        ["Glaciers are slow rivers of ice.", "They carve U-shaped valleys."],
        title="Glacier notes",
    )

    document = documents_by_path(settings)["notes/ice.pdf"]

    assert document.title == "Glacier notes"
    assert "Glaciers are slow rivers of ice." in document.text
    assert "They carve U-shaped valleys." in document.text


def test_unsupported_suffix_ignored(settings: Settings) -> None:
    folder = make_collection(settings)
    (folder / "data.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    (folder / "keep.txt").write_text("Kept.", encoding="utf-8")

    assert list(documents_by_path(settings)) == ["notes/keep.txt"]


def test_missing_collection_names_folder(settings: Settings) -> None:
    with pytest.raises(ResearchError, match="'absent' not found") as caught:
        resolve_collection(settings, "absent")
    assert str(settings.collections_dir / "absent") in str(caught.value)


@pytest.mark.parametrize("name", ["../etc", "a/b", "/tmp", "", "Upper"])
def test_invalid_collection_name_rejected(settings: Settings, name: str) -> None:
    with pytest.raises(ResearchError, match="Invalid collection name"):
        resolve_collection(settings, name)


def test_file_link_outside_rejected(settings: Settings, tmp_path: Path) -> None:
    folder = make_collection(settings)
    secret = tmp_path / "secret.txt"
    secret.write_text("Outside the collection.", encoding="utf-8")
    os.symlink(secret, folder / "leak.txt")

    with pytest.raises(ResearchError, match="outside the collection folder") as caught:
        resolve_collection(settings, "notes")
    assert "leak.txt" in str(caught.value)


def test_folder_link_outside_rejected(settings: Settings, tmp_path: Path) -> None:
    folder = make_collection(settings)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "a.md").write_text("Elsewhere.", encoding="utf-8")
    os.symlink(outside, folder / "linked")

    with pytest.raises(ResearchError, match="outside the collection folder"):
        resolve_collection(settings, "notes")


def test_relative_traversal_link_rejected(settings: Settings) -> None:
    folder = make_collection(settings)
    other = make_collection(settings, "other")
    (other / "private.md").write_text("Private notes.", encoding="utf-8")
    os.symlink("../other/private.md", folder / "peek.md")

    with pytest.raises(ResearchError, match="outside the collection folder"):
        resolve_collection(settings, "notes")


def test_collection_folder_link_outside_rejected(settings: Settings, tmp_path: Path) -> None:
    settings.collections_dir.mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, settings.collections_dir / "escape")

    with pytest.raises(ResearchError, match="outside the collections directory"):
        resolve_collection(settings, "escape")


def test_link_inside_folder_read_once(settings: Settings) -> None:
    folder = make_collection(settings)
    (folder / "real.txt").write_text("Real text.", encoding="utf-8")
    os.symlink("real.txt", folder / "alias.txt")

    assert list(documents_by_path(settings)) == ["notes/real.txt"]


def test_passages_cover_paragraphs_exactly() -> None:
    paragraphs = [f"Sentence of paragraph {number} about rivers. " * 12 for number in range(4)]
    text = "\n\n".join(paragraphs)
    document = Document(title="T", url_or_path="notes/t.md", text=text)

    passages = split_passages(document)

    assert len(passages) >= 2
    for passage in passages:
        assert text[passage.start : passage.end] == passage.text
    assert passages[0].start == 0
    assert passages[-1].end == len(text.rstrip())


def test_long_paragraph_cut_at_sentences() -> None:
    text = " ".join(f"This is sentence {i} about glaciers and ice sheets." for i in range(80))
    document = Document(title="T", url_or_path="notes/t.md", text=text)

    passages = split_passages(document)

    assert len(passages) > 1
    for passage in passages:
        assert len(passage.text) <= MAX_CHARS
        assert passage.text.endswith(".")
        assert text[passage.start : passage.end] == passage.text


def test_short_paragraphs_merged() -> None:
    text = "# Title\n\nOne short paragraph.\n\nAnother short one."
    document = Document(title="T", url_or_path="notes/t.md", text=text)

    passages = split_passages(document)

    assert [(p.start, p.end) for p in passages] == [(0, len(text))]


def test_wikipedia_url_uses_underscores() -> None:
    assert wikipedia_url("1973 oil crisis") == "https://en.wikipedia.org/wiki/1973_oil_crisis"
    assert wikipedia_url("Hypoxia (medicine)") == (
        "https://en.wikipedia.org/wiki/Hypoxia_(medicine)"
    )
