"""`/v1/profiles`: the research profiles tasks can name.

Any valid key may read; writes need the master key. Profiles from
`profiles.yaml` are read-only here (409), because the file owns them.
"""

from __future__ import annotations

from typing import Any

from fastapi import Body
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from gl_deep_research.api.deps import CallerDep, MasterDep, RuntimeDep
from gl_deep_research.api.routing import SlashTolerantRouter
from gl_deep_research.api.schemas import Profile, ProfileDeleted, ProfileList
from gl_deep_research.db.models import Profile as ProfileRow
from gl_deep_research.errors import InvalidInput
from gl_deep_research.profiles.params import PROFILE_NAME_PATTERN, PROVIDERS
from gl_deep_research.unicode_text import check_unicode

router = SlashTolerantRouter(prefix="/v1/profiles", tags=["profiles"])

PROFILE_EXAMPLE = {
    "name": "local-deep",
    "provider": "local",
    "params": {"sub_queries": 5, "max_sentences": 20},
    "description": "A longer offline report.",
}
PROFILE_FIELDS: dict[str, Any] = {
    "name": {"type": "string", "pattern": PROFILE_NAME_PATTERN},
    "provider": {"type": "string", "enum": list(PROVIDERS)},
    "params": {
        "type": "object",
        "description": "Engine params; an unknown key or a wrong type is a 400 naming it",
    },
    "description": {"type": "string", "maxLength": 2000},
}


def json_body(required: list[str]) -> dict[str, Any]:
    """Describe the JSON object body that the profile routes validate themselves."""
    schema = {"type": "object", "properties": PROFILE_FIELDS, "required": required}
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema, "example": PROFILE_EXAMPLE}},
        }
    }


MASTER_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing key, or not the master key"},
    500: {"description": "GL_DEEP_RESEARCH_MASTER_API_KEY is not set"},
}
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    **MASTER_ERRORS,
    400: {"description": "Invalid field or param; `detail` names it"},
    404: {"description": "Unknown profile"},
    409: {"description": "The profile comes from profiles.yaml and is read-only"},
    422: {"description": "The body is not a JSON object"},
}


def profile_body(row: ProfileRow) -> dict[str, Any]:
    return {
        "name": row.name,
        "provider": row.provider,
        "params": row.params,
        "description": row.description,
        "source": row.source,
    }


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InvalidInput("The request body must be a JSON object of profile fields.")
    check_unicode(body)
    return body


@router.get("", response_model=ProfileList, summary="List profiles and the default one")
def list_profiles(runtime: RuntimeDep, _: CallerDep) -> dict[str, Any]:
    return {
        "profiles": [profile_body(row) for row in runtime.profiles.list()],
        "default_profile": runtime.profiles.default_profile,
    }


@router.get(
    "/{name}",
    response_model=Profile,
    responses={401: {"description": "Missing or invalid key"}, 404: {"description": "Unknown"}},
    summary="Get one profile",
)
def get_profile(name: str, runtime: RuntimeDep, _: CallerDep) -> dict[str, Any]:
    return profile_body(runtime.profiles.resolve(name))


@router.post(
    "",
    status_code=201,
    response_model=Profile,
    responses={
        **MASTER_ERRORS,
        400: WRITE_ERRORS[400],
        409: {"description": "A profile with this name exists"},
        422: WRITE_ERRORS[422],
    },
    summary="Create an API profile",
    openapi_extra=json_body(["name", "provider"]),
)
async def create_profile(runtime: RuntimeDep, _: MasterDep, body: Any = Body(...)) -> JSONResponse:
    row = await run_in_threadpool(runtime.profile_editor.create, _object(body))
    return JSONResponse(profile_body(row), status_code=201)


@router.put(
    "/{name}",
    response_model=Profile,
    responses=WRITE_ERRORS,
    summary="Replace an API profile; absent fields take their defaults",
    openapi_extra=json_body(["provider"]),
)
def replace_profile(
    name: str, runtime: RuntimeDep, _: MasterDep, body: Any = Body(...)
) -> dict[str, Any]:
    return profile_body(runtime.profile_editor.replace(name, _object(body)))


@router.patch(
    "/{name}",
    response_model=Profile,
    responses=WRITE_ERRORS,
    summary="Change some fields of an API profile; `params`, when given, is replaced whole",
    openapi_extra=json_body([]),
)
def patch_profile(
    name: str, runtime: RuntimeDep, _: MasterDep, body: Any = Body(...)
) -> dict[str, Any]:
    return profile_body(runtime.profile_editor.patch(name, _object(body)))


@router.delete(
    "/{name}",
    response_model=ProfileDeleted,
    responses={
        **MASTER_ERRORS,
        404: WRITE_ERRORS[404],
        409: {"description": "A file profile, or the default profile"},
    },
    summary="Delete an API profile",
)
def delete_profile(name: str, runtime: RuntimeDep, _: MasterDep) -> dict[str, Any]:
    row = runtime.profile_editor.delete(name)
    return {"deleted": row.name}
