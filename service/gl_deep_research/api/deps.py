"""Request dependencies: the runtime and the authenticated caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request
from starlette.concurrency import run_in_threadpool

from gl_deep_research.auth.verifier import INVALID_KEY_MESSAGE, MASTER, Caller
from gl_deep_research.errors import MisconfiguredServer, Unauthorized
from gl_deep_research.runtime import Runtime


async def get_runtime(request: Request) -> Runtime:
    # async, because FastAPI runs a plain `def` dependency in a worker thread.
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
ApiKeyHeader = Annotated[str | None, Header(alias="X-API-Key", include_in_schema=False)]


def require_api_key(api_key: str | None) -> str:
    """Return the `X-API-Key` value, or raise 401 when it is missing or empty."""
    if not api_key:
        raise Unauthorized("Missing API key; send it in the X-API-Key header.")
    return api_key


async def get_caller(runtime: RuntimeDep, api_key: ApiKeyHeader = None) -> Caller:
    """Authenticate `X-API-Key`; bcrypt runs in a worker thread, off the event loop."""
    caller = await run_in_threadpool(runtime.verifier.verify, require_api_key(api_key))
    if caller is None:
        raise Unauthorized(INVALID_KEY_MESSAGE)
    return caller


async def require_master(runtime: RuntimeDep, api_key: ApiKeyHeader = None) -> Caller:
    if not runtime.verifier.master_key_configured:
        raise MisconfiguredServer(
            "GL_DEEP_RESEARCH_MASTER_API_KEY is not set on the server, so master-key routes "
            "are disabled; set it and restart."
        )
    if not api_key:
        raise Unauthorized("Missing API key; send the master key in the X-API-Key header.")
    if not runtime.verifier.is_master(api_key):
        raise Unauthorized("This route needs the master API key.")
    return MASTER


CallerDep = Annotated[Caller, Depends(get_caller)]
MasterDep = Annotated[Caller, Depends(require_master)]
