"""Writing: an extractive Markdown report with numbered citations.

Every sentence of the report is copied from a retrieved passage (only
whitespace is collapsed to single spaces) and followed by `[n]`, where `n`
numbers that passage in the Sources list. Sentences are chosen by how much
of the question's, or the section's sub-query's, IDF-weighted terms they
contain. A sentence that shares no term with its query is never used, and
when no sentence qualifies the report states that the evidence is
insufficient and cites nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from gl_deep_research.engines.base import Source
from gl_deep_research.engines.local.analysis import sentence_spans, terms
from gl_deep_research.engines.local.planner import Plan
from gl_deep_research.engines.local.retrieval import RankedHit

SUMMARY_SENTENCES = 3
# The summary quotes only the best-ranked passages.
SUMMARY_PASSAGES = 5
# Share of the query's IDF-weighted terms that a sentence and its passage's
# title must contain together. A section's sub-query is short, so it must be
# covered better than the whole question, whose parts a summary sentence may
# answer one at a time. A sub-query's section also needs QUESTION_COVERAGE of
# the question, so that a sub-query such as "affect" cannot pull in sentences
# about anything that affects anything.
SUMMARY_COVERAGE = 0.25
SECTION_COVERAGE = 0.5
QUESTION_COVERAGE = 0.2
# Sentences whose stemmed terms overlap this much (Jaccard) with a sentence
# already in the report are near-duplicates and are skipped.
DUPLICATE_OVERLAP = 0.6
MIN_SENTENCE_TERMS = 3
MAX_SENTENCE_CHARS = 600
# A sentence's own coverage of the query counts fully; the coverage by its
# passage's title counts this much, so that "It was founded in 1960" ranks
# higher in the article about OPEC, but never qualifies on the title alone.
TITLE_WEIGHT = 0.5
# Bonus for the first sentence of a document, which in encyclopedic text
# usually defines the subject.
LEAD_BONUS = 0.15
# Bonus that favours passages ranked higher by retrieval: LEAD_BONUS / (1 + rank).
RANK_BONUS = 0.2

_CITATION_LIKE = re.compile(r"\[\d+\]")
_MARKDOWN_BLOCK_START = ("#", ">", "|", "-", "*", "+", "```", "=")

Weigh = Callable[[str], float]


@dataclass(frozen=True)
class Sentence:
    """A candidate sentence: `text` has its whitespace collapsed for the report."""

    hit: RankedHit
    rank: int
    start: int
    text: str
    terms: frozenset[str]
    title_terms: frozenset[str]


@dataclass
class Report:
    """The Markdown text and the sources that its `[n]` marks point to."""

    markdown: str
    sources: list[Source]


@dataclass(frozen=True)
class _Criteria:
    """What a sentence must match to be quoted for one part of the report.

    A query is a list of phrases, because a follow-up query joins several
    keyphrases of which a sentence is expected to match one.
    """

    phrases: list[dict[str, float]]
    min_coverage: float
    context: dict[str, float]
    min_context_coverage: float = 0.0

    def coverage(self, sentence_terms: frozenset[str]) -> float:
        return max((_coverage(sentence_terms, phrase) for phrase in self.phrases), default=0.0)


@dataclass(frozen=True)
class _Section:
    heading: str
    criteria: _Criteria
    candidates: list[Sentence]
    budget: int


def write_report(
    plan: Plan,
    evidence: Sequence[RankedHit],
    collections: Sequence[str],
    max_sentences: int,
    weigh: Weigh,
) -> Report:
    """Write the report for `plan` from the ranked `evidence` passages.

    `weigh(term)` returns the importance of a stemmed term, normally its IDF.
    """
    sentences = _candidate_sentences(evidence)
    question_terms = set(terms(plan.question))

    question_weights = _weights(plan.question, weigh)
    summary_budget = min(SUMMARY_SENTENCES, max_sentences)
    if not plan.sub_queries and not plan.follow_ups:
        summary_budget = max_sentences
    chosen: list[Sentence] = []
    summary = _pick(
        [s for s in sentences if s.rank < SUMMARY_PASSAGES],
        _Criteria([question_weights], SUMMARY_COVERAGE, context={}),
        summary_budget,
        chosen,
    )

    sections: list[tuple[str, list[Sentence]]] = []
    remaining = max_sentences - len(summary)
    for section in _plan_sections(plan, sentences, remaining, question_weights, weigh):
        picked = _pick(section.candidates, section.criteria, section.budget, chosen)
        if picked:
            sections.append((section.heading, picked))

    if not summary or not question_terms:
        return Report(markdown=insufficient_evidence(plan.question, collections), sources=[])

    numbers: dict[tuple[str, int], int] = {}
    sources: list[Source] = []
    parts = [f"# {_heading(plan.question)}", "## Summary", _paragraph(summary, numbers, sources)]
    for heading, picked in sections:
        parts.append(f"## {heading}")
        parts.append(_paragraph(picked, numbers, sources))
    parts.append("## Sources")
    parts.append("\n".join(_source_line(source) for source in sources))
    return Report(markdown="\n\n".join(parts) + "\n", sources=sources)


def insufficient_evidence(question: str, collections: Iterable[str]) -> str:
    """Return the report for a question that no retrieved passage supports."""
    searched = ", ".join(collections)
    return (
        f"# {_heading(question)}\n\n"
        "## Summary\n\n"
        f"The evidence is insufficient to answer this question: no passage in the searched "
        f"collections ({searched}) matches its terms closely enough to cite. Rephrase the "
        "question with the names and terms that the documents use, or search other "
        "collections.\n"
    )


def _candidate_sentences(evidence: Sequence[RankedHit]) -> list[Sentence]:
    sentences = []
    for rank, entry in enumerate(evidence):
        passage = entry.hit.passage
        title_terms = frozenset(terms(passage.title))
        for start, end in sentence_spans(passage.text):
            raw = passage.text[start:end]
            text = " ".join(raw.split())
            if not _usable(text):
                continue
            sentence_terms = frozenset(terms(text))
            if len(sentence_terms) < MIN_SENTENCE_TERMS:
                continue
            sentences.append(
                Sentence(entry, rank, passage.start + start, text, sentence_terms, title_terms)
            )
    return sentences


def _usable(text: str) -> bool:
    # Headings, list items and table rows of Markdown sources are not prose,
    # and a "[3]" inside a sentence would read as one of our citations.
    return (
        len(text) <= MAX_SENTENCE_CHARS
        and text[-1] in ".!?\"')”’"
        and not text.startswith(_MARKDOWN_BLOCK_START)
        and not _CITATION_LIKE.search(text)
    )


def _plan_sections(
    plan: Plan,
    sentences: list[Sentence],
    budget: int,
    question_weights: dict[str, float],
    weigh: Weigh,
) -> list[_Section]:
    """Split the sentence budget left after the summary over one section per query."""
    queries = [
        (
            _capitalise(query),
            _Criteria(
                [_weights(query, weigh)], SECTION_COVERAGE, question_weights, QUESTION_COVERAGE
            ),
        )
        for query in plan.sub_queries
    ]
    # A follow-up query is about what the best passages mention, which the
    # question may not name, so its sections need no coverage of the question.
    queries += [
        (
            f"Related: {query}",
            _Criteria(
                [_weights(phrase, weigh) for phrase in query.split("; ")],
                SECTION_COVERAGE,
                question_weights,
            ),
        )
        for query in plan.follow_ups
    ]
    if budget <= 0 or not queries:
        return []
    sections = []
    count = len(queries)
    for number, (heading, criteria) in enumerate(queries, start=1):
        # Query 0 is the question, so sub-query i was searched as query i + 1.
        found = [s for s in sentences if number in s.hit.queries]
        share = budget // count + (1 if number <= budget % count else 0)
        if share:
            sections.append(_Section(heading, criteria, found or sentences, share))
    return sections


def _pick(
    candidates: Sequence[Sentence],
    criteria: _Criteria,
    budget: int,
    chosen: list[Sentence],
) -> list[Sentence]:
    """Pick up to `budget` sentences that meet `criteria`, appending them to `chosen` too.

    A sentence must contain a term of the query, and together with its
    passage's title at least `min_coverage` of the query's term weight. Terms
    of the context (the whole question, for a section) add half their weight
    to the score.
    """
    scored = []
    for sentence in candidates:
        own = criteria.coverage(sentence.terms)
        if own <= 0.0:
            continue
        with_title = sentence.terms | sentence.title_terms
        if criteria.coverage(with_title) < criteria.min_coverage:
            continue
        in_context = _coverage(with_title, criteria.context)
        if in_context < criteria.min_context_coverage:
            continue
        score = own + 0.5 * _coverage(sentence.terms, criteria.context)
        score += TITLE_WEIGHT * criteria.coverage(sentence.title_terms)
        score += RANK_BONUS / (1 + sentence.rank)
        if sentence.start == 0:
            score += LEAD_BONUS
        scored.append((score, sentence))
    scored.sort(key=lambda pair: (-pair[0], pair[1].rank, pair[1].start))

    picked: list[Sentence] = []
    for _score, sentence in scored:
        if len(picked) == budget:
            break
        if any(_near_duplicate(sentence, other) for other in chosen):
            continue
        picked.append(sentence)
        chosen.append(sentence)
    # Keep the order of the sources so the paragraph reads like the passages.
    return sorted(picked, key=lambda s: (s.rank, s.start))


def _weights(query: str, weigh: Weigh) -> dict[str, float]:
    return {term: weigh(term) for term in set(terms(query))} if query else {}


def _coverage(sentence_terms: frozenset[str] | set[str], weights: dict[str, float]) -> float:
    total = sum(weights.values())
    if total <= 0.0:
        return 0.0
    return sum(weight for term, weight in weights.items() if term in sentence_terms) / total


def _near_duplicate(sentence: Sentence, other: Sentence) -> bool:
    if sentence.text == other.text:
        return True
    union = sentence.terms | other.terms
    return bool(union) and len(sentence.terms & other.terms) / len(union) >= DUPLICATE_OVERLAP


def _paragraph(
    sentences: Sequence[Sentence], numbers: dict[tuple[str, int], int], sources: list[Source]
) -> str:
    """Join sentences with their `[n]` marks, numbering passages on first citation."""
    cited = []
    for sentence in sentences:
        hit = sentence.hit.hit
        number = numbers.get(hit.key)
        if number is None:
            number = len(numbers) + 1
            numbers[hit.key] = number
            passage = hit.passage
            sources.append(
                Source(
                    id=number,
                    title=passage.title,
                    url_or_path=passage.url_or_path,
                    snippet=passage.text,
                    start=passage.start,
                    end=passage.end,
                )
            )
        cited.append(f"{sentence.text} [{number}]")
    return " ".join(cited)


def _source_line(source: Source) -> str:
    if source.url_or_path.startswith(("https://", "http://")):
        return f"{source.id}. [{source.title}]({source.url_or_path})"
    return f"{source.id}. {source.title} (`{source.url_or_path}`)"


def _heading(text: str) -> str:
    collapsed = " ".join(text.split())
    return collapsed if len(collapsed) <= 200 else collapsed[:199] + "…"


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]
