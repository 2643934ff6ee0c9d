"""Serialises and coalesces reconciles per DeepResearchDeployment.

kopf runs handlers of one object one at a time, but child events and profile
changes ask for reconciles from other watch streams. Every request goes
through here: at most one reconcile per object runs at a time, and a burst
of requests while one runs collapses into a single follow-up run.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("gldr_operator.scheduler")

Key = tuple[str, str]  # (namespace, name)
Work = Callable[[str, str], Awaitable[object]]


class Scheduler:
    def __init__(self, work: Work, delay: float = 0.5) -> None:
        self._work = work
        # Delay before a requested run starts, so a burst of child events
        # (a rollout touches several objects) yields one reconcile.
        self._delay = delay
        self._locks: dict[Key, asyncio.Lock] = {}
        self._pending: set[Key] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self, namespace: str, name: str) -> None:
        """Reconcile now, after any reconcile of the same object that is running."""
        key = (namespace, name)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            self._pending.discard(key)
            await self._work(namespace, name)

    def request(self, namespace: str, name: str) -> None:
        """Ask for a reconcile soon; repeated requests before it starts count once."""
        key = (namespace, name)
        if key in self._pending:
            return
        self._pending.add(key)
        task = asyncio.get_running_loop().create_task(self._run_later(key))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_later(self, key: Key) -> None:
        await asyncio.sleep(self._delay)
        if key not in self._pending:
            return  # A direct run already covered this request.
        try:
            await self.run(*key)
        except Exception:
            log.exception(
                "Reconcile of DeepResearchDeployment %s/%s requested by a child or profile "
                "event failed; the next drift reconcile retries it.",
                *key,
            )

    def forget(self, namespace: str, name: str) -> None:
        self._locks.pop((namespace, name), None)
        self._pending.discard((namespace, name))

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
