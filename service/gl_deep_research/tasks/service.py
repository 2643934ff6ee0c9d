"""Creating and reading tasks on behalf of an API caller.

`create_task` commits the task row before it hands the task to the
dispatcher (the outbox rule), so an accepted task survives a broker outage:
`enqueue_pending` retries every committed task that was never enqueued.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol, TypeVar, cast

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.exc import IntegrityError

from gl_deep_research.auth import keys
from gl_deep_research.auth.verifier import (
    ACCOUNT_COLUMNS,
    INVALID_KEY_MESSAGE,
    Caller,
    KeyVerifier,
)
from gl_deep_research.db.database import Database
from gl_deep_research.db.models import Account, Profile, Task, utcnow
from gl_deep_research.dispatch.queue import Dispatcher
from gl_deep_research.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    TooManyRequests,
    Unauthorized,
    quote_value,
)
from gl_deep_research.profiles.registry import ProfileCatalog
from gl_deep_research.settings import Settings
from gl_deep_research.tasks import status
from gl_deep_research.tasks.body import BODY_COLUMNS, TaskRecord
from gl_deep_research.unicode_text import check_unicode
from gl_deep_research.webhooks.guard import shorten, url_problem
from gl_deep_research.webhooks.secrets import SecretBox, SecretBoxUnavailable

logger = logging.getLogger(__name__)

IDEMPOTENCY_WINDOW = timedelta(hours=24)
MAX_IDEMPOTENCY_KEY_LENGTH = 255

# The caller's account row by key prefix and a task by id, in one statement. The
# outer join returns the account row with NULL task columns when no task has the id.
TASK_WITH_ACCOUNT = (
    select(*ACCOUNT_COLUMNS, Task.account_key, *BODY_COLUMNS)
    .select_from(Account)
    .outerjoin(Task, Task.id == bindparam("task_id"))
    .where(Account.key_prefix == bindparam("prefix"))
)


class VisibleTask(TaskRecord, Protocol):
    """A task record with its owner, which `visible_task` checks."""

    account_key: str


VisibleTaskT = TypeVar("VisibleTaskT", bound=VisibleTask)


@dataclass(frozen=True)
class WebhookTarget:
    url: str
    secret: str | None


def parse_webhook(raw: str | dict[str, Any] | None, secrets: SecretBox) -> WebhookTarget | None:
    """Validate the `webhook` field: a JSON object string `{"url", "secret"}`."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as err:
            raise InvalidInput(
                f"Field 'webhook' must be a JSON object like "
                f'{{"url": "https://...", "secret": "..."}}; invalid JSON: {err.msg}.',
                field="webhook",
            ) from err
    if not isinstance(raw, dict):
        raise InvalidInput("Field 'webhook' must be a JSON object with a 'url'.", field="webhook")
    check_unicode(raw, "webhook")
    url = raw.get("url")
    if not isinstance(url, str):
        raise InvalidInput(
            f"Field 'webhook.url' must be an absolute http(s) URL string, got {url!r}.",
            field="webhook.url",
        )
    problem = url_problem(url)
    if problem is not None:
        raise InvalidInput(
            f"Field 'webhook.url' must be an absolute http(s) URL, but {shorten(url)} "
            f"{problem}. Send a URL such as https://hooks.example.com/gldr, with a port "
            "from 1 to 65535 and spaces or control characters percent-encoded.",
            field="webhook.url",
        )
    secret = raw.get("secret")
    if secret is not None and (not isinstance(secret, str) or not secret):
        raise InvalidInput("Field 'webhook.secret' must be a non-empty string.", field="webhook")
    encrypted = None
    if secret:
        try:
            encrypted = secrets.encrypt(secret)
        except SecretBoxUnavailable as err:
            raise InvalidInput(str(err), field="webhook.secret") from err
    return WebhookTarget(url=url, secret=encrypted)


class TaskService:
    def __init__(
        self,
        settings: Settings,
        database: Database,
        dispatcher: Dispatcher,
        profiles: ProfileCatalog,
        secrets: SecretBox,
    ) -> None:
        self._settings = settings
        self._database = database
        self._dispatcher = dispatcher
        self._profiles = profiles
        self._secrets = secrets

    def validate_query(self, query: object) -> str:
        if query is not None and not isinstance(query, str):
            raise InvalidInput(
                f"Field 'query' must be a string, got {type(query).__name__} "
                f"{quote_value(query)}; send the question as text.",
                field="query",
            )
        if not query or not query.strip():
            raise InvalidInput("Field 'query' is required and must not be empty.", field="query")
        text = query.strip()
        if len(text) > self._settings.max_query_length:
            raise InvalidInput(
                f"Field 'query' has {len(text)} characters; the maximum is "
                f"{self._settings.max_query_length}.",
                field="query",
            )
        return text

    def create_task(
        self,
        caller: Caller,
        query: object,
        profile: str | None = None,
        webhook: str | dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Task:
        text = self.validate_query(query)
        target = parse_webhook(webhook, self._secrets)
        resolved = self._profiles.resolve(profile)
        if idempotency_key is not None:
            if not idempotency_key or len(idempotency_key) > MAX_IDEMPOTENCY_KEY_LENGTH:
                raise InvalidInput(
                    "Header 'Idempotency-Key' must have 1 to 255 characters.",
                    field="Idempotency-Key",
                )
            existing = self._find_idempotent(caller, idempotency_key)
            if existing is not None:
                self._check_same_request(existing, idempotency_key, text, resolved, target)
                return existing

        self.check_quota(caller, adding=1)
        task = build_task(caller, text, resolved, target)
        task.idempotency_key = idempotency_key
        try:
            with self._database.session() as session:
                session.add(task)
        except IntegrityError:
            # Another request with the same idempotency key won the race.
            existing = self._find_idempotent(caller, idempotency_key or "")
            if existing is None:
                raise
            self._check_same_request(existing, idempotency_key or "", text, resolved, target)
            return existing
        logger.info("Accepted task %s (profile %s)", task.id, task.profile)
        self.enqueue(task.id)
        return task

    def check_quota(self, caller: Caller, adding: int) -> None:
        """Raise 429 when `adding` tasks would exceed `ACCOUNT_MAX_ACTIVE_TASKS`."""
        if caller.is_master or adding <= 0:
            return
        limit = self._settings.account_max_active_tasks
        active = self._database.read(
            lambda connection: connection.scalar(
                select(func.count())
                .select_from(Task)
                .where(Task.account_key == caller.account_key, Task.status.in_(status.ACTIVE))
            )
        )
        # NOTE: two requests racing past this check can exceed the limit by their size;
        # the limit protects capacity, it is not a billing boundary.
        if (active or 0) + adding > limit:
            raise TooManyRequests(
                f"Account {caller.account_name!r} has {active} unfinished tasks and "
                f"ACCOUNT_MAX_ACTIVE_TASKS is {limit}, so {adding} more cannot be accepted; "
                "wait for tasks to finish or cancel some, then retry."
            )

    def _find_idempotent(self, caller: Caller, key: str) -> Task | None:
        with self._database.session() as session:
            task = session.scalars(
                select(Task).where(
                    Task.account_key == caller.account_key, Task.idempotency_key == key
                )
            ).one_or_none()
            if task is None:
                return None
            created = (
                task.created_at
                if task.created_at.tzinfo
                else task.created_at.replace(tzinfo=utcnow().tzinfo)
            )
            if utcnow() - created > IDEMPOTENCY_WINDOW:
                # The old key has expired: release it so this request creates a new task.
                task.idempotency_key = None
                return None
            return task

    def _check_same_request(
        self, task: Task, key: str, text: str, resolved: Profile, target: WebhookTarget | None
    ) -> None:
        """Raise 409 unless `task` was created from the same query, profile and webhook."""
        differences = []
        if task.query != text:
            differences.append("query")
        if task.profile != resolved.name:
            differences.append("profile")
        if task.webhook_url != (target.url if target else None) or not self._same_secret(
            task.webhook_secret, target.secret if target else None
        ):
            differences.append("webhook")
        if differences:
            raise Conflict(
                f"Header 'Idempotency-Key' {quote_value(key)} was already used for a different "
                f"request: task {task.id} has another {' and '.join(differences)}. Send a new key "
                "for a new request, or repeat the original request to get that task.",
                field="Idempotency-Key",
            )

    def _same_secret(self, stored: str | None, sent: str | None) -> bool:
        # Fernet tokens differ for equal plaintexts, so the secrets are compared decrypted.
        if stored is None or sent is None:
            return stored == sent
        try:
            return self._secrets.decrypt(stored) == self._secrets.decrypt(sent)
        except SecretBoxUnavailable:
            # NOTE: a stored secret that no GLDR_SECRET entry decrypts counts as different.
            return False

    def enqueue(self, task_id: uuid.UUID) -> bool:
        """Hand a committed task to the dispatcher; on failure the sweeper retries it."""
        try:
            self._dispatcher.enqueue(task_id)
        except Exception as err:
            logger.warning(
                "Enqueue of task %s failed (%s); the outbox sweeper will retry it", task_id, err
            )
            return False
        self._database.execute_alone(
            update(Task).where(Task.id == task_id).values(enqueued_at=utcnow())
        )
        return True

    def enqueue_pending(self, older_than: timedelta = timedelta(seconds=10)) -> int:
        """Enqueue committed tasks that were never enqueued; return how many were sent."""
        cutoff = utcnow() - older_than
        with self._database.session() as session:
            query = (
                select(Task.id)
                .where(
                    Task.status == status.PENDING,
                    Task.enqueued_at.is_(None),
                    Task.created_at < cutoff,
                )
                .order_by(Task.created_at)
                .limit(500)
            )
            # Two replicas may send the same task; the runner's claim makes that harmless.
            task_ids = list(session.scalars(query))
        sent = sum(1 for task_id in task_ids if self.enqueue(task_id))
        if task_ids:
            logger.info("Outbox sweep enqueued %d of %d waiting tasks", sent, len(task_ids))
        return sent

    def get_task(self, caller: Caller, task_id: str) -> Task:
        """Return a task the caller may see; other accounts' tasks are 'not found'."""
        parsed = parse_uuid(task_id, "task_id")
        task = self._database.read_objects(lambda session: session.get(Task, parsed))
        return visible_task(caller, task, task_id)

    def get_task_with_key(self, verifier: KeyVerifier, api_key: str, task_id: str) -> TaskRecord:
        """Authenticate `api_key` and return a task it may see, in one statement when possible.

        Raises 401 for an invalid key before 404 for any task id, as `get_task`
        behind the `get_caller` dependency does. Blocking: call it from a worker thread.
        """
        parsed = parse_uuid_or_none(task_id)
        prefix = keys.parse_prefix(api_key)
        if parsed is None or prefix is None or verifier.is_master(api_key):
            # Nothing to join, because the master key has no account row and a
            # malformed id matches no task.
            caller = verifier.verify(api_key)
            if caller is None:
                raise Unauthorized(INVALID_KEY_MESSAGE)
            return self.get_task(caller, task_id)
        row = self._database.read(
            lambda connection: connection.execute(
                TASK_WITH_ACCOUNT, {"prefix": prefix, "task_id": parsed}
            ).first()
        )
        if row is None or (caller := verifier.check_row(api_key, row)) is None:
            raise Unauthorized(INVALID_KEY_MESSAGE)
        # The row has the task's column names, and `id` is NULL when no task has the id.
        task = cast(VisibleTask, row) if row.id is not None else None
        return visible_task(caller, task, task_id)


def visible_task(caller: Caller, task: VisibleTaskT | None, task_id: str) -> VisibleTaskT:
    """Return `task` when the caller may see it; other accounts' tasks are 'not found'."""
    if task is None or not (caller.is_master or task.account_key == caller.account_key):
        raise NotFound(f"Task {task_id} not found.", field="task_id")
    return task


def build_task(
    caller: Caller,
    text: str,
    resolved: Profile,
    target: WebhookTarget | None,
    taskgroup_id: uuid.UUID | None = None,
) -> Task:
    """Build a PENDING task row for a validated query and resolved profile."""
    return Task(
        id=uuid.uuid4(),
        account_id=caller.account_id,
        account_key=caller.account_key,
        taskgroup_id=taskgroup_id,
        query=text,
        profile=resolved.name,
        provider=resolved.provider,
        params=resolved.params,
        status=status.PENDING,
        webhook_url=target.url if target else None,
        webhook_secret=target.secret if target else None,
        created_at=utcnow(),
    )


def parse_uuid(value: str, field: str) -> uuid.UUID:
    parsed = parse_uuid_or_none(value)
    if parsed is None:
        raise invalid_id(value, field)
    return parsed


def parse_uuid_or_none(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def invalid_id(value: str, field: str) -> NotFound:
    return NotFound(f"{field} {quote_value(value)} is not a valid id.", field=field)
