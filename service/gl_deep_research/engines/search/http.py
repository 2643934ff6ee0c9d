"""The HTTP request shared by the web search providers, with error wrapping."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from typing import Any

import httpx

from gl_deep_research.engines.search.base import SearchProviderError

# Characters of an error response body quoted in the error message.
ERROR_BODY_CHARS = 300

_client_lock = threading.Lock()
_client: tuple[int, httpx.Client] | None = None


def shared_client() -> httpx.Client:
    """Return the process's HTTP client for search and page requests.

    One client is shared because creating one loads the CA bundle, which can
    take longer than a whole request to a nearby server, and because it pools
    connections. A forked worker process creates its own, since connections
    cannot cross a fork. Callers pass their timeout with each request.
    """
    global _client
    with _client_lock:
        if _client is None or _client[0] != os.getpid():
            _client = (os.getpid(), httpx.Client(follow_redirects=False))
        return _client[1]


def request_json(
    provider: str,
    method: str,
    url: str,
    timeout: float,
    *,
    params: Mapping[str, str | int] | None = None,
    json_body: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    credential_hint: str = "",
) -> Any:
    """Send one request and return the decoded JSON body.

    Raises `SearchProviderError` on a timeout, a connection error, a status
    other than 2xx or a body that is not JSON. `credential_hint` is added to
    the message of a 401 or 403 response, for example "check TAVILY_API_KEY".
    """
    try:
        response = shared_client().request(
            method,
            url,
            params=params,
            json=json_body,
            headers=headers,
            timeout=timeout,
        )
    except httpx.TimeoutException:
        raise SearchProviderError(
            provider,
            f"{method} {url} timed out after {timeout:g} s; "
            "raise SEARCH_TIMEOUT_SECONDS or check that the service is up.",
        ) from None
    except httpx.HTTPError as err:
        raise SearchProviderError(
            provider, f"{method} {url} failed: {err}; check the URL and that the service is up."
        ) from err

    if response.status_code in (401, 403) and credential_hint:
        raise SearchProviderError(
            provider, f"{method} {url} was rejected with {response.status_code}; {credential_hint}."
        )
    if not response.is_success:
        body = response.text[:ERROR_BODY_CHARS]
        raise SearchProviderError(
            provider, f"{method} {url} returned HTTP {response.status_code}: {body!r}."
        )
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        content_type = response.headers.get("content-type", "unknown")
        raise SearchProviderError(
            provider,
            f"{method} {url} returned a body that is not JSON (content-type {content_type}).",
        ) from None


def join_url(base_url: str, path: str) -> str:
    return base_url.rstrip("/") + "/" + path.lstrip("/")


def text_field(item: Mapping[str, Any], *keys: str) -> str:
    """Return the first of `keys` whose value in `item` is a non-empty string, else ""."""
    for key in keys:
        value = item.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""
