"""`/v1/tasks`: create, read and stream research tasks."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Header, Query, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from gl_deep_research.api.deps import ApiKeyHeader, CallerDep, RuntimeDep, require_api_key
from gl_deep_research.api.fields import body_schema, read_fields
from gl_deep_research.api.routing import SlashTolerantRouter
from gl_deep_research.api.schemas import TaskAccepted, TaskBody, TaskPage
from gl_deep_research.api.streaming import (
    check_event_store,
    event_stream_response,
    finished_stream_response,
    validate_last_event_id,
)
from gl_deep_research.db.models import Task
from gl_deep_research.tasks.body import iso, task_body
from gl_deep_research.tasks.cancel import cancel_task as revoke_task
from gl_deep_research.tasks.listing import MAX_PAGE_SIZE, list_tasks
from gl_deep_research.tasks.stream import done_already_sent, follow_task_events

router = SlashTolerantRouter(prefix="/v1/tasks", tags=["tasks"])

TASK_FIELDS = {
    "query": {"type": "string", "description": "The research question", "maxLength": 20000},
    "profile": {"type": "string", "description": "Profile name; the default when absent"},
    "webhook": {
        "type": "string",
        "description": 'JSON object string: {"url": "https://...", "secret": "..."}',
    },
}
AUTH_ERRORS: dict[int | str, dict[str, Any]] = {401: {"description": "Missing or invalid key"}}
IDEMPOTENCY_KEY_DESCRIPTION = (
    "1 to 255 characters. For 24 hours, a repeat with the same key, query, profile and "
    "webhook returns the first task (202) and creates none; a different request with the "
    "key gets 409."
)


@router.post(
    "",
    status_code=202,
    response_model=TaskAccepted,
    openapi_extra=body_schema(TASK_FIELDS, ["query"]),
    responses={
        **AUTH_ERRORS,
        400: {"description": "Invalid field; `detail` names it"},
        404: {"description": "Unknown profile"},
        409: {"description": "The Idempotency-Key was used for a different request"},
        413: {"description": "Body over 1 MiB"},
        415: {"description": "Unsupported content type"},
        429: {"description": "The account has ACCOUNT_MAX_ACTIVE_TASKS unfinished tasks"},
    },
    summary="Submit a research task",
)
async def create_task(
    request: Request,
    runtime: RuntimeDep,
    caller: CallerDep,
    idempotency_key: Annotated[
        str | None, Header(alias="Idempotency-Key", description=IDEMPOTENCY_KEY_DESCRIPTION)
    ] = None,
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
    "",
    response_model=TaskPage,
    responses={**AUTH_ERRORS, 400: {"description": "Invalid status, limit or cursor"}},
    summary="List the caller's tasks, newest first",
)
def get_tasks(
    runtime: RuntimeDep,
    caller: CallerDep,
    status: Annotated[str | None, Query(description="Only tasks with this status")] = None,
    limit: Annotated[
        int | None, Query(description=f"Page size, 1 to {MAX_PAGE_SIZE} (default 20)")
    ] = None,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page")] = None,
) -> dict[str, Any]:
    page = list_tasks(runtime.database, caller, status, limit, cursor)
    return {"tasks": [task_body(task) for task in page.tasks], "next_cursor": page.next_cursor}


@router.post(
    "/{task_id}/cancel",
    response_model=TaskBody,
    responses={
        **AUTH_ERRORS,
        404: {"description": "Unknown task or another account's"},
        409: {"description": "The task already finished with SUCCESS or FAILURE"},
    },
    summary="Cancel a pending or running task (REVOKED); repeating it changes nothing",
)
def cancel_task(task_id: str, runtime: RuntimeDep, caller: CallerDep) -> dict[str, Any]:
    task = revoke_task(runtime.database, runtime.dispatcher, runtime.publisher, caller, task_id)
    return task_body(task)


@router.get(
    "/{task_id}",
    response_model=TaskBody,
    responses={**AUTH_ERRORS, 404: {"description": "Unknown task or another account's"}},
    summary="Get a task's status and result",
)
async def get_task(
    task_id: str, runtime: RuntimeDep, api_key: ApiKeyHeader = None
) -> dict[str, Any]:
    # The key check and the task read share one worker thread hop and one statement.
    task = await run_in_threadpool(
        runtime.tasks.get_task_with_key, runtime.verifier, require_api_key(api_key), task_id
    )
    return task_body(task)


@router.get(
    "/{task_id}/stream",
    responses={
        **AUTH_ERRORS,
        200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events"},
        204: {"description": "Last-Event-ID is at or past the final `done`; nothing to send"},
        400: {"description": "Malformed Last-Event-ID"},
        404: {"description": "Unknown task or another account's"},
        503: {"description": "The event store (Redis) is unavailable"},
    },
    summary="Stream a task's events: history first, then live, ending with `done`",
)
async def stream_task(
    task_id: str,
    runtime: RuntimeDep,
    caller: CallerDep,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> Response:
    after = validate_last_event_id(last_event_id)
    task = await run_in_threadpool(runtime.tasks.get_task, caller, task_id)
    found_id = str(task.id)
    await check_event_store(runtime, f"task {found_id}", f"/v1/tasks/{found_id}")
    if after is not None:
        finished = await finished_stream_response(
            f"task {found_id}",
            f"/v1/tasks/{found_id}",
            done_already_sent(runtime.events, task, after),
        )
        if finished is not None:
            return finished

    async def load_task() -> Task:
        # A short session per check, so a waiting stream keeps no pooled connection.
        return await run_in_threadpool(runtime.tasks.get_task, caller, found_id)

    return event_stream_response(
        runtime,
        f"task {found_id}",
        lambda: follow_task_events(runtime.events, found_id, load_task, after),
    )
