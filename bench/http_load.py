"""API throughput and latency with wrk: the product's routes against bare Starlette.

For each connection count, wrk (one thread) sends requests for a fixed time
to the baseline app and then to the product's API, both served by
`bench.serve`. The read is `GET /v1/tasks/{task_id}` with an account key (a
bcrypt key, cached after the first request); the write is `POST /v1/tasks`
with a form body. The written tasks go to a queue no worker reads, which is
deleted at the end.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.report import Row, verdict
from bench.services import BenchEnv, create_account, start_server

WRK_DIR = Path(__file__).with_name("wrk")
READ_TARGET_SHARE = 0.40


@dataclass(frozen=True)
class WrkResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int


def require_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit(
            "wrk is not installed; install it with `apt-get install -y wrk` "
            "(bench/run.sh does this when it runs as root)."
        )
    return path


def run_wrk(
    url: str,
    connections: int,
    seconds: float,
    headers: dict[str, str] | None = None,
    post: bool = False,
) -> WrkResult:
    """Run wrk with one thread and return its summary; raises when wrk fails."""
    script = (WRK_DIR / "report.lua").read_text()
    if post:
        script = (WRK_DIR / "post.lua").read_text() + "\n" + script
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as file:
        file.write(script)
        file.flush()
        argv = [
            require_wrk(),
            "-t1",
            f"-c{connections}",
            f"-d{seconds:.0f}s",
            "--timeout",
            "10s",
            "-s",
            file.name,
        ]
        for name, value in (headers or {}).items():
            argv += ["-H", f"{name}: {value}"]
        completed = subprocess.run(
            [*argv, url], capture_output=True, text=True, timeout=seconds + 60, check=False
        )
    line = next(
        (text for text in completed.stdout.splitlines() if text.startswith("WRK_JSON ")), None
    )
    if completed.returncode != 0 or line is None:
        raise RuntimeError(
            f"wrk failed with exit code {completed.returncode}: {completed.stderr[-2000:]}"
        )
    summary = json.loads(line.removeprefix("WRK_JSON "))
    errors = sum(
        summary[name]
        for name in ("connect_errors", "read_errors", "write_errors", "timeouts", "non_2xx")
    )
    return WrkResult(
        requests_per_second=summary["requests"] / (summary["duration_us"] / 1e6),
        p50_ms=summary["p50_us"] / 1000,
        p99_ms=summary["p99_us"] / 1000,
        requests=summary["requests"],
        errors=errors,
    )


def describe(result: WrkResult) -> str:
    text = (
        f"{result.requests_per_second:,.0f} req/s, "
        f"p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms"
    )
    if result.errors:
        text += f", {result.errors} errors"
    return text


def bench_api(bench: BenchEnv, sizes: list[int], seconds: float) -> list[Row]:
    queue = bench.new_queue()
    api, api_url = start_server(
        bench, "gl_deep_research.api.main:app", "api-http", CELERY_QUEUE_NAME=queue
    )
    baseline, baseline_url = start_server(bench, "bench.baseline_app:app", "baseline-http")
    rows: list[Row] = []
    try:
        key = create_account(api_url)
        auth = {"X-API-Key": key}
        created = httpx.post(
            f"{api_url}/v1/tasks", headers=auth, data={"query": "Who was Ada Lovelace?"}
        )
        created.raise_for_status()
        task_id = created.json()["task_id"]
        read_path = f"/v1/tasks/{task_id}"
        # Warm both servers: imports, pools, the key cache.
        run_wrk(baseline_url + read_path, 10, 2)
        run_wrk(api_url + read_path, 10, 2, headers=auth)
        for connections in sizes:
            size = f"{connections} connections, {seconds:.0f} s"
            base_read = run_wrk(baseline_url + read_path, connections, seconds)
            our_read = run_wrk(api_url + read_path, connections, seconds, headers=auth)
            print(f"api read  c={connections}: baseline {describe(base_read)}", flush=True)
            print(f"api read  c={connections}: ours     {describe(our_read)}", flush=True)
            share = our_read.requests_per_second / base_read.requests_per_second
            rows.append(
                Row(
                    "API",
                    "GET /v1/tasks/{id}, account key",
                    size,
                    describe(our_read),
                    describe(base_read),
                    ">= 40% of baseline req/s",
                    verdict(share >= READ_TARGET_SHARE, f"{share:.0%} of baseline"),
                )
            )
            base_write = run_wrk(baseline_url + "/v1/tasks", connections, seconds, post=True)
            our_write = run_wrk(
                api_url + "/v1/tasks", connections, seconds, headers=auth, post=True
            )
            print(f"api write c={connections}: baseline {describe(base_write)}", flush=True)
            print(f"api write c={connections}: ours     {describe(our_write)}", flush=True)
            share = our_write.requests_per_second / base_write.requests_per_second
            rows.append(
                Row(
                    "API",
                    "POST /v1/tasks, account key",
                    size,
                    describe(our_write),
                    describe(base_write),
                    "none",
                    f"{share:.0%} of baseline",
                )
            )
    finally:
        api.stop()
        baseline.stop()
    return rows
