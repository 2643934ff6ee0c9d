"""The agent's tools, their OpenAI schemas, and the numbered sources they return.

Every passage or page a tool returns is registered in `SourceRegistry` and
gets a number that the tool output shows as `[n]`. The final report may cite
only these numbers, so citations are checked against what the tools really
returned, not against the model's text.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gl_deep_research.engines.base import Source, Usage
from gl_deep_research.engines.search import (
    PageFetcher,
    PageFetchError,
    SearchHit,
    SearchProvider,
    SearchProviderError,
)

logger = logging.getLogger(__name__)

WEB_SEARCH = "web_search"
FETCH_WEB_PAGE = "fetch_web_page"
LOCAL_SEARCH = "local_search"
# Maximum queries run per call when the model sends a list of queries, which
# Tongyi DeepResearch's own `search` tool accepts.
MAX_QUERIES_PER_CALL = 3
# Characters of a fetched page kept as the source's snippet.
PAGE_SNIPPET_CHARS = 400

SCHEMAS: dict[str, dict[str, Any]] = {
    WEB_SEARCH: {
        "type": "function",
        "function": {
            "name": WEB_SEARCH,
            "description": "Search the web. Returns numbered results with title, URL and snippet.",
            "parameters": {
                "type": "object",
                "properties": {"query": {"type": "string", "description": "The search query."}},
                "required": ["query"],
            },
        },
    },
    FETCH_WEB_PAGE: {
        "type": "function",
        "function": {
            "name": FETCH_WEB_PAGE,
            "description": "Fetch a web page by URL and return its main text as a numbered source.",
            "parameters": {
                "type": "object",
                "properties": {"url": {"type": "string", "description": "An http(s) URL."}},
                "required": ["url"],
            },
        },
    },
    LOCAL_SEARCH: {
        "type": "function",
        "function": {
            "name": LOCAL_SEARCH,
            "description": (
                "Search the local document collections (such as Wikipedia summaries). "
                "Returns numbered passages with their document title and path."
            ),
            "parameters": {
                "type": "object",
                "properties": {"query": {"type": "string", "description": "The search query."}},
                "required": ["query"],
            },
        },
    },
}


class SourceRegistry:
    """Numbers every distinct source in the order tools returned them, from 1."""

    def __init__(self) -> None:
        self.sources: dict[int, Source] = {}
        self._numbers: dict[tuple[str, int | None, int | None], int] = {}

    def add(
        self, title: str, url: str, snippet: str, start: int | None, end: int | None
    ) -> tuple[Source, bool]:
        """Register a source and return it with True if it is new."""
        key = (url, start, end)
        number = self._numbers.get(key)
        if number is not None:
            return self.sources[number], False
        number = len(self.sources) + 1
        source = Source(
            id=number, title=title, url_or_path=url, snippet=snippet, start=start, end=end
        )
        self._numbers[key] = number
        self.sources[number] = source
        return source, True


@dataclass
class ToolResult:
    """The text sent back to the model, and the activity event describing the call."""

    output: str
    activity: dict[str, Any]


class Toolbox:
    """Runs tool calls and records sources and usage.

    `web_search` and `fetch_web_page` are offered when `web_provider` is set,
    and `local_search` when `local_provider` is set. `on_source` is called
    once for each new source.
    """

    def __init__(
        self,
        web_provider: SearchProvider | None,
        local_provider: SearchProvider | None,
        fetcher: PageFetcher,
        results_per_search: int,
        max_page_chars: int,
        usage: Usage,
        on_source: Callable[[Source], None],
    ) -> None:
        self.web_provider = web_provider
        self.local_provider = local_provider
        self.fetcher = fetcher
        self.results_per_search = results_per_search
        self.max_page_chars = max_page_chars
        self.usage = usage
        self.on_source = on_source
        self.registry = SourceRegistry()

    @property
    def names(self) -> list[str]:
        names = []
        if self.web_provider is not None:
            names += [WEB_SEARCH, FETCH_WEB_PAGE]
        if self.local_provider is not None:
            names.append(LOCAL_SEARCH)
        return names

    def schemas(self) -> list[dict[str, Any]]:
        return [SCHEMAS[name] for name in self.names]

    def run(self, name: str, arguments: dict[str, Any]) -> ToolResult:
        """Run one call and return its output; errors become output for the model."""
        if name not in self.names:
            return self.error(
                name, f"unknown tool {name!r}; available tools: {', '.join(self.names)}"
            )
        if name == FETCH_WEB_PAGE:
            url = arguments.get("url")
            if not isinstance(url, str) or not url.strip():
                return self.error(name, 'the argument "url" must be a non-empty string')
            return self._fetch(url.strip())
        queries = _queries(arguments.get("query"))
        if not queries:
            return self.error(name, 'the argument "query" must be a non-empty string')
        provider = self.web_provider if name == WEB_SEARCH else self.local_provider
        assert provider is not None
        return self._search(name, provider, queries)

    def error(self, name: str, message: str) -> ToolResult:
        logger.warning("Tool call %r rejected: %s", name, message)
        return ToolResult(
            output=f"Error: {message}. Correct the call and try again, or write the final answer.",
            activity={"kind": "tool", "tool": name, "error": message},
        )

    def _search(self, name: str, provider: SearchProvider, queries: list[str]) -> ToolResult:
        sections = []
        for query in queries:
            self.usage.search_calls += 1
            try:
                hits = provider.search(query, self.results_per_search)
            except SearchProviderError as err:
                logger.warning("Tool %s failed for query %r: %s", name, query, err)
                sections.append(f"Search for {query!r} failed: {err}")
                continue
            sections.append(self._format_hits(query, hits))
        activity: dict[str, Any] = {"kind": "tool", "tool": name, "query": queries[0]}
        if len(queries) > 1:
            activity["queries"] = queries
        return ToolResult(output="\n\n".join(sections), activity=activity)

    def _format_hits(self, query: str, hits: list[SearchHit]) -> str:
        if not hits:
            return f"No results for {query!r}."
        lines = [f"Results for {query!r}:"]
        for hit in hits:
            source = self._register(hit.title, hit.url, hit.snippet, hit.start, hit.end)
            lines.append(f"[{source.id}] {hit.title}\nURL: {hit.url}\n{hit.snippet}")
        return "\n\n".join(lines)

    def _fetch(self, url: str) -> ToolResult:
        activity = {"kind": "tool", "tool": FETCH_WEB_PAGE, "url": url}
        self.usage.page_fetches += 1
        try:
            page = self.fetcher.fetch(url)
        except PageFetchError as err:
            logger.warning("Tool %s failed: %s", FETCH_WEB_PAGE, err)
            return ToolResult(output=f"Error: {err}", activity=activity)
        text = page.text[: self.max_page_chars]
        snippet = " ".join(text[:PAGE_SNIPPET_CHARS].split())
        source = self._register(page.title, page.url, snippet, None, None)
        truncated = " (truncated)" if len(page.text) > self.max_page_chars else ""
        output = f"[{source.id}] {page.title}\nURL: {page.url}\nText{truncated}:\n{text}"
        return ToolResult(output=output, activity=activity)

    def _register(
        self, title: str, url: str, snippet: str, start: int | None, end: int | None
    ) -> Source:
        source, new = self.registry.add(title, url, snippet, start, end)
        if new:
            self.on_source(source)
        return source


def _queries(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value.strip()] if value.strip() else []
    if isinstance(value, list):
        queries = [item.strip() for item in value if isinstance(item, str) and item.strip()]
        return queries[:MAX_QUERIES_PER_CALL]
    return []
