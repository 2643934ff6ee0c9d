"""The FastAPI application: routes, error mapping, middleware and lifespan.

The lifespan builds the runtime (adapters chosen from settings), loads
`profiles.yaml` into the database, and runs the outbox sweeper that
enqueues accepted tasks whose first enqueue failed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from gl_deep_research.api.middleware import BodySizeLimitMiddleware, RequestIdMiddleware
from gl_deep_research.api.routes import accounts, health, profiles, tasks
from gl_deep_research.errors import ServiceError
from gl_deep_research.profiles.registry import read_profiles_file
from gl_deep_research.runtime import Runtime, build_runtime
from gl_deep_research.settings import Settings, load_settings

logger = logging.getLogger(__name__)

OUTBOX_SWEEP_SECONDS = 15.0


async def _sweep_outbox(runtime: Runtime) -> None:
    while True:
        await asyncio.sleep(OUTBOX_SWEEP_SECONDS)
        try:
            await run_in_threadpool(runtime.tasks.enqueue_pending)
        except Exception:
            logger.exception("Outbox sweep failed; retrying in %.0f s", OUTBOX_SWEEP_SECONDS)


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    """Build the app; pass `runtime` to share one with the caller (tests, `gldr research`)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = runtime is None
        active = runtime or build_runtime(settings or load_settings(), role="api")
        if owned:
            await run_in_threadpool(
                active.profiles.sync_file, read_profiles_file(active.settings.profiles_config_path)
            )
        if not active.verifier.master_key_configured:
            logger.warning(
                "GL_DEEP_RESEARCH_MASTER_API_KEY is not set: /v1/accounts and profile writes "
                "answer 500 until it is"
            )
        app.state.runtime = active
        sweeper = asyncio.create_task(_sweep_outbox(active))
        try:
            yield
        finally:
            sweeper.cancel()
            with suppress(asyncio.CancelledError):
                await sweeper
            if owned:
                active.close()

    app = FastAPI(
        title="GL Open DeepResearch",
        version="0.1.0",
        description="Submit research questions, stream progress, read cited reports.",
        lifespan=lifespan,
    )
    app.add_middleware(BodySizeLimitMiddleware)
    app.add_middleware(RequestIdMiddleware)

    @app.exception_handler(ServiceError)
    async def service_error(_: Request, err: ServiceError) -> JSONResponse:
        if err.status_code >= 500:
            logger.error("Request failed: %s", err.message)
        return JSONResponse({"detail": err.message}, status_code=err.status_code)

    for router in (health.router, accounts.router, tasks.router, profiles.router):
        app.include_router(router)
    return app
