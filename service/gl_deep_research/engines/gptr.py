"""The `gptr` engine: an adapter over the optional `gpt-researcher` package.

`gpt_researcher` is imported inside `run`, so the registry can load this
module without the package. Profile params map to the `GPTResearcher`
arguments `report_type`, `report_source` and `tone`, and to the config keys
`DEEP_RESEARCH_DEPTH` and `DEEP_RESEARCH_BREADTH`, which a temporary JSON
config file passes. gpt-researcher reads its LLM, retriever and API keys
from its own environment variables (OPENAI_API_KEY, RETRIEVER,
TAVILY_API_KEY and so on). Environment variables override the config file.

Its log stream (the messages it sends to a websocket) and its log handler
callbacks become our `thinking`, `activity` and `progress` events.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gl_deep_research.engines.base import (
    CancelCheck,
    Emit,
    ResearchCancelled,
    ResearchError,
    ResearchReport,
    Source,
    Usage,
)
from gl_deep_research.profiles.params import GptrParams
from gl_deep_research.settings import Settings

logger = logging.getLogger(__name__)

INSTALL_HINT = (
    "install it with `uv sync --extra gptr` or `pip install 'gl-open-deepresearch[gptr]'`"
)
# How often the running research checks `cancel()`, in seconds.
CANCEL_POLL_SECONDS = 0.5
SNIPPET_CHARS = 300
# Log steps of gpt-researcher whose output is the agent's plan or reasoning.
# NOTE: step names are the `content` field of gpt-researcher's websocket logs,
# which is not a documented API and may change. Unknown steps become
# `activity` events.
THINKING_STEPS = {"agent_generated", "planning_research", "subqueries"}
SEARCH_STEPS = {"running_subquery_research", "running_subquery_with_vectorstore_research"}


class GptResearcherEngine:
    """Research with GPT-Researcher; needs the `gptr` extra."""

    provider = "gptr"
    name = "GPT-Researcher"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def run(
        self,
        query: str,
        params: Mapping[str, Any],
        emit: Emit,
        cancel: CancelCheck,
    ) -> ResearchReport:
        started = time.monotonic()
        options = GptrParams.model_validate(dict(params))
        question = " ".join(query.split())
        if not question:
            raise ResearchError("The question is empty; send a question with at least one word.")
        try:
            from gpt_researcher import GPTResearcher
            from gpt_researcher.utils.enum import Tone
        except ImportError as err:
            raise ResearchError(
                f"The 'gptr' engine needs the gpt-researcher package, which cannot be "
                f"imported ({err}); {INSTALL_HINT}."
            ) from err

        if cancel():
            raise ResearchCancelled("The research task was cancelled before it started.")
        usage = Usage()
        stream = LogStream(emit, usage)
        config = {
            "DEEP_RESEARCH_DEPTH": options.deep_research_depth,
            "DEEP_RESEARCH_BREADTH": options.deep_research_breadth,
        }
        emit("progress", {"percent": 0, "step": f"Starting GPT-Researcher ({options.report_type})"})
        with tempfile.TemporaryDirectory(prefix="gldr-gptr-") as folder:
            config_path = Path(folder) / "config.json"
            config_path.write_text(json.dumps(config), encoding="utf-8")
            researcher = GPTResearcher(
                query=question,
                report_type=options.report_type,
                report_source=options.report_source,
                tone=Tone[options.tone],
                config_path=os.fspath(config_path),
                websocket=stream,
                log_handler=stream,
                # gpt-researcher sends its websocket logs only when verbose.
                verbose=True,
            )
            markdown = asyncio.run(_research(researcher, cancel))

        sources = _sources(researcher)
        for source in sources:
            emit("source", source.to_dict())
        # NOTE: the adapter reads only gpt-researcher's cost in USD, not token
        # counts, so the token fields stay 0. `page_fetches` counts visited URLs.
        usage.page_fetches = len(sources)
        usage.wall_seconds = time.monotonic() - started
        costs = _costs(researcher)
        emit("progress", {"percent": 100, "step": "Done", "cost_usd": costs})
        logger.info(
            "GPT-Researcher finished: %d sources, %d searches, cost %.4f USD in %.2f s",
            len(sources),
            usage.search_calls,
            costs,
            usage.wall_seconds,
        )
        return ResearchReport(markdown=markdown, sources=sources, usage=usage)


class LogStream:
    """The websocket and log handler given to gpt-researcher; forwards to `emit`.

    Events are emitted from the research's event loop thread, which is the
    thread that called `run`.
    """

    def __init__(self, emit: Emit, usage: Usage) -> None:
        self.emit = emit
        self.usage = usage

    async def send_json(self, data: Mapping[str, Any]) -> None:
        kind = data.get("type")
        if kind != "logs":
            return
        step = str(data.get("content") or "")
        output = str(data.get("output") or "")
        if step in SEARCH_STEPS:
            self.usage.search_calls += 1
        if step in THINKING_STEPS:
            self.emit("thinking", {"text": output, "step": step})
        else:
            self.emit("activity", {"kind": "gptr", "step": step, "message": output})

    async def on_tool_start(self, tool_name: str, **kwargs: Any) -> None:
        self.emit("activity", {"kind": "tool", "tool": tool_name})

    async def on_agent_action(self, action: str, **kwargs: Any) -> None:
        self.emit("activity", {"kind": "action", "action": action})

    async def on_research_step(self, step: str, details: Mapping[str, Any]) -> None:
        self.emit("progress", {"step": step})


async def _research(researcher: Any, cancel: CancelCheck) -> str:
    """Run research and writing, stopping them when `cancel()` turns True or raises."""
    work = asyncio.ensure_future(_conduct_and_write(researcher))
    while True:
        done, _pending = await asyncio.wait({work}, timeout=CANCEL_POLL_SECONDS)
        if done:
            return work.result()
        try:
            cancelled = cancel()
        except BaseException:
            await _stop(work)
            raise
        if cancelled:
            await _stop(work)
            raise ResearchCancelled("The research task was cancelled before it finished.")


async def _conduct_and_write(researcher: Any) -> str:
    await researcher.conduct_research()
    report = await researcher.write_report()
    return str(report)


async def _stop(work: asyncio.Future[str]) -> None:
    work.cancel()
    try:
        await work
    except asyncio.CancelledError:
        pass
    except Exception:
        logger.exception("GPT-Researcher failed while it was being stopped")


def _sources(researcher: Any) -> list[Source]:
    """Number the visited URLs, with titles and snippets from the research sources."""
    details: dict[str, Mapping[str, Any]] = {}
    get_research_sources = getattr(researcher, "get_research_sources", list)
    for item in get_research_sources() or []:
        if isinstance(item, Mapping) and isinstance(item.get("url"), str):
            details.setdefault(item["url"], item)
    sources: list[Source] = []
    for url in researcher.get_source_urls() or []:
        detail = details.get(url, {})
        title = str(detail.get("title") or url)
        content = " ".join(str(detail.get("content") or detail.get("raw_content") or "").split())
        sources.append(
            Source(
                id=len(sources) + 1,
                title=title,
                url_or_path=str(url),
                snippet=content[:SNIPPET_CHARS],
            )
        )
    return sources


def _costs(researcher: Any) -> float:
    try:
        return float(researcher.get_costs())
    except (AttributeError, TypeError, ValueError):
        return 0.0
