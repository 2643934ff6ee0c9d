"""The interface that every search provider implements, and its errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from gl_deep_research.engines.base import ResearchError


class SearchProviderError(ResearchError):
    """A search request failed; the message names the provider and what to do next."""

    def __init__(self, provider: str, message: str) -> None:
        super().__init__(f"Search provider {provider!r}: {message}")
        self.provider = provider


class PageFetchError(ResearchError):
    """A web page could not be fetched or turned into text."""

    def __init__(self, url: str, message: str) -> None:
        super().__init__(f"Fetching {url}: {message}")
        self.url = url


@dataclass(frozen=True)
class SearchHit:
    """One search result: a web page or a passage of a local collection.

    `start` and `end` are the character offsets of `snippet` in the local
    document and are None for web results.
    """

    title: str
    url: str
    snippet: str
    start: int | None = None
    end: int | None = None


class SearchProvider(Protocol):
    """A search backend; `search` raises `SearchProviderError` when the request fails."""

    name: str

    def search(self, query: str, max_results: int) -> list[SearchHit]: ...
