"""`gldr research`: one task through the task service, followed to its end.

Whatever the adapters are (embedded, or PostgreSQL, Redis and Celery from
the environment), the task is created, dispatched and followed exactly as an
API request would be, as the master caller.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool

from gl_deep_research.auth.verifier import MASTER
from gl_deep_research.db.migrate import upgrade_database
from gl_deep_research.db.models import Task
from gl_deep_research.events.store import EventStoreUnavailable
from gl_deep_research.profiles.registry import read_profiles_file
from gl_deep_research.runtime import build_runtime
from gl_deep_research.settings import Settings
from gl_deep_research.tasks import status
from gl_deep_research.tasks.body import task_body
from gl_deep_research.tasks.stream import follow_task_events

Echo = Callable[[str, dict[str, Any]], None]
POLL_SECONDS = 0.5


async def run_research(
    settings: Settings, question: str, profile: str | None, echo: Echo | None
) -> dict[str, Any]:
    await run_in_threadpool(upgrade_database, settings)
    runtime = await run_in_threadpool(build_runtime, settings, "cli")
    try:
        await run_in_threadpool(
            runtime.profiles.sync_file, read_profiles_file(settings.profiles_config_path)
        )
        task = await run_in_threadpool(runtime.tasks.create_task, MASTER, question, profile)
        task_id = str(task.id)

        async def load_task() -> Task:
            return await run_in_threadpool(runtime.tasks.get_task, MASTER, task_id)

        try:
            async for event in follow_task_events(
                runtime.events, task_id, load_task, read_window_ms=1000
            ):
                if echo is not None:
                    echo(event.type, event.payload.get("data") or {})
        except EventStoreUnavailable:
            # Events are a view; the task row still says when the task ends.
            while (await load_task()).status not in status.FINAL:
                await asyncio.sleep(POLL_SECONDS)
        return task_body(await load_task())
    finally:
        runtime.close()
