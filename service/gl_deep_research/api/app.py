"""The FastAPI application: routes, error mapping, middleware and lifespan.

The lifespan builds the runtime (adapters chosen from settings), loads
`profiles.yaml` into the database and watches it for changes. It also runs
the outbox sweeper, which enqueues accepted tasks whose first enqueue
failed. In embedded mode it enqueues the tasks a previous process left
unfinished and runs the loop that sends due webhooks.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from prometheus_client import REGISTRY
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.concurrency import run_in_threadpool

from gl_deep_research.api.metrics import MetricsMiddleware, register_runtime_collector
from gl_deep_research.api.middleware import BodySizeLimitMiddleware, RequestIdMiddleware
from gl_deep_research.api.routes import accounts, health, metrics, profiles, taskgroups, tasks
from gl_deep_research.dispatch.queue import InProcessDispatcher
from gl_deep_research.errors import ServiceError
from gl_deep_research.profiles.startup import check_profile_settings
from gl_deep_research.profiles.watcher import ProfilesFileWatcher
from gl_deep_research.runtime import Runtime, build_runtime
from gl_deep_research.sentry import init_sentry
from gl_deep_research.settings import Settings, load_settings
from gl_deep_research.tasks.recovery import requeue_unfinished_tasks
from gl_deep_research.unicode_text import printable

logger = logging.getLogger(__name__)

OUTBOX_SWEEP_SECONDS = 15.0
# The Retry-After, in seconds, of a 503 for an unavailable database.
DATABASE_RETRY_AFTER_SECONDS = 2
# Embedded mode has no Celery worker to retry webhooks, so the API checks this often.
EMBEDDED_WEBHOOK_POLL_SECONDS = 1.0

DESCRIPTION = (
    "Submit research questions, stream progress, read cited reports. Every path also "
    "answers with a trailing slash, and every `/v1/taskgroups` route also answers under "
    "the alias `/v1/taskgroup`."
)


async def _sweep_outbox(runtime: Runtime) -> None:
    while True:
        await asyncio.sleep(OUTBOX_SWEEP_SECONDS)
        try:
            await run_in_threadpool(runtime.tasks.enqueue_pending)
        except Exception:
            logger.exception("Outbox sweep failed; retrying in %.0f s", OUTBOX_SWEEP_SECONDS)


async def _poll_webhooks(runtime: Runtime) -> None:
    while True:
        await asyncio.sleep(EMBEDDED_WEBHOOK_POLL_SECONDS)
        runtime.dispatcher.send_webhooks()


@asynccontextmanager
async def _background(runtime: Runtime, watcher: ProfilesFileWatcher) -> AsyncIterator[None]:
    stop_watching = asyncio.Event()
    jobs = [
        asyncio.create_task(_sweep_outbox(runtime)),
        asyncio.create_task(watcher.watch(stop_watching)),
    ]
    if isinstance(runtime.dispatcher, InProcessDispatcher):
        jobs.append(asyncio.create_task(_poll_webhooks(runtime)))
    try:
        yield
    finally:
        stop_watching.set()
        for job in jobs:
            job.cancel()
        for job in jobs:
            with suppress(asyncio.CancelledError):
                await job


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    """Build the app; pass `runtime` to share one with the caller (tests, `gldr research`)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = runtime is None
        active = runtime or build_runtime(settings or load_settings(), role="api")
        watcher = ProfilesFileWatcher(active.profiles, active.settings.profiles_config_path)
        if owned:
            init_sentry(active.settings, role="api")
            await run_in_threadpool(check_profile_settings, active.settings, active.database)
            await run_in_threadpool(watcher.load)
            if isinstance(active.dispatcher, InProcessDispatcher):
                await run_in_threadpool(
                    requeue_unfinished_tasks, active.database, active.dispatcher, active.publisher
                )
        if not active.verifier.master_key_configured:
            logger.warning(
                "GL_DEEP_RESEARCH_MASTER_API_KEY is not set: /v1/accounts and profile writes "
                "answer 500 until it is"
            )
        app.state.runtime = active
        collector = register_runtime_collector(active)
        try:
            async with _background(active, watcher):
                yield
        finally:
            REGISTRY.unregister(collector)
            # The shared stream reader belongs to this event loop, so it stops with it.
            await active.events.aclose()
            if owned:
                active.close()

    app = FastAPI(
        title="GL Open DeepResearch",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    # Both slash forms are routes of their own (see api.routing), so no redirects.
    app.router.redirect_slashes = False
    app.add_middleware(BodySizeLimitMiddleware)
    app.add_middleware(MetricsMiddleware)
    app.add_middleware(RequestIdMiddleware)

    @app.exception_handler(ServiceError)
    async def service_error(_: Request, err: ServiceError) -> JSONResponse:
        if err.status_code >= 500:
            logger.error("Request failed: %s", err.message)
        # A message that echoes a lone surrogate would fail to encode as UTF-8.
        detail = printable(err.message)
        return JSONResponse({"detail": detail}, status_code=err.status_code)

    @app.exception_handler(OperationalError)
    @app.exception_handler(PoolTimeoutError)
    async def database_unavailable(request: Request, err: Exception) -> JSONResponse:
        # Lost, refused or timed-out connections, as while PostgreSQL restarts. A
        # retry is likely to succeed, so the status is 503 rather than 500.
        cause = getattr(err, "orig", None) or err
        # The first line only, because SQLAlchemy appends the statement's parameters.
        lines = str(cause).strip().splitlines()
        reason = lines[0] if lines else ""
        logger.warning(
            "Database unavailable for %s %s, returned 503: %s: %s",
            request.method,
            request.url.path,
            type(cause).__name__,
            reason,
        )
        return JSONResponse(
            {
                "detail": "The database is unavailable (connection lost, refused or timed out); "
                "retry the request in a few seconds."
            },
            status_code=503,
            headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
        )

    # FastAPI tries the routers in this order, and the tasks routes get the most
    # traffic. No path of one router matches a path of another, so order does not
    # change which route serves a request.
    for router in (tasks.router, health.router, metrics.router, accounts.router, profiles.router):
        app.include_router(router)
    app.include_router(taskgroups.router, prefix=taskgroups.CANONICAL_PREFIX)
    app.include_router(taskgroups.router, prefix=taskgroups.ALIAS_PREFIX)
    return app
