"""Planning: the question plus sub-queries from keyphrase extraction.

YAKE ranks the keyphrases of the question by statistical features of the
text alone, so planning needs no model and no network. Each keyphrase that
adds a term not yet covered by a better keyphrase becomes a sub-query, which
keeps "oil crisis" and drops "oil" and "crisis" after it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import yake

from gl_deep_research.engines.local.analysis import STOPWORDS, generic_terms, terms

# YAKE returns near-duplicates such as "oil crisis" and "the oil crisis";
# dedup_lim is the similarity above which it keeps only the better one.
_DEDUP_LIMIT = 0.7
_MAX_NGRAM = 3
_NUMBER = r"\d[\d,.]*"


@dataclass(frozen=True)
class Plan:
    """The question and its sub-queries, in the order they are searched.

    `follow_ups` are the queries added after the first searches, from the
    keyphrases of the best passages found.
    """

    question: str
    sub_queries: list[str]
    follow_ups: list[str] = field(default_factory=list)

    @property
    def queries(self) -> list[str]:
        return [self.question, *self.sub_queries, *self.follow_ups]


def plan_queries(question: str, max_sub_queries: int) -> Plan:
    """Build the search plan for `question` with at most `max_sub_queries` sub-queries."""
    if max_sub_queries <= 0:
        return Plan(question=question, sub_queries=[])
    extractor = yake.KeywordExtractor(
        lan="en", n=_MAX_NGRAM, dedup_lim=_DEDUP_LIMIT, top=max_sub_queries * 4
    )
    keyphrases = [phrase for phrase, _score in extractor.extract_keywords(question)]

    question_terms = set(terms(question))
    sub_queries: list[str] = []
    covered: set[str] = set()
    for keyphrase in keyphrases:
        if _cut_phrase(keyphrase):
            continue
        trimmed = _trim_phrase(keyphrase)
        if not trimmed:
            continue
        phrase = _with_adjacent_numbers(question, trimmed)
        phrase_terms = set(terms(phrase))
        # A phrase of only stop words, one whose terms are all covered by
        # better phrases, or one equal to the question would repeat a search,
        # and one of only generic words ("affect") names no subject.
        if not phrase_terms or phrase_terms <= covered or phrase_terms <= generic_terms():
            continue
        if phrase_terms == question_terms:
            covered |= phrase_terms
            continue
        sub_queries.append(phrase)
        covered |= phrase_terms
        if len(sub_queries) == max_sub_queries:
            break
    return Plan(question=question, sub_queries=sub_queries)


def _with_adjacent_numbers(question: str, phrase: str) -> str:
    """Add the numbers that precede or follow `phrase` in the question.

    YAKE drops numbers from keyphrases, but a year or count next to a phrase
    ("1973 oil crisis", "World War 2") often tells two subjects apart.
    """
    pattern = rf"(?:({_NUMBER})\s+)?{re.escape(phrase)}(?:\s+({_NUMBER}))?\b"
    match = re.search(pattern, question, flags=re.IGNORECASE)
    if match is None:
        return phrase
    before, after = match.group(1), match.group(2)
    return " ".join(part for part in (before, phrase, after) if part)


def follow_up_query(passage_texts: list[str], known_terms: set[str], max_phrases: int = 3) -> str:
    """Build a follow-up query from the keyphrases of the best passages found so far.

    Searching for what the first passages talk about ("Yom Kippur War" in
    the article on the 1973 oil crisis) reaches related documents that share
    no words with the question. Only keyphrases that add a term beyond
    `known_terms` are used, and none that shares a term with a phrase already
    chosen, because YAKE cuts long names into overlapping pieces ("Arab
    Petroleum Exporting", "Petroleum Exporting Countries"). The result is
    empty when no keyphrase qualifies.
    """
    text = "\n\n".join(passage_texts)
    if not text.strip():
        return ""
    extractor = yake.KeywordExtractor(
        lan="en", n=_MAX_NGRAM, dedup_lim=_DEDUP_LIMIT, top=max_phrases * 5
    )
    phrases: list[str] = []
    covered = set(known_terms)
    chosen: set[str] = set()
    for phrase, _score in extractor.extract_keywords(text):
        phrase_terms = set(terms(phrase))
        if _cut_phrase(phrase) or not phrase_terms or phrase_terms <= covered:
            continue
        if phrase_terms & chosen or phrase_terms <= generic_terms():
            continue
        phrases.append(phrase)
        covered |= phrase_terms
        chosen |= phrase_terms
        if len(phrases) == max_phrases:
            break
    return "; ".join(phrases)


def _trim_phrase(phrase: str) -> str:
    """Strip the words at either end of a keyphrase that name no subject.

    YAKE joins a name with the verb next to it ("Magna Carta sealed",
    "bacterium caused", "Compare the Panama"). Stop words and generic words
    are stripped from both ends, and so are lowercase words next to a
    capitalised name or lowercase past participles. The result is empty
    when nothing is left.
    """
    words = phrase.split()
    has_name = any(word[:1].isupper() for word in words)

    def weak(word: str) -> bool:
        lowered = word.lower()
        if lowered in STOPWORDS:
            return True
        # A capitalised word belongs to a name ("World War", "General Motors").
        if not word[:1].islower():
            return False
        return has_name or lowered.endswith("ed") or set(terms(lowered)) <= generic_terms()

    while words and weak(words[0]):
        words.pop(0)
    while words and weak(words[-1]):
        words.pop()
    return " ".join(words)


def _cut_phrase(phrase: str) -> bool:
    """Tell whether a keyphrase is a fragment such as "affect the world" or "caused".

    YAKE keeps stop words inside n-grams. That is right for names ("Bank of
    England"), whose first and last words are capitalised, and wrong for
    pieces of a clause.
    """
    words = phrase.split()
    if len(words) == 1:
        # A lone past participle ("caused", "painted") names no topic.
        return words[0].islower() and words[0].endswith("ed")
    if not any(word.lower() in STOPWORDS for word in words):
        return False
    return not (words[0][:1].isupper() and words[-1][:1].isupper())
