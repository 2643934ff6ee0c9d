"""The `local` research engine: offline, no LLM.

The run goes plan (planner.py), load indexes (index.py), search every
query in every collection, fuse and diversify (retrieval.py), then write the
extractive report (writer.py). `cancel()` is checked between steps.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from gl_deep_research.engines.base import (
    CancelCheck,
    Emit,
    ResearchCancelled,
    ResearchError,
    ResearchReport,
    Usage,
)
from gl_deep_research.engines.local.analysis import terms
from gl_deep_research.engines.local.index import CollectionIndex, load_index
from gl_deep_research.engines.local.planner import Plan, follow_up_query, plan_queries
from gl_deep_research.engines.local.retrieval import (
    Hit,
    RankedHit,
    maximal_marginal_relevance,
    reciprocal_rank_fusion,
    search,
)
from gl_deep_research.engines.local.writer import write_report
from gl_deep_research.profiles.params import LocalParams
from gl_deep_research.settings import Settings

logger = logging.getLogger(__name__)

# The question itself weighs more in fusion than any one keyphrase, because
# a keyphrase alone ("world economy") can drift from what was asked.
QUESTION_WEIGHT = 1.5
SUB_QUERY_WEIGHT = 1.0
# Follow-up queries are built from passages, not from the question, so they
# can drift the most and weigh the least.
FOLLOW_UP_WEIGHT = 0.8


class LocalEngine:
    """Research over local collections with BM25 retrieval and an extractive writer."""

    provider = "local"
    name = "Local collections (offline)"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def run(
        self,
        query: str,
        params: Mapping[str, Any],
        emit: Emit,
        cancel: CancelCheck,
    ) -> ResearchReport:
        report, _evidence = self.research(query, params, emit, cancel)
        return report

    def research(
        self,
        query: str,
        params: Mapping[str, Any],
        emit: Emit,
        cancel: CancelCheck,
    ) -> tuple[ResearchReport, list[RankedHit]]:
        """Run the research and also return the ranked evidence, for evaluation."""
        started = time.perf_counter()
        options = LocalParams.model_validate(dict(params))
        question = " ".join(query.split())
        if not question:
            raise ResearchError("The question is empty; send a question with at least one word.")
        usage = Usage()

        _check(cancel)
        emit("progress", {"percent": 0, "step": "Planning sub-queries"})
        plan = plan_queries(question, options.sub_queries)
        sub_queries = [*plan.sub_questions, *plan.sub_queries]
        emit("thinking", {"text": _describe_plan(sub_queries), "sub_queries": sub_queries})

        indexes: list[CollectionIndex] = []
        for name in options.collections:
            _check(cancel)
            emit("progress", {"percent": 10, "step": f"Loading collection {name}"})
            indexes.append(load_index(self.settings, name))

        # Round one searches the plan; round two searches the follow-up
        # queries built from the best passages of round one.
        rankings: list[tuple[int, list[Hit]]] = []
        searches = (len(plan.queries) + options.follow_up_queries) * len(indexes)
        progress = _SearchProgress(emit, searches)
        for number, text in enumerate(plan.queries):
            rankings += self._search_all(indexes, number, text, options, emit, cancel, usage)
            progress.update(usage.search_calls)

        weights = [QUESTION_WEIGHT] + [SUB_QUERY_WEIGHT] * len(sub_queries)
        fused = reciprocal_rank_fusion(rankings, weights)
        follow_ups = _follow_ups(plan, fused, options.follow_up_queries)
        if follow_ups:
            emit("thinking", {"text": _describe_follow_ups(follow_ups), "follow_ups": follow_ups})
        plan = Plan(plan.question, plan.sub_queries, follow_ups, plan.sub_questions)
        for offset, text in enumerate(follow_ups):
            number = 1 + len(sub_queries) + offset
            rankings += self._search_all(indexes, number, text, options, emit, cancel, usage)
            progress.update(usage.search_calls)

        _check(cancel)
        weights += [FOLLOW_UP_WEIGHT] * len(follow_ups)
        fused = reciprocal_rank_fusion(rankings, weights)
        evidence = maximal_marginal_relevance(fused, options.mmr_lambda, limit=len(fused))

        _check(cancel)
        emit("progress", {"percent": 80, "step": "Writing the report"})
        report = write_report(
            plan,
            evidence,
            [index.collection for index in indexes],
            options.max_sentences,
            weigh=lambda term: max(index.idf(term) for index in indexes),
        )
        for source in report.sources:
            emit("source", source.to_dict())

        usage.wall_seconds = time.perf_counter() - started
        emit("progress", {"percent": 100, "step": "Done"})
        logger.info(
            "Local research finished: %d searches, %d passages, %d sources in %.2f s",
            usage.search_calls,
            len(evidence),
            len(report.sources),
            usage.wall_seconds,
        )
        result = ResearchReport(markdown=report.markdown, sources=report.sources, usage=usage)
        return result, evidence

    def _search_all(
        self,
        indexes: list[CollectionIndex],
        number: int,
        text: str,
        options: LocalParams,
        emit: Emit,
        cancel: CancelCheck,
        usage: Usage,
    ) -> list[tuple[int, list[Hit]]]:
        """Search query `number` in every collection, one ranking per collection."""
        rankings = []
        for index in indexes:
            _check(cancel)
            emit("activity", {"kind": "search", "query": text, "collection": index.collection})
            hits = search(index, text, options.passages_per_query, options.min_score)
            usage.search_calls += 1
            rankings.append((number, hits))
        return rankings


class _SearchProgress:
    """Maps the number of searches done to percent 20 to 70 of the run."""

    def __init__(self, emit: Emit, total: int) -> None:
        self.emit = emit
        self.total = max(total, 1)

    def update(self, done: int) -> None:
        percent = 20 + int(50 * min(done, self.total) / self.total)
        self.emit("progress", {"percent": percent, "step": f"Searched {done} of {self.total}"})


def _follow_ups(plan: Plan, fused: list[RankedHit], count: int) -> list[str]:
    """Build up to `count` follow-up queries, one from each of the best documents."""
    known = {term for query in plan.queries for term in terms(query)}
    queries: list[str] = []
    seen_documents: set[str] = set()
    for entry in fused:
        if len(queries) == count:
            break
        passage = entry.hit.passage
        if passage.url_or_path in seen_documents:
            continue
        seen_documents.add(passage.url_or_path)
        query = follow_up_query([passage.text], known)
        if query:
            queries.append(query)
            known |= set(terms(query))
    return queries


def _describe_follow_ups(follow_ups: list[str]) -> str:
    return "Following up on the best passages with: " + " | ".join(follow_ups) + "."


def _check(cancel: CancelCheck) -> None:
    if cancel():
        raise ResearchCancelled("The research task was cancelled before it finished.")


def _describe_plan(sub_queries: list[str]) -> str:
    if not sub_queries:
        return "Searching for the question as asked; no keyphrases were found for sub-queries."
    listed = "; ".join(sub_queries)
    return f"Searching for the question and {len(sub_queries)} sub-queries: {listed}."
