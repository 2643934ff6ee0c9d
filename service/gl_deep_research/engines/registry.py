"""Creates the research engine for a provider key; engines are imported on first use."""

from __future__ import annotations

import importlib

from gl_deep_research.engines.base import ResearchEngine, ResearchError
from gl_deep_research.settings import Settings

# Module and class of each engine, imported lazily so that the API process
# never loads an engine's heavy dependencies.
ENGINE_CLASSES = {
    "local": ("gl_deep_research.engines.local", "LocalEngine"),
    "tongyi": ("gl_deep_research.engines.tongyi", "TongyiEngine"),
    "gptr": ("gl_deep_research.engines.gptr", "GptResearcherEngine"),
}


def create_engine(provider: str, settings: Settings) -> ResearchEngine:
    try:
        module_name, class_name = ENGINE_CLASSES[provider]
    except KeyError:
        raise ResearchError(
            f"No research engine is registered for provider {provider!r}."
        ) from None
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ResearchError(
            f"The {provider!r} research engine cannot be loaded: {err}. "
            "Install the package's optional extra for it."
        ) from err
    engine: ResearchEngine = getattr(module, class_name)(settings)
    return engine
