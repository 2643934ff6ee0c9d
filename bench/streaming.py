"""SSE streaming: delivery latency and memory per idle stream on one API process.

Clients are aiohttp streams in this process. This process also appends the
events, with the product's `EventPublisher` as a worker does, so each
payload carries the `timestamp` of its append. Delivery latency is the
client's receive time minus that timestamp. Ten streams follow each task.

Memory: the resident set of the server with N idle streams open minus the
same before any stream opened, divided by N. Before the first reading, a
warm-up opens two streams and sends 200 reads, 50 at a time, so the thread
pool and database pool have grown to their working size and their memory
is not charged to the streams. Streams open cumulatively, so the 1,000
figure includes the first 100.

Ours: `GET /v1/tasks/{id}/stream` with an account key, on tasks that stay
PENDING because no worker reads their queue. Baseline: `GET /sse/{id}` of
`bench.baseline_app`, one bare `XREAD BLOCK` loop per client.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp
import httpx

from bench.report import Row, median, percentile, verdict
from bench.services import BenchEnv, create_account, rss_kib, start_server
from gl_deep_research.events.publisher import EventPublisher
from gl_deep_research.events.redis_store import RedisEventStore
from gl_deep_research.settings import Settings

STREAMS_PER_TASK = 10
OPEN_CONCURRENCY = 50
WARM_UP_READS = 200
SETTLE_SECONDS = 2.0
ROUND_SECONDS = 1.0
CLOSE_TIMEOUT_SECONDS = 60.0
TARGET_P99_MS = 200.0
TARGET_IDLE_KIB = 64.0


@dataclass
class StreamStats:
    opened: int = 0
    failed: int = 0
    finished: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    connected: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass(frozen=True)
class Server:
    """One SSE server under test: how to reach a task's stream, and its process id."""

    name: str
    pid: int
    stream_url: Callable[[str], str]
    headers: dict[str, str]
    new_task: Callable[[], str]
    read_url: Callable[[str], str]


async def follow(
    session: aiohttp.ClientSession,
    url: str,
    headers: dict[str, str],
    stats: StreamStats,
    gate: asyncio.Semaphore,
) -> None:
    """Read one stream until its `done` event, recording the latency of `progress` events."""
    try:
        async with gate:
            response = await session.get(url, headers=headers)
        async with response:
            if response.status != 200:
                stats.failed += 1
                return
            stats.opened += 1
            event_type = ""
            async for raw in response.content:
                line = raw.decode().rstrip("\r\n")
                if line.startswith("event:"):
                    event_type = line[6:].strip()
                elif line.startswith("data:") and event_type == "progress":
                    sent = json.loads(line[5:])["timestamp"]
                    stats.latencies_ms.append((time.time() - sent) * 1000)
                elif line.startswith("data:") and event_type == "done":
                    stats.finished += 1
                    return
    except aiohttp.ClientError:
        stats.failed += 1


class Emitter:
    """Appends events to task streams from a thread, the way a worker does."""

    def __init__(self, bench: BenchEnv) -> None:
        settings = Settings(**{name.lower(): value for name, value in bench.values.items()})
        self._store = RedisEventStore(settings)
        self._publisher = EventPublisher(self._store)

    def emit(self, task_id: str, event_type: str, data: dict[str, object]) -> None:
        self._publisher.append(task_id, None, event_type, data)

    def rounds(self, task_ids: list[str], rounds: int) -> None:
        """Send `rounds` progress events to every task, spread evenly over each second."""
        gap = ROUND_SECONDS / len(task_ids)
        started = time.monotonic()
        for round_index in range(rounds):
            for task_index, task_id in enumerate(task_ids):
                due = started + round_index * ROUND_SECONDS + task_index * gap
                time.sleep(max(0.0, due - time.monotonic()))
                self.emit(task_id, "progress", {"round": round_index})

    def finish(self, task_ids: list[str]) -> None:
        for task_id in task_ids:
            self.emit(task_id, "done", {"status": "SUCCESS"})

    def close(self) -> None:
        self._store.close()


async def open_streams(
    session: aiohttp.ClientSession, server: Server, task_ids: list[str], count: int
) -> tuple[StreamStats, list[asyncio.Task[None]]]:
    """Open `count` streams spread over `task_ids`; return once all responded or failed."""
    stats = StreamStats()
    gate = asyncio.Semaphore(OPEN_CONCURRENCY)
    readers = [
        asyncio.create_task(
            follow(
                session,
                server.stream_url(task_ids[index % len(task_ids)]),
                server.headers,
                stats,
                gate,
            )
        )
        for index in range(count)
    ]
    deadline = time.monotonic() + CLOSE_TIMEOUT_SECONDS
    while stats.opened + stats.failed < count and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    return stats, readers


async def close_streams(
    emitter: Emitter, task_ids: list[str], readers: list[asyncio.Task[None]]
) -> None:
    await asyncio.to_thread(emitter.finish, task_ids)
    _, pending = await asyncio.wait(readers, timeout=CLOSE_TIMEOUT_SECONDS)
    for reader in pending:
        reader.cancel()


async def warm_pools(session: aiohttp.ClientSession, server: Server, task_id: str) -> None:
    gate = asyncio.Semaphore(OPEN_CONCURRENCY)

    async def read() -> None:
        async with gate, session.get(server.read_url(task_id), headers=server.headers) as response:
            await response.read()

    await asyncio.gather(*(read() for _ in range(WARM_UP_READS)))


def new_session() -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=None)
    return aiohttp.ClientSession(connector=connector, timeout=timeout)


async def measure_memory(server: Server, emitter: Emitter, sizes: list[int]) -> dict[int, float]:
    """Return KiB of server memory per idle stream for each cumulative stream count."""
    per_stream: dict[int, float] = {}
    async with new_session() as session:
        warm_task = server.new_task()
        _, readers = await open_streams(session, server, [warm_task], 2)
        await close_streams(emitter, [warm_task], readers)
        await warm_pools(session, server, warm_task)
        await asyncio.sleep(SETTLE_SECONDS)
        base = rss_kib(server.pid)
        task_ids = [server.new_task() for _ in range(math.ceil(max(sizes) / STREAMS_PER_TASK))]
        all_readers: list[asyncio.Task[None]] = []
        opened = 0
        failed = 0
        for size in sorted(sizes):
            stats, readers = await open_streams(session, server, task_ids, size - opened)
            all_readers += readers
            opened, failed = size, failed + stats.failed
            await asyncio.sleep(SETTLE_SECONDS)
            delta = rss_kib(server.pid) - base
            per_stream[size] = delta / size
            print(
                f"{server.name}: {size} idle streams ({failed} failed to open), "
                f"RSS +{delta / 1024:.1f} MiB, {delta / size:.1f} KiB per stream",
                flush=True,
            )
        await close_streams(emitter, task_ids, all_readers)
    return per_stream


async def measure_latency(
    server: Server, emitter: Emitter, size: int, rounds: int
) -> tuple[list[float], StreamStats]:
    task_ids = [server.new_task() for _ in range(math.ceil(size / STREAMS_PER_TASK))]
    async with new_session() as session:
        stats, readers = await open_streams(session, server, task_ids, size)
        await asyncio.sleep(SETTLE_SECONDS)
        await asyncio.to_thread(emitter.rounds, task_ids, rounds)
        await close_streams(emitter, task_ids, readers)
    return stats.latencies_ms, stats


def describe_latency(latencies: list[float], stats: StreamStats, expected: int) -> str:
    if not latencies:
        return f"no events received ({stats.failed} streams failed)"
    text = f"p50 {median(latencies):.1f} ms, p99 {percentile(latencies, 0.99):.1f} ms"
    missing = expected - len(latencies)
    if missing or stats.failed:
        text += f", {missing} events missing, {stats.failed} streams failed"
    return text


def run_server_phases(
    server: Server, emitter: Emitter, sizes: list[int], rounds: int
) -> tuple[dict[int, float], dict[int, tuple[list[float], StreamStats]]]:
    memory = asyncio.run(measure_memory(server, emitter, sizes))
    latency = {}
    for size in sizes:
        latencies, stats = asyncio.run(measure_latency(server, emitter, size, rounds))
        latency[size] = (latencies, stats)
        expected = size * rounds
        print(
            f"{server.name}: {size} live streams: {describe_latency(latencies, stats, expected)}",
            flush=True,
        )
    return memory, latency


def bench_streaming(bench: BenchEnv, sizes: list[int], rounds: int) -> list[Row]:
    emitter = Emitter(bench)
    api, api_url = start_server(
        bench, "gl_deep_research.api.main:app", "api-stream", CELERY_QUEUE_NAME=bench.new_queue()
    )
    try:
        key = create_account(api_url)
        client = httpx.Client(base_url=api_url, headers={"X-API-Key": key}, timeout=30)

        def new_task() -> str:
            response = client.post("/v1/tasks", data={"query": "streaming benchmark"})
            response.raise_for_status()
            return str(response.json()["task_id"])

        ours = Server(
            name="ours",
            pid=api.process.pid,
            stream_url=lambda task_id: f"{api_url}/v1/tasks/{task_id}/stream",
            headers={"X-API-Key": key},
            new_task=new_task,
            read_url=lambda task_id: f"{api_url}/v1/tasks/{task_id}",
        )
        our_memory, our_latency = run_server_phases(ours, emitter, sizes, rounds)
        client.close()
    finally:
        api.stop()

    baseline, baseline_url = start_server(bench, "bench.baseline_app:app", "baseline-stream")
    try:
        bare = Server(
            name="bare",
            pid=baseline.process.pid,
            stream_url=lambda task_id: f"{baseline_url}/sse/{task_id}",
            headers={},
            new_task=lambda: str(uuid.uuid4()),
            read_url=lambda task_id: f"{baseline_url}/v1/tasks/{task_id}",
        )
        bare_memory, bare_latency = run_server_phases(bare, emitter, sizes, rounds)
    finally:
        baseline.stop()
        emitter.close()

    rows = []
    for size in sizes:
        latencies, stats = our_latency[size]
        bare_latencies, bare_stats = bare_latency[size]
        expected = size * rounds
        p99 = percentile(latencies, 0.99) if latencies else math.inf
        complete = len(latencies) == expected and stats.failed == 0
        rows.append(
            Row(
                "Streaming",
                "event delivery latency, live streams",
                f"{size} streams, {rounds} events each",
                describe_latency(latencies, stats, expected),
                describe_latency(bare_latencies, bare_stats, expected),
                "p99 < 200 ms",
                verdict(p99 < TARGET_P99_MS and complete, f"p99 {p99:.1f} ms"),
            )
        )
    for size in sizes:
        rows.append(
            Row(
                "Streaming",
                "server memory per idle stream",
                f"{size} streams",
                f"{our_memory[size]:.1f} KiB",
                f"{bare_memory[size]:.1f} KiB",
                "< 64 KiB",
                verdict(our_memory[size] < TARGET_IDLE_KIB, f"{our_memory[size]:.1f} KiB"),
            )
        )
    return rows
