"""Chat completions on an OpenAI-compatible endpoint, with our own retry loop.

The `openai` client is created with `max_retries=0` so that every retry is
logged here with its attempt number. 429 responses, 5xx responses and
connection errors are retried with exponential backoff and full jitter, or
after the delay that the server requests in `Retry-After` (or the OpenAI
extension `retry-after-ms`). A request that times out is not retried,
because its timeout is the time left of the run.
"""

from __future__ import annotations

import email.utils
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import openai
from openai.types.chat import ChatCompletion

from gl_deep_research.engines.base import ResearchCancelled, ResearchError
from gl_deep_research.settings import Settings

logger = logging.getLogger(__name__)

MAX_RETRIES = 5
RETRY_BASE_SECONDS = 1.0
RETRY_MAX_SECONDS = 30.0
# Maximum Retry-After in seconds that is honoured. A longer one fails the call.
RETRY_AFTER_MAX_SECONDS = 120.0
# Sleeps are split into slices of at most this length so a cancel is seen soon.
SLEEP_SLICE_SECONDS = 0.5

# Tests replace this to record delays instead of waiting.
sleep: Callable[[float], None] = time.sleep

_http_client_lock = threading.Lock()
_http_client: tuple[int, openai.DefaultHttpxClient] | None = None


def _shared_http_client() -> openai.DefaultHttpxClient:
    """Return the process's HTTP client for model requests.

    Creating a client loads the CA bundle, which can take longer than a whole
    request to a nearby server, so all runs of a process share one. A forked
    worker creates its own.
    """
    global _http_client
    with _http_client_lock:
        if _http_client is None or _http_client[0] != os.getpid():
            _http_client = (os.getpid(), openai.DefaultHttpxClient())
        return _http_client[1]


class ModelEndpointError(ResearchError):
    """The chat-completions endpoint failed or rejected a request."""


class ResearchTimeout(ResearchError):
    """The run's `params.timeout_seconds` ran out."""


@dataclass(frozen=True)
class Endpoint:
    """A chat-completions endpoint: base URL, API key and model name."""

    base_url: str
    api_key: str
    model: str

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).netloc or self.base_url


def resolve_endpoint(settings: Settings, llm: str, model: str | None) -> Endpoint:
    """Choose the TONGYI_* or SEA_LION_* settings; raises when the base URL is missing."""
    if llm == "sea_lion":
        base_url, key, default_model, prefix = (
            settings.sea_lion_base_url,
            settings.sea_lion_api_key,
            settings.sea_lion_model,
            "SEA_LION",
        )
    else:
        base_url, key, default_model, prefix = (
            settings.tongyi_base_url,
            settings.tongyi_api_key,
            settings.tongyi_model,
            "TONGYI",
        )
    if not base_url:
        raise ModelEndpointError(
            f"{prefix}_BASE_URL is not set; set it to an OpenAI-compatible endpoint "
            f"such as https://openrouter.ai/api/v1 or http://vllm:8000/v1 (params.llm={llm!r})."
        )
    # Local servers such as vLLM and Ollama accept any key, but the client needs one.
    api_key = key.get_secret_value() if key is not None else "not-set"
    return Endpoint(base_url=base_url, api_key=api_key, model=model or default_model)


class ChatClient:
    """Send chat completions to one endpoint; `deadline` is a `time.monotonic()` value."""

    def __init__(self, endpoint: Endpoint, key_variable: str, deadline: float) -> None:
        self.endpoint = endpoint
        self.key_variable = key_variable
        self.deadline = deadline
        self._client = openai.OpenAI(
            base_url=endpoint.base_url,
            api_key=endpoint.api_key,
            max_retries=0,
            http_client=_shared_http_client(),
        )

    def complete(
        self,
        messages: Sequence[dict[str, Any]],
        cancel: Callable[[], bool],
        **options: Any,
    ) -> ChatCompletion:
        """Create one chat completion, retrying 429, 5xx and connection errors.

        `options` go to `chat.completions.create` unchanged (temperature,
        max_tokens, tools, stop). Raises `ResearchTimeout` when the deadline
        passes and `ModelEndpointError` for other failures.
        """
        attempts = MAX_RETRIES + 1
        for attempt in range(1, attempts + 1):
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                raise self._timeout_error()
            try:
                return self._client.chat.completions.create(
                    model=self.endpoint.model,
                    messages=list(messages),  # type: ignore[arg-type]
                    timeout=remaining,
                    **options,
                )
            except openai.APITimeoutError:
                raise self._timeout_error() from None
            except openai.APIConnectionError as err:
                error: openai.APIError = err
                delay = _backoff(attempt)
            except openai.APIStatusError as err:
                if not _retryable(err.status_code):
                    raise self._status_error(err) from err
                error = err
                delay = _retry_after(err.response.headers) or _backoff(attempt)
                if delay > RETRY_AFTER_MAX_SECONDS:
                    raise ModelEndpointError(
                        f"The model endpoint {self.endpoint.host} requested a retry after "
                        f"{delay:g} s, more than the {RETRY_AFTER_MAX_SECONDS:g} s allowed."
                    ) from err
            if attempt == attempts:
                raise ModelEndpointError(
                    f"The model endpoint {self.endpoint.host} failed {attempts} times; "
                    f"last error: {_describe(error)}."
                ) from error
            if time.monotonic() + delay >= self.deadline:
                raise self._timeout_error() from error
            logger.warning(
                "Model endpoint %s failed (%s); retry %d of %d in %.2f s",
                self.endpoint.host,
                _describe(error),
                attempt,
                MAX_RETRIES,
                delay,
            )
            _sleep_unless_cancelled(delay, cancel)
        raise AssertionError("unreachable")

    def _timeout_error(self) -> ResearchTimeout:
        return ResearchTimeout(
            f"The research timed out while waiting for the model endpoint {self.endpoint.host}; "
            "raise params.timeout_seconds or use a faster model."
        )

    def _status_error(self, err: openai.APIStatusError) -> ModelEndpointError:
        status = err.status_code
        if status in (401, 403):
            return ModelEndpointError(
                f"The model endpoint {self.endpoint.host} rejected the API key with HTTP "
                f"{status}; check {self.key_variable}."
            )
        if status == 404:
            return ModelEndpointError(
                f"The model endpoint {self.endpoint.host} returned HTTP 404 for model "
                f"{self.endpoint.model!r}; check the base URL (it usually ends in /v1) "
                "and the model name."
            )
        return ModelEndpointError(
            f"The model endpoint {self.endpoint.host} rejected the request: {_describe(err)}."
        )


def _retryable(status: int) -> bool:
    return status == 429 or status >= 500


def _backoff(attempt: int) -> float:
    """Return a delay with full jitter: uniform in [0, min(max, base * 2^(attempt-1))]."""
    ceiling = min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2 ** (attempt - 1))
    return random.uniform(0, ceiling)


def _retry_after(headers: Any) -> float | None:
    """Return the delay in seconds that `retry-after-ms` or `Retry-After` requests, if any."""
    milliseconds = headers.get("retry-after-ms")
    if milliseconds:
        try:
            return max(0.0, float(milliseconds) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, parsed.timestamp() - time.time())


def _describe(error: openai.APIError) -> str:
    if isinstance(error, openai.APIStatusError):
        return f"HTTP {error.status_code}: {error.message}"
    return f"{type(error).__name__}: {error}"


def _sleep_unless_cancelled(delay: float, cancel: Callable[[], bool]) -> None:
    remaining = delay
    while remaining > 0:
        step = min(remaining, SLEEP_SLICE_SECONDS)
        sleep(step)
        remaining -= step
        if cancel():
            raise ResearchCancelled("The research task was cancelled while waiting to retry.")
