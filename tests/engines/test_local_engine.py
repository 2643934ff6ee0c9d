"""The local engine end to end: citations, evidence checks, events and cancellation."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from local_helpers import Recorder, never_cancelled

from gl_deep_research.engines.base import ResearchCancelled, ResearchError, ResearchReport
from gl_deep_research.engines.local import LocalEngine
from gl_deep_research.engines.local.corpus import load_documents, resolve_collection
from gl_deep_research.engines.local.index import CollectionIndex
from gl_deep_research.engines.local.retrieval import search
from gl_deep_research.engines.local.writer import PART_INSUFFICIENT
from gl_deep_research.profiles.params import validate_params
from gl_deep_research.settings import Settings

pytestmark = pytest.mark.unit

OIL_QUESTION = "What caused the 1973 oil crisis, and how did it affect the world economy?"
CITATION = re.compile(r"\[(\d+)\]")


def run(settings: Settings, question: str, **params: Any) -> tuple[ResearchReport, Recorder]:
    recorder = Recorder()
    report = LocalEngine(settings).run(
        question, validate_params("local", params), recorder, never_cancelled
    )
    return report, recorder


def body_sentences(markdown: str) -> list[str]:
    """Return the cited sentences of the report body, each ending in its `[n]` mark."""
    body = markdown.split("## Sources")[0]
    lines = [
        line
        for line in body.splitlines()
        if line and not line.startswith("#") and line != PART_INSUFFICIENT
    ]
    return re.findall(r".+? \[\d+\]", " ".join(lines))


@pytest.fixture(scope="module")
def oil_run(
    wiki_settings: Settings, wiki_index: CollectionIndex
) -> tuple[ResearchReport, Recorder]:
    return run(wiki_settings, OIL_QUESTION)


def test_oil_crisis_cited(oil_run: tuple[ResearchReport, Recorder]) -> None:
    report, _ = oil_run
    titles = [source.title for source in report.sources]

    assert titles[0] == "1973 oil crisis"
    assert report.sources[0].url_or_path == "https://en.wikipedia.org/wiki/1973_oil_crisis"
    assert "OPEC" in titles
    assert "1. [1973 oil crisis](https://en.wikipedia.org/wiki/1973_oil_crisis)" in report.markdown


def test_every_sentence_cited(oil_run: tuple[ResearchReport, Recorder]) -> None:
    report, _ = oil_run
    body = report.markdown.split("## Sources")[0]
    prose = [line for line in body.splitlines() if line and not line.startswith("#")]

    assert prose
    for paragraph in prose:
        if paragraph == PART_INSUFFICIENT:
            continue
        # Every piece of text must be a sentence followed by its `[n]` mark.
        pieces = re.findall(r".+? \[\d+\](?: |$)", paragraph)
        assert "".join(pieces) == paragraph


@pytest.mark.parametrize(
    ("question", "min_sentences"),
    [(OIL_QUESTION, 2), ("Compare the Panama Canal and the Suez Canal.", 5)],
)
def test_sentences_copied_from_cited_passage(
    wiki_settings: Settings, wiki_index: CollectionIndex, question: str, min_sentences: int
) -> None:
    report, _ = run(wiki_settings, question)
    sources = {source.id: source for source in report.sources}
    sentences = body_sentences(report.markdown)

    assert len(sentences) >= min_sentences
    for sentence in sentences:
        text, number = re.fullmatch(r"(.+) \[(\d+)\]", sentence.strip()).groups()  # type: ignore[union-attr]
        snippet = " ".join(sources[int(number)].snippet.split())
        assert text in snippet, (text, sources[int(number)].title)


def test_sources_numbered_in_order(oil_run: tuple[ResearchReport, Recorder]) -> None:
    report, _ = oil_run
    cited = [int(n) for n in CITATION.findall(report.markdown.split("## Sources")[0])]
    first_seen = list(dict.fromkeys(cited))

    assert first_seen == list(range(1, len(report.sources) + 1))
    assert [source.id for source in report.sources] == first_seen
    listed = re.findall(r"^(\d+)\. ", report.markdown.split("## Sources")[1], flags=re.M)
    assert [int(n) for n in listed] == first_seen


def test_cited_passages_were_retrieved(
    oil_run: tuple[ResearchReport, Recorder], wiki_index: CollectionIndex
) -> None:
    report, recorder = oil_run
    searches = recorder.of("activity")
    retrieved = set()
    for activity in searches:
        assert activity["kind"] == "search"
        assert activity["collection"] == "wikipedia"
        for hit in search(wiki_index, activity["query"], k=10):
            retrieved.add((hit.passage.url_or_path, hit.passage.start, hit.passage.end))

    assert report.usage.search_calls == len(searches)
    for source in report.sources:
        assert (source.url_or_path, source.start, source.end) in retrieved


def test_offsets_point_to_snippet(
    oil_run: tuple[ResearchReport, Recorder], wiki_settings: Settings
) -> None:
    report, _ = oil_run
    collection = resolve_collection(wiki_settings, "wikipedia")
    documents = {document.url_or_path: document.text for document in load_documents(collection)}

    for source in report.sources:
        assert source.start is not None
        text = documents[source.url_or_path]
        assert text[source.start : source.end] == source.snippet


def test_events_in_order(oil_run: tuple[ResearchReport, Recorder]) -> None:
    report, recorder = oil_run
    kinds = [kind for kind, _ in recorder.events]
    percents = [data["percent"] for data in recorder.of("progress")]

    assert kinds[0] == "progress"
    assert recorder.of("thinking")[0]["sub_queries"] == [
        "What caused the 1973 oil crisis?",
        "How did the 1973 oil crisis affect the world economy?",
    ]
    assert recorder.of("activity")[0]["query"] == OIL_QUESTION
    assert percents == sorted(percents)
    assert percents[-1] == 100
    assert [data["id"] for data in recorder.of("source")] == [s.id for s in report.sources]
    assert report.usage.wall_seconds > 0


def test_folder_offsets_point_to_snippet(settings: Settings) -> None:
    folder = settings.collections_dir / "notes"
    folder.mkdir(parents=True)
    intro = "# Glaciers\n\nGlaciers form where snow accumulates faster than it melts. " * 3
    body = "Moving glaciers carve U-shaped valleys into the rock below them. " * 4
    text = intro + "\n\n" + body
    (folder / "glaciers.md").write_text(text, encoding="utf-8")

    report, _ = run(settings, "How do glaciers carve valleys?", collections=["notes"])

    assert report.sources
    for source in report.sources:
        assert source.url_or_path == "notes/glaciers.md"
        assert source.start is not None
        assert text[source.start : source.end] == source.snippet


def test_insufficient_evidence_no_match(
    wiki_settings: Settings, wiki_index: CollectionIndex
) -> None:
    report, recorder = run(wiki_settings, "Zorblaxian quuxification of flibbertigibbets?")

    assert "evidence is insufficient" in report.markdown
    assert report.sources == []
    assert CITATION.search(report.markdown) is None
    assert "## Sources" not in report.markdown
    assert recorder.of("source") == []


def test_insufficient_evidence_min_score(
    wiki_settings: Settings, wiki_index: CollectionIndex
) -> None:
    report, _ = run(wiki_settings, OIL_QUESTION, min_score=1000.0)

    assert "evidence is insufficient" in report.markdown
    assert report.sources == []
    assert CITATION.search(report.markdown) is None


def test_max_sentences_respected(wiki_settings: Settings, wiki_index: CollectionIndex) -> None:
    report, _ = run(wiki_settings, "Compare the Panama Canal and the Suez Canal.", max_sentences=2)

    assert len(body_sentences(report.markdown)) == 2


def test_no_sub_queries(wiki_settings: Settings, wiki_index: CollectionIndex) -> None:
    report, recorder = run(wiki_settings, OIL_QUESTION, sub_queries=0, follow_up_queries=0)

    assert [data["query"] for data in recorder.of("activity")] == [OIL_QUESTION]
    assert report.usage.search_calls == 1
    assert report.sources[0].title == "1973 oil crisis"


def test_cancel_before_search(wiki_settings: Settings, wiki_index: CollectionIndex) -> None:
    recorder = Recorder()
    calls = 0

    def cancel_after_planning() -> bool:
        nonlocal calls
        calls += 1
        return calls > 1

    with pytest.raises(ResearchCancelled):
        LocalEngine(wiki_settings).run(
            OIL_QUESTION, validate_params("local", {}), recorder, cancel_after_planning
        )
    assert recorder.of("activity") == []
    assert recorder.of("source") == []


def test_cancel_between_searches(wiki_settings: Settings, wiki_index: CollectionIndex) -> None:
    recorder = Recorder()

    def cancel_after_two_searches() -> bool:
        return len(recorder.of("activity")) >= 2

    with pytest.raises(ResearchCancelled):
        LocalEngine(wiki_settings).run(
            OIL_QUESTION, validate_params("local", {}), recorder, cancel_after_two_searches
        )
    assert len(recorder.of("activity")) == 2


def test_empty_question_rejected(wiki_settings: Settings) -> None:
    with pytest.raises(ResearchError, match="question is empty"):
        run(wiki_settings, "   ")


def test_missing_collection_rejected(settings: Settings) -> None:
    with pytest.raises(ResearchError, match="'absent' not found"):
        run(settings, OIL_QUESTION, collections=["absent"])


def test_engine_provider_key(tmp_path: Path) -> None:
    assert LocalEngine.provider == "local"


def readme_question() -> str:
    """Return the question of the README's quick-start command."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    match = re.search(r'^scripts/gldr research "([^"]+)"$', readme, re.MULTILINE)
    assert match, 'README.md has no `scripts/gldr research "..."` line'
    return match.group(1)


def test_readme_question_fully_answered(
    wiki_settings: Settings, wiki_index: CollectionIndex
) -> None:
    report, _ = run(wiki_settings, readme_question())
    sections = [line for line in report.markdown.splitlines() if line.startswith("## ")]

    assert PART_INSUFFICIENT not in report.markdown
    assert len(sections) >= 3  # both parts of the question, then the sources
    assert len(report.sources) >= 3
    assert len(body_sentences(report.markdown)) >= 6
