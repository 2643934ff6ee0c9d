"""BM25 indexes of collections, persisted on disk and cached in memory.

An index lives in `<index_dir>/<collection>/<fingerprint>/`. The fingerprint
covers the sources (file paths, sizes and modification times, or the
Wikipedia package version and data file size) and INDEX_FORMAT, so a changed
source or a changed pipeline builds a new index and nothing else does. A
build writes into a temporary folder next to the final one and renames it
into place, so two processes that build at once never see a half-written
index: the first rename wins and the other process keeps its own copy in
memory. Engines are created per task, so loaded indexes are cached per
process, keyed by index directory, collection and fingerprint.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import shutil
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import bm25s
import numpy as np
import numpy.typing as npt

from gl_deep_research.engines.base import ResearchError
from gl_deep_research.engines.local.analysis import terms_of_each, tokenize_corpus
from gl_deep_research.engines.local.chunking import Passage, split_passages
from gl_deep_research.engines.local.corpus import (
    SUPPORTED_SUFFIXES,
    Collection,
    load_documents,
    resolve_collection,
)
from gl_deep_research.settings import Settings

logger = logging.getLogger(__name__)

# Bump when chunking, tokenization or the stored layout changes, so that
# existing indexes are rebuilt instead of read with the wrong assumptions.
INDEX_FORMAT = "local-bm25-v1"

_META_FILE = "meta.json"
_PASSAGES_FILE = "passages.json"
_DOC_FREQ_FILE = "doc_freq.npy"
_BM25_DIR = "bm25"

FloatArray = npt.NDArray[np.float32]


@dataclass
class CollectionIndex:
    """The passages of one collection and their BM25 index."""

    collection: str
    fingerprint: str
    passages: list[Passage]
    retriever: bm25s.BM25
    doc_freq: npt.NDArray[np.int64]
    # Built on first use by `titles_within`, from the passages, so the
    # stored index does not change.
    _title_terms: list[frozenset[str]] | None = field(default=None, repr=False, compare=False)
    _title_postings: dict[str, list[int]] = field(default_factory=dict, repr=False, compare=False)

    def scores(
        self,
        query_terms: list[str],
        weights: Mapping[str, float] | None = None,
        coordination: float = 0.0,
    ) -> FloatArray:
        """Return the BM25 score of every passage for the stemmed `query_terms`.

        With `weights`, each term's BM25 contribution is multiplied by its
        weight (1.0 for a term that `weights` lacks). With `coordination`
        above 0, each passage's score is also multiplied by the share of the
        distinct query terms' weight that it contains, raised to that power.
        """
        known = [term for term in query_terms if term in self.retriever.vocab_dict]
        if not known:
            return np.zeros(len(self.passages), dtype=np.float32)
        if weights is None and coordination <= 0.0:
            ids = [self.retriever.vocab_dict[term] for term in known]
            scores: FloatArray = self.retriever.get_scores_from_ids(ids)
            return scores
        weight_of = weights or {}
        total = np.zeros(len(self.passages), dtype=np.float32)
        matched = np.zeros(len(self.passages), dtype=np.float32)
        for term in known:
            weight = np.float32(weight_of.get(term, 1.0))
            term_scores = self.retriever.get_scores_from_ids([self.retriever.vocab_dict[term]])
            total += weight * term_scores
        for term in set(known):
            weight = np.float32(weight_of.get(term, 1.0))
            term_scores = self.retriever.get_scores_from_ids([self.retriever.vocab_dict[term]])
            matched += weight * (term_scores > 0)
        if coordination > 0.0:
            # Terms missing from the vocabulary count as unmatched.
            query_weight = sum(weight_of.get(term, 1.0) for term in set(query_terms) if term)
            total *= (matched / np.float32(query_weight)) ** np.float32(coordination)
        return total

    def titles_within(self, query_terms: set[str]) -> dict[int, frozenset[str]]:
        """Return the passages whose title's stemmed terms all occur in `query_terms`.

        Maps each passage's position to its title terms. A title of only
        stop words has no terms and is never returned.
        """
        if self._title_terms is None:
            self._build_title_postings()
        assert self._title_terms is not None
        found: dict[int, frozenset[str]] = {}
        for term in query_terms:
            for position in self._title_postings.get(term, ()):
                title_terms = self._title_terms[position]
                if title_terms <= query_terms:
                    found[position] = title_terms
        return found

    def _build_title_postings(self) -> None:
        titles = list(dict.fromkeys(passage.title for passage in self.passages))
        by_title = {
            title: frozenset(found)
            for title, found in zip(titles, terms_of_each(titles), strict=True)
        }
        title_terms = []
        postings: dict[str, list[int]] = {}
        for position, passage in enumerate(self.passages):
            own = by_title[passage.title]
            title_terms.append(own)
            for term in own:
                postings.setdefault(term, []).append(position)
        self._title_postings = postings
        self._title_terms = title_terms

    def idf(self, term: str) -> float:
        """Return the BM25 (Lucene) inverse document frequency of a stemmed term.

        A term that no passage contains gets the largest possible value.
        """
        token_id = self.retriever.vocab_dict.get(term)
        count = len(self.passages)
        freq = int(self.doc_freq[token_id]) if token_id is not None else 0
        return math.log(1.0 + (count - freq + 0.5) / (freq + 0.5))


_cache: dict[tuple[str, str], CollectionIndex] = {}
_cache_lock = threading.Lock()
_build_locks: dict[tuple[str, str], threading.Lock] = {}


def load_index(settings: Settings, name: str) -> CollectionIndex:
    """Return the index of collection `name`, loading or building it when needed."""
    collection = resolve_collection(settings, name)
    fingerprint = hashlib.sha256(f"{INDEX_FORMAT}\0{collection.fingerprint}".encode()).hexdigest()
    key = (str(settings.index_dir), name)

    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None and cached.fingerprint == fingerprint:
            return cached
        build_lock = _build_locks.setdefault(key, threading.Lock())

    # One thread per collection loads or builds; the others wait and reuse it.
    with build_lock:
        with _cache_lock:
            cached = _cache.get(key)
        if cached is not None and cached.fingerprint == fingerprint:
            return cached
        index = _load_or_build(settings.index_dir / name, collection, fingerprint)
        with _cache_lock:
            _cache[key] = index
        return index


def clear_index_cache() -> None:
    """Forget the indexes loaded by this process; the next search reads them from disk."""
    with _cache_lock:
        _cache.clear()


def _load_or_build(folder: Path, collection: Collection, fingerprint: str) -> CollectionIndex:
    target = folder / fingerprint[:32]
    if (target / _META_FILE).is_file():
        try:
            return _read_index(target, collection.name, fingerprint)
        except (OSError, ValueError, KeyError) as err:
            logger.warning(
                "Rebuilding index %s of collection %r because it cannot be read: %s",
                target,
                collection.name,
                err,
            )
            shutil.rmtree(target, ignore_errors=True)
    return _build(folder, target, collection, fingerprint)


def _build(folder: Path, target: Path, collection: Collection, fingerprint: str) -> CollectionIndex:
    started = time.perf_counter()
    passages = [
        passage for document in load_documents(collection) for passage in split_passages(document)
    ]
    if not passages:
        where = str(collection.root) if collection.root is not None else collection.name
        raise ResearchError(
            f"Collection {collection.name!r} has no readable text in {where!r}; add files "
            f"ending in {', '.join(SUPPORTED_SUFFIXES)} that contain text."
        )

    # The title is indexed with every passage because it names the subject
    # that the passage's sentences often only refer to ("It", "The war").
    tokenized = tokenize_corpus([f"{passage.title}\n{passage.text}" for passage in passages])
    retriever = bm25s.BM25()
    retriever.index(tokenized, show_progress=False)
    doc_freq = _document_frequencies(tokenized.ids, len(retriever.vocab_dict))
    index = CollectionIndex(collection.name, fingerprint, passages, retriever, doc_freq)

    folder.mkdir(parents=True, exist_ok=True)
    staging = folder / f".tmp-{uuid.uuid4().hex}"
    try:
        _write_index(staging, index)
        os.rename(staging, target)
    except OSError as err:
        shutil.rmtree(staging, ignore_errors=True)
        if not (target / _META_FILE).is_file():
            raise ResearchError(
                f"Failed to write the index of collection {collection.name!r} to "
                f"{str(target)!r}: {err}; check that GLDR_DATA_DIR is writable."
            ) from err
        # Another process renamed its build into place first, which is as good as ours.
    _remove_stale(folder, keep=target.name)
    logger.info(
        "Built index of collection %r: %d passages in %.2f s at %s",
        collection.name,
        len(passages),
        time.perf_counter() - started,
        target,
    )
    return index


def _document_frequencies(ids: list[list[int]], vocabulary_size: int) -> npt.NDArray[np.int64]:
    unique = [np.unique(np.asarray(row, dtype=np.int64)) for row in ids if row]
    if not unique:
        return np.zeros(vocabulary_size, dtype=np.int64)
    return np.bincount(np.concatenate(unique), minlength=vocabulary_size).astype(np.int64)


def _write_index(staging: Path, index: CollectionIndex) -> None:
    staging.mkdir(parents=True)
    index.retriever.save(str(staging / _BM25_DIR), show_progress=False)
    np.save(staging / _DOC_FREQ_FILE, index.doc_freq, allow_pickle=False)
    rows = [[p.title, p.url_or_path, p.start, p.end, p.text] for p in index.passages]
    (staging / _PASSAGES_FILE).write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    meta = {
        "format": INDEX_FORMAT,
        "collection": index.collection,
        "fingerprint": index.fingerprint,
        "passages": len(index.passages),
    }
    # meta.json is written last: its presence marks a complete index.
    (staging / _META_FILE).write_text(json.dumps(meta), encoding="utf-8")


def _read_index(target: Path, name: str, fingerprint: str) -> CollectionIndex:
    meta = json.loads((target / _META_FILE).read_text(encoding="utf-8"))
    if meta.get("fingerprint") != fingerprint or meta.get("format") != INDEX_FORMAT:
        raise ValueError(f"meta.json describes another index: {meta!r}")
    rows = json.loads((target / _PASSAGES_FILE).read_text(encoding="utf-8"))
    passages = [
        Passage(title=title, url_or_path=url, text=text, start=start, end=end)
        for title, url, start, end, text in rows
    ]
    retriever = bm25s.BM25.load(str(target / _BM25_DIR), show_progress=False)
    doc_freq = np.load(target / _DOC_FREQ_FILE, allow_pickle=False)
    if len(passages) != meta.get("passages") or retriever.scores["num_docs"] != len(passages):
        raise ValueError(f"passage count does not match meta.json: {len(passages)}")
    return CollectionIndex(name, fingerprint, passages, retriever, doc_freq)


def _remove_stale(folder: Path, keep: str) -> None:
    """Delete indexes of older fingerprints and leftovers of builds that crashed."""
    for entry in folder.iterdir():
        if entry.name == keep or not entry.is_dir():
            continue
        # A temporary folder younger than an hour may belong to a build that is
        # still running in another process.
        if entry.name.startswith(".tmp-") and time.time() - entry.stat().st_mtime < 3600:
            continue
        shutil.rmtree(entry, ignore_errors=True)
