"""Validation of a profile's `params`, one pydantic model per provider.

The API validates at write time, the profile loader validates every file
profile, and the operator validates `ResearchProfile` resources with the same
function, so a profile that one accepts is accepted by all three.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gl_deep_research.errors import quote_value

PROVIDERS = ("local", "tongyi", "gptr")

# A collection is a folder name below the collections directory, never a path,
# so a profile cannot point an engine outside that directory.
CollectionName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")]
PROFILE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"


class InvalidProfile(ValueError):
    """A profile field or param is invalid; `field` names it for the error message."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LocalParams(_Params):
    """Params of the offline `local` engine."""

    collections: list[CollectionName] = Field(default_factory=lambda: ["wikipedia"], min_length=1)
    sub_queries: int = Field(default=3, ge=0, le=8)
    follow_up_queries: int = Field(default=1, ge=0, le=4)
    passages_per_query: int = Field(default=10, ge=1, le=50)
    max_sentences: int = Field(default=12, ge=1, le=200)
    mmr_lambda: float = Field(default=0.7, ge=0.0, le=1.0)
    min_score: float = Field(default=0.0, ge=0.0)


class TongyiParams(_Params):
    """Params of the `tongyi` ReAct agent on an OpenAI-compatible endpoint.

    `max_depth` is the number of model calls that may request tools. After
    it, one more call without tools requests the final answer.
    `timeout_seconds` bounds the whole run. `tool_format` selects OpenAI
    `tool_calls` ("native") or Tongyi DeepResearch's `<tool_call>` text
    format ("text"). Replies in either format are parsed in both modes.
    """

    llm: Literal["tongyi", "sea_lion"] = "tongyi"
    model: str | None = Field(default=None, min_length=1, max_length=200)
    temperature: float = Field(default=0.6, ge=0.0, le=2.0)
    max_tokens: int = Field(default=4096, ge=16, le=200_000)
    max_depth: int = Field(default=12, ge=1, le=100)
    timeout_seconds: float = Field(default=600.0, gt=0, le=7200)
    max_tool_calls: int = Field(default=40, ge=1, le=1000)
    max_total_tokens: int = Field(default=200_000, ge=1000, le=10_000_000)
    search_provider: Literal["smartsearch", "searxng", "tavily", "local"] = "local"
    collections: list[CollectionName] = Field(default_factory=lambda: ["wikipedia"], min_length=1)
    tool_format: Literal["native", "text"] = "native"
    results_per_search: int = Field(default=5, ge=1, le=10)
    max_page_chars: int = Field(default=8000, ge=500, le=100_000)


# Member names of gpt-researcher's `gpt_researcher.utils.enum.Tone`. The adapter
# passes the member of that name because the enum values are long descriptions.
GptrTone = Literal[
    "Objective",
    "Formal",
    "Analytical",
    "Persuasive",
    "Informative",
    "Explanatory",
    "Descriptive",
    "Critical",
    "Comparative",
    "Speculative",
    "Reflective",
    "Narrative",
    "Humorous",
    "Optimistic",
    "Pessimistic",
]
GPTR_TONES: tuple[str, ...] = get_args(GptrTone)


class GptrParams(_Params):
    """Params of the GPT-Researcher adapter.

    `deep_research_depth` and `deep_research_breadth` apply to
    `report_type="deep"` only.
    """

    report_type: Literal[
        "research_report", "detailed_report", "resource_report", "outline_report", "deep"
    ] = "research_report"
    report_source: Literal["web", "local", "hybrid"] = "web"
    tone: GptrTone = "Objective"
    deep_research_depth: int = Field(default=2, ge=1, le=5)
    deep_research_breadth: int = Field(default=4, ge=1, le=10)


PARAMS_MODELS: dict[str, type[_Params]] = {
    "local": LocalParams,
    "tongyi": TongyiParams,
    "gptr": GptrParams,
}


def gptr_installed() -> bool:
    return importlib.util.find_spec("gpt_researcher") is not None


def validate_params(
    provider: str, params: Mapping[str, Any] | None, *, require_engine: bool = True
) -> dict[str, Any]:
    """Validate `params` for `provider` and return them with defaults filled in.

    Raises `InvalidProfile` naming the offending key, for example
    `params.sub_queries`, so the API can answer 400 and the operator can set
    `Accepted=False` with the same message. With `require_engine=False` the
    engine's optional package need not be importable here, which is the case
    for the operator: the service image, not the operator's, runs the engine.
    """
    model = PARAMS_MODELS.get(provider)
    if model is None:
        raise InvalidProfile(
            "provider",
            f"Unknown provider {quote_value(provider)}; expected one of {', '.join(PROVIDERS)}.",
        )
    if require_engine and provider == "gptr" and not gptr_installed():
        raise InvalidProfile(
            "provider",
            "Provider 'gptr' needs the optional gpt-researcher package, which is not "
            "installed; install it with `uv sync --extra gptr` or "
            "`pip install 'gl-open-deepresearch[gptr]'`.",
        )
    if params is not None and not isinstance(params, Mapping):
        raise InvalidProfile("params", f"params must be an object, got {type(params).__name__}.")
    try:
        validated = model.model_validate(dict(params or {}))
    except ValidationError as err:
        first = err.errors()[0]
        key = ".".join(str(part) for part in first["loc"])
        value = first.get("input")
        if first["type"] == "extra_forbidden":
            allowed = ", ".join(sorted(model.model_fields))
            message = (
                f"Unknown param {quote_value(key)} for provider {quote_value(provider)}; "
                f"allowed: {allowed}."
            )
        else:
            message = (
                f"Invalid param {quote_value(key)}={quote_value(value)} for provider "
                f"{quote_value(provider)}: {first['msg']}."
            )
        raise InvalidProfile(f"params.{key}", message) from err
    return validated.model_dump(mode="json")
