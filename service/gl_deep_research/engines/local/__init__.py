"""The offline `local` research engine and the collection search it is built on.

`LocalEngine` is the engine registered under the provider key `local`.
`search_collections` is the same retrieval as a tool for other engines.
"""

from gl_deep_research.engines.local.engine import LocalEngine
from gl_deep_research.engines.local.retrieval import SearchResult, search_collections

__all__ = ["LocalEngine", "SearchResult", "search_collections"]
