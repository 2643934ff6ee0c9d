"""Reads request fields from form-encoded or JSON bodies alike.

The published API sends `application/x-www-form-urlencoded`; JSON is
accepted too. Both are turned into one mapping so that routes validate the
same fields the same way.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from starlette.datastructures import UploadFile

from gl_deep_research.errors import InvalidInput, ServiceError


class UnsupportedMediaType(ServiceError):
    status_code = 415


async def read_fields(request: Request) -> dict[str, Any]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else {}
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise InvalidInput(f"The request body is not valid JSON: {err}.", field="body") from err
        if not isinstance(body, dict):
            raise InvalidInput("The JSON body must be an object of fields.", field="body")
        return body
    if content_type in ("application/x-www-form-urlencoded", "multipart/form-data", ""):
        try:
            form = await request.form()
        except (UnicodeDecodeError, ValueError, AssertionError) as err:
            raise InvalidInput(f"The form body cannot be parsed: {err}.", field="body") from err
        fields: dict[str, Any] = {}
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                raise InvalidInput(f"Field {key!r} must be text, not a file.", field=key)
            fields[key] = value
        return fields
    raise UnsupportedMediaType(
        f"Content type {content_type!r} is not supported; send "
        "application/x-www-form-urlencoded or application/json."
    )


# OpenAPI description of a body that may be form-encoded or JSON.
def body_schema(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    schema = {"type": "object", "properties": properties, "required": required}
    return {
        "requestBody": {
            "required": bool(required),
            "content": {
                "application/x-www-form-urlencoded": {"schema": schema},
                "application/json": {"schema": schema},
            },
        }
    }
