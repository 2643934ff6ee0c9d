"""Reply parsing, citation checking and retry delays of the tongyi engine."""

from __future__ import annotations

import email.utils
import time
from typing import Any

import pytest
from openai.types.chat import ChatCompletionMessage

from gl_deep_research.engines.base import Source
from gl_deep_research.engines.tongyi import llm
from gl_deep_research.engines.tongyi.citations import check_citations
from gl_deep_research.engines.tongyi.replies import parse_reply

pytestmark = pytest.mark.unit


def message(content: str | None = None, **extra: Any) -> ChatCompletionMessage:
    return ChatCompletionMessage.model_validate({"role": "assistant", "content": content, **extra})


def native_call(name: str, arguments: str, call_id: str = "call_1") -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def sources(*numbers: int) -> dict[int, Source]:
    return {
        number: Source(
            id=number, title=f"Title {number}", url_or_path=f"https://s{number}.test", snippet="s"
        )
        for number in numbers
    }


# parse_reply


def test_native_call_parsed() -> None:
    reply = parse_reply(
        message(None, tool_calls=[native_call("web_search", '{"query": "tides"}')]), step=1
    )

    assert reply.native is True
    assert reply.answer is None
    assert reply.tool_calls[0].name == "web_search"
    assert reply.tool_calls[0].arguments == {"query": "tides"}
    assert reply.tool_calls[0].native is True


def test_native_bad_json_kept_with_error() -> None:
    reply = parse_reply(message(None, tool_calls=[native_call("web_search", '{"query": ')]), 1)

    call = reply.tool_calls[0]
    assert call.arguments is None
    assert call.error is not None
    assert call.error.startswith("the arguments are not valid JSON")
    assert call.raw_arguments == '{"query": '


def test_native_non_object_arguments() -> None:
    reply = parse_reply(message(None, tool_calls=[native_call("web_search", '["tides"]')]), 1)

    assert reply.tool_calls[0].error == "the arguments must be a JSON object"


def test_text_calls_and_think() -> None:
    content = (
        "<think>Search first.</think>\n"
        '<tool_call>\n{"name": "web_search", "arguments": {"query": "tides"}}\n</tool_call>\n'
        '<tool_call>{"name": "fetch_web_page", "arguments": "{\\"url\\": \\"https://a.test\\"}"}'
        "</tool_call>"
    )

    reply = parse_reply(message(content), step=4)

    assert reply.native is False
    assert reply.reasoning == "Search first."
    assert [call.id for call in reply.tool_calls] == ["text-4-1", "text-4-2"]
    assert reply.tool_calls[0].arguments == {"query": "tides"}
    assert reply.tool_calls[1].arguments == {"url": "https://a.test"}
    assert reply.answer is None


def test_text_call_without_name() -> None:
    reply = parse_reply(message('<tool_call>{"arguments": {}}</tool_call>'), 1)

    assert reply.tool_calls[0].error is not None
    assert "must be an object like" in reply.tool_calls[0].error


def test_unclosed_tool_call_parsed() -> None:
    content = '<tool_call>\n{"name": "local_search", "arguments": {"query": "bees"}}\n'

    reply = parse_reply(message(content), 1)

    assert reply.tool_calls[0].arguments == {"query": "bees"}


def test_answer_tag() -> None:
    reply = parse_reply(message("<think>Done.</think>\n<answer>\nTides [1].\n</answer>"), 2)

    assert reply.answer == "Tides [1]."
    assert reply.reasoning == "Done."
    assert reply.tool_calls == []


def test_plain_content_is_answer() -> None:
    reply = parse_reply(message("Tides are caused by the Moon [1]."), 2)

    assert reply.answer == "Tides are caused by the Moon [1]."
    assert reply.reasoning == ""


def test_reasoning_content_field() -> None:
    reply = parse_reply(message("Answer.", reasoning_content="Thinking in a side field."), 1)

    assert reply.reasoning == "Thinking in a side field."
    assert reply.answer == "Answer."


def test_content_before_call_is_reasoning() -> None:
    reply = parse_reply(
        message("Let me search.", tool_calls=[native_call("web_search", '{"query": "x"}')]), 1
    )

    assert reply.reasoning == "Let me search."
    assert reply.answer is None


def test_empty_reply() -> None:
    reply = parse_reply(message(""), 1)

    assert reply.answer is None
    assert reply.tool_calls == []


# check_citations


def test_unknown_citations_removed() -> None:
    checked = check_citations("Moon [1]. Sun [2, 9]. Made up [7]. Both [1][2].", sources(1, 2))

    assert checked.markdown.startswith("Moon [1]. Sun [2]. Made up. Both [1][2].")
    assert checked.removed == [9, 7]
    assert [source.id for source in checked.sources] == [1, 2]


def test_sources_section_built() -> None:
    checked = check_citations("Only the second [2].", sources(1, 2, 3))

    assert (
        checked.markdown == "Only the second [2].\n\n## Sources\n\n[2] Title 2: https://s2.test\n"
    )
    assert [source.id for source in checked.sources] == [2]


def test_model_sources_section_replaced() -> None:
    answer = "## Findings\n\nTides [1].\n\n### References\n\n1. https://made-up.test\n[4] Fake"

    checked = check_citations(answer, sources(1))

    assert "made-up" not in checked.markdown
    assert "[4]" not in checked.markdown
    assert checked.markdown.count("## Sources") == 1
    assert checked.removed == []


def test_middle_sources_heading_kept() -> None:
    answer = "## Sources of tides\n\nTides [1].\n\n## Sources\n\nMore text [1].\n\n## Outlook\n\nX."

    checked = check_citations(answer, sources(1))

    assert "More text [1]." in checked.markdown
    assert "## Outlook" in checked.markdown


def test_markdown_link_not_citation() -> None:
    checked = check_citations("See [3](https://x.test) and [1].", sources(1))

    assert "[3](https://x.test)" in checked.markdown
    assert checked.removed == []


def test_no_citations_no_sources() -> None:
    checked = check_citations("Nothing cited.", sources(1))

    assert checked.markdown == "Nothing cited.\n"
    assert checked.sources == []


# Retry delays


def test_retry_after_seconds() -> None:
    assert llm._retry_after({"retry-after": "3"}) == 3.0


def test_retry_after_milliseconds_first() -> None:
    assert llm._retry_after({"retry-after-ms": "250", "retry-after": "3"}) == 0.25


def test_retry_after_http_date() -> None:
    header = email.utils.formatdate(time.time() + 30, usegmt=True)

    delay = llm._retry_after({"retry-after": header})

    assert delay is not None
    assert 28 <= delay <= 31


def test_retry_after_invalid() -> None:
    assert llm._retry_after({"retry-after": "soon"}) is None
    assert llm._retry_after({}) is None


def test_backoff_bounds() -> None:
    for attempt in range(1, 12):
        delay = llm._backoff(attempt)
        ceiling = min(llm.RETRY_MAX_SECONDS, llm.RETRY_BASE_SECONDS * 2 ** (attempt - 1))
        assert 0 <= delay <= ceiling
