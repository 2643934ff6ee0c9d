"""The baseline: bare Starlette endpoints with none of the product's layers.

- `GET /v1/tasks/{task_id}` returns a fixed JSON body of the size of a
  pending task's body: no authentication, no database, no middleware.
- `POST /v1/tasks` parses the same form body and returns 202 with a fixed body.
- `GET /sse/{task_id}` forwards the task's Redis stream as Server-Sent
  Events with one `XREAD BLOCK` loop per client, the least any Redis-backed
  stream can do, and ends after the `done` event.

Served by `bench.serve`, with the same uvicorn settings as the product.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import redis.asyncio as aioredis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from gl_deep_research.events.redis_store import KEY_PREFIX

TASK_BODY = {
    "task_id": "00000000-0000-0000-0000-000000000000",
    "taskgroup_id": None,
    "status": "PENDING",
    "created_at": "2026-01-01T00:00:00Z",
    "started_at": None,
    "completed_at": None,
    "query": "What caused the 1973 oil crisis?",
    "profile": "local",
    "data": None,
    "error": "",
}
READ_WINDOW_MS = 5000

events = aioredis.Redis(
    host=os.environ.get("REDIS_HOST", "127.0.0.1"),
    port=int(os.environ.get("REDIS_PORT", "6379")),
    db=int(os.environ.get("REDIS_DB", "0")),
    # Longer than the 5 s read window, and room for one connection per open stream:
    # redis-py 8 defaults to a 5 s socket timeout and 100 pooled connections.
    socket_timeout=30,
    max_connections=10_000,
)


async def health(_: Request) -> Response:
    return PlainTextResponse("ok")


async def get_task(request: Request) -> Response:
    return JSONResponse({**TASK_BODY, "task_id": request.path_params["task_id"]})


async def create_task(request: Request) -> Response:
    form = await request.form()
    body = {"task_id": str(uuid.uuid4()), "query": form.get("query"), "error": ""}
    return JSONResponse(body, status_code=202)


async def stream_task(request: Request) -> Response:
    key = KEY_PREFIX + request.path_params["task_id"]

    async def generate() -> AsyncIterator[bytes]:
        cursor = "0-0"
        while True:
            response = await events.xread({key: cursor}, count=1000, block=READ_WINDOW_MS)
            for _, entries in response or []:
                for entry_id, fields in entries:
                    cursor = entry_id.decode()
                    event_type = fields[b"type"].decode()
                    data = fields[b"payload"].decode()
                    yield f"id: {cursor}\nevent: {event_type}\ndata: {data}\n\n".encode()
                    if event_type == "done":
                        return

    return StreamingResponse(generate(), media_type="text/event-stream")


app = Starlette(
    routes=[
        Route("/health", health),
        Route("/v1/tasks/{task_id}", get_task),
        Route("/v1/tasks", create_task, methods=["POST"]),
        Route("/sse/{task_id}", stream_task),
    ]
)
