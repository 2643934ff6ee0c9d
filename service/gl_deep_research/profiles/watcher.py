"""Reloads `profiles.yaml` into the database whenever the file changes.

The watcher observes the file's directory rather than the file, because a
Kubernetes ConfigMap volume replaces files by swapping the `..data` symlink:
the file's own inode never changes, but the directory reports the swap. Every
change event re-reads the file, and a reload happens only when the content
differs from the last one loaded. A file that fails validation is logged
and ignored, so the profiles loaded before stay in force.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from watchfiles import awatch

from gl_deep_research.profiles.registry import (
    InvalidProfilesFile,
    ProfileCatalog,
    read_profiles_file,
)

logger = logging.getLogger(__name__)

POLL_MS = 30_000


def _content_digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


class ProfilesFileWatcher:
    def __init__(self, catalog: ProfileCatalog, path: Path) -> None:
        self._catalog = catalog
        self._path = path.absolute()
        self._loaded_digest: str | None = None

    def load(self) -> None:
        """Read the file and sync it into the database; raises on an invalid file."""
        digest = _content_digest(self._path)
        self._catalog.sync_file(read_profiles_file(self._path))
        self._loaded_digest = digest

    def reload_if_changed(self) -> bool:
        """Sync the file when its content changed since the last load; return True if synced."""
        digest = _content_digest(self._path)
        if digest == self._loaded_digest:
            return False
        try:
            self._catalog.sync_file(read_profiles_file(self._path))
        except InvalidProfilesFile as err:
            logger.error("Ignored the changed profiles file; the previous profiles stay: %s", err)
            # Remember the bad content so that it is reported once, not on every event.
            self._loaded_digest = digest
            return False
        self._loaded_digest = digest
        logger.info("Reloaded profiles from %s after it changed", self._path)
        return True

    async def watch(self, stop: asyncio.Event) -> None:
        """Reload on every change in the file's directory until `stop` is set."""
        directory = self._path.parent
        if not directory.is_dir():
            logger.warning(
                "Not watching %s for changes because its directory does not exist", self._path
            )
            return
        # Empty change sets arrive every POLL_MS as well, so a change that the
        # file system did not report (some network volumes) is still found.
        async for _changes in awatch(
            directory,
            stop_event=stop,
            recursive=False,
            rust_timeout=POLL_MS,
            yield_on_timeout=True,
        ):
            try:
                await run_in_threadpool(self.reload_if_changed)
            except Exception:
                logger.exception(
                    "Reloading profiles from %s failed; retrying on the next change", self._path
                )
