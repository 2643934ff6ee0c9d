"""The per-process runtime of a Celery worker, built on first use after fork."""

from __future__ import annotations

import threading

from gl_deep_research.runtime import Runtime, build_runtime
from gl_deep_research.settings import load_settings

_runtime: Runtime | None = None
_lock = threading.Lock()


def worker_runtime() -> Runtime:
    global _runtime
    with _lock:
        if _runtime is None:
            _runtime = build_runtime(load_settings(), role="worker")
        return _runtime


def reset_worker_runtime() -> None:
    """Drop the runtime inherited from the parent; pooled connections must not cross a fork."""
    global _runtime
    with _lock:
        _runtime = None
