"""GL Smart Search web search over HTTP, without its SDK.

The request shape is read from the `gl-smart-search-sdk` 0.0.15 package
(`WebSearchClient.search_web`): `POST {base}/v2/web/search` with
`Authorization: Bearer <token>` and the JSON body
`{"query": ..., "result_type": "snippets", "size": n}`, where `size` is 1 to
50. The response is `{"data": [chunk, ...]}` and each chunk has `content`
and `metadata.source` (the URL) and `metadata.title`.
"""

from __future__ import annotations

from typing import Any

from gl_deep_research.engines.search.base import SearchHit, SearchProviderError
from gl_deep_research.engines.search.http import join_url, request_json, text_field

SEARCH_PATH = "/v2/web/search"
MAX_SIZE = 50


class SmartSearchProvider:
    """Search the web through a GL Smart Search backend (`SMARTSEARCH_BASE_URL`)."""

    name = "smartsearch"

    def __init__(self, base_url: str, token: str, timeout: float) -> None:
        self.base_url = base_url
        self.token = token
        self.timeout = timeout

    def search(self, query: str, max_results: int) -> list[SearchHit]:
        body = request_json(
            self.name,
            "POST",
            join_url(self.base_url, SEARCH_PATH),
            self.timeout,
            json_body={
                "query": query,
                "result_type": "snippets",
                "size": max(1, min(max_results, MAX_SIZE)),
            },
            headers={"Authorization": f"Bearer {self.token}"},
            credential_hint="check SMARTSEARCH_TOKEN",
        )
        chunks = body.get("data") if isinstance(body, dict) else None
        if not isinstance(chunks, list):
            raise SearchProviderError(
                self.name,
                "the response has no 'data' list; is SMARTSEARCH_BASE_URL a Smart Search backend?",
            )
        return _hits(chunks)[:max_results]


def _hits(chunks: list[Any]) -> list[SearchHit]:
    """Convert chunks to hits; a chunk without a source URL is skipped."""
    hits = []
    for chunk in chunks:
        if not isinstance(chunk, dict):
            continue
        metadata = chunk.get("metadata")
        if not isinstance(metadata, dict):
            continue
        url = text_field(metadata, "source")
        if not url:
            continue
        title = text_field(metadata, "title") or url
        hits.append(SearchHit(title=title, url=url, snippet=text_field(chunk, "content")))
    return hits
