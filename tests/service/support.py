"""Helpers for service tests: child processes, waiting, and HTTP calls."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(
    check: Callable[[], T | None], timeout: float, interval: float = 0.1, what: str = "condition"
) -> T:
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = check()
        except Exception as err:  # a service that is still starting raises; keep waiting
            last_error = err
            value = None
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"{what} not reached within {timeout} s (last error: {last_error!r})")


class ChildProcess:
    """A service process in its own process group, so SIGKILL reaches every child."""

    def __init__(self, argv: list[str], env: dict[str, str], log_path: Path) -> None:
        self.argv = argv
        self.log_path = log_path
        self._log = log_path.open("ab")
        self.process = subprocess.Popen(
            argv,
            env=env,
            cwd=REPO_ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        # A prefork pool child can outlive a SIGKILLed parent; end the whole group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self._log.close()


def start_api(env: dict[str, str], log_dir: Path) -> tuple[ChildProcess, str]:
    port = free_port()
    argv = [
        "uvicorn",
        "gl_deep_research.api.main:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    process = ChildProcess(argv, env, log_dir / f"api-{port}.log")
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: httpx.get(f"{base_url}/health", timeout=1).status_code == 200,
            timeout=60,
            what="API /health",
        )
    except TimeoutError:
        process.stop()
        raise AssertionError(f"API did not start:\n{process.log_text()[-3000:]}") from None
    return process, base_url


def start_worker(
    env: dict[str, str],
    log_dir: Path,
    name: str,
    concurrency: int = 2,
    app: str = "gl_deep_research.worker.celery_app",
) -> ChildProcess:
    argv = [
        "celery",
        "-A",
        app,
        "worker",
        "--loglevel=INFO",
        f"--concurrency={concurrency}",
        "-Q",
        env["CELERY_QUEUE_NAME"],
        "-n",
        # Unique, because a second worker with the same name cannot claim its
        # remote-control queue while the first is connected.
        f"{name}-{uuid.uuid4().hex[:8]}@%h",
        "--without-gossip",
        "--without-mingle",
    ]
    process = ChildProcess(argv, env, log_dir / f"worker-{name}.log")
    try:
        wait_until(lambda: " ready." in process.log_text(), timeout=90, what="worker ready")
    except TimeoutError:
        process.stop()
        raise AssertionError(f"worker did not start:\n{process.log_text()[-3000:]}") from None
    return process


def parse_sse(text: str) -> list[dict[str, Any]]:
    """Split an SSE body into messages: {"id", "event", "data"}; comments are dropped."""
    messages = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        message: dict[str, Any] = {}
        for line in block.split("\n"):
            if not line or line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            message[field] = value[1:] if value.startswith(" ") else value
        if message:
            messages.append(message)
    return messages
