"""Response models that document the API's bodies in the OpenAPI document."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class TaskAccepted(BaseModel):
    task_id: str
    taskgroup_id: str | None
    created_at: str
    error: str


class Source(BaseModel):
    id: int
    title: str
    url_or_path: str
    snippet: str
    start: int | None = None
    end: int | None = None


class TaskData(BaseModel):
    query: str
    result: str | None
    profile: str
    created_at: str | None
    completed_at: str | None
    duration: float | None
    sources: list[Source]
    usage: dict[str, Any] | None


class TaskBody(BaseModel):
    task_id: str
    taskgroup_id: str | None
    status: str
    data: TaskData
    error: str


class Profile(BaseModel):
    name: str
    provider: str
    params: dict[str, Any]
    description: str
    source: str


class ProfileList(BaseModel):
    profiles: list[Profile]
    default_profile: str | None


class TaskPage(BaseModel):
    tasks: list[TaskBody]
    next_cursor: str | None


class GroupMember(BaseModel):
    task_id: str
    status: str
    query: str
    profile: str
    created_at: str | None
    completed_at: str | None
    error: str


class GroupBody(BaseModel):
    taskgroup_id: str
    status: str
    profile: str | None
    created_at: str | None
    tasks: list[GroupMember]
    error: str


class GroupAccepted(BaseModel):
    taskgroup_id: str
    tasks: list[str]
    created_at: str | None


class ProfileDeleted(BaseModel):
    deleted: str
