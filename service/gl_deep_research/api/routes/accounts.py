"""`/v1/accounts`: account management with the master key, in the accounts envelope."""

from __future__ import annotations

from typing import Any

from fastapi import Body
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from gl_deep_research.api.deps import MasterDep, RuntimeDep
from gl_deep_research.api.routing import SlashTolerantRouter
from gl_deep_research.auth.accounts import AccountService, CreatedAccount, account_summary
from gl_deep_research.tasks.body import iso

router = SlashTolerantRouter(prefix="/v1/accounts", tags=["accounts"])


class AccountCreate(BaseModel):
    name: str = Field(description="Unique account name", examples=["research-team"])


class Envelope(BaseModel):
    success: bool
    data: Any
    message: str


def envelope(data: Any, message: str, status_code: int = 200) -> JSONResponse:
    return JSONResponse(
        {"success": True, "data": data, "message": message}, status_code=status_code
    )


def _with_key(created: CreatedAccount) -> dict[str, Any]:
    return {
        "id": str(created.account.id),
        "name": created.account.name,
        "api_key": created.api_key,
        "created_at": iso(created.account.created_at),
    }


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or wrong master key"},
    500: {"description": "GL_DEEP_RESEARCH_MASTER_API_KEY is not set"},
}


@router.post(
    "/",
    status_code=201,
    response_model=Envelope,
    responses={
        **ERRORS,
        400: {"description": "Missing or empty name"},
        409: {"description": "Duplicate name"},
    },
    summary="Create an account; the response is the only place its API key appears",
)
async def create_account(
    runtime: RuntimeDep, _: MasterDep, body: AccountCreate = Body(...)
) -> JSONResponse:
    # bcrypt hashing is slow by design, so it runs off the event loop.
    created = await run_in_threadpool(AccountService(runtime.database).create, body.name)
    return envelope(_with_key(created), "Account created.", status_code=201)


@router.get("/", response_model=Envelope, responses=ERRORS, summary="List accounts")
def list_accounts(runtime: RuntimeDep, _: MasterDep) -> JSONResponse:
    accounts = AccountService(runtime.database).list()
    return envelope([account_summary(a) for a in accounts], f"{len(accounts)} accounts.")


@router.get(
    "/{account_id}",
    response_model=Envelope,
    responses={**ERRORS, 404: {"description": "Unknown account"}},
    summary="Get one account",
)
def get_account(account_id: str, runtime: RuntimeDep, _: MasterDep) -> JSONResponse:
    account = AccountService(runtime.database).get(account_id)
    return envelope(account_summary(account), "Account found.")


@router.delete(
    "/{account_id}",
    response_model=Envelope,
    responses={**ERRORS, 404: {"description": "Unknown account"}},
    summary="Delete an account; its key stops working at once",
)
def delete_account(account_id: str, runtime: RuntimeDep, _: MasterDep) -> JSONResponse:
    account = AccountService(runtime.database).delete(account_id)
    return envelope(account_summary(account), "Account deleted.")


@router.post(
    "/{account_id}/rotate-key",
    response_model=Envelope,
    responses={**ERRORS, 404: {"description": "Unknown account"}},
    summary="Issue a new API key; the old one stops working at once",
)
async def rotate_key(account_id: str, runtime: RuntimeDep, _: MasterDep) -> JSONResponse:
    created = await run_in_threadpool(AccountService(runtime.database).rotate_key, account_id)
    return envelope(_with_key(created), "Key rotated.")
