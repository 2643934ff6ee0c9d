"""An APIRouter that serves every path with and without a trailing slash.

Published clients call both `/v1/accounts` and `/v1/accounts/`. A redirect
from one form to the other would make clients resend a POST body and would
leak the internal host behind a proxy, so both forms are registered as
routes and the app turns Starlette's slash redirects off.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter


def alternate_form(path: str) -> str:
    """Return the other slash form of `path`; "" and "/" swap."""
    if path.endswith("/"):
        return path.rstrip("/")
    return path + "/"


class SlashTolerantRouter(APIRouter):
    """Registers each route a second time under its other slash form."""

    def add_api_route(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().add_api_route(path, endpoint, **kwargs)
        alternate = alternate_form(path)
        if self.prefix + alternate:
            # The OpenAPI document lists one form; its description says both work.
            super().add_api_route(alternate, endpoint, **{**kwargs, "include_in_schema": False})
