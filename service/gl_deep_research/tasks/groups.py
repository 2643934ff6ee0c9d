"""Task groups: create a group of queries, add queries, read the group and its members.

A group and its first tasks commit in one transaction before any task is
enqueued (the same outbox rule as single tasks). `query` is one question,
a JSON array string of questions, or absent for an empty group.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from gl_deep_research.auth.verifier import Caller
from gl_deep_research.db.database import Database
from gl_deep_research.db.models import Task, TaskGroup, utcnow
from gl_deep_research.errors import InvalidInput, NotFound
from gl_deep_research.profiles.registry import ProfileCatalog
from gl_deep_research.tasks.service import (
    TaskService,
    build_task,
    parse_uuid,
    parse_webhook,
)
from gl_deep_research.unicode_text import check_unicode
from gl_deep_research.webhooks.secrets import SecretBox

logger = logging.getLogger(__name__)

MAX_QUERIES_PER_REQUEST = 100


@dataclass(frozen=True)
class GroupView:
    group: TaskGroup
    members: list[Task]


def parse_queries(raw: object) -> list[object]:
    """Return the queries of a `query` field: absent, one string, or a JSON array."""
    if raw is None or raw == "":
        return []
    if isinstance(raw, list):
        queries: list[object] = raw
    elif isinstance(raw, str) and raw.lstrip().startswith("["):
        try:
            parsed = json.loads(raw)
        except json.JSONDecodeError as err:
            raise InvalidInput(
                f"Field 'query' starts with '[' but is not a valid JSON array: {err.msg}; send "
                'one question, or a JSON array of strings like ["first?", "second?"].',
                field="query",
            ) from err
        if not isinstance(parsed, list):
            raise InvalidInput("Field 'query' must be a JSON array of strings.", field="query")
        check_unicode(parsed, "query")
        queries = parsed
    elif isinstance(raw, str):
        queries = [raw]
    else:
        raise InvalidInput(
            f"Field 'query' must be a string or an array of strings, got {type(raw).__name__}.",
            field="query",
        )
    if len(queries) > MAX_QUERIES_PER_REQUEST:
        raise InvalidInput(
            f"Field 'query' has {len(queries)} questions; the maximum per request is "
            f"{MAX_QUERIES_PER_REQUEST}, so split them over several requests.",
            field="query",
        )
    return queries


class GroupService:
    def __init__(
        self,
        database: Database,
        tasks: TaskService,
        profiles: ProfileCatalog,
        secrets: SecretBox,
    ) -> None:
        self._database = database
        self._tasks = tasks
        self._profiles = profiles
        self._secrets = secrets

    def create_group(
        self, caller: Caller, query: object, profile: str | None, webhook: Any
    ) -> GroupView:
        target = parse_webhook(webhook, self._secrets)
        resolved = self._profiles.resolve(profile)
        texts = [self._tasks.validate_query(item) for item in parse_queries(query)]
        self._tasks.check_quota(caller, adding=len(texts))
        group = TaskGroup(
            id=uuid.uuid4(),
            account_id=caller.account_id,
            profile=resolved.name,
            webhook_url=target.url if target else None,
            webhook_secret=target.secret if target else None,
            created_at=utcnow(),
            updated_at=utcnow(),
        )
        members = [build_task(caller, text, resolved, None, group.id) for text in texts]
        with self._database.session() as session:
            session.add(group)
            session.flush()
            session.add_all(members)
        logger.info("Accepted task group %s with %d tasks", group.id, len(members))
        for task in members:
            self._tasks.enqueue(task.id)
        return GroupView(group=group, members=members)

    def add_tasks(
        self, caller: Caller, group_id: str, query: object, profile: str | None
    ) -> list[Task]:
        group = self._visible_group(caller, group_id)
        texts = [self._tasks.validate_query(item) for item in parse_queries(query)]
        if not texts:
            raise InvalidInput(
                "Field 'query' is required: one question or a JSON array of questions.",
                field="query",
            )
        resolved = self._profiles.resolve(profile or group.profile)
        self._tasks.check_quota(caller, adding=len(texts))
        members = [build_task(caller, text, resolved, None, group.id) for text in texts]
        with self._database.session() as session:
            session.add_all(members)
        logger.info("Added %d tasks to task group %s", len(members), group.id)
        for task in members:
            self._tasks.enqueue(task.id)
        return members

    def get_group(self, caller: Caller, group_id: str) -> GroupView:
        group = self._visible_group(caller, group_id)
        with self._database.session() as session:
            members = list(
                session.scalars(
                    select(Task)
                    .where(Task.taskgroup_id == group.id)
                    .order_by(Task.created_at, Task.id)
                )
            )
        return GroupView(group=group, members=members)

    def get_member(self, caller: Caller, group_id: str, task_id: str) -> Task:
        group = self._visible_group(caller, group_id)
        task = self._tasks.get_task(caller, task_id)
        if task.taskgroup_id != group.id:
            raise NotFound(f"Task {task_id} is not in task group {group_id}.", field="task_id")
        return task

    def _visible_group(self, caller: Caller, group_id: str) -> TaskGroup:
        parsed = parse_uuid(group_id, "taskgroup_id")
        with self._database.session() as session:
            group = session.get(TaskGroup, parsed)
        if group is None or not (caller.is_master or group.account_id == caller.account_id):
            raise NotFound(f"Task group {group_id} not found.", field="taskgroup_id")
        return group
