"""Wires settings to adapters: the one place that decides embedded or service mode.

Each adapter is chosen on its own: SQLite when `GL_DEEP_RESEARCH_DB_URL` is
unset, the in-memory event store when `REDIS_HOST` is unset, and the
in-process worker pool when `CELERY_BROKER_URL` is unset. The API, the
worker and `gldr research` all build their runtime here, so they run the
same task service whatever the adapters are.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

from gl_deep_research.auth.verifier import KeyVerifier
from gl_deep_research.db.database import Database
from gl_deep_research.dispatch.queue import CeleryDispatcher, Dispatcher, InProcessDispatcher
from gl_deep_research.events.memory import MemoryEventStore
from gl_deep_research.events.publisher import EventPublisher
from gl_deep_research.events.redis_store import RedisEventStore
from gl_deep_research.events.store import EventStore
from gl_deep_research.profiles.editor import ProfileEditor
from gl_deep_research.profiles.registry import ProfileCatalog
from gl_deep_research.settings import Settings
from gl_deep_research.tasks.groups import GroupService
from gl_deep_research.tasks.runner import TaskRunner
from gl_deep_research.tasks.service import TaskService
from gl_deep_research.webhooks.secrets import SecretBox
from gl_deep_research.webhooks.sender import WebhookSender

logger = logging.getLogger(__name__)

Role = Literal["api", "worker", "cli"]


@dataclass
class Runtime:
    settings: Settings
    database: Database
    events: EventStore
    publisher: EventPublisher
    dispatcher: Dispatcher
    verifier: KeyVerifier
    profiles: ProfileCatalog
    profile_editor: ProfileEditor
    secrets: SecretBox
    tasks: TaskService
    groups: GroupService
    runner: TaskRunner
    webhook_sender: WebhookSender

    @property
    def embedded(self) -> bool:
        return self.database.is_sqlite or isinstance(self.dispatcher, InProcessDispatcher)

    def close(self) -> None:
        self.dispatcher.close()
        self.events.close()
        self.database.dispose()


def build_event_store(settings: Settings) -> EventStore:
    if settings.redis_host:
        return RedisEventStore(settings)
    return MemoryEventStore(settings.default_stream_redis_cache_ttl)


def build_runtime(settings: Settings, role: Role) -> Runtime:
    # The API skips the ping round trip before each checkout. Its reads retry once
    # on a lost connection (`Database.read`), and that first failure makes
    # SQLAlchemy replace the pool's older connections before the request writes.
    database = Database(settings, pre_ping=role != "api")
    events = build_event_store(settings)
    publisher = EventPublisher(events)
    secrets = SecretBox(settings.gldr_secret.get_secret_value() if settings.gldr_secret else None)
    webhook_sender = WebhookSender(settings, database, secrets)
    dispatcher: Dispatcher
    if settings.celery_broker_url:
        from gl_deep_research.worker.celery_app import app as celery_app

        dispatcher = CeleryDispatcher(celery_app, settings.celery_queue_name)
    else:
        dispatcher = InProcessDispatcher(
            lambda task_id: runner.execute(task_id),
            settings.worker_concurrency,
            send_webhooks=webhook_sender.send_due,
        )
    runner = TaskRunner(settings, database, publisher, dispatcher)
    master_key = settings.gl_deep_research_master_api_key
    verifier = KeyVerifier(database, master_key.get_secret_value() if master_key else None)
    profiles = ProfileCatalog(database, settings.default_profile)
    tasks = TaskService(settings, database, dispatcher, profiles, secrets)
    runtime = Runtime(
        settings=settings,
        database=database,
        events=events,
        publisher=publisher,
        dispatcher=dispatcher,
        verifier=verifier,
        profiles=profiles,
        profile_editor=ProfileEditor(database, profiles),
        secrets=secrets,
        tasks=tasks,
        groups=GroupService(database, tasks, profiles, secrets),
        runner=runner,
        webhook_sender=webhook_sender,
    )
    _log_adapters(runtime, role)
    return runtime


def _log_adapters(runtime: Runtime, role: Role) -> None:
    database = "sqlite" if runtime.database.is_sqlite else "postgresql"
    queue = runtime.dispatcher.name
    if queue == "in-process":
        queue += f" ({runtime.settings.worker_concurrency} threads)"
    logger.info(
        "Runtime for %s: database=%s, events=%s, queue=%s",
        role,
        database,
        runtime.events.name,
        queue,
    )
    if runtime.embedded and role != "worker":
        logger.warning(
            "Embedded mode (SQLite and/or in-process workers) is meant for a first run and "
            "for development, not for production; set GL_DEEP_RESEARCH_DB_URL, REDIS_HOST "
            "and CELERY_BROKER_URL to run on PostgreSQL, Redis and RabbitMQ."
        )
