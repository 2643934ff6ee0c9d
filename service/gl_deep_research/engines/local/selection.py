"""Sentence selection: the candidate sentences of passages and how they are scored.

`candidate_sentences` cuts the retrieved passages into sentences that can be
quoted, `Criteria` states what a sentence must match to be quoted for one
part of the report, and `rank_sentences` orders the sentences that qualify.
writer.py decides which part of the report each sentence goes to.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from gl_deep_research.engines.local.analysis import (
    generic_terms,
    sentence_spans,
    term_weight,
    terms,
)
from gl_deep_research.engines.local.retrieval import RankedHit

# Sentences whose stemmed terms overlap this much (Jaccard) with a sentence
# already in the report are near-duplicates and are skipped.
DUPLICATE_OVERLAP = 0.6
MIN_SENTENCE_TERMS = 3
MAX_SENTENCE_CHARS = 600
# A sentence's own coverage of the query counts fully, and the coverage by
# its passage's title counts this much. So "It was founded in 1960" ranks
# higher in the article about OPEC. Only in the article that the query names
# does the title qualify a sentence (see `Criteria.about_named_article`).
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

_CITATION_LIKE = re.compile(r"\[\d+\]")
# A personal pronoun that opens a sentence, alone or after a lead-in of up
# to five words and a comma ("It shields the surface ...", "In 1953, he
# ..."), refers to the subject of the sentence's article.
_OPENING_PRONOUN = re.compile(
    r"^(?:[^\s,]+(?:\s+[^\s,]+){0,4},\s+)?(?:it|its|he|his|she|her|they|their|them)\b",
    flags=re.IGNORECASE,
)
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


@dataclass(frozen=True)
class Criteria:
    """What a sentence must match to be quoted for one part of the report.

    A query is a list of phrases, because a follow-up query joins several
    keyphrases of which a sentence is expected to match one. With
    `whole_phrases`, the sentence or its title must contain the last content
    term of the phrase, which is the head of an English noun phrase. A
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
        return max((term_coverage(sentence_terms, phrase) for phrase in self.phrases), default=0.0)

    def matched_phrase(self, sentence: Sentence) -> int | None:
        """Return the number of the best phrase that `sentence` qualifies for, if any."""
        with_title = sentence.terms | sentence.title_terms
        if self.required_terms and not self.required_terms & with_title:
            return None
        if self.focus_terms and not any(_matches(t, sentence.terms) for t in self.focus_terms):
            return None
        best: tuple[float, int] | None = None
        for number, phrase in enumerate(self.phrases):
            content = content_terms(phrase)
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
            coverage = term_coverage(with_title, phrase)
            if coverage < self.min_coverage:
                continue
            if best is None or coverage > best[0]:
                best = (coverage, number)
        return None if best is None else best[1]

    def names_article(self, sentence: Sentence) -> bool:
        """Tell whether the query names the sentence's article.

        The article's title must consist of terms of the query's phrases or
        focus terms, generic ones included ("Greenhouse effect"), and contain
        a content term.
        """
        title = sentence.title_terms
        query_terms = self.focus_terms.union(*(phrase.keys() for phrase in self.phrases))
        return bool(title - generic_terms()) and title <= query_terms

    def shares_term(self, sentence: Sentence) -> bool:
        """Tell whether the sentence contains a term of the query, its focus or its context."""
        words = self.focus_terms.union(self.context, *self.phrases)
        return bool(sentence.terms & words)

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
        if not sentence.title_terms <= set(content_terms(phrase)):
            return False
        return bool(sentence.terms & (phrase.keys() | self.context.keys()))


def candidate_sentences(evidence: Sequence[RankedHit]) -> list[Sentence]:
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


def rank_sentences(candidates: Sequence[Sentence], criteria: Criteria) -> list[Sentence]:
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
        in_context = term_coverage(with_title, criteria.context)
        if in_context < criteria.min_context_coverage:
            continue
        score = own + 0.5 * term_coverage(sentence.terms, criteria.context)
        score += TITLE_WEIGHT * criteria.coverage(sentence.title_terms)
        score += RANK_BONUS / (1 + sentence.rank)
        if sentence.start == 0:
            score += LEAD_BONUS
        scored.append((score, sentence))
    scored.sort(key=lambda pair: (-pair[0], pair[1].rank, pair[1].start))
    return [sentence for _score, sentence in scored]


def take_sentences(
    ranked: Sequence[Sentence],
    budget: int,
    chosen: list[Sentence],
    criteria: Criteria,
    candidates: Sequence[Sentence],
) -> list[Sentence]:
    """Take up to `budget` of the `ranked` sentences that are no near-duplicates of `chosen`.

    A sentence that needs its article's lead sentence (see
    `with_subject`) is taken with it, from `candidates`, or not at all. The
    sentences taken are appended to `chosen` too, and returned in the order
    of their sources, so the paragraph reads like the passages.
    """
    picked: list[Sentence] = []
    for sentence in ranked:
        if len(picked) == budget:
            break
        if any(near_duplicate(sentence, other) for other in chosen):
            continue
        group = with_subject(sentence, criteria, candidates, picked, chosen)
        if group is None or len(picked) + len(group) > budget:
            continue
        picked.extend(group)
        chosen.extend(group)
    return source_order(picked)


def with_subject(
    sentence: Sentence,
    criteria: Criteria,
    candidates: Sequence[Sentence],
    picked: Sequence[Sentence],
    chosen: Sequence[Sentence],
) -> list[Sentence] | None:
    """Return the sentences to quote for `sentence`, or None when it cannot be quoted.

    A sentence that opens with a pronoun ("It shields the surface from most
    meteoroids") reads as if the pronoun meant the subject of the section,
    so it is quoted alone only from an article that the query names. From
    another article it needs the article's lead sentence, which names the
    subject, in the same paragraph: already in `picked`, or taken from
    `candidates` with it. That lead must contain a term of its title, be
    no near-duplicate of `chosen`, and share a term with the query or the
    question, unless the section is a related one, whose heading names the
    article.
    """
    if not opens_with_pronoun(sentence.text) or criteria.names_article(sentence):
        return [sentence]
    if sentence.start == 0:
        return None
    document = sentence.hit.hit.passage.url_or_path
    if any(other.start == 0 and other.hit.hit.passage.url_or_path == document for other in picked):
        return [sentence]
    lead = next(
        (
            other
            for other in candidates
            if other.start == 0 and other.hit.hit.passage.url_or_path == document
        ),
        None,
    )
    if lead is None or not lead.terms & lead.title_terms:
        return None
    if any(near_duplicate(lead, other) for other in chosen):
        return None
    if not criteria.whole_phrases and not criteria.shares_term(lead):
        return None
    return [lead, sentence]


def source_order(sentences: Sequence[Sentence]) -> list[Sentence]:
    """Return `sentences` grouped by document, in the order of their best passages.

    Within a document the sentences keep their order in its text, so an
    article's lead sentence comes before a sentence that refers to it.
    """
    first_rank: dict[str, int] = {}
    for sentence in sentences:
        document = sentence.hit.hit.passage.url_or_path
        first_rank[document] = min(first_rank.get(document, sentence.rank), sentence.rank)
    return sorted(
        sentences,
        key=lambda s: (
            first_rank[s.hit.hit.passage.url_or_path],
            s.hit.hit.passage.url_or_path,
            s.start,
        ),
    )


def opens_with_pronoun(text: str) -> bool:
    """Tell whether `text` opens with a personal pronoun, alone or after a short lead-in."""
    return _OPENING_PRONOUN.match(text) is not None


def query_weights(query: str, weigh: Weigh) -> dict[str, float]:
    """Return the weight of each distinct term of `query`, in the order of the query."""
    return {term: term_weight(term, weigh(term)) for term in dict.fromkeys(terms(query))}


def _names_part_only(sentence: Sentence, content: list[str]) -> bool:
    """Tell whether the sentence's title names part of a phrase that the sentence lacks."""
    title = set(sentence.title_terms)
    if not title or not title < set(content):
        return False
    return not all(term in sentence.terms for term in content)


def content_terms(weights: dict[str, float]) -> list[str]:
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


def term_coverage(sentence_terms: frozenset[str] | set[str], weights: dict[str, float]) -> float:
    """Return the share of the weight of `weights` that `sentence_terms` match (see `_matches`)."""
    total = sum(weights.values())
    if total <= 0.0:
        return 0.0
    return sum(weight * _matches(term, sentence_terms) for term, weight in weights.items()) / total


def near_duplicate(sentence: Sentence, other: Sentence) -> bool:
    if sentence.text == other.text:
        return True
    union = sentence.terms | other.terms
    return bool(union) and len(sentence.terms & other.terms) / len(union) >= DUPLICATE_OVERLAP
