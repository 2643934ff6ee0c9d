"""The system prompt and the messages the engine adds to the conversation."""

from __future__ import annotations

import datetime
import json
from collections.abc import Sequence
from typing import Any

INSTRUCTIONS = """You are a deep research assistant. Answer the user's question with a \
thorough, accurate and objective report in Markdown, based only on what your tools return.

Work step by step: search, read the most promising pages or passages, then search again \
for what is still missing. Stop when the sources agree on the key facts.

Every result your tools return is numbered like [3]. Cite the sources that support each \
statement with those numbers, for example "The Moon causes most of the tide [3]." Cite \
only numbers that a tool returned. Do not write your own list of sources, because it is \
added to the report automatically."""

TEXT_FORMAT = """# Tools

You may call one or more functions to assist with the user query.

You are provided with function signatures within <tools></tools> XML tags:
<tools>
{tools}
</tools>

For each function call, return a json object with function name and arguments within \
<tool_call></tool_call> XML tags:
<tool_call>
{{"name": <function-name>, "arguments": <args-json-object>}}
</tool_call>

When you are ready, put your reasoning in <think></think> and the whole report in \
<answer></answer>."""

NATIVE_FORMAT = """Call the tools you are given. When you are ready, reply with the \
report itself and no tool call."""

FINAL_ANSWER = """You have reached the limit of {reason}. Do not call any tool. Write the \
final report now from the sources above, citing them with their [n] numbers."""


def system_prompt(tool_format: str, schemas: Sequence[dict[str, Any]], today: datetime.date) -> str:
    if tool_format == "text":
        tools = "\n".join(json.dumps(schema) for schema in schemas)
        protocol = TEXT_FORMAT.format(tools=tools)
    else:
        protocol = NATIVE_FORMAT
    return f"{INSTRUCTIONS}\n\n{protocol}\n\nCurrent date: {today.isoformat()}"


def tool_response_message(outputs: Sequence[str]) -> dict[str, str]:
    """Wrap tool outputs for the text format: one user message of `<tool_response>` blocks."""
    blocks = [f"<tool_response>\n{output}\n</tool_response>" for output in outputs]
    return {"role": "user", "content": "\n".join(blocks)}


def final_answer_message(reason: str) -> dict[str, str]:
    return {"role": "user", "content": FINAL_ANSWER.format(reason=reason)}
