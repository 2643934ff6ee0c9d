"""The tongyi engine against a scripted OpenAI-compatible server on 127.0.0.1.

The chat server replays the conversations in
`fixtures/tongyi_conversations.json`. SearXNG and the web pages are served
by local servers too, so no test reaches the internet.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fixtures.chat_server import ChatScript, load_scenario
from fixtures.loopback import (
    LoopbackServer,
    RecordedRequest,
    Reply,
    fixture_text,
    page_server_handler,
)
from local_helpers import Recorder, never_cancelled
from pydantic import SecretStr

from gl_deep_research.db.database import Database
from gl_deep_research.db.migrate import upgrade_database
from gl_deep_research.db.models import Task
from gl_deep_research.engines.base import ResearchCancelled, ResearchError, ResearchReport
from gl_deep_research.engines.registry import create_engine
from gl_deep_research.engines.search import PageFetcher
from gl_deep_research.engines.tongyi import TongyiEngine, llm
from gl_deep_research.events.memory import MemoryEventStore
from gl_deep_research.events.publisher import EventPublisher
from gl_deep_research.profiles.params import InvalidProfile, validate_params
from gl_deep_research.settings import Settings
from gl_deep_research.tasks.runner import TaskRunner

pytestmark = pytest.mark.unit

QUESTION = "What causes tides?"


@dataclass
class World:
    """The local servers of one test and a way to run the engine against them."""

    pages: LoopbackServer
    searxng: LoopbackServer
    settings: Settings

    def run(
        self,
        scenario: str,
        params: dict[str, Any] | None = None,
        recorder: Recorder | None = None,
        cancel: Any = never_cancelled,
        settings: Settings | None = None,
    ) -> tuple[ResearchReport, ChatScript, Recorder]:
        script = ChatScript(load_scenario(scenario, pages=self.pages.url))
        recorder = recorder or Recorder()
        merged = {
            "search_provider": "searxng",
            "collections": ["notes"],
            "max_depth": 6,
            "timeout_seconds": 20,
            **(params or {}),
        }
        with LoopbackServer(script) as chat:
            configured = (settings or self.settings).model_copy(
                update={"tongyi_base_url": chat.url + "/v1"}
            )
            engine = TongyiEngine(
                configured, page_fetcher=PageFetcher(timeout=5, allow_private_addresses=True)
            )
            report = engine.run(QUESTION, merged, recorder, cancel)
        return report, script, recorder


def searxng_handler(pages_url: str) -> Any:
    def handler(request: RecordedRequest) -> Reply:
        name = "searxng_spring.json" if "spring" in request.query.get("q", "") else None
        name = name or "searxng_results.json"
        return Reply.json(json.loads(fixture_text(name, pages=pages_url)))

    return handler


@pytest.fixture
def world(settings: Settings) -> Iterator[World]:
    notes = settings.collections_dir / "notes"
    notes.mkdir(parents=True)
    (notes / "tides.md").write_text(
        "# Tides\n\nOcean tides are caused by the gravity of the Moon and the Sun acting on "
        "the rotating Earth.\n",
        encoding="utf-8",
    )
    (notes / "bees.md").write_text("# Bees\n\nBees make honey from nectar.\n", encoding="utf-8")
    with (
        LoopbackServer(page_server_handler) as pages,
        LoopbackServer(searxng_handler(pages.url)) as searxng,
    ):
        configured = settings.model_copy(
            update={
                "tongyi_api_key": SecretStr("sk-test"),
                "searxng_url": searxng.url,
                "search_timeout_seconds": 5.0,
            }
        )
        yield World(pages=pages, searxng=searxng, settings=configured)


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record retry sleeps instead of waiting, with a short backoff base."""
    recorded: list[float] = []
    monkeypatch.setattr(llm, "sleep", recorded.append)
    monkeypatch.setattr(llm, "RETRY_BASE_SECONDS", 0.01)
    return recorded


def tool_messages(body: dict[str, Any]) -> list[str]:
    return [message["content"] for message in body["messages"] if message["role"] == "tool"]


# A normal run


def test_normal_run_report_and_sources(world: World) -> None:
    report, _script, _recorder = world.run("two_searches_fetch_answer")

    assert [source.id for source in report.sources] == [1, 2, 4]
    assert report.sources[0].url_or_path == world.pages.url + "/pages/tides.html"
    assert report.sources[2].title == "Spring tide - Glossary"
    assert "the Sun [1][2]." in report.markdown
    assert "as the Sun [1]." in report.markdown
    assert "at new and full moon [4]" in report.markdown
    assert "lengthens the day." in report.markdown
    assert "[7]" not in report.markdown
    assert "[9]" not in report.markdown
    assert "A page no tool returned" not in report.markdown
    assert report.markdown.count("## Sources") == 1
    assert f"[4] Spring tide - Glossary: {world.pages.url}/pages/spring.html" in report.markdown


def test_normal_run_conversation(world: World) -> None:
    _report, script, _recorder = world.run("two_searches_fetch_answer")

    assert len(script.bodies) == 4
    first = script.bodies[0]
    assert first["model"] == "alibaba/tongyi-deepresearch-30b-a3b"
    assert [tool["function"]["name"] for tool in first["tools"]] == [
        "web_search",
        "fetch_web_page",
        "local_search",
    ]
    assert first["messages"][1] == {"role": "user", "content": QUESTION}
    assert "[1] Tides | Ocean Science Notes" in tool_messages(script.bodies[1])[0]
    fetched = tool_messages(script.bodies[3])[-1]
    assert fetched.startswith("[1] Tides")
    assert "Neap tides, with the smallest range" in fetched
    assert [query["q"] for query in (r.query for r in world.searxng.requests)] == [
        "what causes tides",
        "spring tides neap tides",
    ]


def test_normal_run_events(world: World) -> None:
    _report, _script, recorder = world.run("two_searches_fetch_answer")

    thinking = [event["text"] for event in recorder.of("thinking")]
    assert thinking[0] == "The question is about the cause of tides. I will search the web first."
    assert thinking[1].startswith("The results name the Moon")
    assert recorder.of("activity") == [
        {"kind": "tool", "tool": "web_search", "query": "what causes tides"},
        {"kind": "tool", "tool": "web_search", "query": "spring tides neap tides"},
        {"kind": "tool", "tool": "fetch_web_page", "url": world.pages.url + "/pages/tides.html"},
    ]
    assert [event["id"] for event in recorder.of("source")] == [1, 2, 3, 4]
    assert recorder.of("progress")[-1] == {"percent": 100, "step": "Done"}


def test_normal_run_usage(world: World) -> None:
    report, _script, _recorder = world.run("two_searches_fetch_answer")

    assert report.usage.prompt_tokens == 412 + 1024 + 1630 + 2890
    assert report.usage.completion_tokens == 38 + 41 + 35 + 164
    assert report.usage.search_calls == 2
    assert report.usage.page_fetches == 1
    assert report.usage.wall_seconds > 0
    stored = report.usage.to_dict()
    assert stored["total_tokens"] == 5956 + 278
    assert stored["search_calls"] == 2


def test_text_format_local_search(world: World) -> None:
    params = {"search_provider": "local", "tool_format": "text"}

    report, script, recorder = world.run("text_format_local", params)

    first = script.bodies[0]
    assert "tools" not in first
    assert first["stop"] == ["\n<tool_response>", "<tool_response>"]
    assert '"name": "local_search"' in first["messages"][0]["content"]
    assert '"name": "web_search"' not in first["messages"][0]["content"]
    response = script.bodies[1]["messages"][-1]
    assert response["role"] == "user"
    assert response["content"].startswith("<tool_response>\nResults for 'what causes ocean tides'")
    assert "[1] Tides\nURL: notes/tides.md" in response["content"]
    assert report.markdown.startswith(
        "Ocean tides are caused by the gravity of the Moon and the Sun [1]. "
        "A claim without support."
    )
    assert report.sources[0].url_or_path == "notes/tides.md"
    assert report.sources[0].start is not None
    assert recorder.of("thinking")[0]["text"] == (
        "I should search the local collection for the cause of tides."
    )
    assert recorder.of("activity") == [
        {"kind": "tool", "tool": "local_search", "query": "what causes ocean tides"}
    ]
    assert report.usage.search_calls == 1


# Malformed tool calls


def test_malformed_calls_get_errors(world: World) -> None:
    report, script, recorder = world.run("malformed_calls")

    bad_json = tool_messages(script.bodies[1])[0]
    assert bad_json.startswith("Error: the arguments are not valid JSON")
    unknown = tool_messages(script.bodies[2])[-1]
    assert "unknown tool 'browse_web'" in unknown
    assert "available tools: web_search, fetch_web_page, local_search" in unknown
    text_block = script.bodies[3]["messages"][-1]["content"]
    assert text_block.startswith("<tool_response>\nError: the <tool_call> block is not valid JSON")
    missing_query = tool_messages(script.bodies[4])[-1]
    assert 'the argument "query" must be a non-empty string' in missing_query
    assert report.sources[0].id == 1
    assert "Moon and the Sun [1]." in report.markdown
    assert report.usage.search_calls == 1
    errors = [event for event in recorder.of("activity") if "error" in event]
    assert len(errors) == 4


# Limits


def test_max_depth_reports_sources(world: World) -> None:
    report, script, _recorder = world.run("endless_search", {"max_depth": 3})

    assert len(script.bodies) == 4
    final = script.bodies[-1]
    assert final["tool_choice"] == "none"
    assert "limit of max_depth=3 steps" in final["messages"][-1]["content"]
    assert "did not write a final answer before the research reached max_depth=3" in (
        report.markdown
    )
    assert [source.id for source in report.sources] == [1, 2, 3]
    assert "Tides are the rise and fall of sea levels" in report.markdown
    assert report.usage.search_calls == 3


def test_max_depth_forced_answer(world: World) -> None:
    report, script, _recorder = world.run("endless_search_answers_when_forced", {"max_depth": 2})

    assert len(script.bodies) == 3
    assert report.markdown.startswith("The Moon's gravity is the main cause of tides [2].")
    assert [source.id for source in report.sources] == [2]


def test_max_depth_without_sources_fails(world: World) -> None:
    with LoopbackServer(lambda request: Reply.json({"results": []})) as empty:
        settings = world.settings.model_copy(update={"searxng_url": empty.url})
        with pytest.raises(ResearchError, match="without an answer and without any source"):
            world.run("endless_search", {"max_depth": 2}, settings=settings)


def test_tool_call_budget(world: World) -> None:
    report, script, recorder = world.run("two_calls_in_one_turn", {"max_tool_calls": 1})

    budget = tool_messages(script.bodies[1])[1]
    assert "max_tool_calls=1 is used up" in budget
    assert script.bodies[1]["tool_choice"] == "none"
    assert report.markdown.startswith("Tides follow the Moon [1].")
    assert report.usage.search_calls == 1
    assert recorder.of("activity")[1]["error"].startswith("the tool-call budget")


def test_token_budget(world: World) -> None:
    report, script, _recorder = world.run("large_first_turn", {"max_total_tokens": 1000})

    assert len(script.bodies) == 1
    assert "reached max_total_tokens=1000" in report.markdown
    assert report.usage.prompt_tokens + report.usage.completion_tokens == 1100


def test_max_tokens_capped_by_budget(world: World) -> None:
    params = {"max_total_tokens": 1500, "max_tokens": 4096, "max_depth": 2}

    _report, script, _recorder = world.run("large_first_turn", params)

    assert script.bodies[0]["max_tokens"] == 1500
    assert script.bodies[1]["max_tokens"] == 400


def test_usage_estimated_without_usage(world: World) -> None:
    report, _script, _recorder = world.run("answer_without_usage")

    assert report.usage.prompt_tokens > 0
    assert report.usage.completion_tokens == len("A short answer with no citation.") // 4


# Endpoint failures, retries, timeout and cancel


def test_rate_limit_retried(
    world: World, sleeps: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="gl_deep_research.engines.tongyi.llm"):
        report, script, _recorder = world.run("rate_limited_then_answer")

    assert len(script.bodies) == 4
    assert report.markdown.startswith("Tides are caused by the Moon.")
    assert sum(sleeps[:4]) == pytest.approx(2.0)
    assert sleeps[4] == pytest.approx(0.25)
    assert 0 <= sum(sleeps[5:]) <= 0.04
    retries = [record.getMessage() for record in caplog.records if record.name == llm.__name__]
    assert len(retries) == 3
    assert "HTTP 429" in retries[0]
    assert "retry 1 of 5 in 2.00 s" in retries[0]
    assert "retry 2 of 5 in 0.25 s" in retries[1]
    assert "HTTP 502" in retries[2]
    assert "retry 3 of 5" in retries[2]


def test_rate_limit_gives_up(
    world: World, sleeps: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(llm, "MAX_RETRIES", 2)

    with pytest.raises(ResearchError, match="failed 3 times; last error: HTTP 429"):
        world.run("always_rate_limited")

    assert sum(sleeps) == pytest.approx(2.0)


def test_unauthorized_names_key_variable(world: World) -> None:
    with pytest.raises(ResearchError, match="rejected the API key with HTTP 401; check TONGYI"):
        world.run("unauthorized")


def test_timeout(world: World) -> None:
    started = time.monotonic()

    with pytest.raises(ResearchError, match=r"timed out .* raise params\.timeout_seconds"):
        world.run("slow_model", {"timeout_seconds": 0.5})

    assert time.monotonic() - started < 4


def test_cancel_between_steps(world: World) -> None:
    recorder = Recorder()

    def cancelled() -> bool:
        return bool(recorder.of("activity"))

    with pytest.raises(ResearchCancelled):
        world.run("two_searches_fetch_answer", recorder=recorder, cancel=cancelled)

    assert len(recorder.of("activity")) == 1
    assert len(world.searxng.requests) == 1


def test_cancel_during_retry_wait(world: World, sleeps: list[float]) -> None:
    def cancelled() -> bool:
        return bool(sleeps)

    with pytest.raises(ResearchCancelled, match="waiting to retry"):
        world.run("rate_limited_then_answer", cancel=cancelled)

    assert len(sleeps) == 1


# Configuration


def test_sea_lion_endpoint(world: World) -> None:
    script = ChatScript(load_scenario("answer_without_usage"))
    with LoopbackServer(script) as chat:
        settings = world.settings.model_copy(
            update={"sea_lion_base_url": chat.url + "/v1", "sea_lion_api_key": SecretStr("sl-key")}
        )
        TongyiEngine(settings).run(QUESTION, {"llm": "sea_lion"}, Recorder(), never_cancelled)

    assert script.bodies[0]["model"] == "aisingapore/Llama-SEA-LION-v3-70B-IT"
    assert chat.requests[0].headers["authorization"] == "Bearer sl-key"


def test_model_param_overrides_env(world: World) -> None:
    _report, script, _recorder = world.run("answer_without_usage", {"model": "qwen3-8b"})

    assert script.bodies[0]["model"] == "qwen3-8b"
    assert script.bodies[0]["temperature"] == 0.6


def test_missing_base_url(settings: Settings) -> None:
    engine = TongyiEngine(settings.model_copy(update={"tongyi_base_url": None}))

    with pytest.raises(ResearchError, match=re.escape("TONGYI_BASE_URL is not set")):
        engine.run(QUESTION, {}, Recorder(), never_cancelled)


def test_missing_search_variable(world: World) -> None:
    settings = world.settings.model_copy(update={"tavily_api_key": None})

    with pytest.raises(ResearchError, match="TAVILY_API_KEY is not set"):
        world.run("answer_without_usage", {"search_provider": "tavily"}, settings=settings)


def test_registry_creates_engine(settings: Settings) -> None:
    engine = create_engine("tongyi", settings)

    assert isinstance(engine, TongyiEngine)
    assert engine.provider == "tongyi"


def test_search_failure_sent_to_model(world: World) -> None:
    failing = Reply.json({"error": "engine crashed"}, status=500)
    with LoopbackServer(lambda request: failing) as broken:
        settings = world.settings.model_copy(update={"searxng_url": broken.url})
        report, script, _recorder = world.run(
            "endless_search_answers_when_forced", {"max_depth": 1}, settings=settings
        )

    output = tool_messages(script.bodies[1])[0]
    assert output.startswith("Search for 'what causes tides' failed: Search provider 'searxng'")
    assert "HTTP 500" in output
    assert report.markdown.startswith("The Moon's gravity is the main cause of tides.")
    assert report.sources == []
    assert report.usage.search_calls == 1


def test_fetch_of_metadata_address_blocked(world: World) -> None:
    script = ChatScript(load_scenario("fetch_metadata_address"))
    with LoopbackServer(script) as chat:
        settings = world.settings.model_copy(update={"tongyi_base_url": chat.url + "/v1"})
        report = TongyiEngine(settings).run(
            QUESTION, {"search_provider": "searxng"}, Recorder(), never_cancelled
        )

    output = tool_messages(script.bodies[1])[0]
    assert "non-public address 169.254.169.254" in output
    assert report.usage.page_fetches == 1
    assert report.sources == []


def test_params_validated_at_write() -> None:
    params = validate_params("tongyi", {"tool_format": "text"})

    assert params["tool_format"] == "text"
    assert params["results_per_search"] == 5
    assert params["max_page_chars"] == 8000
    for bad in ({"tool_format": "xml"}, {"results_per_search": 11}, {"max_depth": 0}):
        with pytest.raises(InvalidProfile) as caught:
            validate_params("tongyi", bad)
        assert caught.value.field == "params." + next(iter(bad))


def test_smartsearch_provider_from_settings(world: World) -> None:
    def smartsearch(request: RecordedRequest) -> Reply:
        if request.headers.get("authorization") != "Bearer sst-test":
            return Reply.json({"detail": "Invalid token"}, status=401)
        return Reply.json(
            json.loads(fixture_text("smartsearch_results.json", pages="http://p.test"))
        )

    with LoopbackServer(smartsearch) as server:
        settings = world.settings.model_copy(
            update={"smartsearch_base_url": server.url, "smartsearch_token": SecretStr("sst-test")}
        )
        report, _script, _recorder = world.run(
            "endless_search_answers_when_forced",
            {"search_provider": "smartsearch", "max_depth": 1},
            settings=settings,
        )

    assert server.requests[0].json()["query"] == "what causes tides"
    assert [source.url_or_path for source in report.sources] == ["http://p.test/pages/moon.html"]
    assert report.markdown.startswith("The Moon's gravity is the main cause of tides [2].")


# Usage through the task runner


class NoDispatch:
    """A dispatcher for a runner that is called directly; it sends nothing."""

    name = "none"

    def enqueue(self, task_id: uuid.UUID) -> None:
        pass

    def send_webhooks(self) -> None:
        pass

    def close(self) -> None:
        pass


def test_runner_stores_usage(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    init = TongyiEngine.__init__

    def init_allowing_loopback(self: TongyiEngine, settings: Settings) -> None:
        init(self, settings, PageFetcher(timeout=5, allow_private_addresses=True))

    # The runner creates the engine, whose default fetcher blocks 127.0.0.1.
    monkeypatch.setattr(TongyiEngine, "__init__", init_allowing_loopback)
    script = ChatScript(load_scenario("two_searches_fetch_answer", pages=world.pages.url))
    with LoopbackServer(script) as chat:
        settings = world.settings.model_copy(update={"tongyi_base_url": chat.url + "/v1"})
        upgrade_database(settings)
        database = Database(settings)
        with database.session() as session:
            task = Task(
                account_key="test",
                query=QUESTION,
                profile="tongyi",
                provider="tongyi",
                params={"search_provider": "searxng", "collections": ["notes"]},
            )
            session.add(task)
            session.flush()
            task_id = task.id
        publisher = EventPublisher(MemoryEventStore(ttl_seconds=60))
        outcome = TaskRunner(settings, database, publisher, NoDispatch()).execute(task_id)
        with database.session() as session:
            stored = session.get(Task, task_id)
            usage = stored.usage if stored is not None else None
        database.dispose()

    assert outcome == "SUCCESS"
    assert usage is not None
    assert usage["prompt_tokens"] == 5956
    assert usage["completion_tokens"] == 278
    assert usage["total_tokens"] == 6234
    assert usage["search_calls"] == 2
    assert usage["page_fetches"] == 1
    assert usage["wall_seconds"] > 0
