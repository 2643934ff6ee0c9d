"""The web search providers against recorded responses served on 127.0.0.1."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fixtures.loopback import LoopbackServer, RecordedRequest, Reply, fixture_text

from gl_deep_research.engines.base import ResearchError
from gl_deep_research.engines.search import (
    LocalCollectionProvider,
    SearchProviderError,
    SearxngProvider,
    SmartSearchProvider,
    TavilyProvider,
    create_search_provider,
)
from gl_deep_research.settings import Settings

pytestmark = pytest.mark.unit

PAGES = "http://pages.test"


def recorded(name: str) -> Reply:
    return Reply.json(json.loads(fixture_text(name, pages=PAGES)))


@pytest.fixture
def searxng() -> Iterator[LoopbackServer]:
    def handler(request: RecordedRequest) -> Reply:
        if request.path != "/search" or request.query.get("format") != "json":
            return Reply(status=403, body=b"Forbidden")
        return recorded("searxng_results.json")

    with LoopbackServer(handler) as server:
        yield server


@pytest.fixture
def tavily() -> Iterator[LoopbackServer]:
    def handler(request: RecordedRequest) -> Reply:
        if request.headers.get("authorization") != "Bearer tvly-test":
            return Reply.json({"detail": {"error": "Unauthorized"}}, status=401)
        return recorded("tavily_results.json")

    with LoopbackServer(handler) as server:
        yield server


@pytest.fixture
def smartsearch() -> Iterator[LoopbackServer]:
    def handler(request: RecordedRequest) -> Reply:
        if request.headers.get("authorization") != "Bearer sst-test":
            return Reply.json({"detail": "Invalid token"}, status=401)
        return recorded("smartsearch_results.json")

    with LoopbackServer(handler) as server:
        yield server


def test_searxng_request_and_hits(searxng: LoopbackServer) -> None:
    provider = SearxngProvider(searxng.url + "/", timeout=5)

    hits = provider.search("what causes tides", max_results=10)

    request = searxng.requests[0]
    assert request.method == "GET"
    assert request.path == "/search"
    assert request.query == {"q": "what causes tides", "format": "json"}
    assert [hit.url for hit in hits] == [
        f"{PAGES}/pages/tides.html",
        f"{PAGES}/pages/moon.html",
        f"{PAGES}/pages/missing.html",
    ]
    assert hits[0].title == "Tides | Ocean Science Notes"
    assert hits[0].snippet.startswith("Tides are the rise and fall")
    assert hits[2].title == hits[2].url
    assert hits[0].start is None


def test_searxng_max_results(searxng: LoopbackServer) -> None:
    hits = SearxngProvider(searxng.url, timeout=5).search("tides", max_results=1)

    assert len(hits) == 1


def test_searxng_json_disabled_hint() -> None:
    with LoopbackServer(lambda request: Reply(status=403, body=b"Forbidden")) as server:
        provider = SearxngProvider(server.url, timeout=5)
        with pytest.raises(SearchProviderError, match=re.escape("search.formats")) as caught:
            provider.search("tides", 5)

    assert caught.value.provider == "searxng"


def test_searxng_not_json_body() -> None:
    page = Reply(body=b"<html>login</html>", headers={"Content-Type": "text/html"})
    with (
        LoopbackServer(lambda request: page) as server,
        pytest.raises(SearchProviderError, match="not JSON"),
    ):
        SearxngProvider(server.url, timeout=5).search("tides", 5)


def test_searxng_missing_results_list() -> None:
    with (
        LoopbackServer(lambda request: Reply.json({"error": "x"})) as server,
        pytest.raises(SearchProviderError, match="no 'results' list"),
    ):
        SearxngProvider(server.url, timeout=5).search("tides", 5)


def test_tavily_request_and_hits(tavily: LoopbackServer) -> None:
    provider = TavilyProvider("tvly-test", timeout=5, base_url=tavily.url)

    hits = provider.search("what causes tides", max_results=3)

    request = tavily.requests[0]
    assert request.method == "POST"
    assert request.path == "/search"
    assert request.json() == {
        "query": "what causes tides",
        "max_results": 3,
        "search_depth": "basic",
    }
    assert [hit.title for hit in hits] == ["Tides | Ocean Science Notes", "The Moon"]
    assert hits[1].snippet.startswith("The Moon's gravitational pull")


def test_tavily_bad_key_names_variable(tavily: LoopbackServer) -> None:
    provider = TavilyProvider("wrong", timeout=5, base_url=tavily.url)

    with pytest.raises(SearchProviderError, match="TAVILY_API_KEY"):
        provider.search("tides", 3)


def test_smartsearch_request_and_hits(smartsearch: LoopbackServer) -> None:
    provider = SmartSearchProvider(smartsearch.url, "sst-test", timeout=5)

    hits = provider.search("what causes tides", max_results=80)

    request = smartsearch.requests[0]
    assert request.path == "/v2/web/search"
    assert request.json() == {"query": "what causes tides", "result_type": "snippets", "size": 50}
    assert [hit.url for hit in hits] == [f"{PAGES}/pages/tides.html", f"{PAGES}/pages/moon.html"]
    assert hits[1].title == f"{PAGES}/pages/moon.html"


def test_smartsearch_bad_token_names_variable(smartsearch: LoopbackServer) -> None:
    provider = SmartSearchProvider(smartsearch.url, "expired", timeout=5)

    with pytest.raises(SearchProviderError, match="SMARTSEARCH_TOKEN"):
        provider.search("tides", 3)


def test_server_error_quotes_body() -> None:
    failing = Reply.json({"detail": "index offline"}, status=503)
    with LoopbackServer(lambda request: failing) as server:
        provider = SmartSearchProvider(server.url, "sst-test", timeout=5)
        with pytest.raises(SearchProviderError, match=r"HTTP 503.*index offline"):
            provider.search("tides", 3)


def test_timeout_is_search_error() -> None:
    slow = Reply.json({"results": []}, delay=5)
    with LoopbackServer(lambda request: slow) as server:
        provider = SearxngProvider(server.url, timeout=0.2)
        with pytest.raises(SearchProviderError, match=re.escape("timed out after 0.2 s")):
            provider.search("tides", 3)


def test_connection_refused_is_search_error() -> None:
    with LoopbackServer(lambda request: Reply()) as server:
        url = server.url
    provider = TavilyProvider("tvly-test", timeout=2, base_url=url)

    with pytest.raises(SearchProviderError, match="failed"):
        provider.search("tides", 3)


def test_search_errors_are_research_errors() -> None:
    assert issubclass(SearchProviderError, ResearchError)


@pytest.mark.parametrize(
    ("name", "variable"),
    [
        ("searxng", "SEARXNG_URL"),
        ("tavily", "TAVILY_API_KEY"),
        ("smartsearch", "SMARTSEARCH_BASE_URL"),
    ],
)
def test_factory_names_missing_variable(tmp_path: Path, name: str, variable: str) -> None:
    settings = Settings(gldr_data_dir=tmp_path)

    with pytest.raises(SearchProviderError, match=variable):
        create_search_provider(name, settings, ["notes"])


def test_factory_builds_configured_providers(tmp_path: Path) -> None:
    settings = Settings(
        gldr_data_dir=tmp_path,
        searxng_url="http://127.0.0.1:9",
        tavily_api_key="tvly-test",
        smartsearch_base_url="http://127.0.0.1:9",
        smartsearch_token="sst-test",
    )

    assert isinstance(create_search_provider("searxng", settings, []), SearxngProvider)
    assert isinstance(create_search_provider("tavily", settings, []), TavilyProvider)
    assert isinstance(create_search_provider("smartsearch", settings, []), SmartSearchProvider)
    assert isinstance(create_search_provider("local", settings, ["x"]), LocalCollectionProvider)


def test_factory_unknown_provider(tmp_path: Path) -> None:
    with pytest.raises(SearchProviderError, match="unknown provider"):
        create_search_provider("bing", Settings(gldr_data_dir=tmp_path), [])


def test_local_provider_passages(settings: Settings) -> None:
    folder = settings.collections_dir / "notes"
    folder.mkdir(parents=True)
    text = "# Tides\n\nTides are caused by the gravity of the Moon and the Sun.\n"
    (folder / "tides.md").write_text(text, encoding="utf-8")
    (folder / "bees.md").write_text("# Bees\n\nBees make honey from nectar.\n", encoding="utf-8")

    hits = LocalCollectionProvider(settings, ["notes"]).search("moon gravity tides", 5)

    assert hits[0].url == "notes/tides.md"
    assert hits[0].title == "Tides"
    assert "gravity of the Moon" in hits[0].snippet
    assert hits[0].start is not None
    assert hits[0].end is not None
    assert text[hits[0].start : hits[0].end] == hits[0].snippet


def test_local_provider_missing_collection(settings: Settings) -> None:
    provider = LocalCollectionProvider(settings, ["absent"])

    with pytest.raises(SearchProviderError, match="absent") as caught:
        provider.search("tides", 5)

    assert caught.value.provider == "local"
