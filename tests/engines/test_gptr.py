"""The GPT-Researcher adapter, with a fake `gpt_researcher` module in sys.modules.

gpt-researcher is an optional extra that is not installed in the test
environment. The fake module has the parts of its API the adapter uses:
`GPTResearcher` with `conduct_research`, `write_report`, `get_source_urls`,
`get_research_sources` and `get_costs`, the `Tone` enum, and the websocket
and log handler callbacks.
"""

from __future__ import annotations

import asyncio
import enum
import importlib.machinery
import json
import sys
import threading
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from local_helpers import Recorder, never_cancelled

from gl_deep_research.db.database import Database
from gl_deep_research.db.migrate import upgrade_database
from gl_deep_research.db.models import Profile
from gl_deep_research.engines import gptr
from gl_deep_research.engines.base import ResearchCancelled, ResearchError
from gl_deep_research.engines.gptr import GptResearcherEngine
from gl_deep_research.engines.registry import create_engine
from gl_deep_research.errors import InvalidInput
from gl_deep_research.profiles.editor import ProfileEditor
from gl_deep_research.profiles.params import (
    GPTR_TONES,
    InvalidProfile,
    gptr_installed,
    validate_params,
)
from gl_deep_research.profiles.registry import InvalidProfilesFile, ProfileCatalog, parse_profiles
from gl_deep_research.settings import Settings

pytestmark = pytest.mark.unit

without_package = pytest.mark.skipif(
    gptr_installed(), reason="the test needs gpt-researcher to be absent"
)

REPORT = "# Tides\n\nTides are caused by the Moon ([Tides](https://tides.example/a))."


class Tone(enum.Enum):
    Objective = "Objective (impartial and unbiased presentation of facts and findings)"
    Formal = "Formal (adheres to academic standards with sophisticated language and structure)"
    Analytical = "Analytical (critical evaluation and detailed examination of data and theories)"


class FakeResearcher:
    """Records its arguments and replays a short research with logs."""

    instances: list[FakeResearcher] = []
    block: threading.Event | None = None

    def __init__(self, query: str, **kwargs: Any) -> None:
        self.query = query
        self.kwargs = kwargs
        self.config = json.loads(Path(kwargs["config_path"]).read_text(encoding="utf-8"))
        self.written = False
        FakeResearcher.instances.append(self)

    async def conduct_research(self) -> list[str]:
        websocket = self.kwargs["websocket"]
        handler = self.kwargs["log_handler"]
        await handler.on_research_step("start", {"query": self.query})
        await websocket.send_json(
            {"type": "logs", "content": "agent_generated", "output": "Oceanography agent"}
        )
        await websocket.send_json(
            {"type": "logs", "content": "subqueries", "output": "tides moon; spring tides"}
        )
        for subquery in ("tides moon", "spring tides"):
            await websocket.send_json(
                {
                    "type": "logs",
                    "content": "running_subquery_research",
                    "output": f"Running research for '{subquery}'...",
                }
            )
        await handler.on_tool_start("tavily_search", query="tides moon")
        await websocket.send_json({"type": "images", "content": "selected_images", "output": []})
        if FakeResearcher.block is not None:
            while not FakeResearcher.block.is_set():
                await asyncio.sleep(0.01)
        return ["context"]

    async def write_report(self) -> str:
        self.written = True
        await self.kwargs["websocket"].send_json({"type": "report", "output": "partial"})
        return REPORT

    def get_source_urls(self) -> list[str]:
        return ["https://tides.example/a", "https://moon.example/b"]

    def get_research_sources(self) -> list[dict[str, Any]]:
        return [
            {"url": "https://tides.example/a", "title": "Tides", "content": "Tides  are\nwaves."}
        ]

    def get_costs(self) -> float:
        return 0.0125


@pytest.fixture
def fake_gptr(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[FakeResearcher]]:
    package = types.ModuleType("gpt_researcher")
    package.__spec__ = importlib.machinery.ModuleSpec("gpt_researcher", None, is_package=True)
    package.GPTResearcher = FakeResearcher  # type: ignore[attr-defined]
    utils = types.ModuleType("gpt_researcher.utils")
    enum_module = types.ModuleType("gpt_researcher.utils.enum")
    enum_module.Tone = Tone  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "gpt_researcher", package)
    monkeypatch.setitem(sys.modules, "gpt_researcher.utils", utils)
    monkeypatch.setitem(sys.modules, "gpt_researcher.utils.enum", enum_module)
    FakeResearcher.instances = []
    FakeResearcher.block = None
    yield FakeResearcher
    FakeResearcher.block = None


def run_engine(settings: Settings, params: dict[str, Any], cancel: Any = never_cancelled) -> Any:
    recorder = Recorder()
    report = GptResearcherEngine(settings).run("What causes tides?", params, recorder, cancel)
    return report, recorder


def test_params_map_to_researcher(settings: Settings, fake_gptr: type[FakeResearcher]) -> None:
    params = {
        "report_type": "deep",
        "report_source": "hybrid",
        "tone": "Analytical",
        "deep_research_depth": 3,
        "deep_research_breadth": 6,
    }

    run_engine(settings, params)

    researcher = fake_gptr.instances[0]
    assert researcher.query == "What causes tides?"
    assert researcher.kwargs["report_type"] == "deep"
    assert researcher.kwargs["report_source"] == "hybrid"
    assert researcher.kwargs["tone"] is Tone.Analytical
    assert researcher.kwargs["verbose"] is True
    assert researcher.config == {"DEEP_RESEARCH_DEPTH": 3, "DEEP_RESEARCH_BREADTH": 6}
    assert not Path(researcher.kwargs["config_path"]).exists()


def test_report_sources_and_usage(settings: Settings, fake_gptr: type[FakeResearcher]) -> None:
    report, recorder = run_engine(settings, {})

    assert report.markdown == REPORT
    assert [source.url_or_path for source in report.sources] == [
        "https://tides.example/a",
        "https://moon.example/b",
    ]
    assert report.sources[0].title == "Tides"
    assert report.sources[0].snippet == "Tides are waves."
    assert report.sources[1].title == "https://moon.example/b"
    assert [event["id"] for event in recorder.of("source")] == [1, 2]
    assert report.usage.search_calls == 2
    assert report.usage.page_fetches == 2
    assert report.usage.wall_seconds > 0
    assert report.usage.prompt_tokens == 0


def test_log_stream_becomes_events(settings: Settings, fake_gptr: type[FakeResearcher]) -> None:
    _report, recorder = run_engine(settings, {})

    assert recorder.of("thinking") == [
        {"text": "Oceanography agent", "step": "agent_generated"},
        {"text": "tides moon; spring tides", "step": "subqueries"},
    ]
    activity = recorder.of("activity")
    assert activity[0] == {
        "kind": "gptr",
        "step": "running_subquery_research",
        "message": "Running research for 'tides moon'...",
    }
    assert {"kind": "tool", "tool": "tavily_search"} in activity
    assert len(activity) == 3
    progress = recorder.of("progress")
    assert {"step": "start"} in progress
    assert progress[-1] == {"percent": 100, "step": "Done", "cost_usd": 0.0125}


def test_cancel_stops_research(
    settings: Settings, fake_gptr: type[FakeResearcher], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gptr, "CANCEL_POLL_SECONDS", 0.01)
    fake_gptr.block = threading.Event()
    calls: list[int] = []

    def cancel() -> bool:
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(ResearchCancelled):
        run_engine(settings, {}, cancel=cancel)

    assert fake_gptr.instances[0].written is False


def test_cancel_timeout_propagates(
    settings: Settings, fake_gptr: type[FakeResearcher], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gptr, "CANCEL_POLL_SECONDS", 0.01)
    fake_gptr.block = threading.Event()
    calls: list[int] = []

    def cancel() -> bool:
        calls.append(1)
        if len(calls) > 2:
            raise ResearchError("The task timed out after 1 s (TASK_TIMEOUT_SECONDS).")
        return False

    with pytest.raises(ResearchError, match="TASK_TIMEOUT_SECONDS"):
        run_engine(settings, {}, cancel=cancel)


@without_package
def test_missing_package_names_install(settings: Settings) -> None:
    with pytest.raises(ResearchError, match="uv sync --extra gptr"):
        run_engine(settings, {})


def test_registry_loads_without_package(settings: Settings) -> None:
    engine = create_engine("gptr", settings)

    assert isinstance(engine, GptResearcherEngine)


@without_package
def test_profile_rejected_without_package() -> None:
    with pytest.raises(InvalidProfile) as caught:
        validate_params("gptr", {"report_type": "deep"})

    assert caught.value.field == "provider"
    assert "uv sync --extra gptr" in caught.value.message
    assert "pip install 'gl-open-deepresearch[gptr]'" in caught.value.message


@without_package
def test_profiles_file_rejects_gptr() -> None:
    document = {"profiles": {"web": {"provider": "gptr", "params": {}}}}

    with pytest.raises(InvalidProfilesFile, match=r"profile 'web'.*uv sync --extra gptr"):
        parse_profiles(document, "profiles.yaml")


def test_profile_accepted_with_package(fake_gptr: type[FakeResearcher]) -> None:
    params = validate_params("gptr", {"tone": "Formal"})

    assert params["tone"] == "Formal"
    assert params["report_type"] == "research_report"
    assert params["deep_research_depth"] == 2


def test_unknown_tone_rejected(fake_gptr: type[FakeResearcher]) -> None:
    with pytest.raises(InvalidProfile) as caught:
        validate_params("gptr", {"tone": "Cheerful"})

    assert caught.value.field == "params.tone"


def test_tone_names_match_enum() -> None:
    assert set(Tone.__members__) <= set(GPTR_TONES)
    assert "Objective" in GPTR_TONES


@without_package
def test_profile_write_rejects_gptr(settings: Settings) -> None:
    upgrade_database(settings)
    database = Database(settings)
    editor = ProfileEditor(database, ProfileCatalog(database, default_override=None))
    try:
        with pytest.raises(InvalidInput) as caught:
            editor.create({"name": "web", "provider": "gptr", "params": {"tone": "Formal"}})
        with database.session() as session:
            stored = session.get(Profile, "web")
    finally:
        database.dispose()

    assert caught.value.status_code == 400
    assert caught.value.field == "provider"
    assert "uv sync --extra gptr" in str(caught.value)
    assert stored is None
