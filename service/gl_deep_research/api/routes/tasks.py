"""`/v1/tasks`: create, read and stream research tasks."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse
from sse_starlette import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from gl_deep_research.api.deps import CallerDep, RuntimeDep
from gl_deep_research.api.fields import body_schema, read_fields
from gl_deep_research.api.schemas import TaskAccepted, TaskBody
from gl_deep_research.api.streaming import open_event_stream
from gl_deep_research.tasks.body import iso, task_body

router = APIRouter(prefix="/v1/tasks", tags=["tasks"])

TASK_FIELDS = {
    "query": {"type": "string", "description": "The research question", "maxLength": 20000},
    "profile": {"type": "string", "description": "Profile name; the default when absent"},
    "webhook": {
        "type": "string",
        "description": 'JSON object string: {"url": "https://...", "secret": "..."}',
    },
}
AUTH_ERRORS: dict[int | str, dict[str, Any]] = {401: {"description": "Missing or invalid key"}}


@router.post(
    "",
    status_code=202,
    response_model=TaskAccepted,
    openapi_extra=body_schema(TASK_FIELDS, ["query"]),
    responses={
        **AUTH_ERRORS,
        400: {"description": "Invalid field; `detail` names it"},
        404: {"description": "Unknown profile"},
        413: {"description": "Body over 1 MiB"},
        415: {"description": "Unsupported content type"},
    },
    summary="Submit a research task",
)
async def create_task(
    request: Request,
    runtime: RuntimeDep,
    caller: CallerDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> JSONResponse:
    fields = await read_fields(request)
    task = await run_in_threadpool(
        runtime.tasks.create_task,
        caller,
        fields.get("query"),
        fields.get("profile") or None,
        fields.get("webhook"),
        idempotency_key,
    )
    body = {
        "task_id": str(task.id),
        "taskgroup_id": str(task.taskgroup_id) if task.taskgroup_id else None,
        "created_at": iso(task.created_at),
        "error": "",
    }
    return JSONResponse(body, status_code=202)


@router.get(
    "/{task_id}",
    response_model=TaskBody,
    responses={**AUTH_ERRORS, 404: {"description": "Unknown task or another account's"}},
    summary="Get a task's status and result",
)
def get_task(task_id: str, runtime: RuntimeDep, caller: CallerDep) -> dict[str, Any]:
    return task_body(runtime.tasks.get_task(caller, task_id))


@router.get(
    "/{task_id}/stream",
    responses={
        **AUTH_ERRORS,
        200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events"},
        404: {"description": "Unknown task or another account's"},
        503: {"description": "The event store (Redis) is unavailable"},
    },
    summary="Stream a task's events: history first, then live, ending with `done`",
)
async def stream_task(
    task_id: str,
    request: Request,
    runtime: RuntimeDep,
    caller: CallerDep,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> EventSourceResponse:
    task = await run_in_threadpool(runtime.tasks.get_task, caller, task_id)
    return await open_event_stream(runtime, caller, task, request, last_event_id)
