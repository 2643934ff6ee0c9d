"""The ASGI application object for uvicorn: `gl_deep_research.api.main:app`."""

from gl_deep_research.api.app import create_app
from gl_deep_research.logs import configure_logging
from gl_deep_research.settings import load_settings

_settings = load_settings()
configure_logging(_settings)
app = create_app(_settings)
