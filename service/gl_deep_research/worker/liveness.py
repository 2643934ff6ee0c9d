"""Liveness of a Celery worker: a heartbeat that the consumer's event loop records.

`ConsumerHeartbeatStep` is a bootstep of the consumer blueprint. While the
consumer runs, it records the time on the consumer's timer every few
seconds. With Celery's event loop (an amqp or redis broker), that timer fires
inside the loop, so the heartbeat stops when the loop is blocked or the
consumer is reconnecting to the broker. Tasks run in prefork pool processes,
so a long task does not delay it. With `--pool=solo` a task blocks the loop,
so a long task would look like a hang.

The worker's HTTP server returns 200 or 503 on `GET /livez` from the heartbeat's age.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from celery import bootsteps
from celery.worker.consumer.tasks import Tasks

from gl_deep_research.settings import load_settings

logger = logging.getLogger(__name__)

HEARTBEAT_INTERVAL_MAX_SECONDS = 10.0


class ConsumerHeartbeat:
    """Monotonic time of the consumer's last heartbeat.

    Creation counts as a heartbeat, so a worker that is still starting gets
    the same grace as a running one.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._last = clock()

    def record(self) -> None:
        self._last = self._clock()

    def age(self) -> float:
        """Seconds since the last heartbeat."""
        return self._clock() - self._last


# The heartbeat of this worker process. The step writes it from the event
# loop and the HTTP server's threads read it. Assigning a float is atomic in
# CPython, so no lock is needed.
consumer_heartbeat = ConsumerHeartbeat()


def heartbeat_interval(max_age_seconds: float) -> float:
    """Seconds between heartbeats, so that several fit into the allowed age."""
    return min(HEARTBEAT_INTERVAL_MAX_SECONDS, max_age_seconds / 4)


def liveness(heartbeat: ConsumerHeartbeat, max_age_seconds: float) -> tuple[bool, dict[str, Any]]:
    """Report whether the heartbeat is recent enough, with a JSON body for `/livez`."""
    age = heartbeat.age()
    alive = age <= max_age_seconds
    body = {
        "status": "ok" if alive else "stale",
        "heartbeat_age_seconds": round(age, 3),
        "max_age_seconds": max_age_seconds,
    }
    return alive, body


class ConsumerHeartbeatStep(bootsteps.StartStopStep):
    """Consumer bootstep that records `consumer_heartbeat` on the consumer's timer."""

    requires = (Tasks,)

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        max_age = load_settings().worker_liveness_max_age_seconds
        self.interval = heartbeat_interval(max_age)
        self.timer_entry: Any = None

    def start(self, parent: Any) -> None:
        # Celery starts the consumer's steps again after every reconnect, and
        # the task consumer is set up by now.
        if parent.hub is None:
            logger.warning(
                "The worker runs without Celery's event loop, so the liveness heartbeat "
                "comes from a timer thread and shows only that the process runs"
            )
        consumer_heartbeat.record()
        self.timer_entry = parent.timer.call_repeatedly(self.interval, self._beat, (parent,))

    def stop(self, parent: Any) -> None:
        if self.timer_entry is not None:
            self.timer_entry.cancel()
            self.timer_entry = None

    shutdown = stop

    @staticmethod
    def _beat(consumer: Any) -> None:
        connection = consumer.connection
        if connection is not None and connection.connected:
            consumer_heartbeat.record()
