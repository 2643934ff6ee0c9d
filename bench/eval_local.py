"""Evaluate the `local` engine on the questions of bench/eval_questions.yaml.

Prints, per question, per group (all, written after reading the gold
summaries, held out) and per kind:

- recall@10: the share of gold articles among the first 10 distinct articles
  of the ranked evidence (after fusion and MMR);
- answer: whether the report contains the expected answer string
  (case-insensitive);
- citation precision: the share of cited sentences whose cited passage
  contains the sentence (whitespace collapsed) and that share a stemmed term
  with the question or with their section's heading;
- relevance: the share of cited sentences whose source article is a gold
  article or whose own text contains a content keyword of the question.

A content keyword is a stemmed question term that is a number, or that
occurs in less than CONTENT_MAX_SHARE of the passages (a high IDF) and in
article titles at least CONTENT_MIN_TITLE_RATIO times as often as in
passages. Titles name topics, so words such as "caused", "affect" or
"role", which are rare in encyclopedic summaries but almost never in titles,
are not content keywords. The rule uses only corpus statistics, not the
engine's own list of generic words.

Usage: uv run python bench/eval_local.py [--questions FILE] [--data-dir DIR] [--verbose]
The Wikipedia index is built in DIR (a temporary folder by default).
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gl_deep_research.engines.base import ResearchReport
from gl_deep_research.engines.local import LocalEngine
from gl_deep_research.engines.local.analysis import terms
from gl_deep_research.engines.local.index import CollectionIndex, load_index
from gl_deep_research.engines.local.retrieval import RankedHit
from gl_deep_research.profiles.params import validate_params
from gl_deep_research.settings import Settings

RECALL_DEPTH = 10
CITED_SENTENCE = re.compile(r"(.+?) \[(\d+)\](?: |$)")
CONTENT_MAX_SHARE = 0.05
CONTENT_MIN_TITLE_RATIO = 0.05


@dataclass
class Totals:
    """Sums of the metrics over a group of questions."""

    count: int = 0
    recall: float = 0.0
    answers: int = 0
    good_citations: int = 0
    citations: int = 0
    relevant: int = 0

    def line(self, name: str) -> str:
        if not self.count:
            return f"{name:<12} n=0"
        precision = self.good_citations / self.citations if self.citations else 0.0
        relevance = self.relevant / self.citations if self.citations else 0.0
        return (
            f"{name:<12} n={self.count:<3} recall@{RECALL_DEPTH}={self.recall / self.count:.3f} "
            f"answer={self.answers / self.count:.3f} "
            f"citation precision={precision:.3f} ({self.good_citations}/{self.citations}) "
            f"relevance={relevance:.3f} ({self.relevant}/{self.citations})"
        )


@dataclass
class ContentKeywords:
    """Corpus statistics that tell content keywords from generic words."""

    index: CollectionIndex
    title_counts: Counter[str] = field(default_factory=Counter)

    @classmethod
    def of(cls, index: CollectionIndex) -> ContentKeywords:
        titles = {passage.title for passage in index.passages}
        counts = Counter(term for title in titles for term in set(terms(title)))
        return cls(index, counts)

    def of_question(self, question: str) -> set[str]:
        return {term for term in terms(question) if self.is_content(term)}

    def is_content(self, term: str) -> bool:
        if term.isdigit():
            return True
        token_id = self.index.retriever.vocab_dict.get(term)
        if token_id is None:
            return False
        passages = int(self.index.doc_freq[token_id])
        share = passages / len(self.index.passages)
        return share < CONTENT_MAX_SHARE and self.title_counts[term] >= (
            CONTENT_MIN_TITLE_RATIO * passages
        )


def load_questions(path: Path) -> list[dict[str, Any]]:
    questions: list[dict[str, Any]] = yaml.safe_load(path.read_text(encoding="utf-8"))["questions"]
    return questions


def recall_at(evidence: list[RankedHit], gold: list[str], depth: int) -> float:
    titles = list(dict.fromkeys(entry.hit.passage.title for entry in evidence))[:depth]
    return sum(1 for title in gold if title in titles) / len(gold)


def cited_sentences(markdown: str) -> list[tuple[str, str, int]]:
    """Return (section heading, sentence, citation number) for each cited sentence."""
    body = markdown.split("\n## Sources")[0]
    heading = ""
    found = []
    for line in body.splitlines():
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
            continue
        for match in CITED_SENTENCE.finditer(line):
            found.append((heading, match.group(1).strip(), int(match.group(2))))
    return found


def citation_checks(question: str, report: ResearchReport) -> tuple[int, int]:
    """Return (supported and relevant citations, all citations) of one report."""
    snippets = {source.id: " ".join(source.snippet.split()) for source in report.sources}
    question_terms = set(terms(question))
    good = 0
    sentences = cited_sentences(report.markdown)
    for heading, sentence, number in sentences:
        supported = sentence in snippets.get(number, "")
        heading_terms = set(terms(heading.removeprefix("Related:")))
        relevant = bool(set(terms(sentence)) & (question_terms | heading_terms))
        good += supported and relevant
    return good, len(sentences)


def relevant_sentences(
    report: ResearchReport, gold: list[str], keywords: set[str]
) -> list[tuple[bool, str, str]]:
    """Return (relevant, source title, sentence) for each cited sentence of `report`."""
    titles = {source.id: source.title for source in report.sources}
    rows = []
    for _heading, sentence, number in cited_sentences(report.markdown):
        title = titles.get(number, "")
        relevant = title in gold or bool(keywords & set(terms(sentence)))
        rows.append((relevant, title, sentence))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--questions", type=Path, default=Path(__file__).with_name("eval_questions.yaml")
    )
    parser.add_argument("--data-dir", type=Path, default=None, help="folder for the index")
    parser.add_argument("--verbose", action="store_true", help="print every report")
    parser.add_argument(
        "--show-irrelevant", action="store_true", help="print the sentences judged irrelevant"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        data_dir = args.data_dir or Path(scratch)
        settings = Settings(gldr_data_dir=data_dir, gldr_collections_dir=data_dir / "collections")
        engine = LocalEngine(settings)
        params = validate_params("local", {"collections": ["wikipedia"]})
        questions = load_questions(args.questions)
        content = ContentKeywords.of(load_index(settings, "wikipedia"))

        groups: dict[str, Totals] = {}
        print(f"{'kind':<11} {'recall':>6} {'answer':>6} {'cites':>7} {'relevant':>8}  question")
        for item in questions:
            report, evidence = engine.research(
                item["question"], params, lambda _type, _data: None, lambda: False
            )
            recall = recall_at(evidence, item["gold"], RECALL_DEPTH)
            answered = item["answer"].lower() in report.markdown.split("## Sources")[0].lower()
            good, total = citation_checks(item["question"], report)
            judged = relevant_sentences(report, item["gold"], content.of_question(item["question"]))
            relevant = sum(ok for ok, _title, _sentence in judged)

            group = "held out" if item.get("held_out") else "seen"
            for name in ("all", group, item["kind"]):
                totals = groups.setdefault(name, Totals())
                totals.count += 1
                totals.recall += recall
                totals.answers += answered
                totals.good_citations += good
                totals.citations += total
                totals.relevant += relevant
            print(
                f"{item['kind']:<11} {recall:>6.2f} {'yes' if answered else 'no':>6} "
                f"{good:>3}/{total:<3} {relevant:>3}/{total:<4}  {item['question']}"
            )
            if args.show_irrelevant:
                for ok, title, sentence in judged:
                    if not ok:
                        print(f"{'':>11} irrelevant [{title}] {sentence[:110]}")
            if args.verbose:
                print(report.markdown)

    print()
    for name in ("all", "seen", "held out", "single", "two_hop", "comparison", "broad"):
        if name in groups:
            print(groups[name].line(name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
