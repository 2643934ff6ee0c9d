"""Liveness and readiness endpoints."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from gl_deep_research.api.deps import RuntimeDep
from gl_deep_research.events.store import EventStoreUnavailable
from gl_deep_research.runtime import Runtime

router = APIRouter(tags=["health"])


@router.get("/health", summary="Liveness: the process serves requests")
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/health/ready",
    summary="Readiness: the database, the event store and the broker answer",
    responses={503: {"description": "A dependency failed; `failed` names it"}},
)
async def ready(runtime: RuntimeDep) -> JSONResponse:
    checks: dict[str, str] = {}
    checks["database"] = await run_in_threadpool(_check_database, runtime)
    try:
        await runtime.events.ping()
        checks["events"] = "ok"
    except EventStoreUnavailable as err:
        checks["events"] = str(err)
    checks["broker"] = await run_in_threadpool(_check_broker, runtime)
    failed = sorted(name for name, result in checks.items() if result != "ok")
    body: dict[str, Any] = {"status": "ok" if not failed else "unavailable", "checks": checks}
    if failed:
        body["failed"] = failed
    return JSONResponse(body, status_code=503 if failed else 200)


def _check_database(runtime: Runtime) -> str:
    try:
        runtime.database.read(lambda connection: connection.execute(text("SELECT 1")))
    except Exception as err:
        return f"database query failed: {type(err).__name__}: {err}"
    return "ok"


def _check_broker(runtime: Runtime) -> str:
    if runtime.dispatcher.name != "celery":
        return "ok"
    from gl_deep_research.worker.celery_app import app

    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=3)
    except Exception as err:
        return f"broker connection failed: {type(err).__name__}: {err}"
    return "ok"
