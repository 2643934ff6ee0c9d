"""GET /livez of a real Celery worker on the shared RabbitMQ.

The worker reaches RabbitMQ through a TCP proxy in this process, so the test
can cut the broker connection the way a broker outage does, and restore it.
Tasks are published to RabbitMQ directly.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from celery import Celery

from tests.service.liveness_app import HOLD_TASK_NAME
from tests.service.support import free_port, start_worker, wait_until

pytestmark = [pytest.mark.services, pytest.mark.slow, pytest.mark.timeout(420)]

# Short, so the stale case shows within seconds. Production uses 120 s.
MAX_AGE_SECONDS = 10


class BrokerProxy:
    """A TCP proxy on loopback to the broker that a test can cut and restore."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()

    def open(self) -> None:
        listener = socket.create_server(("127.0.0.1", self.port))
        # A timeout lets the accept loop see that `cut` closed the listener.
        listener.settimeout(0.2)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        """Close the listener and every proxied connection, as a broker that went away."""
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        with self._lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()

    def _accept(self, listener: socket.socket) -> None:
        while listener.fileno() != -1:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            client.settimeout(None)
            upstream.settimeout(None)
            with self._lock:
                self._connections += [client, upstream]
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        with contextlib.suppress(OSError):
            target.shutdown(socket.SHUT_WR)


@pytest.fixture
def broker_url(service_urls: dict[str, str]) -> str:
    return service_urls["CELERY_BROKER_URL"]


@pytest.fixture
def broker_proxy(broker_url: str) -> Iterator[BrokerProxy]:
    parts = urlsplit(broker_url)
    assert parts.hostname is not None
    proxy = BrokerProxy(parts.hostname, parts.port or 5672)
    proxy.open()
    yield proxy
    proxy.cut()


def proxied_url(broker_url: str, proxy: BrokerProxy) -> str:
    parts = urlsplit(broker_url)
    credentials = parts.netloc.rpartition("@")[0]
    return parts._replace(netloc=f"{credentials}@127.0.0.1:{proxy.port}").geturl()


class HoldTask:
    """Marker files through which the test detects a hold task's start and lets it finish."""

    def __init__(self, folder: Path, name: str) -> None:
        self.started = folder / f"{name}.started"
        self.release = folder / f"{name}.release"
        self.done = folder / f"{name}.done"

    def publish(self, broker_url: str, queue: str) -> None:
        publisher = Celery("liveness-test", broker=broker_url)
        try:
            args = [str(self.started), str(self.release), str(self.done)]
            publisher.send_task(HOLD_TASK_NAME, args=args, queue=queue)
        finally:
            publisher.close()


def livez_status(url: str) -> int:
    return httpx.get(url, timeout=5).status_code


def stale_response(url: str) -> httpx.Response | None:
    response = httpx.get(url, timeout=5)
    return response if response.status_code == 503 else None


def test_livez_follows_consumer(
    process_env: dict[str, str],
    log_dir: Path,
    tmp_path: Path,
    broker_url: str,
    broker_proxy: BrokerProxy,
) -> None:
    queue = f"liveness_{uuid.uuid4().hex[:8]}"
    port = free_port()
    env = {
        **process_env,
        "CELERY_BROKER_URL": proxied_url(broker_url, broker_proxy),
        "CELERY_QUEUE_NAME": queue,
        "WORKER_METRICS_PORT": str(port),
        "WORKER_LIVENESS_MAX_AGE_SECONDS": str(MAX_AGE_SECONDS),
        "WORKER_PREFETCH_MULTIPLIER": "1",
    }
    livez_url = f"http://127.0.0.1:{port}/livez"
    long_task = HoldTask(tmp_path, "long")
    after_reconnect = HoldTask(tmp_path, "after-reconnect")
    worker = start_worker(env, log_dir, "liveness", concurrency=1, app="tests.service.liveness_app")
    try:
        wait_until(lambda: livez_status(livez_url) == 200, timeout=60, what="GET /livez 200")
        body = httpx.get(livez_url, timeout=5).json()
        assert body["status"] == "ok"
        assert body["max_age_seconds"] == MAX_AGE_SECONDS

        # The only pool process runs a task for longer than the allowed
        # heartbeat age, while the consumer (acks late, prefetch 1) stays live.
        long_task.publish(broker_url, queue)
        wait_until(long_task.started.exists, timeout=60, what="long task started")
        held_since = time.monotonic()
        statuses = []
        while time.monotonic() - held_since < 2.5 * MAX_AGE_SECONDS:
            statuses.append(livez_status(livez_url))
            time.sleep(0.5)
        assert set(statuses) == {200}
        assert not long_task.done.exists()
        long_task.release.touch()
        wait_until(long_task.done.exists, timeout=60, what="long task done")

        # Without a broker the consumer reconnects in a loop and records no heartbeat.
        broker_proxy.cut()
        stale = wait_until(
            lambda: stale_response(livez_url),
            timeout=120,
            what="GET /livez 503 after the broker connection was cut",
        )
        assert stale.json()["status"] == "stale"
        assert stale.json()["heartbeat_age_seconds"] > MAX_AGE_SECONDS

        broker_proxy.open()
        wait_until(
            lambda: livez_status(livez_url) == 200,
            timeout=180,
            what="GET /livez 200 after the broker came back",
        )
        after_reconnect.release.touch()
        after_reconnect.publish(broker_url, queue)
        wait_until(after_reconnect.done.exists, timeout=60, what="task after the reconnect")
    except (AssertionError, TimeoutError):
        print(worker.log_text()[-4000:])
        raise
    finally:
        long_task.release.touch()
        worker.stop()
