"""CPU time per `GET /v1/tasks/{task_id}`, split into its parts, in one process.

Calls the ASGI apps directly, one request at a time, with no HTTP server
and no load generator, so the figures are CPU seconds of this process
(all threads) per request rather than throughput:

- the baseline app (bench/baseline_app.py);
- the product's app with an account key;
- the product's app with the database read replaced by a fixed task, which
  leaves FastAPI, the middleware and the worker thread hop;
- one `run_in_threadpool` hop alone;
- the blocking key check and task read alone.

Usage: uv run python -m bench.api_cpu [--requests N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message

from bench.services import MASTER_KEY, delete_queues, prepare

WARM_UP_REQUESTS = 200


async def get(app: ASGIApp, path: str, headers: dict[str, str]) -> int:
    """Send one GET through `app` and return the response status."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(name.lower().encode(), value.encode()) for name, value in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }
    messages: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        messages.append(message)

    await app(scope, receive, send)
    return int(messages[0]["status"])


async def cpu_per_call(label: str, calls: int, call: Callable[[], Awaitable[Any]]) -> None:
    for _ in range(WARM_UP_REQUESTS):
        await call()
    started = time.process_time()
    for _ in range(calls):
        await call()
    print(f"{label:45s} {(time.process_time() - started) / calls * 1e6:7.0f} us CPU per call")


async def measure(calls: int) -> None:
    import bench.baseline_app as baseline
    from gl_deep_research.api.main import app

    async with app.router.lifespan_context(app):
        runtime = app.state.runtime
        transport = httpx.ASGITransport(app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            account = await client.post(
                "/v1/accounts/", json={"name": "api-cpu"}, headers={"X-API-Key": MASTER_KEY}
            )
            key = account.json()["data"]["api_key"]
            headers = {"X-API-Key": key}
            created = await client.post("/v1/tasks", data={"query": "Tides?"}, headers=headers)
            task_id = created.json()["task_id"]
        path = f"/v1/tasks/{task_id}"

        await cpu_per_call("baseline app", calls, lambda: get(baseline.app, path, {}))
        await cpu_per_call("product app", calls, lambda: get(app, path, headers))

        read = runtime.tasks.get_task_with_key
        task = read(runtime.verifier, key, task_id)
        runtime.tasks.get_task_with_key = lambda *_: task
        try:
            await cpu_per_call(
                "product app, database read replaced", calls, lambda: get(app, path, headers)
            )
        finally:
            runtime.tasks.get_task_with_key = read
        await cpu_per_call("thread hop alone", calls, lambda: run_in_threadpool(lambda: None))

        async def read_alone() -> None:
            read(runtime.verifier, key, task_id)

        await cpu_per_call("key check and task read alone", calls, read_alone)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="calls per measurement")
    args = parser.parse_args()
    bench = prepare(Path(tempfile.mkdtemp(prefix="gldr-api-cpu-")))
    # The app module reads its settings from the environment when it is imported.
    os.environ.update(bench.child_env(CELERY_QUEUE_NAME=bench.new_queue()))
    try:
        asyncio.run(measure(args.requests))
    finally:
        delete_queues(bench)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
