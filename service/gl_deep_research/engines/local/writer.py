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
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from gl_deep_research.engines.base import Source
from gl_deep_research.engines.local.analysis import (
    generic_terms,
    sentence_spans,
    term_weight,
    terms,
)
from gl_deep_research.engines.local.planner import Plan
from gl_deep_research.engines.local.retrieval import RankedHit

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
# A sub-question ("How did the 1973 oil crisis affect the world economy?")
# has more terms than a keyphrase, of which a sentence answers a part.
SUB_QUESTION_COVERAGE = 0.3
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
# Bonus that favours passages ranked higher by retrieval: RANK_BONUS / (1 + rank).
RANK_BONUS = 0.2
# Two different stems match at PREFIX_MATCH of a term's weight when the
# shorter, of at least PREFIX_MIN_CHARS characters, starts the longer: the
# Snowball stemmer keeps "economi" (economy) apart from "econom" (economic).
PREFIX_MATCH = 0.5
PREFIX_MIN_CHARS = 6
# Most headings of follow-up sections name this many subjects.
MAX_HEADING_SUBJECTS = 2

_CITATION_LIKE = re.compile(r"\[\d+\]")
_MARKDOWN_BLOCK_START = ("#", ">", "|", "-", "*", "+", "```", "=")

Weigh = Callable[[str], float]
SectionKind = Literal["sub_question", "sub_query", "related"]

# Written under a sub-question that no sentence answers, in place of a
# paragraph, so the report shows which part of the question lacks evidence.
PART_INSUFFICIENT = (
    "The evidence is insufficient for this part: no retrieved passage matches it closely "
    "enough to cite."
)


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
    keyphrases of which a sentence is expected to match one. With
    `whole_phrases`, the sentence or its title must contain the last content
    term of the phrase, which is the head of an English noun phrase, and a
    sentence whose title names only part of the phrase must contain every
    content term itself. A follow-up phrase names one subject ("Yom Kippur
    War"), and the article "Yom Kippur" is about something else. The
    sentence must also name its article's subject or a term of the question,
    because the section is headed by the article titles.
    """

    phrases: list[dict[str, float]]
    min_coverage: float
    context: dict[str, float]
    min_context_coverage: float = 0.0
    whole_phrases: bool = False
    # Distinct content terms of the phrase that the sentence and its title
    # must contain together, at most all of the phrase's content terms.
    min_content_terms: int = 1
    # When not empty, the sentence or its title must contain one of these.
    required_terms: frozenset[str] = frozenset()
    # When not empty, the sentence itself must contain one of these, or a
    # term that one of them starts or that starts one of them.
    focus_terms: frozenset[str] = frozenset()

    def coverage(self, sentence_terms: frozenset[str]) -> float:
        return max((_coverage(sentence_terms, phrase) for phrase in self.phrases), default=0.0)

    def matched_phrase(self, sentence: Sentence) -> int | None:
        """Return the number of the best phrase that `sentence` qualifies for, if any."""
        with_title = sentence.terms | sentence.title_terms
        if self.required_terms and not self.required_terms & with_title:
            return None
        if self.focus_terms and not any(_matches(t, sentence.terms) for t in self.focus_terms):
            return None
        best: tuple[float, int] | None = None
        for number, phrase in enumerate(self.phrases):
            content = _content_terms(phrase)
            if not any(_matches(term, sentence.terms) for term in content) and not (
                self.about_named_article(sentence, number)
            ):
                continue
            exact = sum(1 for term in content if term in with_title)
            if exact < min(self.min_content_terms, len(content)):
                continue
            if self.whole_phrases and (
                _names_part_only(sentence, content)
                or content[-1] not in with_title
                or not sentence.terms & (sentence.title_terms | self.context.keys())
            ):
                continue
            coverage = _coverage(with_title, phrase)
            if coverage < self.min_coverage:
                continue
            if best is None or coverage > best[0]:
                best = (coverage, number)
        return None if best is None else best[1]

    def about_named_article(self, sentence: Sentence, number: int) -> bool:
        """Tell whether `sentence` is from the article that phrase `number` names and shares a word.

        The later sentences of an article refer to its subject as "it" or
        "its" ("Its height was measured as 8,848.86 m"), so in the article
        whose title consists of content terms of the phrase ("Mount
        Everest") a sentence need not repeat the subject. It must still
        share a term, generic ones included, with the phrase or the
        question. Follow-up phrases get no such exception, because their
        sections quote other articles than the one the question names.
        """
        phrase = self.phrases[number]
        if self.whole_phrases or not sentence.title_terms:
            return False
        if not sentence.title_terms <= set(_content_terms(phrase)):
            return False
        return bool(sentence.terms & (phrase.keys() | self.context.keys()))


@dataclass(frozen=True)
class _Section:
    """One section to write; a `related` section is named after its sources once picked."""

    heading: str
    criteria: _Criteria
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
    sentences = _candidate_sentences(evidence)
    question_weights = _weights(plan.question, weigh)

    # A question of several parts gets a section per part instead of a
    # summary, which would take the best sentence of each part for itself.
    summary_budget = 0 if plan.sub_questions else min(SUMMARY_SENTENCES, max_sentences)
    if not plan.sub_questions and not plan.sub_queries and not plan.follow_ups:
        summary_budget = max_sentences
    best_passages = sorted(evidence, key=lambda entry: -entry.fused_score)[:SUMMARY_PASSAGES]
    best_keys = {entry.hit.key for entry in best_passages}
    chosen: list[Sentence] = []
    summary = _take(
        _rank(
            [s for s in sentences if s.hit.hit.key in best_keys],
            _Criteria(
                [question_weights],
                SUMMARY_COVERAGE,
                context={},
                min_content_terms=SUMMARY_CONTENT_TERMS,
            ),
        ),
        summary_budget,
        chosen,
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

    if not answered or not _content_terms(question_weights):
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
    question_weights: dict[str, float],
    weigh: Weigh,
) -> list[_Section]:
    """Return one section per sub-question, sub-query and follow-up query, in that order."""
    queries: list[tuple[str, _Criteria, SectionKind]] = [
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
            _Criteria(
                [_weights(query, weigh)],
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
            _Criteria(
                [_weights(phrase, weigh) for phrase in query.split("; ")],
                SECTION_COVERAGE,
                question_weights,
                whole_phrases=True,
            ),
            "related",
        )
        for query in plan.follow_ups
    ]
    sections = []
    for number, (heading, criteria, kind) in enumerate(queries, start=1):
        # Query 0 is the question, so section i quotes the passages of query i.
        found = [s for s in sentences if number in s.hit.queries]
        sections.append(_Section(heading, criteria, found or sentences, kind))
    return sections


def _sub_question_criteria(
    sub_questions: list[str], question_weights: dict[str, float], weigh: Weigh
) -> list[_Criteria]:
    """Return what a sentence must match for each sub-question's section.

    A sub-question's content terms that no other sub-question has
    ("economy" in "How did the 1973 oil crisis affect the world economy?")
    are its focus. Its sentences must contain one, so that the section is
    about that part of the question and does not only name the subject. The
    other terms must be covered as well as a sub-query's, so that "economy"
    and "oil" alone do not pull in the economy of an oil-exporting country.
    """
    clauses = [_weights(text, weigh) for text in sub_questions]
    content = [set(_content_terms(weights)) for weights in clauses]
    criteria = []
    for number, weights in enumerate(clauses):
        others = [terms for other, terms in enumerate(content) if other != number]
        focus = content[number] - set().union(*others)
        criteria.append(
            _Criteria(
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
    ranked = [_rank(section.candidates, section.criteria) for section in sections]
    even_share = -(-budget // len(sections))
    picked: list[list[Sentence]] = [[] for _ in sections]
    picked_count = 0
    progress = True
    while picked_count < budget and progress:
        progress = False
        for number, section in enumerate(sections):
            if picked_count == budget:
                break
            if section.related and len(picked[number]) >= even_share:
                continue
            allowed = _related_titles(picked[number]) if section.related else None
            sentence = _next_sentence(ranked[number], chosen, allowed)
            if sentence is None:
                continue
            picked[number].append(sentence)
            chosen.append(sentence)
            picked_count += 1
            progress = True
    return [sorted(own, key=lambda s: (s.rank, s.start)) for own in picked]


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
        if not any(_near_duplicate(sentence, other) for other in chosen):
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
    content = set(_content_terms({term: 1.0 for term in own}))
    if len(content) != 1 or any(
        word[:1].isupper() or word[:1].isdigit() for word in sub_query.split()
    ):
        return frozenset()
    return frozenset(_content_terms(question_weights)) - own


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


def _rank(candidates: Sequence[Sentence], criteria: _Criteria) -> list[Sentence]:
    """Return the candidates that meet `criteria`, best first.

    A sentence must contain a content term of the query, unless it is from
    the article that the query names, and together with its passage's
    title at least `min_coverage` of the query's term weight. Terms of the
    context (the whole question, for a section) add half their weight to
    the score.
    """
    scored = []
    for sentence in candidates:
        matched = criteria.matched_phrase(sentence)
        if matched is None:
            continue
        own = criteria.coverage(sentence.terms)
        with_title = sentence.terms | sentence.title_terms
        if criteria.about_named_article(sentence, matched):
            # The sentence is about the article's subject, so the title
            # counts as its own words ("She won the 1911 Nobel Prize").
            own = criteria.coverage(with_title)
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
    return [sentence for _score, sentence in scored]


def _take(ranked: Sequence[Sentence], budget: int, chosen: list[Sentence]) -> list[Sentence]:
    """Take up to `budget` of the `ranked` sentences that are no near-duplicates of `chosen`.

    The sentences taken are appended to `chosen` too, and returned in the
    order of their sources, so the paragraph reads like the passages.
    """
    picked: list[Sentence] = []
    for sentence in ranked:
        if len(picked) == budget:
            break
        if any(_near_duplicate(sentence, other) for other in chosen):
            continue
        picked.append(sentence)
        chosen.append(sentence)
    return sorted(picked, key=lambda s: (s.rank, s.start))


def _weights(query: str, weigh: Weigh) -> dict[str, float]:
    """Return the weight of each distinct term of `query`, in the order of the query."""
    return {term: term_weight(term, weigh(term)) for term in dict.fromkeys(terms(query))}


def _names_part_only(sentence: Sentence, content: list[str]) -> bool:
    """Tell whether the sentence's title names part of a phrase that the sentence lacks."""
    title = set(sentence.title_terms)
    if not title or not title < set(content):
        return False
    return not all(term in sentence.terms for term in content)


def _content_terms(weights: dict[str, float]) -> list[str]:
    generic = generic_terms()
    return [term for term in weights if term not in generic]


def _matches(term: str, sentence_terms: frozenset[str] | set[str]) -> float:
    """Return 1.0 when `sentence_terms` contains `term`, PREFIX_MATCH for a stem that
    starts it or that it starts, and 0.0 otherwise."""
    if term in sentence_terms:
        return 1.0
    for other in sentence_terms:
        shorter, longer = (term, other) if len(term) <= len(other) else (other, term)
        if len(shorter) >= PREFIX_MIN_CHARS and longer.startswith(shorter):
            return PREFIX_MATCH
    return 0.0


def _coverage(sentence_terms: frozenset[str] | set[str], weights: dict[str, float]) -> float:
    total = sum(weights.values())
    if total <= 0.0:
        return 0.0
    return sum(weight * _matches(term, sentence_terms) for term, weight in weights.items()) / total


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
