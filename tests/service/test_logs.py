"""Logging set-up: library loggers that reset their own level."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from gl_deep_research.logs import configure_logging
from gl_deep_research.settings import Settings

pytestmark = pytest.mark.unit


@pytest.fixture
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_bm25s_debug_hidden_after_import(
    restore_root: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(Settings(log_level="DEBUG"))
    # What `import bm25s` does when it is first imported after configure_logging.
    logging.getLogger("bm25s").setLevel(logging.DEBUG)
    logging.getLogger("bm25s").debug("Building index from IDs objects")
    logging.getLogger("bm25s").warning("bm25s warning")
    logging.getLogger("gl_deep_research.test").debug("own debug line")
    stderr = capsys.readouterr().err
    assert "Building index from IDs objects" not in stderr
    assert "bm25s warning" in stderr
    assert "own debug line" in stderr
