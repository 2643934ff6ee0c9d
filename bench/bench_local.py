"""Benchmark the `local` engine next to baselines measured in the same run.

Each phase runs in a fresh process (multiprocessing "spawn"), so its peak
resident memory (`ru_maxrss`) is its own:

- json load: read the Wikipedia summaries file, the floor for any index;
- plain bm25s build: tokenize and index the same passages with bm25s
  defaults, no titles, no persistence;
- our index build: `load_index` into an empty folder (chunking, stemming,
  writing to disk);
- our index load: `load_index` from the folder written by the build;
- plain bm25s query: retrieve 10 passages for each question (median);
- research: `LocalEngine.run` with default params for each question (median),
  after one warm-up run.

Usage: uv run python bench/bench_local.py [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import yaml

QUESTIONS = Path(__file__).with_name("eval_questions.yaml")


def _questions() -> list[str]:
    data = yaml.safe_load(QUESTIONS.read_text(encoding="utf-8"))
    return [item["question"] for item in data["questions"]]


def _peak_mib() -> float:
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def phase_json_load(_data_dir: str) -> tuple[float, float]:
    from gl_deep_research.engines.local.corpus import _wikipedia_data_file

    started = time.perf_counter()
    with _wikipedia_data_file().open(encoding="utf-8") as file:
        json.load(file)
    return time.perf_counter() - started, _peak_mib()


def _passages() -> list[str]:
    from gl_deep_research.engines.local.chunking import split_passages
    from gl_deep_research.engines.local.corpus import _wikipedia_documents

    return [p.text for document in _wikipedia_documents() for p in split_passages(document)]


def phase_plain_build(_data_dir: str) -> tuple[float, float]:
    import bm25s

    started = time.perf_counter()
    tokens = bm25s.tokenize(_passages(), stopwords="en", show_progress=False)
    bm25s.BM25().index(tokens, show_progress=False)
    return time.perf_counter() - started, _peak_mib()


def phase_plain_query(_data_dir: str) -> tuple[float, float]:
    import bm25s

    retriever = bm25s.BM25()
    retriever.index(
        bm25s.tokenize(_passages(), stopwords="en", show_progress=False), show_progress=False
    )
    latencies = []
    for question in _questions():
        started = time.perf_counter()
        query = bm25s.tokenize(question, stopwords="en", show_progress=False)
        retriever.retrieve(query, k=10, show_progress=False)
        latencies.append(time.perf_counter() - started)
    return statistics.median(latencies), _peak_mib()


def _settings(data_dir: str):  # type: ignore[no-untyped-def]
    from gl_deep_research.settings import Settings

    return Settings(gldr_data_dir=Path(data_dir), gldr_collections_dir=Path(data_dir) / "c")


def phase_our_build(data_dir: str) -> tuple[float, float]:
    from gl_deep_research.engines.local.index import load_index

    started = time.perf_counter()
    load_index(_settings(data_dir), "wikipedia")
    return time.perf_counter() - started, _peak_mib()


def phase_our_load(data_dir: str) -> tuple[float, float]:
    from gl_deep_research.engines.local.index import load_index

    started = time.perf_counter()
    load_index(_settings(data_dir), "wikipedia")
    return time.perf_counter() - started, _peak_mib()


def phase_research(data_dir: str) -> tuple[float, float]:
    from gl_deep_research.engines.local import LocalEngine
    from gl_deep_research.profiles.params import validate_params

    engine = LocalEngine(_settings(data_dir))
    params = validate_params("local", {})
    questions = _questions()
    engine.run(questions[0], params, lambda _type, _data: None, lambda: False)
    latencies = []
    for question in questions:
        started = time.perf_counter()
        engine.run(question, params, lambda _type, _data: None, lambda: False)
        latencies.append(time.perf_counter() - started)
    return statistics.median(latencies), _peak_mib()


PHASES: list[tuple[str, str, Callable[[str], tuple[float, float]]]] = [
    ("baseline", "json load of the summaries", phase_json_load),
    ("baseline", "plain bm25s build", phase_plain_build),
    ("ours", "index build (cold, to disk)", phase_our_build),
    ("ours", "index load (from disk)", phase_our_load),
    ("baseline", "plain bm25s query (median)", phase_plain_query),
    ("ours", "research task (median)", phase_research),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per phase; the median is shown")
    args = parser.parse_args()

    context = multiprocessing.get_context("spawn")
    print(f"cpus={os.cpu_count()} questions={len(_questions())} repeat={args.repeat}")
    print(f"{'':<9} {'phase':<30} {'seconds':>9} {'peak MiB':>9}")
    for kind, label, phase in PHASES:
        seconds = []
        peaks = []
        for _ in range(args.repeat):
            # A build needs an empty folder; the other phases reuse a built index.
            with tempfile.TemporaryDirectory() as data_dir:
                with ProcessPoolExecutor(1, mp_context=context) as pool:
                    if phase is not phase_our_build:
                        pool.submit(phase_our_build, data_dir).result()
                with ProcessPoolExecutor(1, mp_context=context) as pool:
                    elapsed, peak = pool.submit(phase, data_dir).result()
            seconds.append(elapsed)
            peaks.append(peak)
        print(
            f"{kind:<9} {label:<30} {statistics.median(seconds):>9.4f} "
            f"{statistics.median(peaks):>9.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
