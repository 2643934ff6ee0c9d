"""Text analysis shared by indexing, retrieval and writing.

Every component turns text into terms the same way (the scikit-learn token
pattern of `bm25s.tokenize`, English stop words removed, Snowball English
stems from PyStemmer), so a term that matches in the index also counts as a
match when the writer scores a sentence.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Sequence

import bm25s
import Stemmer
from segtok.segmenter import split_multi  # type: ignore[import-untyped]

# The NLTK English stop words that bm25s ships, plus words that frame a
# question ("describe", "explain") and carry no topic.
STOPWORDS = (
    *bm25s.stopwords.STOPWORDS_EN_PLUS,
    "also",
    "compare",
    "compared",
    "describe",
    "explain",
    "tell",
    "would",
    "could",
)

# Words that frame a question or describe any subject ("What caused ...",
# "how did it affect the world", "the role of ..."): they match sentences on
# every topic, so retrieval and the writer weigh them at GENERIC_WEIGHT of
# their IDF and never accept a sentence that matches only them. "world"
# is here because questions use it for "everywhere"; inside a name such as
# "World War II" the other words of the name carry the match. "work" is
# here for "How do vaccines work?", whose answer sentences need not contain "work".
GENERIC_WORDS = (
    "affect",
    "aim",
    "aspect",
    "begin",
    "began",
    "begun",
    "big",
    "case",
    "cause",
    "caused",
    "causes",
    "change",
    "changed",
    "characteristic",
    "compare",
    "consequence",
    "contribute",
    "contribution",
    "develop",
    "developed",
    "development",
    "differ",
    "difference",
    "different",
    "do",
    "does",
    "effect",
    "effects",
    "event",
    "example",
    "factor",
    "famous",
    "feature",
    "function",
    "general",
    "goal",
    "happen",
    "happened",
    "high",
    "history",
    "impact",
    "importance",
    "important",
    "influence",
    "kind",
    "large",
    "lead",
    "led",
    "long",
    "main",
    "major",
    "many",
    "mean",
    "meaning",
    "much",
    "occur",
    "occurred",
    "old",
    "outcome",
    "overview",
    "purpose",
    "reason",
    "result",
    "role",
    "significance",
    "significant",
    "similar",
    "similarity",
    "start",
    "started",
    "summary",
    "type",
    "use",
    "used",
    "way",
    "work",
    "world",
)
GENERIC_WEIGHT = 0.1

_local = threading.local()


def _stemmer() -> Stemmer.Stemmer:
    # A PyStemmer object keeps state between calls, so each thread gets its own.
    stemmer: Stemmer.Stemmer | None = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = Stemmer.Stemmer("english")
        _local.stemmer = stemmer
    return stemmer


def tokenize_corpus(texts: Sequence[str]) -> bm25s.tokenization.Tokenized:
    """Tokenize many texts into term ids and a vocabulary, for building an index."""
    return bm25s.tokenize(list(texts), stopwords=STOPWORDS, stemmer=_stemmer(), show_progress=False)


def terms(text: str) -> list[str]:
    """Return the stemmed terms of `text` in order, without stop words."""
    return terms_of_each([text])[0]


def terms_of_each(texts: Sequence[str]) -> list[list[str]]:
    """Return the stemmed terms of each text, as `terms` does, in one tokenizer call."""
    tokenized = bm25s.tokenize(
        list(texts), stopwords=STOPWORDS, stemmer=_stemmer(), return_ids=False, show_progress=False
    )
    return [[term for term in row if term] for row in tokenized]


@functools.cache
def generic_terms() -> frozenset[str]:
    """Return the stemmed terms of GENERIC_WORDS."""
    return frozenset(term for word in GENERIC_WORDS for term in terms(word))


def term_weight(term: str, idf: float) -> float:
    """Return the weight of a stemmed query term whose inverse document frequency is `idf`."""
    return idf * GENERIC_WEIGHT if term in generic_terms() else idf


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Return the (start, end) offsets of the sentences of `text[start:end]`.

    segtok splits the sentences; each one is then located in the original
    text, so the offsets always cut out the exact characters of the text.
    """
    stop = len(text) if end is None else end
    spans = []
    cursor = start
    for sentence in split_multi(text[start:stop]):
        sentence = sentence.strip()
        if not sentence:
            continue
        found = text.find(sentence, cursor, stop)
        if found < 0:
            # segtok normalises some whitespace; fall back to a search that
            # accepts any whitespace between the words.
            pattern = r"\s+".join(re.escape(word) for word in sentence.split())
            match = re.compile(pattern).search(text, cursor, stop)
            if match is None:
                continue
            found, found_end = match.start(), match.end()
        else:
            found_end = found + len(sentence)
        spans.append((found, found_end))
        cursor = found_end
    return spans
