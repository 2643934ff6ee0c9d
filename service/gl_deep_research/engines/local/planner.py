"""Planning: the question, its sub-questions and sub-queries from keyphrase extraction.

A question of several clauses ("What caused X, and how did it affect Y?")
is split at each conjunction that starts a new wh-clause. Every clause
becomes a sub-question of its own. Its pronouns are replaced by the noun
phrase of the first clause that they refer to ("How did X affect Y?").

YAKE ranks the keyphrases of the question by statistical features of the
text alone, so planning needs no model and no network. Each keyphrase that
adds a term not yet covered by a sub-question or a better keyphrase becomes
a sub-query, which keeps "oil crisis" and drops "oil" and "crisis" after it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import yake
from segtok.tokenizer import word_tokenizer  # type: ignore[import-untyped]

from gl_deep_research.engines.local.analysis import STOPWORDS, generic_terms, terms

# YAKE returns near-duplicates such as "oil crisis" and "the oil crisis";
# dedup_lim is the similarity above which it keeps only the better one.
_DEDUP_LIMIT = 0.7
_MAX_NGRAM = 3
_NUMBER = r"\d[\d,.]*"

_WH_WORD = r"(?:what|how|why|where|when|who|whom|whose|which)"
# A clause starts after ";", after a "?" that more text follows, or after
# "and", "or" or "but" (with or without a comma) when a wh-word comes next.
# "and by which king" or "and the Suez Canal" continue the same clause.
_CLAUSE_BREAK = re.compile(
    rf"\s*(?:;|\?|,?\s+(?:and|or|but)\s+(?={_WH_WORD}\b))\s*", flags=re.IGNORECASE
)
# Pronouns that refer back to the first clause's subject, and the text that
# replaces them: the subject itself, or its possessive.
_PRONOUNS = {
    "it": "{subject}",
    "they": "{subject}",
    "them": "{subject}",
    "its": "{subject}'s",
    "their": "{subject}'s",
}
_PRONOUN = re.compile(rf"\b({'|'.join(_PRONOUNS)})\b", flags=re.IGNORECASE)
_PLURAL_PRONOUNS = frozenset({"they", "them", "their"})
_WH_WORDS = frozenset({"what", "how", "why", "where", "when", "who", "whom", "whose", "which"})
_COPULAS = frozenset({"is", "are", "was", "were"})
_AUXILIARIES = frozenset(
    {"do", "does", "did", "has", "have", "had", "can", "could", "will", "would", "should"}
)


@dataclass(frozen=True)
class Plan:
    """The question and its sub-queries, in the order they are searched.

    `follow_ups` are the queries added after the first searches, from the
    keyphrases of the best passages found.
    """

    question: str
    sub_queries: list[str]
    follow_ups: list[str] = field(default_factory=list)
    # The clauses of a question that contains several questions, each
    # rewritten to stand alone. Empty for a question of one clause.
    sub_questions: list[str] = field(default_factory=list)

    @property
    def queries(self) -> list[str]:
        return [self.question, *self.sub_questions, *self.sub_queries, *self.follow_ups]


def plan_queries(question: str, max_sub_queries: int) -> Plan:
    """Build the search plan for `question` with at most `max_sub_queries` sub-queries.

    Sub-questions count against `max_sub_queries` first, and keyphrases
    fill the rest. A question with more parts than `max_sub_queries` is
    not split.
    """
    if max_sub_queries <= 0:
        return Plan(question=question, sub_queries=[])
    extractor = yake.KeywordExtractor(
        lan="en", n=_MAX_NGRAM, dedup_lim=_DEDUP_LIMIT, top=max_sub_queries * 4
    )
    keyphrases = [
        _with_adjacent_numbers(question, trimmed)
        for phrase, _score in extractor.extract_keywords(question)
        if not _cut_phrase(phrase) and (trimmed := _trim_phrase(phrase))
    ]
    sub_questions = split_sub_questions(question)
    if len(sub_questions) > max_sub_queries:
        # A report with sections for some of the parts would look as if the
        # question had no other parts, so keyphrases are searched instead.
        sub_questions = []

    question_terms = set(terms(question))
    sub_queries: list[str] = []
    covered: set[str] = set()
    for sub_question in sub_questions:
        covered |= set(terms(sub_question))
    for phrase in keyphrases:
        if len(sub_questions) + len(sub_queries) == max_sub_queries:
            break
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
    return Plan(question=question, sub_queries=sub_queries, sub_questions=sub_questions)


def split_sub_questions(question: str) -> list[str]:
    """Split a question of several wh-clauses into questions that stand alone.

    Returns an empty list for a question of one clause. In the second and
    later clauses, "it", "they" and their possessives become the noun phrase
    that they refer to in the first clause (see `_antecedents`). A pronoun
    stays as written when the first clause has no such noun phrase of the
    same number.
    """
    clauses = [
        clause.strip(" ,.?!") for clause in _CLAUSE_BREAK.split(question) if clause.strip(" ,.?!")
    ]
    if len(clauses) < 2:
        return []
    antecedents = _antecedents(clauses[0])

    def replace(match: re.Match[str]) -> str:
        pronoun = match.group(1)
        plural = pronoun.lower() in _PLURAL_PRONOUNS
        for phrase, phrase_plural in antecedents:
            if phrase_plural == plural:
                return _PRONOUNS[pronoun.lower()].format(subject=phrase)
        return pronoun

    sub_questions = [_as_question(clauses[0])]
    for clause in clauses[1:]:
        sub_questions.append(_as_question(_PRONOUN.sub(replace, clause)))
    return sub_questions


def _antecedents(clause: str) -> list[tuple[str, bool]]:
    """Return the noun phrases of a wh-clause that a later pronoun may refer to, best first.

    The phrase is the clause's topic: the subject after an auxiliary ("How
    do vaccines work"), the complement of a copula ("What is the greenhouse
    effect") or the object after the verb ("What caused the 1973 oil
    crisis"). It runs from an optional article to the first stop word other
    than "of" or punctuation, so "the speed of light in a vacuum" gives "the
    speed of light", and it must contain a content word. A phrase with "of"
    is followed by the phrase after "of", for a pronoun that does not agree
    with the first ("the causes of World War I ... how did it end"). Each
    phrase comes with whether it is plural. Returns an empty list when no
    clean phrase is found.
    """
    words = word_tokenizer(clause)
    if not words or words[0].lower() not in _WH_WORDS:
        return []
    # The verb or auxiliary follows the wh-word, or the wh-word and its noun
    # or adjective ("Which empire built", "How large is").
    position = 1
    verbs = _AUXILIARIES | _COPULAS
    if (
        len(words) > 2
        and words[1].lower() not in verbs
        and (words[0].lower() in ("which", "whose") or words[2].lower() in verbs)
    ):
        position = 2
    if position >= len(words):
        return []
    verb = words[position].lower()
    rest = words[position + 1 :]
    article = [rest[0]] if rest and rest[0].lower() in ("the", "a", "an") else []
    run = _noun_run(rest[len(article) :])
    if verb in _AUXILIARIES:
        # "How do vaccines work": the main verb follows the subject.
        run = _before_verb(run, ends_clause=len(article) + len(run) == len(rest))
    elif verb in _COPULAS and words[0].lower() not in ("what", "who", "which"):
        # "When was Sputnik 1 launched": a participle or adjective may follow.
        run = _before_predicate(run)
    if not run or not set(terms(" ".join(run))) - generic_terms():
        return []
    phrases = [(" ".join(article + run), _plural(run))]
    if "of" in run:
        after_of = run[run.index("of") + 1 :]
        if set(terms(" ".join(after_of))) - generic_terms():
            phrases.append((" ".join(after_of), _plural(after_of)))
    return phrases


def _noun_run(words: list[str]) -> list[str]:
    """Return the leading words up to the first stop word other than an inner "of"."""
    run: list[str] = []
    for number, word in enumerate(words):
        following = words[number + 1] if number + 1 < len(words) else ""
        if word.lower() == "of" and run and following and _is_word(following):
            run.append(word)
            continue
        # A capitalised word belongs to a name, such as "I" in "World War I".
        if not _is_word(word) or (word.lower() in STOPWORDS and not word[:1].isupper()):
            break
        run.append(word)
    return run


def _before_verb(run: list[str], ends_clause: bool) -> list[str]:
    """Cut the main verb, and its object, off the subject that precedes it.

    The verb is a generic word ("affect", "change"), or the first lowercase
    word after a name ("the Roman Empire fall"), or the last word when the
    run ends the clause and leaves one or two words ("honey bees eat").
    Longer lowercase runs may hide a verb and its object ("the human heart
    pump blood"), so they give no subject.
    """
    for number, word in enumerate(run[1:], start=1):
        if set(terms(word)) and set(terms(word)) <= generic_terms():
            return run[:number]
    name = _name_length(run)
    if 0 < name < len(run):
        return run[:name]
    if ends_clause and 2 <= len(run) <= 3:
        return run[:-1]
    return []


def _before_predicate(run: list[str]) -> list[str]:
    """Cut a participle or adjective ("launched", "important") off the end of the subject."""
    name = _name_length(run)
    if 0 < name < len(run):
        return run[:name]
    last = run[-1] if run else ""
    if len(run) > 1 and (last.endswith("ed") or set(terms(last)) <= generic_terms()):
        return run[:-1]
    return run


def _name_length(run: list[str]) -> int:
    """Return how many leading words of `run` are capitalised words or numbers."""
    length = 0
    for word in run:
        if not (word[:1].isupper() or word[:1].isdigit()):
            break
        length += 1
    return length


def _plural(run: list[str]) -> bool:
    """Tell whether a noun phrase is plural from its head, the last word before "of".

    A head that ends in "s", but not in "ss", "us", "is" or "ics", counts as
    plural ("vaccines", "the causes of"). So a name such as "Athens" counts
    as plural too, and "it" after it stays as written.
    """
    head = run[: run.index("of")][-1] if "of" in run else run[-1]
    return head.endswith("s") and not head.endswith(("ss", "us", "is", "ics"))


def _is_word(token: str) -> bool:
    return any(character.isalnum() for character in token)


def _as_question(clause: str) -> str:
    return clause[:1].upper() + clause[1:] + "?"


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
