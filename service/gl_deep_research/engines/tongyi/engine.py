"""The `tongyi` engine: a ReAct loop on an OpenAI-compatible chat endpoint.

Each step sends the conversation to the model, parses reasoning, tool calls
and a possible final answer (see `replies`), runs the tools and sends their
output back. Before every model call the engine checks cancellation, the
run's deadline and the token budget. Before every tool call it checks
cancellation and the tool-call budget.

When the model is still calling tools after `max_depth` steps, or the
tool-call budget is used up, one more call without tools asks for the final
answer. If the model still does not answer, or the token budget is used up,
the engine writes a report that lists the gathered sources with their
passages and says why it stopped. A run that ends without an answer and
without any source raises `ResearchError`.
"""

from __future__ import annotations

import datetime
import logging
import time
from collections.abc import Mapping
from typing import Any

from openai.types.chat import ChatCompletion

from gl_deep_research.engines.base import (
    CancelCheck,
    Emit,
    ResearchCancelled,
    ResearchError,
    ResearchReport,
    Source,
    Usage,
)
from gl_deep_research.engines.search import (
    LocalCollectionProvider,
    PageFetcher,
    create_search_provider,
)
from gl_deep_research.engines.tongyi import prompts
from gl_deep_research.engines.tongyi.citations import check_citations
from gl_deep_research.engines.tongyi.llm import (
    ChatClient,
    ModelEndpointError,
    ResearchTimeout,
    resolve_endpoint,
)
from gl_deep_research.engines.tongyi.replies import ModelReply, ToolCall, parse_reply
from gl_deep_research.engines.tongyi.tools import Toolbox, ToolResult
from gl_deep_research.profiles.params import TongyiParams
from gl_deep_research.settings import Settings

logger = logging.getLogger(__name__)

# Stop sequences of the text format, so the model does not invent tool output.
TEXT_STOP = ["\n<tool_response>", "<tool_response>"]
# Characters per token, to estimate usage when the endpoint reports none.
CHARS_PER_TOKEN = 4


class TongyiEngine:
    """ReAct research agent with web search, page fetching and local search tools."""

    provider = "tongyi"
    name = "ReAct agent on an OpenAI-compatible endpoint"

    def __init__(self, settings: Settings, page_fetcher: PageFetcher | None = None) -> None:
        self.settings = settings
        self.page_fetcher = page_fetcher or PageFetcher(settings.search_timeout_seconds)

    def run(
        self,
        query: str,
        params: Mapping[str, Any],
        emit: Emit,
        cancel: CancelCheck,
    ) -> ResearchReport:
        started = time.monotonic()
        options = TongyiParams.model_validate(dict(params))
        question = " ".join(query.split())
        if not question:
            raise ResearchError("The question is empty; send a question with at least one word.")

        endpoint = resolve_endpoint(self.settings, options.llm, options.model)
        web = None
        if options.search_provider != "local":
            web = create_search_provider(
                options.search_provider, self.settings, options.collections
            )
        usage = Usage()
        toolbox = Toolbox(
            web_provider=web,
            local_provider=LocalCollectionProvider(self.settings, options.collections),
            fetcher=self.page_fetcher,
            results_per_search=options.results_per_search,
            max_page_chars=options.max_page_chars,
            usage=usage,
            on_source=lambda source: emit("source", source.to_dict()),
        )
        key_variable = "SEA_LION_API_KEY" if options.llm == "sea_lion" else "TONGYI_API_KEY"
        client = ChatClient(endpoint, key_variable, deadline=started + options.timeout_seconds)
        logger.info(
            "Tongyi research started: model %s at %s, tools %s, max_depth %d",
            endpoint.model,
            endpoint.host,
            ", ".join(toolbox.names),
            options.max_depth,
        )
        try:
            research = _Research(question, options, client, toolbox, usage, emit, cancel)
            report = research.execute()
        finally:
            usage.wall_seconds = time.monotonic() - started
        logger.info(
            "Tongyi research finished: %d steps, %d tokens, %d searches, %d page fetches, "
            "%d sources cited in %.2f s",
            research.step,
            usage.prompt_tokens + usage.completion_tokens,
            usage.search_calls,
            usage.page_fetches,
            len(report.sources),
            usage.wall_seconds,
        )
        return report


class _Research:
    """The state of one run: the conversation, the budgets used and the sources found."""

    def __init__(
        self,
        question: str,
        options: TongyiParams,
        client: ChatClient,
        toolbox: Toolbox,
        usage: Usage,
        emit: Emit,
        cancel: CancelCheck,
    ) -> None:
        self.question = question
        self.options = options
        self.client = client
        self.toolbox = toolbox
        self.usage = usage
        self.emit = emit
        self.cancel = cancel
        self.step = 0
        self.tool_calls = 0
        system = prompts.system_prompt(
            options.tool_format, toolbox.schemas(), datetime.datetime.now(datetime.UTC).date()
        )
        self.messages: list[dict[str, Any]] = [
            {"role": "system", "content": system},
            {"role": "user", "content": question},
        ]

    def execute(self) -> ResearchReport:
        max_depth = self.options.max_depth
        while self.step < max_depth:
            self._check_cancel()
            if self._tokens_left() <= 0:
                return self._sources_report(f"max_total_tokens={self.options.max_total_tokens}")
            if self.tool_calls >= self.options.max_tool_calls:
                return self._final_answer(f"max_tool_calls={self.options.max_tool_calls}")
            self.step += 1
            self.emit(
                "progress",
                {
                    "percent": 5 + int(85 * (self.step - 1) / max_depth),
                    "step": f"Step {self.step} of at most {max_depth}",
                },
            )
            reply = self._ask(with_tools=True)
            if reply.answer is not None:
                return self._report(reply.answer)
            if not reply.tool_calls:
                logger.warning("The model sent an empty reply at step %d", self.step)
                self.messages.append(
                    {"role": "user", "content": "Your reply was empty. Call a tool or answer."}
                )
                continue
            self._run_tools(reply.tool_calls)
        return self._final_answer(f"max_depth={max_depth} steps")

    def _ask(self, with_tools: bool) -> ModelReply:
        """Send the conversation, count usage, emit the reasoning and record the reply."""
        options: dict[str, Any] = {
            "temperature": self.options.temperature,
            "max_tokens": max(16, min(self.options.max_tokens, self._tokens_left())),
        }
        if self.options.tool_format == "native":
            options["tools"] = self.toolbox.schemas()
            if not with_tools:
                options["tool_choice"] = "none"
        else:
            options["stop"] = TEXT_STOP
        completion = self.client.complete(self.messages, self.cancel, **options)
        if not completion.choices:
            raise ModelEndpointError(
                f"The model endpoint {self.client.endpoint.host} returned a completion "
                "without choices."
            )
        message = completion.choices[0].message
        self._count_tokens(completion)
        reply = parse_reply(message, self.step)
        if reply.reasoning:
            self.emit("thinking", {"text": reply.reasoning, "step": self.step})

        recorded: dict[str, Any] = {"role": "assistant", "content": message.content or ""}
        native_calls = [call for call in reply.tool_calls if call.native]
        if native_calls:
            recorded["tool_calls"] = [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.raw_arguments},
                }
                for call in native_calls
            ]
        self.messages.append(recorded)
        return reply

    def _run_tools(self, calls: list[ToolCall]) -> None:
        text_outputs = []
        for call in calls:
            self._check_cancel()
            result = self._run_tool(call)
            self.emit("activity", result.activity)
            if call.native:
                self.messages.append(
                    {"role": "tool", "tool_call_id": call.id, "content": result.output}
                )
            else:
                text_outputs.append(result.output)
        if text_outputs:
            self.messages.append(prompts.tool_response_message(text_outputs))

    def _run_tool(self, call: ToolCall) -> ToolResult:
        name = call.name or "(missing name)"
        if self.tool_calls >= self.options.max_tool_calls:
            return self.toolbox.error(
                name,
                f"the tool-call budget max_tool_calls={self.options.max_tool_calls} is used up",
            )
        self.tool_calls += 1
        if call.error is not None or call.arguments is None:
            return self.toolbox.error(name, f"{call.error}; received {call.raw_arguments!r}")
        return self.toolbox.run(call.name, call.arguments)

    def _final_answer(self, reason: str) -> ResearchReport:
        """Ask once more without tools; fall back to the sources report."""
        self._check_cancel()
        if self._tokens_left() <= 0:
            return self._sources_report(f"max_total_tokens={self.options.max_total_tokens}")
        logger.info("Asking for the final answer after reaching %s", reason)
        self.emit("progress", {"percent": 90, "step": f"Writing the report ({reason} reached)"})
        self.messages.append(prompts.final_answer_message(reason))
        self.step += 1
        reply = self._ask(with_tools=False)
        if reply.answer is not None and not reply.tool_calls:
            return self._report(reply.answer)
        logger.warning("The model did not answer after %s; reporting the sources found", reason)
        return self._sources_report(reason)

    def _report(self, answer: str) -> ResearchReport:
        checked = check_citations(answer, self.toolbox.registry.sources)
        if checked.removed:
            logger.warning(
                "Removed %d citations of sources that no tool returned: %s",
                len(checked.removed),
                sorted(set(checked.removed)),
            )
        self.emit("progress", {"percent": 100, "step": "Done"})
        return ResearchReport(markdown=checked.markdown, sources=checked.sources, usage=self.usage)

    def _sources_report(self, reason: str) -> ResearchReport:
        """Write a report listing every gathered source, for a run that ended without an answer."""
        sources: dict[int, Source] = self.toolbox.registry.sources
        if not sources:
            raise ResearchError(
                f"The research stopped at {reason} without an answer and without any source; "
                "raise the limit or check that the search tools return results."
            )
        lines = [
            f"# {self.question}",
            "",
            f"The model did not write a final answer before the research reached {reason}. "
            "These are the sources it gathered, each with the passage a tool returned.",
            "",
        ]
        lines += [
            f"- **{source.title}**: {source.snippet} [{source.id}]" for source in sources.values()
        ]
        return self._report("\n".join(lines))

    def _count_tokens(self, completion: ChatCompletion) -> None:
        if completion.usage is not None:
            self.usage.prompt_tokens += completion.usage.prompt_tokens
            self.usage.completion_tokens += completion.usage.completion_tokens
            return
        # NOTE: an estimate of about 4 characters per token, used only when the
        # endpoint reports no usage; the real count depends on the tokenizer.
        prompt_chars = sum(len(str(message.get("content") or "")) for message in self.messages)
        reply_chars = len(completion.choices[0].message.content or "") if completion.choices else 0
        self.usage.prompt_tokens += prompt_chars // CHARS_PER_TOKEN
        self.usage.completion_tokens += reply_chars // CHARS_PER_TOKEN

    def _tokens_left(self) -> int:
        used = self.usage.prompt_tokens + self.usage.completion_tokens
        return self.options.max_total_tokens - used

    def _check_cancel(self) -> None:
        if self.cancel():
            raise ResearchCancelled("The research task was cancelled before it finished.")
        if time.monotonic() >= self.client.deadline:
            raise ResearchTimeout(
                f"The research timed out after params.timeout_seconds="
                f"{self.options.timeout_seconds:g} s; raise it or lower max_depth."
            )
