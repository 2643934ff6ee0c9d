"""The contract between the task service and a research engine.

An engine turns a question and a profile's validated params into a
`ResearchReport`. It reports progress through `emit` and checks `cancel`
between steps, raising `ResearchCancelled` when the task was revoked. The
task service (`gl_deep_research.tasks.runner`) creates one engine per task,
turns emitted events into stream entries, and stores the report.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

EventType = Literal["thinking", "activity", "source", "progress"]


class Emit(Protocol):
    """Callback that publishes one progress event of the running task."""

    def __call__(self, event_type: EventType, data: Mapping[str, Any]) -> None: ...


class CancelCheck(Protocol):
    """Callback that returns True once the task has been revoked."""

    def __call__(self) -> bool: ...


class ResearchError(Exception):
    """A research run failed for a reason that the task result should show."""


class ResearchCancelled(ResearchError):
    """The task was revoked and the engine stopped at its next step."""


@dataclass(frozen=True)
class Source:
    """One cited passage: `id` is the number used in the report's `[n]` marks."""

    id: int
    title: str
    url_or_path: str
    snippet: str
    start: int | None = None
    end: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "url_or_path": self.url_or_path,
            "snippet": self.snippet,
            "start": self.start,
            "end": self.end,
        }


@dataclass
class Usage:
    """Resources a research run consumed, returned to clients as `data.usage`."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    search_calls: int = 0
    page_fetches: int = 0
    wall_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "search_calls": self.search_calls,
            "page_fetches": self.page_fetches,
            "wall_seconds": round(self.wall_seconds, 3),
        }


@dataclass
class ResearchReport:
    """The result of one research run: Markdown with `[n]` citations and their sources."""

    markdown: str
    sources: list[Source] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)


class ResearchEngine(Protocol):
    """A pluggable research engine, registered under its provider key."""

    provider: str

    def run(
        self,
        query: str,
        params: Mapping[str, Any],
        emit: Emit,
        cancel: CancelCheck,
    ) -> ResearchReport: ...
