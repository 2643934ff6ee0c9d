"""Text analysis shared by indexing, retrieval and writing.

Every component turns text into terms the same way (the scikit-learn token
pattern of `bm25s.tokenize`, English stop words removed, Snowball English
stems from PyStemmer), so a term that matches in the index also counts as a
match when the writer scores a sentence.
"""

from __future__ import annotations

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
    tokenized = bm25s.tokenize(
        [text], stopwords=STOPWORDS, stemmer=_stemmer(), return_ids=False, show_progress=False
    )
    return [term for term in tokenized[0] if term]


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
