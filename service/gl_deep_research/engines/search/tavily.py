"""Tavily web search: `POST https://api.tavily.com/search` with a bearer API key.

Request and response fields follow the API reference at
https://docs.tavily.com/api-reference/endpoint/search, which allows
`max_results` below 20.
"""

from __future__ import annotations

from gl_deep_research.engines.search.base import SearchHit, SearchProviderError
from gl_deep_research.engines.search.http import join_url, request_json, text_field

TAVILY_BASE_URL = "https://api.tavily.com"


class TavilyProvider:
    """Search with Tavily; `base_url` is configurable so that tests can use a local server."""

    name = "tavily"

    def __init__(self, api_key: str, timeout: float, base_url: str = TAVILY_BASE_URL) -> None:
        self.api_key = api_key
        self.timeout = timeout
        self.base_url = base_url

    def search(self, query: str, max_results: int) -> list[SearchHit]:
        body = request_json(
            self.name,
            "POST",
            join_url(self.base_url, "search"),
            self.timeout,
            json_body={"query": query, "max_results": max_results, "search_depth": "basic"},
            headers={"Authorization": f"Bearer {self.api_key}"},
            credential_hint="check TAVILY_API_KEY",
        )
        results = body.get("results") if isinstance(body, dict) else None
        if not isinstance(results, list):
            raise SearchProviderError(self.name, "the response has no 'results' list.")
        hits = []
        for item in results:
            if not isinstance(item, dict) or not text_field(item, "url"):
                continue
            url = text_field(item, "url")
            title = text_field(item, "title") or url
            hits.append(SearchHit(title=title, url=url, snippet=text_field(item, "content")))
        return hits[:max_results]
