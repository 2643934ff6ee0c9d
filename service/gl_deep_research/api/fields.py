"""Reads request fields from form-encoded or JSON bodies alike.

The published API sends `application/x-www-form-urlencoded`; JSON is
accepted too. Both are turned into one mapping so that routes validate the
same fields the same way.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request
from starlette.datastructures import UploadFile

from gl_deep_research.errors import InvalidInput, ServiceError
from gl_deep_research.unicode_text import check_unicode


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
        check_unicode(body)
        return body
    if content_type == "application/x-www-form-urlencoded":
        return await _read_urlencoded(request)
    if content_type in ("multipart/form-data", ""):
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


async def _read_urlencoded(request: Request) -> dict[str, Any]:
    # Starlette's form parser replaces bytes that are not UTF-8 with U+FFFD, so a
    # mangled question would be accepted. Decode strictly and return 400 instead.
    raw = await request.body()
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError as err:
        raise InvalidInput(
            f"The form body is not valid UTF-8 (byte {err.object[err.start : err.start + 1]!r} "
            f"at position {err.start}); percent-encode UTF-8 text, as "
            "application/x-www-form-urlencoded requires.",
            field="body",
        ) from err
    return dict(pairs)


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
