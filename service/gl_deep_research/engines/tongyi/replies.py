"""Parse a model reply into reasoning, tool calls and a final answer.

Two formats are accepted in the same reply:

- OpenAI `tool_calls` on the message ("native").
- Tongyi DeepResearch's text format, as in Alibaba-NLP/DeepResearch
  `inference/prompt.py`: `<tool_call>{"name": ..., "arguments": {...}}</tool_call>`
  blocks in the content, `<think>...</think>` for reasoning and
  `<answer>...</answer>` for the final answer.

A tool call whose arguments are not a JSON object is kept with `error` set,
so the engine can send the error back to the model instead of failing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from openai.types.chat import ChatCompletionMessage

TOOL_CALL_PATTERN = re.compile(r"<tool_call>(.*?)(?:</tool_call>|$)", re.DOTALL)
THINK_PATTERN = re.compile(r"<think>(.*?)(?:</think>|$)", re.DOTALL)
ANSWER_PATTERN = re.compile(r"<answer>(.*?)(?:</answer>|$)", re.DOTALL)


@dataclass(frozen=True)
class ToolCall:
    """One requested tool call; `arguments` is None when `error` describes why it is invalid."""

    id: str
    name: str
    arguments: dict[str, Any] | None
    raw_arguments: str
    error: str | None = None
    native: bool = False


@dataclass
class ModelReply:
    """A parsed assistant message.

    `answer` is None while the model still calls tools. `native` is True when
    the calls came as OpenAI `tool_calls`, which decides how the results are
    sent back.
    """

    content: str
    reasoning: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    answer: str | None = None
    native: bool = False


def parse_reply(message: ChatCompletionMessage, step: int) -> ModelReply:
    """Parse `message`; `step` makes the ids of text-format calls unique in the run."""
    content = message.content or ""
    reasoning_parts = [_extra_reasoning(message)]
    reasoning_parts += [part.strip() for part in THINK_PATTERN.findall(content)]
    visible = THINK_PATTERN.sub("", content)
    reply = ModelReply(content=content, reasoning="")

    if message.tool_calls:
        reply.native = True
        for call in message.tool_calls:
            function = getattr(call, "function", None)
            name = str(getattr(function, "name", "") or "")
            raw = str(getattr(function, "arguments", "") or "")
            reply.tool_calls.append(_native_call(call.id, name, raw))

    text_calls = TOOL_CALL_PATTERN.findall(visible)
    for index, block in enumerate(text_calls, start=1):
        reply.tool_calls.append(_text_call(f"text-{step}-{index}", block))
    visible = TOOL_CALL_PATTERN.sub("", visible)

    answer_match = ANSWER_PATTERN.search(visible)
    if answer_match is not None:
        reply.answer = answer_match.group(1).strip()
        visible = ANSWER_PATTERN.sub("", visible)
    elif not reply.tool_calls and visible.strip():
        # A chat model without the answer tag writes the answer as plain content.
        reply.answer = visible.strip()
        visible = ""

    # Text left outside the tags, such as the lines before a tool call, is
    # the model thinking aloud.
    reasoning_parts.append(visible.strip())
    reply.reasoning = "\n\n".join(part for part in reasoning_parts if part)
    return reply


def _extra_reasoning(message: ChatCompletionMessage) -> str:
    """Return the reasoning field that vLLM (`reasoning_content`) or OpenRouter adds."""
    extra = message.model_extra or {}
    for key in ("reasoning_content", "reasoning"):
        value = extra.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def _native_call(call_id: str, name: str, raw: str) -> ToolCall:
    arguments, error = _decode_arguments(raw)
    return ToolCall(call_id, name, arguments, raw, error, native=True)


def _text_call(call_id: str, block: str) -> ToolCall:
    raw = block.strip()
    try:
        decoded = json.loads(raw)
    except json.JSONDecodeError as err:
        return ToolCall(
            id=call_id,
            name="",
            arguments=None,
            raw_arguments=raw,
            error=f"the <tool_call> block is not valid JSON ({err.msg} at position {err.pos})",
        )
    if not isinstance(decoded, dict) or not isinstance(decoded.get("name"), str):
        return ToolCall(
            id=call_id,
            name="",
            arguments=None,
            raw_arguments=raw,
            error='the <tool_call> block must be an object like {"name": ..., "arguments": {...}}',
        )
    arguments = decoded.get("arguments", {})
    if isinstance(arguments, str):
        parsed, error = _decode_arguments(arguments)
        return ToolCall(call_id, decoded["name"], parsed, arguments, error)
    if not isinstance(arguments, dict):
        return ToolCall(
            call_id, decoded["name"], None, json.dumps(arguments), "arguments must be an object"
        )
    return ToolCall(call_id, decoded["name"], arguments, json.dumps(arguments))


def _decode_arguments(raw: str) -> tuple[dict[str, Any] | None, str | None]:
    if not raw.strip():
        return {}, None
    try:
        decoded = json.loads(raw)
    except json.JSONDecodeError as err:
        return None, f"the arguments are not valid JSON ({err.msg} at position {err.pos})"
    if not isinstance(decoded, dict):
        return None, "the arguments must be a JSON object"
    return decoded, None
