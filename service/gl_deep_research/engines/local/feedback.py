"""Pseudo-relevance feedback: expand the question with salient terms of the best passages.

The passages ranked first after the first round of searches are assumed
relevant. Each term of theirs is weighed as in a relevance model (RM1, the
expansion step of RM3): its share of each passage's terms, weighted by how
well the passage matches the question, summed over the passages. A
passage's match is its fused score times the squared share of the
question's IDF-weighted terms that it contains. So the article "Oil" adds
less to a question on the 1973 oil crisis than the article on the crisis
does. The term's weight is then multiplied by its IDF, so terms that name
the subject ("OAPEC", "embargo") rank above common ones ("year"). The best
terms are appended to the question as words the reader can see in the
search event, and that text is searched like any other query.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence

from gl_deep_research.engines.local.analysis import generic_terms, stems, term_weight, terms
from gl_deep_research.engines.local.retrieval import RankedHit

# The passages of this many distinct documents are the feedback set.
# NOTE: on the 51 questions of bench/eval_questions.yaml, no setting tried
# (1 to 5 documents, EXPANSION_WEIGHT 0.5 to 2 in engine.py) raised recall@10
# or answer-in-report overall. The expansion "Brezhnev Leonid" pushes "Joseph
# Stalin" out of the first 10 articles for the Soviet leader in the Second
# World War, and at weight 2 "Inca Pachacuti" brings in "Inca Empire" for
# Machu Picchu, which makes up for it.
FEEDBACK_DOCUMENTS = 3
EXPANSION_TERMS = 4

# The token pattern of bm25s.tokenize (scikit-learn's), so every word found
# here is one that the index also has.
_TOKEN = re.compile(r"(?u)\b\w\w+\b")


def expansion_query(
    question: str, ranked: Sequence[RankedHit], weigh: Callable[[str], float]
) -> str:
    """Return `question` followed by the best expansion words from `ranked`, or "".

    `ranked` is the fused evidence of the first round, best first, and
    `weigh(term)` returns a stemmed term's IDF. Returns "" when no term
    qualifies, so that the caller searches nothing twice.
    """
    feedback = _feedback_passages(ranked)
    if not feedback:
        return ""
    question_weights = {term: term_weight(term, weigh(term)) for term in set(terms(question))}
    question_total = sum(question_weights.values()) or 1.0
    known = set(question_weights) | generic_terms()
    relevance: dict[str, float] = {}
    surface: dict[str, str] = {}
    for entry in feedback:
        words = _TOKEN.findall(f"{entry.hit.passage.title}\n{entry.hit.passage.text}")
        passage_terms = terms(" ".join(words))
        if not passage_terms:
            continue
        counts = Counter(passage_terms)
        matched = sum(weight for term, weight in question_weights.items() if term in counts)
        match = entry.fused_score * (matched / question_total) ** 2
        for term, count in counts.items():
            relevance[term] = relevance.get(term, 0.0) + count / len(passage_terms) * match
        for word, stem in zip(words, stems(words), strict=True):
            surface.setdefault(stem, word)
    candidates = [
        (weight * weigh(term), term)
        for term, weight in relevance.items()
        if term not in known and term in surface
    ]
    candidates.sort(key=lambda pair: (-pair[0], pair[1]))
    words = [surface[term] for _weight, term in candidates[:EXPANSION_TERMS]]
    if not words:
        return ""
    return f"{question} {' '.join(words)}"


def _feedback_passages(ranked: Sequence[RankedHit]) -> list[RankedHit]:
    """Return the best passage of each of the first FEEDBACK_DOCUMENTS documents."""
    chosen: list[RankedHit] = []
    documents: set[str] = set()
    for entry in ranked:
        if len(chosen) == FEEDBACK_DOCUMENTS:
            break
        document = entry.hit.passage.url_or_path
        if document not in documents:
            documents.add(document)
            chosen.append(entry)
    return chosen
