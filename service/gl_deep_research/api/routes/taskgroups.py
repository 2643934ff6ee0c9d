"""`/v1/taskgroups` (and the alias `/v1/taskgroup`): groups of research tasks.

The app mounts this router under both prefixes, so every route is served on
the canonical plural path and on the singular path of the upstream quick
start.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Header, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from gl_deep_research.api.deps import CallerDep, RuntimeDep
from gl_deep_research.api.fields import body_schema, read_fields
from gl_deep_research.api.routing import SlashTolerantRouter
from gl_deep_research.api.schemas import GroupAccepted, GroupBody, TaskBody
from gl_deep_research.api.streaming import (
    check_event_store,
    event_stream_response,
    finished_stream_response,
    validate_last_event_id,
)
from gl_deep_research.tasks.body import iso, task_body
from gl_deep_research.tasks.group_body import group_body
from gl_deep_research.tasks.group_stream import follow_group_events, group_done_already_sent
from gl_deep_research.tasks.groups import MAX_QUERIES_PER_REQUEST, GroupView

CANONICAL_PREFIX = "/v1/taskgroups"
ALIAS_PREFIX = "/v1/taskgroup"

router = SlashTolerantRouter(tags=["taskgroups"])

QUERY_FIELD = {
    "type": "string",
    "description": (
        "One question, or a JSON array string of questions (one task each, at most "
        f"{MAX_QUERIES_PER_REQUEST}); absent for an empty group"
    ),
}
GROUP_FIELDS = {
    "query": QUERY_FIELD,
    "profile": {"type": "string", "description": "Profile name; the default when absent"},
    "webhook": {
        "type": "string",
        "description": 'JSON object string: {"url": "https://...", "secret": "..."}',
    },
}
AUTH_ERRORS: dict[int | str, dict[str, Any]] = {401: {"description": "Missing or invalid key"}}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "Unknown task group or another account's"}
}
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    **AUTH_ERRORS,
    400: {"description": "Invalid field; `detail` names it"},
    413: {"description": "Body over 1 MiB"},
    415: {"description": "Unsupported content type"},
    429: {"description": "The account has ACCOUNT_MAX_ACTIVE_TASKS unfinished tasks"},
}


def accepted_body(view: GroupView) -> dict[str, Any]:
    return {
        "taskgroup_id": str(view.group.id),
        "tasks": [str(task.id) for task in view.members],
        "created_at": iso(view.group.created_at),
    }


@router.post(
    "",
    status_code=202,
    response_model=GroupAccepted,
    openapi_extra=body_schema(GROUP_FIELDS, []),
    responses={**WRITE_ERRORS, 404: {"description": "Unknown profile"}},
    summary="Create a task group, with one task per question",
)
async def create_group(request: Request, runtime: RuntimeDep, caller: CallerDep) -> JSONResponse:
    fields = await read_fields(request)
    view = await run_in_threadpool(
        runtime.groups.create_group,
        caller,
        fields.get("query"),
        fields.get("profile") or None,
        fields.get("webhook"),
    )
    return JSONResponse(accepted_body(view), status_code=202)


@router.post(
    "/{taskgroup_id}/tasks",
    status_code=202,
    response_model=GroupAccepted,
    openapi_extra=body_schema(
        {"query": QUERY_FIELD, "profile": GROUP_FIELDS["profile"]}, ["query"]
    ),
    responses={**WRITE_ERRORS, **NOT_FOUND},
    summary="Add questions to a task group; `tasks` lists only the new task ids",
)
async def add_tasks(
    taskgroup_id: str, request: Request, runtime: RuntimeDep, caller: CallerDep
) -> JSONResponse:
    fields = await read_fields(request)
    added = await run_in_threadpool(
        runtime.groups.add_tasks,
        caller,
        taskgroup_id,
        fields.get("query"),
        fields.get("profile") or None,
    )
    view = await run_in_threadpool(runtime.groups.get_group, caller, taskgroup_id)
    body = {**accepted_body(view), "tasks": [str(task.id) for task in added]}
    return JSONResponse(body, status_code=202)


@router.get(
    "/{taskgroup_id}",
    response_model=GroupBody,
    responses={**AUTH_ERRORS, **NOT_FOUND},
    summary="Get a task group, its members and the status computed from them",
)
def get_group(taskgroup_id: str, runtime: RuntimeDep, caller: CallerDep) -> dict[str, Any]:
    view = runtime.groups.get_group(caller, taskgroup_id)
    return group_body(view.group, view.members)


@router.get(
    "/{taskgroup_id}/tasks/{task_id}",
    response_model=TaskBody,
    responses={**AUTH_ERRORS, 404: {"description": "Unknown group, or task not in it"}},
    summary="Get one member task, with the same body as GET /v1/tasks/{task_id}",
)
def get_member(
    taskgroup_id: str, task_id: str, runtime: RuntimeDep, caller: CallerDep
) -> dict[str, Any]:
    return task_body(runtime.groups.get_member(caller, taskgroup_id, task_id))


@router.get(
    "/{taskgroup_id}/stream",
    responses={
        **AUTH_ERRORS,
        **NOT_FOUND,
        200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events"},
        204: {"description": "Last-Event-ID is at or past the final `done`; nothing to send"},
        400: {"description": "Malformed Last-Event-ID"},
        503: {"description": "The event store (Redis) is unavailable"},
    },
    summary="Stream all members' events merged; ends with a group `done` (task_id null)",
)
async def stream_group(
    taskgroup_id: str,
    runtime: RuntimeDep,
    caller: CallerDep,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> Response:
    after = validate_last_event_id(last_event_id)
    view = await run_in_threadpool(runtime.groups.get_group, caller, taskgroup_id)
    group_id = str(view.group.id)
    await check_event_store(runtime, f"task group {group_id}", f"/v1/taskgroups/{group_id}")
    if after is not None:
        finished = await finished_stream_response(
            f"task group {group_id}",
            f"/v1/taskgroups/{group_id}",
            group_done_already_sent(runtime.events, group_id, view.members, after),
        )
        if finished is not None:
            return finished

    async def load_group() -> GroupView:
        # A short session per check, so a waiting stream keeps no pooled connection.
        return await run_in_threadpool(runtime.groups.get_group, caller, group_id)

    return event_stream_response(
        runtime,
        f"task group {group_id}",
        lambda: follow_group_events(runtime.events, group_id, load_group, after),
    )
