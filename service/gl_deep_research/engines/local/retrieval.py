"""Retrieval: BM25 search per query, reciprocal-rank fusion, then MMR.

The engine searches every (query, collection) pair with `search`, fuses the
ranked lists with `reciprocal_rank_fusion` and orders the fused passages for
diversity with `maximal_marginal_relevance`. `search_collections` runs the
same steps for a single query and is the tool that other engines call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from gl_deep_research.engines.local.analysis import GENERIC_WEIGHT, generic_terms, terms
from gl_deep_research.engines.local.chunking import Passage
from gl_deep_research.engines.local.index import CollectionIndex, load_index
from gl_deep_research.settings import Settings

# The constant k of reciprocal-rank fusion, 1 / (k + rank): 60 is the value
# of Cormack, Clarke and Buettcher (SIGIR 2009), which damps the influence of
# the very first ranks.
RRF_K = 60
# BM25 adds up the scores of the terms a passage contains, so a passage that
# repeats "oil" can outrank one about the "1973 oil crisis". Scores are
# multiplied by (matched share of the query's term weight) ** this power, a
# stronger form of the coordination factor of Lucene's classic similarity.
COORDINATION_POWER = 2.0
# A passage whose article title consists of query terms ("DNA", "Soviet
# Union") is about what the query names, while other passages may only
# mention it many times ("DNA profiling"). Its score is multiplied by
# 1 + TITLE_MATCH_BOOST * (the title's share of the query's term weight),
# a simple form of the title-field weighting of BM25F.
TITLE_MATCH_BOOST = 3.0


@dataclass(frozen=True)
class Hit:
    """A passage found by a search; `position` is its index in the collection's index."""

    collection: str
    position: int
    passage: Passage
    score: float

    @property
    def key(self) -> tuple[str, int]:
        return (self.collection, self.position)


@dataclass
class RankedHit:
    """A passage after fusion: its fused score and the queries that found it."""

    hit: Hit
    fused_score: float
    queries: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class SearchResult:
    """One passage returned by `search_collections`."""

    title: str
    url_or_path: str
    text: str
    start: int
    end: int
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "url_or_path": self.url_or_path,
            "text": self.text,
            "start": self.start,
            "end": self.end,
            "score": self.score,
        }


def search(index: CollectionIndex, query: str, k: int, min_score: float = 0.0) -> list[Hit]:
    """Return up to `k` passages of `index` that score above `min_score` for `query`.

    Generic terms of the query ("caused", "affect") count GENERIC_WEIGHT of
    their BM25 score, so that they only break ties between passages on the
    subject, and a passage that contains only part of the query's terms has
    its score scaled down (see `CollectionIndex.scores`). A passage whose
    article title is made of query terms scores higher. A passage that
    shares no term with the query scores 0 and is never returned, whatever
    `min_score` is.
    """
    query_terms, weights = _query_weights(query)
    scores = index.scores(query_terms, weights, coordination=COORDINATION_POWER)
    if k <= 0 or not scores.size:
        return []
    _boost_title_matches(index, scores, weights)
    count = min(k, scores.size)
    top = np.argpartition(-scores, count - 1)[:count]
    top = top[np.argsort(-scores[top], kind="stable")]
    threshold = max(min_score, 0.0)
    return [
        Hit(index.collection, int(i), index.passages[int(i)], float(scores[i]))
        for i in top
        if scores[i] > threshold
    ]


def _boost_title_matches(
    index: CollectionIndex, scores: npt.NDArray[np.float32], weights: dict[str, float]
) -> None:
    total = sum(weights.values())
    if total <= 0.0:
        return
    for position, title_terms in index.titles_within(set(weights)).items():
        share = sum(weights[term] for term in title_terms) / total
        scores[position] *= 1.0 + TITLE_MATCH_BOOST * share


def _query_weights(query: str) -> tuple[list[str], dict[str, float]]:
    query_terms = terms(query)
    generic = generic_terms()
    weights = {term: GENERIC_WEIGHT if term in generic else 1.0 for term in query_terms}
    return query_terms, weights


def reciprocal_rank_fusion(
    rankings: Sequence[tuple[int, Sequence[Hit]]], weights: Sequence[float]
) -> list[RankedHit]:
    """Fuse ranked lists into one, best first.

    `rankings` pairs the number of the query with the hits of one search, and
    `weights[query]` scales that query's contribution. Ties keep the order in
    which passages were first found.
    """
    fused: dict[tuple[str, int], RankedHit] = {}
    for query, hits in rankings:
        for rank, hit in enumerate(hits, start=1):
            entry = fused.setdefault(hit.key, RankedHit(hit=hit, fused_score=0.0))
            entry.fused_score += weights[query] / (RRF_K + rank)
            if query not in entry.queries:
                entry.queries.append(query)
    return sorted(fused.values(), key=lambda entry: -entry.fused_score)


def maximal_marginal_relevance(
    candidates: Sequence[RankedHit], mmr_lambda: float, limit: int
) -> list[RankedHit]:
    """Order up to `limit` candidates by MMR (Carbonell and Goldstein, 1998).

    Each step picks the candidate with the best
    `mmr_lambda * relevance - (1 - mmr_lambda) * max similarity to the picked`,
    where relevance is the fused score scaled to [0, 1] and similarity is the
    Jaccard overlap of the stemmed terms of title and passage.
    """
    if not candidates or limit <= 0:
        return []
    top_score = max(candidate.fused_score for candidate in candidates) or 1.0
    relevance = [candidate.fused_score / top_score for candidate in candidates]
    term_sets = [set(terms(f"{c.hit.passage.title}\n{c.hit.passage.text}")) for c in candidates]

    chosen: list[int] = []
    max_similarity = [0.0] * len(candidates)
    remaining = set(range(len(candidates)))
    while remaining and len(chosen) < limit:
        best = max(
            remaining,
            key=lambda i: (
                mmr_lambda * relevance[i] - (1.0 - mmr_lambda) * max_similarity[i],
                -i,
            ),
        )
        chosen.append(best)
        remaining.discard(best)
        for i in remaining:
            max_similarity[i] = max(max_similarity[i], _jaccard(term_sets[i], term_sets[best]))
    return [candidates[i] for i in chosen]


def _jaccard(left: set[str], right: set[str]) -> float:
    if not left or not right:
        return 0.0
    return len(left & right) / len(left | right)


def search_collections(
    settings: Settings,
    query: str,
    collections: Sequence[str],
    k: int,
    min_score: float = 0.0,
    mmr_lambda: float = 0.7,
) -> list[SearchResult]:
    """Search `collections` for `query` and return the `k` best passages.

    Each collection is searched with BM25, the per-collection lists are fused
    by rank (BM25 scores of different collections are not comparable), and
    the fused list is ordered by MMR. `score` is the passage's BM25 score in
    its own collection. Raises `ResearchError` for a collection that is
    missing or unsafe.
    """
    rankings = [
        (0, search(load_index(settings, name), query, k, min_score)) for name in collections
    ]
    fused = reciprocal_rank_fusion(rankings, weights=[1.0])
    ranked = maximal_marginal_relevance(fused, mmr_lambda, k)
    return [
        SearchResult(
            title=entry.hit.passage.title,
            url_or_path=entry.hit.passage.url_or_path,
            text=entry.hit.passage.text,
            start=entry.hit.passage.start,
            end=entry.hit.passage.end,
            score=entry.hit.score,
        )
        for entry in ranked
    ]
