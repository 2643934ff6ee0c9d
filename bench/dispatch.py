"""Dispatch latency: from `POST /v1/tasks` returning to the worker's `STARTED`.

Ours: the time from the POST's response to the task row's `started_at`,
which the runner's claim writes before the engine starts, and for
reference the time from sending the POST. The tasks use the
`tongyi` profile with no `TONGYI_BASE_URL`, so the engine fails at once and
the figure measures dispatch, not research.

Baseline: a bare Celery app on the same broker (`bench.celery_baseline`),
the round trip from calling `apply_async` to the start of a task that only
records the time. (Measured from `apply_async` returning, it is often
negative, because with publisher confirms the worker can start the task
before the confirm reaches the client.) Both workers run 2 prefork
processes with prefetch multiplier 1.

Two shapes: one task at a time on an idle worker (the target applies here),
and bursts of N submissions back to back, where later tasks wait for the
earlier ones (cost growth).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import psycopg

from bench import celery_baseline
from bench.report import Row, median, percentile, verdict
from bench.services import BenchEnv, create_account, start_celery_worker, start_server

PROFILE = "tongyi"
FINAL_STATUSES = ("SUCCESS", "FAILURE", "REVOKED")
POLL_SECONDS = 0.005
WAIT_SECONDS = 60.0
TARGET_P50_MS = 50.0
TARGET_RATIO = 2.0


@dataclass(frozen=True)
class Submitted:
    """A submitted task and the wall-clock times (seconds) around its submission."""

    task_id: str
    sent: float
    returned: float


@dataclass(frozen=True)
class Delays:
    """Milliseconds to STARTED, from the submission's start and from its return."""

    from_sent: list[float]
    from_return: list[float]


def wait_for(probe: Callable[[], float | None], description: str) -> float:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        value = probe()
        if value is not None:
            return value
        time.sleep(POLL_SECONDS)
    raise TimeoutError(f"{description} did not happen within {WAIT_SECONDS:.0f} s")


class OurDispatch:
    def __init__(self, api_url: str, api_key: str, database_url: str) -> None:
        self._client = httpx.Client(base_url=api_url, headers={"X-API-Key": api_key}, timeout=30)
        self._database = psycopg.connect(database_url, autocommit=True)

    def submit(self) -> Submitted:
        sent = time.time()
        response = self._client.post("/v1/tasks", data={"query": "dispatch", "profile": PROFILE})
        returned = time.time()
        response.raise_for_status()
        return Submitted(response.json()["task_id"], sent, returned)

    def _row(self, task_id: str) -> tuple[object, str]:
        row = self._database.execute(
            "SELECT started_at, status FROM tasks WHERE id = %s", (task_id,)
        ).fetchone()
        assert row is not None, f"task {task_id} is not in the tasks table"
        return row[0], row[1]

    def started_at(self, task_id: str) -> float:
        def probe() -> float | None:
            started, _ = self._row(task_id)
            return started.timestamp() if started is not None else None  # type: ignore[attr-defined]

        return wait_for(probe, f"STARTED of task {task_id}")

    def wait_finished(self, task_id: str) -> None:
        wait_for(
            lambda: 1.0 if self._row(task_id)[1] in FINAL_STATUSES else None,
            f"the end of task {task_id}",
        )

    def close(self) -> None:
        self._client.close()
        self._database.close()


class BareDispatch:
    def __init__(self, bench: BenchEnv, queue: str) -> None:
        self._queue = queue
        self._redis = bench.redis_client()
        celery_baseline.app.conf.broker_url = bench.values["CELERY_BROKER_URL"]

    def submit(self) -> Submitted:
        probe_id = uuid.uuid4().hex
        sent = time.time()
        celery_baseline.record_start.apply_async(args=[probe_id], queue=self._queue)
        return Submitted(probe_id, sent, time.time())

    def started_at(self, probe_id: str) -> float:
        def probe() -> float | None:
            value = self._redis.get(celery_baseline.STARTED_KEY_PREFIX + probe_id)
            return float(value) if value is not None else None

        return wait_for(probe, f"start of baseline task {probe_id}")

    def wait_finished(self, probe_id: str) -> None:
        self.started_at(probe_id)

    def close(self) -> None:
        self._redis.close()


Dispatch = OurDispatch | BareDispatch


def delays_of(dispatch: Dispatch, submitted: list[Submitted]) -> Delays:
    pairs = [(dispatch.started_at(item.task_id), item) for item in submitted]
    return Delays(
        from_sent=[(start - item.sent) * 1000 for start, item in pairs],
        from_return=[(start - item.returned) * 1000 for start, item in pairs],
    )


def measure_sequential(dispatch: Dispatch, count: int) -> Delays:
    """Submit `count` tasks one at a time, each to an idle worker."""
    submitted = []
    for _ in range(count):
        item = dispatch.submit()
        dispatch.wait_finished(item.task_id)
        submitted.append(item)
    return delays_of(dispatch, submitted)


def measure_burst(dispatch: Dispatch, count: int) -> Delays:
    """Submit `count` tasks back to back, then wait for all of them."""
    submitted = [dispatch.submit() for _ in range(count)]
    delays = delays_of(dispatch, submitted)
    for item in submitted:
        dispatch.wait_finished(item.task_id)
    return delays


def describe(delays: list[float]) -> str:
    return f"p50 {median(delays):.1f} ms, p99 {percentile(delays, 0.99):.1f} ms (n={len(delays)})"


def describe_ratio(our_p50: float, bare_p50: float) -> str:
    if our_p50 <= 0:
        return f"p50 {our_p50:.1f} ms: the worker starts before the POST response arrives"
    return f"p50 {our_p50:.1f} ms, {our_p50 / bare_p50:.1f}x baseline"


def bench_dispatch(bench: BenchEnv, sizes: list[int], sequential: int = 50) -> list[Row]:
    our_queue = bench.new_queue()
    bare_queue = bench.new_queue()
    api, api_url = start_server(
        bench, "gl_deep_research.api.main:app", "api-dispatch", CELERY_QUEUE_NAME=our_queue
    )
    processes = [api]
    ours: OurDispatch | None = None
    bare: BareDispatch | None = None
    try:
        processes.append(
            start_celery_worker(bench, "gl_deep_research.worker.celery_app", our_queue, "ours")
        )
        processes.append(start_celery_worker(bench, "bench.celery_baseline", bare_queue, "bare"))
        ours = OurDispatch(api_url, create_account(api_url), bench.database_url)
        bare = BareDispatch(bench, bare_queue)
        # Warm both prefork children: imports, broker and database connections.
        measure_burst(ours, 4)
        measure_burst(bare, 4)

        our_delays = measure_sequential(ours, sequential)
        bare_delays = measure_sequential(bare, sequential)
        print(f"one at a time: ours from POST return {describe(our_delays.from_return)}")
        print(f"one at a time: ours from POST sent   {describe(our_delays.from_sent)}")
        print(f"one at a time: bare from apply_async {describe(bare_delays.from_sent)}")
        print(f"one at a time: bare from its return  {describe(bare_delays.from_return)}")
        our_p50, bare_p50 = median(our_delays.from_return), median(bare_delays.from_sent)
        met = our_p50 < TARGET_P50_MS and our_p50 <= TARGET_RATIO * bare_p50
        size = f"{sequential} tasks, one at a time"
        rows = [
            Row(
                "Dispatch",
                "POST return to STARTED, idle worker",
                size,
                describe(our_delays.from_return),
                "apply_async call to start: " + describe(bare_delays.from_sent),
                "p50 < 50 ms and <= 2x baseline p50",
                verdict(met, describe_ratio(our_p50, bare_p50)),
            ),
            Row(
                "Dispatch",
                "POST sent to STARTED, idle worker",
                size,
                describe(our_delays.from_sent),
                "apply_async call to start: " + describe(bare_delays.from_sent),
                "none",
                f"p50 {median(our_delays.from_sent) / bare_p50:.1f}x baseline",
            ),
        ]
        for size_count in sizes:
            our_burst = measure_burst(ours, size_count).from_return
            bare_burst = measure_burst(bare, size_count).from_sent
            print(f"burst of {size_count}: ours from POST return {describe(our_burst)}")
            print(f"burst of {size_count}: bare from apply_async {describe(bare_burst)}")
            rows.append(
                Row(
                    "Dispatch",
                    "POST return to STARTED, burst",
                    f"{size_count} tasks back to back",
                    describe(our_burst),
                    "apply_async call to start: " + describe(bare_burst),
                    "none",
                    f"p50 {median(our_burst) / median(bare_burst):.1f}x baseline",
                )
            )
        return rows
    finally:
        for client in (ours, bare):
            if client is not None:
                client.close()
        for process in reversed(processes):
            process.stop()
