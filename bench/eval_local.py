"""Evaluate the `local` engine on the questions of bench/eval_questions.yaml.

Prints, per question and overall:

- recall@10: the share of gold articles among the first 10 distinct articles
  of the ranked evidence (after fusion and MMR);
- answer: whether the report contains the expected answer string
  (case-insensitive);
- citation precision: the share of cited sentences whose cited passage
  contains the sentence (whitespace collapsed) and that share a stemmed term
  with the question or with their section's heading.

Usage: uv run python bench/eval_local.py [--questions FILE] [--data-dir DIR]
The Wikipedia index is built in DIR (a temporary folder by default).
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

from gl_deep_research.engines.base import ResearchReport
from gl_deep_research.engines.local import LocalEngine
from gl_deep_research.engines.local.analysis import terms
from gl_deep_research.engines.local.retrieval import RankedHit
from gl_deep_research.profiles.params import validate_params
from gl_deep_research.settings import Settings

RECALL_DEPTH = 10
CITED_SENTENCE = re.compile(r"(.+?) \[(\d+)\](?: |$)")


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--questions", type=Path, default=Path(__file__).with_name("eval_questions.yaml")
    )
    parser.add_argument("--data-dir", type=Path, default=None, help="folder for the index")
    parser.add_argument("--verbose", action="store_true", help="print every report")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        data_dir = args.data_dir or Path(scratch)
        settings = Settings(gldr_data_dir=data_dir, gldr_collections_dir=data_dir / "collections")
        engine = LocalEngine(settings)
        params = validate_params("local", {"collections": ["wikipedia"]})
        questions = load_questions(args.questions)

        by_kind: dict[str, list[tuple[float, bool]]] = defaultdict(list)
        recalls: list[float] = []
        answers = 0
        good_citations = 0
        all_citations = 0
        print(f"{'kind':<11} {'recall':>6} {'answer':>6} {'cites':>7}  question")
        for item in questions:
            report, evidence = engine.research(
                item["question"], params, lambda _type, _data: None, lambda: False
            )
            recall = recall_at(evidence, item["gold"], RECALL_DEPTH)
            answered = item["answer"].lower() in report.markdown.split("## Sources")[0].lower()
            good, total = citation_checks(item["question"], report)

            recalls.append(recall)
            answers += answered
            good_citations += good
            all_citations += total
            by_kind[item["kind"]].append((recall, answered))
            print(
                f"{item['kind']:<11} {recall:>6.2f} {'yes' if answered else 'no':>6} "
                f"{good:>3}/{total:<3}  {item['question']}"
            )
            if args.verbose:
                print(report.markdown)

    count = len(questions)
    print()
    for kind, rows in sorted(by_kind.items()):
        kind_recall = sum(r for r, _ in rows) / len(rows)
        kind_answers = sum(a for _, a in rows) / len(rows)
        print(f"{kind:<11} n={len(rows):<3} recall@10={kind_recall:.3f} answer={kind_answers:.3f}")
    print()
    print(f"questions            {count}")
    print(f"recall@{RECALL_DEPTH}            {sum(recalls) / count:.3f}")
    print(f"answer in report     {answers / count:.3f}")
    precision = good_citations / all_citations if all_citations else 0.0
    print(f"citation precision   {precision:.3f} ({good_citations}/{all_citations})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
