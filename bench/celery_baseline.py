"""The dispatch baseline: a bare Celery app whose only task records when it started.

It uses the broker of the product (`CELERY_BROKER_URL`) and the delivery
settings that change when a task starts: late acknowledgement, prefetch
multiplier 1 and publisher confirms. It has no result backend, no
`task_track_started`, no database and no task body. The start time goes to
Redis (`REDIS_HOST`, `REDIS_PORT`, `REDIS_DB`) under `bench:started:<id>`.
"""

from __future__ import annotations

import os
import time

import redis
from celery import Celery

STARTED_KEY_PREFIX = "bench:started:"
KEY_TTL_SECONDS = 3600

app = Celery("gldr_bench_baseline")
app.conf.update(
    broker_url=os.environ.get("CELERY_BROKER_URL", "memory://"),
    task_acks_late=True,
    worker_prefetch_multiplier=1,
    broker_transport_options={"confirm_publish": True},
    broker_connection_retry_on_startup=True,
    task_serializer="json",
    accept_content=["json"],
    worker_hijack_root_logger=False,
)
_redis = redis.Redis(
    host=os.environ.get("REDIS_HOST", "127.0.0.1"),
    port=int(os.environ.get("REDIS_PORT", "6379")),
    db=int(os.environ.get("REDIS_DB", "0")),
)


@app.task(name="gldr_bench.record_start")
def record_start(probe_id: str) -> None:
    started = time.time()
    _redis.set(STARTED_KEY_PREFIX + probe_id, repr(started), ex=KEY_TTL_SECONDS)
