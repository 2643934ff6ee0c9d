"""Writing: an extractive Markdown report with numbered citations.

Every sentence of the report is copied from a retrieved passage (only
whitespace is collapsed to single spaces) and followed by `[n]`, where `n`
numbers that passage in the Sources list. Sentences are chosen by how much
of the question's, or the section's sub-query's, IDF-weighted terms they
contain, with generic words ("caused", "affect") weighing GENERIC_WEIGHT of
their IDF. A sentence must itself contain a content term (a term that is
not generic) of its query, so it is never used for matching only "causes"
or only the title of its article. The one exception is a sentence of the
article that the query names ("Mount Everest"), which may refer to the
subject as "it" but must still share a word with the query or question.
When no sentence qualifies the report states that the evidence is
insufficient and cites nothing. A question of several parts gets a
section per part, and a part that no sentence answers is marked as such.
The rules for one sentence are in selection.py, and this module decides
which section each sentence goes to.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from gl_deep_research.engines.base import Source
from gl_deep_research.engines.local.analysis import terms, terms_of_each
from gl_deep_research.engines.local.planner import Plan
from gl_deep_research.engines.local.retrieval import RankedHit
from gl_deep_research.engines.local.selection import (
    Criteria,
    Sentence,
    Weigh,
    candidate_sentences,
    content_terms,
    near_duplicate,
    query_weights,
    rank_sentences,
    source_order,
    take_sentences,
    term_coverage,
    with_subject,
)

SUMMARY_SENTENCES = 3
# The summary quotes only the passages with the best fused scores.
SUMMARY_PASSAGES = 5
# Share of the query's IDF-weighted terms that a sentence and its passage's
# title must contain together. A section's sub-query is short, so it must be
# covered better than the whole question, whose parts a summary sentence may
# answer one at a time. A sub-query's section also needs QUESTION_COVERAGE of
# the question, so that a sub-query such as "affect" cannot pull in sentences
# about anything that affects anything.
SUMMARY_COVERAGE = 0.25
# A summary sentence and its title must contain this many distinct content
# terms of the question (or all, if it has fewer), so that "crisis" alone
# cannot bring the Cuban Missile Crisis into a summary on the 1973 oil crisis.
SUMMARY_CONTENT_TERMS = 2
SECTION_COVERAGE = 0.5
QUESTION_COVERAGE = 0.2
# Most headings of follow-up sections name this many subjects.
MAX_HEADING_SUBJECTS = 2

# Share of the question's IDF-weighted terms that a passage's text and title
# must contain for a related section to quote it. Over the 51 questions of
# bench/eval_questions.yaml, related passages with no question term at all
# ("Law" and "Gustavus Adolphus" for the French Revolution) are off topic.
# The lowest coverage of a gold article's related passage there is 0.20
# ("Industrial Revolution" for the steam engine). Thresholds from 0.1 to 0.2
# gave the same recall, answer share and citation precision.
RELATED_MIN_COVERAGE = 0.2

SectionKind = Literal["sub_question", "sub_query", "related"]

# Written under a sub-question that no sentence answers, in place of a
# paragraph, so the report shows which part of the question lacks evidence.
PART_INSUFFICIENT = (
    "The evidence is insufficient for this part: no retrieved passage matches it closely "
    "enough to cite."
)


@dataclass
class Report:
    """The Markdown text and the sources that its `[n]` marks point to."""

    markdown: str
    sources: list[Source]


@dataclass(frozen=True)
class _Section:
    """One section to write; a `related` section is named after its sources once picked."""

    heading: str
    criteria: Criteria
    candidates: list[Sentence]
    kind: SectionKind

    @property
    def related(self) -> bool:
        return self.kind == "related"


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
    sentences = candidate_sentences(evidence)
    question_weights = query_weights(plan.question, weigh)

    # A question of several parts gets a section per part instead of a
    # summary, which would take the best sentence of each part for itself.
    summary_budget = 0 if plan.sub_questions else min(SUMMARY_SENTENCES, max_sentences)
    if not plan.sub_questions and not plan.sub_queries and not plan.follow_ups:
        summary_budget = max_sentences
    best_passages = sorted(evidence, key=lambda entry: -entry.fused_score)[:SUMMARY_PASSAGES]
    best_keys = {entry.hit.key for entry in best_passages}
    chosen: list[Sentence] = []
    summary_candidates = [s for s in sentences if s.hit.hit.key in best_keys]
    summary_criteria = Criteria(
        [question_weights], SUMMARY_COVERAGE, context={}, min_content_terms=SUMMARY_CONTENT_TERMS
    )
    summary = take_sentences(
        rank_sentences(summary_candidates, summary_criteria),
        summary_budget,
        chosen,
        summary_criteria,
        summary_candidates,
    )

    sections: list[tuple[str, list[Sentence]]] = []
    planned = _plan_sections(plan, sentences, question_weights, weigh)
    filled = _fill_sections(planned, max_sentences - len(summary), chosen)
    answered = bool(summary)
    for section, picked in zip(planned, filled, strict=True):
        heading = section.heading
        if section.related and picked:
            heading = _related_heading(picked)
        if section.kind == "sub_question":
            answered = answered or bool(picked)
            sections.append((heading, picked))
        elif picked:
            sections.append((heading, picked))

    if not answered or not content_terms(question_weights):
        return Report(markdown=insufficient_evidence(plan.question, collections), sources=[])

    numbers: dict[tuple[str, int], int] = {}
    sources: list[Source] = []
    parts = [f"# {_heading(plan.question)}"]
    if summary:
        parts += ["## Summary", _paragraph(summary, numbers, sources)]
    for heading, picked in sections:
        parts.append(f"## {heading}")
        parts.append(_paragraph(picked, numbers, sources) if picked else PART_INSUFFICIENT)
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


def _plan_sections(
    plan: Plan,
    sentences: list[Sentence],
    question_weights: dict[str, float],
    weigh: Weigh,
) -> list[_Section]:
    """Return one section per sub-question, sub-query and follow-up query, in that order."""
    queries: list[tuple[str, Criteria, SectionKind]] = [
        (query, criteria, "sub_question")
        for query, criteria in zip(
            plan.sub_questions,
            _sub_question_criteria(plan.sub_questions, question_weights, weigh),
            strict=True,
        )
    ]
    queries += [
        (
            _capitalise(query),
            Criteria(
                [query_weights(query, weigh)],
                SECTION_COVERAGE,
                question_weights,
                QUESTION_COVERAGE,
                required_terms=_subject_terms(query, question_weights),
            ),
            "sub_query",
        )
        for query in plan.sub_queries
    ]
    # A follow-up query is about what the best passages mention, which the
    # question may not name, so its sections need no coverage of the question.
    queries += [
        (
            "Related",
            Criteria(
                [query_weights(phrase, weigh) for phrase in query.split("; ")],
                SECTION_COVERAGE,
                question_weights,
                whole_phrases=True,
            ),
            "related",
        )
        for query in plan.follow_ups
    ]
    relevant = _relevant_passages(sentences, question_weights)
    sections = []
    for number, (heading, criteria, kind) in enumerate(queries, start=1):
        # Query 0 is the question, so section i quotes the passages of query i.
        found = [s for s in sentences if number in s.hit.queries] or sentences
        if kind == "related":
            found = [s for s in found if s.hit.hit.key in relevant]
        sections.append(_Section(heading, criteria, found, kind))
    return sections


def _relevant_passages(
    sentences: list[Sentence], question_weights: dict[str, float]
) -> set[tuple[str, int]]:
    """Return the passages whose text and title cover RELATED_MIN_COVERAGE of the question.

    A follow-up query searches for what the best passages mention, and may
    find articles that share no word with the question ("Law" for the
    French Revolution), so a related section quotes only these passages.
    """
    passages = {s.hit.hit.key: s.hit.hit.passage for s in sentences}
    keys = list(passages)
    texts = [f"{passages[key].title}\n{passages[key].text}" for key in keys]
    return {
        key
        for key, passage_terms in zip(keys, terms_of_each(texts), strict=True)
        if term_coverage(set(passage_terms), question_weights) >= RELATED_MIN_COVERAGE
    }


def _sub_question_criteria(
    sub_questions: list[str], question_weights: dict[str, float], weigh: Weigh
) -> list[Criteria]:
    """Return what a sentence must match for each sub-question's section.

    A sub-question's content terms that no other sub-question has
    ("economy" in "How did the 1973 oil crisis affect the world economy?")
    are its focus. Its sentences must contain one, so that the section is
    about that part of the question and does not only name the subject. The
    other terms must be covered as well as a sub-query's, so that "economy"
    and "oil" alone do not pull in the economy of an oil-exporting country.
    """
    clauses = [query_weights(text, weigh) for text in sub_questions]
    content = [set(content_terms(weights)) for weights in clauses]
    criteria = []
    for number, weights in enumerate(clauses):
        others = [terms for other, terms in enumerate(content) if other != number]
        focus = content[number] - set().union(*others)
        criteria.append(
            Criteria(
                [{term: weight for term, weight in weights.items() if term not in focus}],
                SECTION_COVERAGE,
                question_weights,
                QUESTION_COVERAGE,
                focus_terms=frozenset(focus),
            )
        )
    return criteria


def _fill_sections(
    sections: list[_Section], budget: int, chosen: list[Sentence]
) -> list[list[Sentence]]:
    """Pick up to `budget` sentences for `sections` in turns, appending them to `chosen` too.

    Each turn gives every section its next best sentence that is not a
    near-duplicate of one already chosen. So the sections share the budget
    evenly while they have sentences, and a section that runs out leaves
    its share to the others. A related section takes at most an even share
    of the budget, because its sentences answer the question less directly
    than those of the sub-questions and sub-queries. Each section's
    sentences are returned in the order of their sources.
    """
    if budget <= 0 or not sections:
        return [[] for _ in sections]
    ranked = [rank_sentences(section.candidates, section.criteria) for section in sections]
    even_share = -(-budget // len(sections))
    picked: list[list[Sentence]] = [[] for _ in sections]
    picked_count = 0
    progress = True
    while picked_count < budget and progress:
        progress = False
        for number, section in enumerate(sections):
            room = budget - picked_count
            if section.related:
                room = min(room, even_share - len(picked[number]))
            if room <= 0:
                continue
            group = _next_group(section, ranked[number], picked[number], chosen, room)
            if not group:
                continue
            picked[number].extend(group)
            chosen.extend(group)
            picked_count += len(group)
            progress = True
    return [source_order(own) for own in picked]


def _next_group(
    section: _Section,
    ranked: list[Sentence],
    picked: list[Sentence],
    chosen: list[Sentence],
    room: int,
) -> list[Sentence]:
    """Remove and return the section's next sentence, with the lead sentence it needs.

    Returns at most `room` sentences, and an empty list when no sentence of
    `ranked` qualifies (see `with_subject`).
    """
    allowed = _related_titles(picked) if section.related else None
    while (sentence := _next_sentence(ranked, chosen, allowed)) is not None:
        group = with_subject(sentence, section.criteria, section.candidates, picked, chosen)
        if group is not None and len(group) <= room:
            return group
    return []


def _next_sentence(
    ranked: list[Sentence], chosen: list[Sentence], titles: set[str] | None
) -> Sentence | None:
    """Remove and return the best sentence of `ranked` that is no near-duplicate of `chosen`.

    Near-duplicates are removed on the way. With `titles`, the sentence must
    also come from an article of that set, and sentences from other
    articles stay in `ranked`. Returns None when no sentence qualifies.
    """
    position = 0
    while position < len(ranked):
        sentence = ranked[position]
        if titles is not None and sentence.hit.hit.passage.title not in titles:
            position += 1
            continue
        del ranked[position]
        if not any(near_duplicate(sentence, other) for other in chosen):
            return sentence
    return None


def _related_titles(picked: list[Sentence]) -> set[str] | None:
    """Return the articles a related section may still quote, or None for any article.

    Its heading names at most MAX_HEADING_SUBJECTS articles, and every
    sentence below it must come from one of them.
    """
    titles = {sentence.hit.hit.passage.title for sentence in picked}
    return titles if len(titles) >= MAX_HEADING_SUBJECTS else None


def _subject_terms(sub_query: str, question_weights: dict[str, float]) -> frozenset[str]:
    """Return the question's other content terms when `sub_query` names an aspect, not a subject.

    A sub-query of one lowercase word ("economy", "bacterium", "king") is
    an aspect of the question's subject, so its section quotes only
    sentences that also name the subject: the economy as affected by the
    oil crisis, not economies in general. Names and phrases get no such
    requirement, so that "Suez Canal" in a comparison with the Panama Canal
    can quote the Suez Canal alone.
    """
    own = set(terms(sub_query))
    content = set(content_terms({term: 1.0 for term in own}))
    if len(content) != 1 or any(
        word[:1].isupper() or word[:1].isdigit() for word in sub_query.split()
    ):
        return frozenset()
    return frozenset(content_terms(question_weights)) - own


def _related_heading(picked: Sequence[Sentence]) -> str:
    """Name a follow-up section after the articles that its sentences come from.

    Article titles are names a reader knows ("OPEC"), unlike the keyphrases
    of the follow-up query, which YAKE may cut out of a longer name ("Arab
    Petroleum Exporting").
    """
    subjects: list[str] = []
    for sentence in picked:
        subject = sentence.hit.hit.passage.title
        if subject not in subjects:
            subjects.append(subject)
    shown = subjects[:MAX_HEADING_SUBJECTS]
    if not shown:
        return "Related"
    return "Related: " + " and ".join(shown)


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
