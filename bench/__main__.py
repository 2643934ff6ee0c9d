"""Run every benchmark, print the results table and write it into bench/README.md.

Usage:
    uv run python -m bench                      # full sizes, all areas (about 10 minutes on 2 CPUs)
    uv run python -m bench --quick              # small sizes, for development
    uv run python -m bench --only api,dispatch  # some areas only; README.md is left alone

Needs PostgreSQL, Redis and RabbitMQ from `scripts/services.sh up`, wrk, and
for the operator the control plane binaries of `scripts/k8s/build.sh`.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import resource
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from bench.report import Row, render_table
from bench.services import BenchEnv, delete_queues, prepare

README = Path(__file__).with_name("README.md")
RESULTS_START = "<!-- results:start -->"
RESULTS_END = "<!-- results:end -->"
AREAS = ("api", "dispatch", "streaming", "engine", "operator")


def machine_description() -> str:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory_kib = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            memory_kib = int(line.split()[1])
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    return (
        f"{os.cpu_count()} CPUs ({cpu}), {memory_kib / 1024 / 1024:.0f} GiB RAM, "
        f"Linux {platform.release()}, Python {platform.python_version()}, "
        f"load average at start {load}"
    )


def run_area(name: str, step: Callable[[], list[Row]], rows: list[Row]) -> None:
    started = time.monotonic()
    print(f"\n== {name} ==", flush=True)
    try:
        rows.extend(step())
    except Exception as err:
        traceback.print_exc()
        first_line = str(err).splitlines()[0] if str(err) else ""
        rows.append(Row(name, "failed to run", "", f"{type(err).__name__}: {first_line}", "", ""))
    print(f"== {name} took {time.monotonic() - started:.0f} s ==", flush=True)


def build_steps(bench: BenchEnv, quick: bool, log_dir: Path) -> dict[str, Callable[[], list[Row]]]:
    """Return one callable per area; each imports its module only when it runs."""

    def api() -> list[Row]:
        from bench.http_load import bench_api

        return bench_api(bench, sizes=[10] if quick else [10, 100], seconds=3 if quick else 10)

    def dispatch() -> list[Row]:
        from bench.dispatch import bench_dispatch

        return bench_dispatch(bench, sizes=[10] if quick else [10, 100])

    def streaming() -> list[Row]:
        from bench.streaming import bench_streaming

        sizes = [10, 100] if quick else [10, 100, 1000]
        return bench_streaming(bench, sizes=sizes, rounds=3 if quick else 10)

    def engine() -> list[Row]:
        from bench.engine import bench_engine

        return bench_engine(repeat=1 if quick else 3)

    def operator() -> list[Row]:
        from bench.operator_bench import bench_operator

        return bench_operator(log_dir, sizes=[1, 10] if quick else [1, 10, 100])

    return {
        "api": api,
        "dispatch": dispatch,
        "streaming": streaming,
        "engine": engine,
        "operator": operator,
    }


def write_readme(table: str, header: str) -> None:
    text = README.read_text()
    pattern = re.compile(re.escape(RESULTS_START) + ".*?" + re.escape(RESULTS_END), re.DOTALL)
    if not pattern.search(text):
        raise SystemExit(f"{README} has no {RESULTS_START} ... {RESULTS_END} section")
    block = f"{RESULTS_START}\n{header}\n\n{table}\n{RESULTS_END}"
    README.write_text(pattern.sub(lambda _: block, text))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and short runs")
    parser.add_argument(
        "--only", default=",".join(AREAS), help=f"comma-separated areas among {', '.join(AREAS)}"
    )
    parser.add_argument(
        "--no-readme", action="store_true", help="print the table but leave bench/README.md"
    )
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]
    # 1,000 streams need about 3,000 descriptors in the server and 1,000 here.
    _, hard_limit = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard_limit, hard_limit))
    selected = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(selected) - set(AREAS))
    if unknown:
        parser.error(f"unknown areas {unknown}; choose among {', '.join(AREAS)}")

    started = datetime.datetime.now(datetime.UTC)
    header = (
        f"Run {started:%Y-%m-%d %H:%M} UTC, {'quick' if args.quick else 'full'} sizes, "
        f"areas {', '.join(selected)}. Machine: {machine_description()}."
    )
    print(header, flush=True)
    log_dir = Path(tempfile.mkdtemp(prefix="gldr-bench-"))
    print(f"logs of the started processes: {log_dir}", flush=True)
    bench = prepare(log_dir)
    rows: list[Row] = []
    steps = build_steps(bench, args.quick, log_dir)
    try:
        for name in selected:
            run_area(name, steps[name], rows)
    finally:
        delete_queues(bench)

    table = render_table(rows)
    print("\n" + table, flush=True)
    complete = selected == list(AREAS) and not args.quick
    if complete and not args.no_readme:
        write_readme(table, header)
        print(f"\nwrote the table into {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
