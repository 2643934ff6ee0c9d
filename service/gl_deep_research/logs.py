"""Logging set-up: text or JSON lines, with request and task ids from context."""

from __future__ import annotations

import contextvars
import logging
import sys

from pythonjsonlogger.json import JsonFormatter

from gl_deep_research.settings import Settings

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
task_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("task_id", default=None)


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        record.task_id = task_id.get()
        return True


class _MinimumLevelFilter(logging.Filter):
    """Drop records of the named loggers (and their children) below a minimum level."""

    def __init__(self, levels: dict[str, int]) -> None:
        super().__init__()
        self._levels = levels

    def filter(self, record: logging.LogRecord) -> bool:
        name = record.name.partition(".")[0]
        return record.levelno >= self._levels.get(name, logging.NOTSET)


# bm25s 0.3.16 sets its logger to DEBUG in its `__init__`, which runs at its first
# import, usually after `configure_logging`, and so undoes a `setLevel` here. The
# handler drops its index internals instead, whatever the import order.
LIBRARY_MINIMUM_LEVELS = {"bm25s": logging.WARNING}


def configure_logging(settings: Settings) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_ContextFilter())
    handler.addFilter(_MinimumLevelFilter(LIBRARY_MINIMUM_LEVELS))
    if settings.log_format == "json":
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(task_id)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level)
    # Per-request access lines would double every API log line; our middleware logs instead.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("bm25s").setLevel(logging.WARNING)
