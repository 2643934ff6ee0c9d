"""Client-side load for fault tests: many clients submitting with idempotency keys.

Each client retries a submission with the same `Idempotency-Key` until the
API accepts it, as a careful client would when a request fails or its answer
is lost. Every failed attempt is recorded with its time, so a test can bound
the window in which clients saw errors.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field

import httpx
import psycopg

RETRYABLE_STATUSES = {429, 500, 502, 503, 504}
FINAL_STATUSES = ("SUCCESS", "FAILURE", "REVOKED")


@dataclass(frozen=True)
class ClientError:
    """One failed attempt: the moment (monotonic seconds) and what the client saw."""

    at: float
    what: str


@dataclass
class LoadReport:
    """Outcome of a load run, from the clients' side."""

    accepted: dict[str, str] = field(default_factory=dict)  # idempotency key -> task id
    errors: list[ClientError] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)  # keys answered with a non-retryable 4xx
    replays: int = 0  # deliberate resubmissions of an accepted key
    replay_mismatches: list[str] = field(default_factory=list)
    attempts: int = 0
    seconds: float = 0.0

    @property
    def error_window(self) -> float:
        """Seconds from the first to the last client error; 0 when there was none."""
        if not self.errors:
            return 0.0
        moments = [error.at for error in self.errors]
        return max(moments) - min(moments)

    def error_kinds(self) -> dict[str, int]:
        kinds: dict[str, int] = {}
        for error in self.errors:
            kinds[error.what] = kinds.get(error.what, 0) + 1
        return kinds


class LoadRun:
    """Clients in threads submitting tasks until `count` are accepted or `stop()` is called.

    Every `replay_every`-th accepted key is submitted once more, as a client
    does when the answer to an accepted request was lost; the API must return
    the same task id.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        clients: int,
        count: int | None = None,
        profile: str | None = None,
        pause: float = 0.0,
        replay_every: int = 10,
        deadline: float = 600.0,
    ) -> None:
        self.base_url = base_url
        self.api_key = api_key
        self.clients = clients
        self.count = count
        self.profile = profile
        self.pause = pause
        self.replay_every = replay_every
        self.deadline = deadline
        self.run_id = uuid.uuid4().hex[:8]
        self.report = LoadReport()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._next = 0
        self._threads: list[threading.Thread] = []
        self._started = 0.0

    def start(self) -> LoadRun:
        self._started = time.monotonic()
        for number in range(self.clients):
            thread = threading.Thread(target=self._client, name=f"load-client-{number}")
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> LoadReport:
        self._stop.set()
        return self.join()

    def join(self) -> LoadReport:
        for thread in self._threads:
            thread.join()
        self.report.seconds = time.monotonic() - self._started
        return self.report

    def accepted_count(self) -> int:
        with self._lock:
            return len(self.report.accepted)

    def _next_key(self) -> str | None:
        with self._lock:
            if self._stop.is_set() or (self.count is not None and self._next >= self.count):
                return None
            self._next += 1
            return f"{self.run_id}-{self._next:06d}"

    def _client(self) -> None:
        with httpx.Client(
            base_url=self.base_url,
            headers={"X-API-Key": self.api_key},
            timeout=httpx.Timeout(30.0, connect=5.0),
        ) as client:
            while (key := self._next_key()) is not None:
                task_id = self._submit(client, key)
                if task_id is None:
                    continue
                with self._lock:
                    self.report.accepted[key] = task_id
                    replay = len(self.report.accepted) % self.replay_every == 0
                if replay:
                    self._replay(client, key, task_id)
                if self.pause:
                    time.sleep(self.pause)

    def _submit(self, client: httpx.Client, key: str) -> str | None:
        """Send one submission until accepted; return the task id, or None when rejected."""
        backoff = 0.1
        data = {"query": f"What is the tide? Request {key}."}
        if self.profile:
            data["profile"] = self.profile
        while time.monotonic() - self._started < self.deadline:
            with self._lock:
                self.report.attempts += 1
            try:
                response = client.post("/v1/tasks", data=data, headers={"Idempotency-Key": key})
            except httpx.HTTPError as err:
                self._record(type(err).__name__)
            else:
                if response.status_code == 202:
                    return str(response.json()["task_id"])
                if response.status_code not in RETRYABLE_STATUSES:
                    with self._lock:
                        self.report.rejected.append(f"{key}: {response.status_code}")
                    return None
                self._record(f"HTTP {response.status_code}")
            time.sleep(backoff)
            backoff = min(backoff * 2, 2.0)
        with self._lock:
            self.report.rejected.append(f"{key}: client deadline of {self.deadline} s passed")
        return None

    def _replay(self, client: httpx.Client, key: str, task_id: str) -> None:
        replayed = self._submit(client, key)
        with self._lock:
            self.report.replays += 1
            if replayed != task_id:
                self.report.replay_mismatches.append(f"{key}: {task_id} then {replayed}")

    def _record(self, what: str) -> None:
        with self._lock:
            self.report.errors.append(ClientError(at=time.monotonic(), what=what))


@dataclass(frozen=True)
class TaskCounts:
    """What the tasks table holds for one account, read straight from PostgreSQL."""

    total: int
    distinct_keys: int
    by_status: dict[str, int]
    ids: frozenset[str]

    @property
    def duplicated(self) -> int:
        """Rows beyond one per idempotency key."""
        return self.total - self.distinct_keys

    @property
    def final(self) -> int:
        return sum(self.by_status.get(name, 0) for name in FINAL_STATUSES)


def count_tasks(database_url: str) -> TaskCounts:
    """Count the tasks of a test's own database by status, and rows per idempotency key."""
    with psycopg.connect(database_url, connect_timeout=5) as connection:
        rows = connection.execute("SELECT id::text, status, idempotency_key FROM tasks").fetchall()
    by_status: dict[str, int] = {}
    for _, task_status, _ in rows:
        by_status[task_status] = by_status.get(task_status, 0) + 1
    keys = {key for _, _, key in rows if key is not None}
    keyless = sum(1 for _, _, key in rows if key is None)
    return TaskCounts(
        total=len(rows),
        distinct_keys=len(keys) + keyless,
        by_status=by_status,
        ids=frozenset(task_id for task_id, _, _ in rows),
    )
