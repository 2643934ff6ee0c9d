"""Creates the search provider that a profile names, from the process settings."""

from __future__ import annotations

from collections.abc import Sequence

from gl_deep_research.engines.search.base import SearchProvider, SearchProviderError
from gl_deep_research.engines.search.local import LocalCollectionProvider
from gl_deep_research.engines.search.searxng import SearxngProvider
from gl_deep_research.engines.search.smartsearch import SmartSearchProvider
from gl_deep_research.engines.search.tavily import TavilyProvider
from gl_deep_research.settings import Settings

PROVIDER_NAMES = ("smartsearch", "searxng", "tavily", "local")


def create_search_provider(
    name: str, settings: Settings, collections: Sequence[str]
) -> SearchProvider:
    """Create provider `name`; raises `SearchProviderError` naming a missing variable."""
    timeout = settings.search_timeout_seconds
    if name == "smartsearch":
        if not settings.smartsearch_base_url or settings.smartsearch_token is None:
            raise SearchProviderError(
                name, "SMARTSEARCH_BASE_URL and SMARTSEARCH_TOKEN must both be set to use it."
            )
        return SmartSearchProvider(
            settings.smartsearch_base_url, settings.smartsearch_token.get_secret_value(), timeout
        )
    if name == "searxng":
        if not settings.searxng_url:
            raise SearchProviderError(
                name, "SEARXNG_URL is not set; set it to the instance's base URL."
            )
        return SearxngProvider(settings.searxng_url, timeout)
    if name == "tavily":
        if settings.tavily_api_key is None:
            raise SearchProviderError(name, "TAVILY_API_KEY is not set; set it to use Tavily.")
        return TavilyProvider(settings.tavily_api_key.get_secret_value(), timeout)
    if name == "local":
        return LocalCollectionProvider(settings, collections)
    raise SearchProviderError(
        name, f"unknown provider; expected one of {', '.join(PROVIDER_NAMES)}."
    )
