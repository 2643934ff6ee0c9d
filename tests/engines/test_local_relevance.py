"""Relevance of the local engine's reports: generic words, partial names and headings."""

from __future__ import annotations

import re

import pytest
from local_helpers import never_cancelled

from gl_deep_research.engines.base import ResearchReport
from gl_deep_research.engines.local import LocalEngine
from gl_deep_research.engines.local.analysis import generic_terms, terms
from gl_deep_research.engines.local.index import CollectionIndex
from gl_deep_research.engines.local.planner import follow_up_query, plan_queries
from gl_deep_research.engines.local.retrieval import search
from gl_deep_research.profiles.params import validate_params
from gl_deep_research.settings import Settings

pytestmark = pytest.mark.unit

OIL_QUESTION = "What caused the 1973 oil crisis, and how did it affect the world economy?"


def run(settings: Settings, question: str) -> ResearchReport:
    return LocalEngine(settings).run(
        question, validate_params("local", {}), lambda _type, _data: None, never_cancelled
    )


@pytest.fixture(scope="module")
def oil_report(wiki_settings: Settings, wiki_index: CollectionIndex) -> ResearchReport:
    return run(wiki_settings, OIL_QUESTION)


def test_oil_report_skips_financial_crisis(oil_report: ResearchReport) -> None:
    titles = [source.title for source in oil_report.sources]

    assert "2008 financial crisis" not in titles
    assert "excessive speculation on property values" not in oil_report.markdown


def test_oil_report_skips_yom_kippur_holiday(oil_report: ResearchReport) -> None:
    titles = [source.title for source in oil_report.sources]

    assert "Yom Kippur is the holiest day" not in oil_report.markdown
    assert "Yom Kippur" not in titles
    assert "Rosh Hashanah" not in titles


def test_oil_report_keeps_gold_sources(oil_report: ResearchReport) -> None:
    titles = [source.title for source in oil_report.sources]

    assert titles[0] == "1973 oil crisis"
    assert "OPEC" in titles


def test_oil_report_headings_short(oil_report: ResearchReport) -> None:
    headings = re.findall(r"^## (.+)$", oil_report.markdown, flags=re.MULTILINE)

    assert headings[0] == "What caused the 1973 oil crisis?"
    assert headings[-1] == "Sources"
    for heading in headings:
        assert ";" not in heading
        assert len(heading.split()) <= 10, heading


def test_generic_question_insufficient(
    wiki_settings: Settings, wiki_index: CollectionIndex
) -> None:
    question = "What were the main causes and effects, and what was their impact?"
    assert set(terms(question)) <= generic_terms()

    report = run(wiki_settings, question)

    assert "evidence is insufficient" in report.markdown
    assert report.sources == []


def test_generic_terms_weigh_less_in_search(wiki_index: CollectionIndex) -> None:
    hits = search(wiki_index, "What caused the 1973 oil crisis?", k=3)

    assert hits[0].passage.title == "1973 oil crisis"
    assert all("caus" not in terms(hit.passage.title) for hit in hits)


def test_plan_drops_generic_keyphrases() -> None:
    plan = plan_queries("What caused the 1973 oil crisis and its effect on prices?", 3)

    assert "1973 oil crisis" in plan.sub_queries
    assert "effect" not in plan.sub_queries
    for query in plan.sub_queries:
        assert not set(terms(query)) <= generic_terms(), query


def test_plan_trims_verbs_next_to_names() -> None:
    plan = plan_queries("When was the Magna Carta sealed and by which king?", 3)

    assert "Magna Carta" in plan.sub_queries
    assert "Magna Carta sealed" not in plan.sub_queries


def test_follow_up_phrases_do_not_overlap() -> None:
    text = (
        "In October 1973, the Organization of Arab Petroleum Exporting Countries (OAPEC) "
        "announced a total oil embargo against countries that had supported Israel during "
        "the 1973 Yom Kippur War."
    )
    phrases = follow_up_query([text], set(terms(OIL_QUESTION))).split("; ")
    seen: set[str] = set()
    for phrase in phrases:
        phrase_terms = set(terms(phrase))
        assert not phrase_terms & seen, phrases
        seen |= phrase_terms


def test_search_ranks_named_article_first(wiki_index: CollectionIndex) -> None:
    # "DNA profiling" and "DNA replication" repeat the word more often than
    # the article "DNA", which used to miss the first 10 results.
    hits = search(wiki_index, "What is DNA and what does it do?", k=3)

    assert hits[0].passage.title == "DNA"


def test_title_boost_needs_whole_title(wiki_index: CollectionIndex) -> None:
    matches = wiki_index.titles_within({"dna"})
    titles = {wiki_index.passages[position].title for position in matches}

    assert titles == {"DNA"}
