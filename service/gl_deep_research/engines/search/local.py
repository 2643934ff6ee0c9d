"""The local collections as a search provider, over the `local` engine's retrieval."""

from __future__ import annotations

from collections.abc import Sequence

from gl_deep_research.engines.base import ResearchError
from gl_deep_research.engines.local import search_collections
from gl_deep_research.engines.search.base import SearchHit, SearchProviderError
from gl_deep_research.settings import Settings


class LocalCollectionProvider:
    """BM25 search over local collections; each hit is one passage with its offsets."""

    name = "local"

    def __init__(self, settings: Settings, collections: Sequence[str]) -> None:
        self.settings = settings
        self.collections = list(collections)

    def search(self, query: str, max_results: int) -> list[SearchHit]:
        try:
            results = search_collections(self.settings, query, self.collections, max_results)
        except SearchProviderError:
            raise
        except ResearchError as err:
            raise SearchProviderError(self.name, str(err)) from err
        return [
            SearchHit(
                title=result.title,
                url=result.url_or_path,
                snippet=result.text,
                start=result.start,
                end=result.end,
            )
            for result in results
        ]
