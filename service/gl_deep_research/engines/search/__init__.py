"""Search providers behind one interface, and the page fetcher.

Providers: GL Smart Search (`smartsearch`), SearXNG (`searxng`), Tavily
(`tavily`) and the local collections (`local`). Every web request has a
timeout, and every failure raises a `ResearchError` subclass that names the
provider and the fix.
"""

from gl_deep_research.engines.search.base import (
    PageFetchError,
    SearchHit,
    SearchProvider,
    SearchProviderError,
)
from gl_deep_research.engines.search.factory import PROVIDER_NAMES, create_search_provider
from gl_deep_research.engines.search.fetch import FetchedPage, PageFetcher
from gl_deep_research.engines.search.local import LocalCollectionProvider
from gl_deep_research.engines.search.searxng import SearxngProvider
from gl_deep_research.engines.search.smartsearch import SmartSearchProvider
from gl_deep_research.engines.search.tavily import TavilyProvider

__all__ = [
    "PROVIDER_NAMES",
    "FetchedPage",
    "LocalCollectionProvider",
    "PageFetchError",
    "PageFetcher",
    "SearchHit",
    "SearchProvider",
    "SearchProviderError",
    "SearxngProvider",
    "SmartSearchProvider",
    "TavilyProvider",
    "create_search_provider",
]
