"""SearXNG metasearch through its JSON API: `GET /search?q=...&format=json`."""

from __future__ import annotations

from typing import Any

from gl_deep_research.engines.search.base import SearchHit, SearchProviderError
from gl_deep_research.engines.search.http import join_url, request_json, text_field


class SearxngProvider:
    """Search a SearXNG instance, for example `SEARXNG_URL=http://searxng:8080`."""

    name = "searxng"

    def __init__(self, base_url: str, timeout: float) -> None:
        self.base_url = base_url
        self.timeout = timeout

    def search(self, query: str, max_results: int) -> list[SearchHit]:
        body = request_json(
            self.name,
            "GET",
            join_url(self.base_url, "search"),
            self.timeout,
            params={"q": query, "format": "json"},
            # SearXNG responds with 403 when the instance does not enable the JSON format.
            credential_hint="enable the json format under search.formats in SearXNG's settings.yml",
        )
        results = body.get("results") if isinstance(body, dict) else None
        if not isinstance(results, list):
            raise SearchProviderError(
                self.name, "the response has no 'results' list; is SEARXNG_URL a SearXNG instance?"
            )
        return _hits(results)[:max_results]


def _hits(results: list[Any]) -> list[SearchHit]:
    hits = []
    for item in results:
        if not isinstance(item, dict):
            continue
        url = text_field(item, "url")
        if not url:
            continue
        title = text_field(item, "title") or url
        hits.append(SearchHit(title=title, url=url, snippet=text_field(item, "content")))
    return hits
