"""`/v1/profiles`: the research profiles tasks can name."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from gl_deep_research.api.deps import CallerDep, RuntimeDep
from gl_deep_research.api.schemas import Profile, ProfileList
from gl_deep_research.db.models import Profile as ProfileRow
from gl_deep_research.errors import NotFound

router = APIRouter(prefix="/v1/profiles", tags=["profiles"])


def profile_body(row: ProfileRow) -> dict[str, Any]:
    return {
        "name": row.name,
        "provider": row.provider,
        "params": row.params,
        "description": row.description,
        "source": row.source,
    }


@router.get("", response_model=ProfileList, summary="List profiles and the default one")
def list_profiles(runtime: RuntimeDep, _: CallerDep) -> dict[str, Any]:
    return {
        "profiles": [profile_body(row) for row in runtime.profiles.list()],
        "default_profile": runtime.profiles.default_profile,
    }


@router.get(
    "/{name}",
    response_model=Profile,
    responses={404: {"description": "Unknown profile"}},
    summary="Get one profile",
)
def get_profile(name: str, runtime: RuntimeDep, _: CallerDep) -> dict[str, Any]:
    if not name:
        raise NotFound("Profile '' not found.", field="name")
    return profile_body(runtime.profiles.resolve(name))
