"""Questions of several parts and fuller reports in the local engine."""

from __future__ import annotations

import re

import pytest
from local_helpers import never_cancelled

from gl_deep_research.engines.base import ResearchReport
from gl_deep_research.engines.local import LocalEngine
from gl_deep_research.engines.local.index import CollectionIndex
from gl_deep_research.engines.local.planner import plan_queries
from gl_deep_research.engines.local.retrieval import RankedHit
from gl_deep_research.engines.local.selection import opens_with_pronoun
from gl_deep_research.engines.local.writer import PART_INSUFFICIENT
from gl_deep_research.profiles.params import validate_params
from gl_deep_research.settings import Settings

pytestmark = pytest.mark.unit

OIL_QUESTION = "What caused the 1973 oil crisis, and how did it affect the world economy?"
REEF_QUESTION = "Where is the Great Barrier Reef and how large is it?"
# Articles that the greenhouse question names, whose sentences may say "it".
GREENHOUSE_ARTICLES = {"Greenhouse effect", "Climate change"}
CITED = re.compile(r"(.+?) \[(\d+)\](?: |$)", flags=re.MULTILINE)


def research(settings: Settings, question: str) -> tuple[ResearchReport, list[RankedHit]]:
    return LocalEngine(settings).research(
        question, validate_params("local", {}), lambda _type, _data: None, never_cancelled
    )


def sections(markdown: str) -> dict[str, str]:
    """Return the text under each `##` heading of the report body."""
    body = markdown.split("\n## Sources")[0]
    found: dict[str, str] = {}
    for block in body.split("\n## ")[1:]:
        heading, _, text = block.partition("\n")
        found[heading.strip()] = text.strip()
    return found


def test_plan_splits_wh_clauses() -> None:
    plan = plan_queries(OIL_QUESTION, 3)

    assert plan.sub_questions == [
        "What caused the 1973 oil crisis?",
        "How did the 1973 oil crisis affect the world economy?",
    ]
    assert plan.queries[1:3] == plan.sub_questions


def test_plan_resolves_possessive_pronoun() -> None:
    plan = plan_queries("What is the Silk Road and what were its main goods?", 3)

    assert plan.sub_questions == ["What is the Silk Road?", "What were the Silk Road's main goods?"]


@pytest.mark.parametrize(
    "question",
    [
        "Compare the Panama Canal and the Suez Canal.",
        "When was the Magna Carta sealed and by which king?",
        "What were the causes and effects of the French Revolution?",
    ],
)
def test_plan_keeps_one_clause(question: str) -> None:
    assert plan_queries(question, 3).sub_questions == []


def test_plan_counts_sub_questions_as_sub_queries() -> None:
    plan = plan_queries(OIL_QUESTION, 3)

    assert len(plan.sub_questions) == 2
    assert len(plan.sub_questions) + len(plan.sub_queries) <= 3


def test_plan_keeps_parts_together() -> None:
    plan = plan_queries(OIL_QUESTION, 1)

    assert plan.sub_questions == []
    assert plan.sub_queries == ["1973 oil crisis"]


@pytest.mark.parametrize("question", [OIL_QUESTION, REEF_QUESTION])
def test_two_part_question_gets_both_sections(
    wiki_settings: Settings, wiki_index: CollectionIndex, question: str
) -> None:
    report, _ = research(wiki_settings, question)
    found = sections(report.markdown)
    sub_questions = plan_queries(question, 3).sub_questions

    assert len(sub_questions) == 2
    for sub_question in sub_questions:
        assert sub_question in found, list(found)
    assert CITED.search(found[sub_questions[0]]) is not None


def test_oil_parts_cite_or_report_gap(wiki_settings: Settings, wiki_index: CollectionIndex) -> None:
    report, _ = research(wiki_settings, OIL_QUESTION)
    found = sections(report.markdown)
    causes = found["What caused the 1973 oil crisis?"]
    effects = found["How did the 1973 oil crisis affect the world economy?"]

    assert "oil embargo" in causes
    assert report.sources[0].title == "1973 oil crisis"
    # The summaries hold no sentence on the crisis's economic effects, and
    # the report states that instead of quoting economies in general.
    assert effects == PART_INSUFFICIENT or "econom" in effects


@pytest.mark.parametrize(
    "question",
    [
        OIL_QUESTION,
        REEF_QUESTION,
        "What is DNA and what does it do?",
        "What was the Great Depression?",
        "Which empire built Machu Picchu?",
    ],
)
def test_sources_are_retrieved_passages(
    wiki_settings: Settings, wiki_index: CollectionIndex, question: str
) -> None:
    report, evidence = research(wiki_settings, question)
    retrieved = {
        (entry.hit.passage.url_or_path, entry.hit.passage.start, entry.hit.passage.end)
        for entry in evidence
    }
    snippets = {source.id: " ".join(source.snippet.split()) for source in report.sources}
    body = report.markdown.split("\n## Sources")[0]

    assert report.sources
    for source in report.sources:
        assert (source.url_or_path, source.start, source.end) in retrieved, source.title
    for sentence, number in CITED.findall(body):
        assert sentence.strip() in snippets[int(number)]


@pytest.mark.parametrize(
    "question",
    [
        "What caused the Zorblax uprising, and how did it affect the quuxian economy?",
        "Where is Flibbertigibbet Bay and how large is it?",
    ],
)
def test_unrelated_two_part_question_insufficient(
    wiki_settings: Settings, wiki_index: CollectionIndex, question: str
) -> None:
    report, _ = research(wiki_settings, question)

    assert "evidence is insufficient to answer this question" in report.markdown
    assert report.sources == []
    assert "[1]" not in report.markdown


def test_report_fills_sentence_budget(wiki_settings: Settings, wiki_index: CollectionIndex) -> None:
    # Before sections could take the share of a section that found nothing,
    # this report stopped at 7 of its 12 sentences.
    report, _ = research(wiki_settings, "What is DNA and what does it do?")
    cited = CITED.findall(report.markdown.split("\n## Sources")[0])

    assert len(cited) == 12
    assert len({number for _sentence, number in cited}) >= 5


@pytest.mark.parametrize(
    "question", ["What was the Great Depression?", "When was smallpox declared eradicated?"]
)
def test_related_sections_quote_named_articles(
    wiki_settings: Settings, wiki_index: CollectionIndex, question: str
) -> None:
    report, _ = research(wiki_settings, question)
    titles = {str(source.id): source.title for source in report.sources}

    related = {h: text for h, text in sections(report.markdown).items() if h.startswith("Related")}
    assert related
    for heading, text in related.items():
        for _sentence, number in CITED.findall(text):
            assert titles[number] in heading, (titles[number], heading)


def test_named_article_sentence_quoted(
    wiki_settings: Settings, wiki_index: CollectionIndex
) -> None:
    # The article "Marie Curie" reads "She won the 1911 Nobel Prize in
    # Chemistry", which names neither Marie nor Curie. It ranked below
    # sentences of other articles that mention her by name.
    report, _ = research(wiki_settings, "Which Nobel Prizes did Marie Curie win?")
    titles = {str(source.id): source.title for source in report.sources}
    cited = CITED.findall(report.markdown.split("\n## Sources")[0])
    quoted = [sentence for sentence, number in cited if titles[number] == "Marie Curie"]

    assert any(sentence.startswith("She won the 1911 Nobel Prize") for sentence in quoted)


@pytest.mark.parametrize(
    ("question", "later_part"),
    [
        (
            "What is the greenhouse effect, and how does it drive climate change?",
            "How does the greenhouse effect drive climate change?",
        ),
        (
            "How do vaccines work, and which diseases have they eradicated?",
            "Which diseases have vaccines eradicated?",
        ),
        (
            "How did the printing press change Europe, and who invented it?",
            "Who invented the printing press?",
        ),
        (
            "What is the speed of light in a vacuum, and who first measured it?",
            "Who first measured the speed of light?",
        ),
        (
            "What were the causes of World War I, and how did it end?",
            "How did World War I end?",
        ),
        (
            "Who built the Great Wall of China, and why did they build it?",
            "Why did they build the Great Wall of China?",
        ),
        (
            "How does the human heart pump blood, and what happens when it fails?",
            "What happens when it fails?",
        ),
    ],
)
def test_plan_pronoun_takes_noun_phrase(question: str, later_part: str) -> None:
    # The last two keep a pronoun as written: "they" has no plural noun
    # phrase to refer to, and "the human heart pump blood" hides its verb.
    plan = plan_queries(question, 3)

    assert len(plan.sub_questions) == 2
    assert plan.sub_questions[1] == later_part


def test_pronoun_sentence_needs_its_subject(
    wiki_settings: Settings, wiki_index: CollectionIndex
) -> None:
    # "It shields the surface from most meteoroids" is from "Atmosphere of
    # Earth", and under "What is the greenhouse effect?" it read as if "it"
    # were the greenhouse effect.
    report, _ = research(
        wiki_settings, "What is the greenhouse effect, and how does it drive climate change?"
    )
    titles = {str(source.id): source.title for source in report.sources}
    body = report.markdown.split("\n## Sources")[0]

    assert "It shields the surface" not in body
    for block in body.split("\n## ")[1:]:
        cited = CITED.findall(block)
        for position, (sentence, number) in enumerate(cited):
            if not opens_with_pronoun(sentence) or titles[number] in GREENHOUSE_ARTICLES:
                continue
            earlier = [text for text, other in cited[:position] if other == number]
            assert earlier, (titles[number], sentence)


@pytest.mark.parametrize(
    ("question", "off_topic"),
    [
        ("What were the causes of the French Revolution?", {"Law", "Gustavus Adolphus"}),
        ("How do vaccines work, and which diseases have they eradicated?", {"Ruminant"}),
        ("What is DNA and what does it do?", {"Silicone"}),
    ],
)
def test_related_section_skips_off_topic(
    wiki_settings: Settings, wiki_index: CollectionIndex, question: str, off_topic: set[str]
) -> None:
    report, _ = research(wiki_settings, question)
    headings = [heading for heading in sections(report.markdown) if heading.startswith("Related")]
    titles = {source.title for source in report.sources}

    assert not titles & off_topic
    for heading in headings:
        assert not any(title in heading for title in off_topic), heading
