"""The benchmark's own slice of the local services, and the processes that use it.

Benchmarks share PostgreSQL, Redis and RabbitMQ (`scripts/services.sh`) with
the test suite, so they use their own database (`gldr_bench`, dropped and
created again on each run), Redis database 9 and Celery queues named
`bench_<random>`, and never touch the test suite's.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import redis
from tests.service.support import REPO_ROOT, ChildProcess, free_port, wait_until

from gl_deep_research.db.migrate import upgrade_database
from gl_deep_research.settings import Settings

DATABASE_NAME = "gldr_bench"
REDIS_DB = 9
MASTER_KEY = "bench-master-key-0123456789"
# Variables that would point a child process at a real LLM or search service.
REMOVED_VARIABLES = ("TONGYI_BASE_URL", "SEA_LION_BASE_URL", "SMARTSEARCH_BASE_URL", "SEARXNG_URL")


@dataclass
class BenchEnv:
    """Environment and paths shared by every benchmark of one run."""

    values: dict[str, str]
    database_url: str
    log_dir: Path
    queues: list[str] = field(default_factory=list)

    def child_env(self, **overrides: str) -> dict[str, str]:
        """Return the full environment of a child process: PATH and the venv plus ours."""
        env = {**os.environ, **self.values, **overrides}
        for name in REMOVED_VARIABLES:
            env.pop(name, None)
        return env

    def new_queue(self) -> str:
        """Return a fresh Celery queue name; `delete_queues` removes it at the end."""
        name = f"bench_{uuid.uuid4().hex[:8]}"
        self.queues.append(name)
        return name

    def redis_client(self) -> redis.Redis:
        return redis.Redis(
            host=self.values["REDIS_HOST"], port=int(self.values["REDIS_PORT"]), db=REDIS_DB
        )


def read_service_urls() -> dict[str, str]:
    """Return the variables that `scripts/services.sh env` prints."""
    output = subprocess.run(
        ["bash", str(REPO_ROOT / "scripts" / "services.sh"), "env"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    values = {}
    for line in output.splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        values[name] = value
    return values


def prepare(log_dir: Path) -> BenchEnv:
    """Create the `gldr_bench` database afresh, migrate it and empty Redis database 9."""
    urls = read_service_urls()
    admin_url = urls["GL_DEEP_RESEARCH_DB_URL"]
    try:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=3) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{DATABASE_NAME}" WITH (FORCE)')
            connection.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
    except psycopg.OperationalError as err:
        raise SystemExit(
            f"PostgreSQL at {admin_url} is not reachable ({err}); start the services with "
            "`scripts/services.sh up`."
        ) from err
    database_url = admin_url.rsplit("/", 1)[0] + "/" + DATABASE_NAME

    data_dir = log_dir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    values = {
        **urls,
        "GL_DEEP_RESEARCH_DB_URL": database_url,
        "REDIS_DB": str(REDIS_DB),
        "CELERY_QUEUE_NAME": "bench_unset",
        "GL_DEEP_RESEARCH_MASTER_API_KEY": MASTER_KEY,
        "GLDR_SECRET": "bench-secret-for-webhooks",
        "GLDR_DATA_DIR": str(data_dir),
        "PROFILES_CONFIG_PATH": str(REPO_ROOT / "profiles.yaml"),
        # Production's INFO level writes a line per task; the baseline app logs nothing.
        "LOG_LEVEL": "WARNING",
        # The API benchmark creates thousands of tasks that no worker runs.
        "ACCOUNT_MAX_ACTIVE_TASKS": "10000000",
    }
    upgrade_database(Settings(**{name.lower(): value for name, value in values.items()}))

    bench = BenchEnv(values=values, database_url=database_url, log_dir=log_dir)
    bench.redis_client().flushdb()
    return bench


def delete_queues(bench: BenchEnv) -> None:
    """Delete the Celery queues this run declared, with the messages left in them."""
    from kombu import Connection

    with Connection(bench.values["CELERY_BROKER_URL"]) as connection:
        channel = connection.default_channel
        for name in bench.queues:
            channel.queue_delete(name)


def start_server(bench: BenchEnv, app_path: str, name: str, **env: str) -> tuple[ChildProcess, str]:
    """Start `bench.serve` for an ASGI app and wait until `/health` returns 200."""
    port = free_port()
    argv = [sys.executable, "-m", "bench.serve", app_path, "--port", str(port)]
    process = ChildProcess(argv, bench.child_env(**env), bench.log_dir / f"{name}-{port}.log")
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: httpx.get(f"{base_url}/health", timeout=1).status_code == 200,
            timeout=60,
            what=f"{name} /health",
        )
    except TimeoutError:
        process.stop()
        raise RuntimeError(f"{name} did not start:\n{process.log_text()[-3000:]}") from None
    return process, base_url


def start_celery_worker(
    bench: BenchEnv, app_module: str, queue: str, name: str, concurrency: int = 2
) -> ChildProcess:
    """Start a Celery worker on `queue` with prefetch multiplier 1, as `gldr worker` does."""
    argv = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        app_module,
        "worker",
        "--loglevel=INFO",
        f"--concurrency={concurrency}",
        "--prefetch-multiplier=1",
        "-Q",
        queue,
        "-n",
        f"{name}-{uuid.uuid4().hex[:8]}@%h",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    # INFO, because the readiness check looks for Celery's " ready." line.
    env = bench.child_env(CELERY_QUEUE_NAME=queue, LOG_LEVEL="INFO")
    process = ChildProcess(argv, env, bench.log_dir / f"worker-{name}.log")
    try:
        wait_until(lambda: " ready." in process.log_text(), timeout=90, what=f"{name} ready")
    except TimeoutError:
        process.stop()
        raise RuntimeError(f"worker {name} did not start:\n{process.log_text()[-3000:]}") from None
    return process


def create_account(base_url: str) -> str:
    """Create an account with the master key and return its API key."""
    response = httpx.post(
        f"{base_url}/v1/accounts/",
        headers={"X-API-Key": MASTER_KEY},
        json={"name": f"bench-{uuid.uuid4().hex[:8]}"},
        timeout=30,
    )
    response.raise_for_status()
    return str(response.json()["data"]["api_key"])


def rss_kib(pid: int) -> int:
    """Return the resident set size of a process in KiB, from /proc/<pid>/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/{pid}/status has no VmRSS line; is the process a zombie?")
