"""Helpers for the operator's e2e tests: CRDs, the operator process, example objects.

The operator runs as a subprocess (`gldr-operator run`) against the
session's kubeconfig, so a test can kill and restart it like a pod. It
listens only on loopback ports for liveness and metrics.
"""

from __future__ import annotations

import contextlib
import copy
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import yaml
from lightkube import ApiError, Client
from lightkube.codecs import from_dict
from lightkube.resources.apiextensions_v1 import CustomResourceDefinition
from lightkube.resources.core_v1 import PersistentVolume

from e2e.controlplane import free_port
from e2e.kube import wait_for

REPO = Path(__file__).resolve().parent.parent
# Short, so drift tests finish quickly; production uses 60 s.
DRIFT_INTERVAL = 3.0
STORAGE_CLASS = "gldr-e2e-static"


def load(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if isinstance(doc, dict)]


def apply(client: Client, document: dict[str, Any], namespace: str | None = None) -> None:
    document = copy.deepcopy(document)
    if namespace is not None:
        document.setdefault("metadata", {})["namespace"] = namespace
    client.apply(from_dict(document), force=True)


def install_crds(k8s_client: Client) -> None:
    """Install the CRDs from crds/ and wait until the API server serves them."""
    names = []
    for path in sorted((REPO / "crds").glob("*.yaml")):
        for document in load(path):
            apply(k8s_client, document)
            names.append(document["metadata"]["name"])

    def established(name: str) -> bool:
        crd = k8s_client.get(CustomResourceDefinition, name)
        conditions = crd.status.conditions if crd.status else None
        return any(c.type == "Established" and c.status == "True" for c in conditions or [])

    for name in names:
        wait_for(f"CRD {name} established", lambda name=name: established(name))


class OperatorProcess:
    """A `gldr-operator run` subprocess watching one namespace."""

    def __init__(self, kubeconfig: Path, namespace: str, log_path: Path) -> None:
        self.kubeconfig = kubeconfig
        self.namespace = namespace
        self.log_path = log_path
        self.metrics_port = free_port()
        self.liveness_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig)}
        command = [
            sys.executable,
            "-m",
            "gldr_operator.cli",
            "run",
            "--namespace",
            self.namespace,
            "--drift-interval",
            str(DRIFT_INTERVAL),
            "--metrics-port",
            str(self.metrics_port),
            "--liveness",
            f"http://127.0.0.1:{self.liveness_port}/healthz",
        ]
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        wait_for("operator liveness endpoint", self._alive, timeout=60)

    def _alive(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"operator exited early; log:\n{self.log_tail()}")
        try:
            url = f"http://127.0.0.1:{self.liveness_port}/healthz"
            return httpx.get(url, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self) -> None:
        """SIGKILL, as the kubelet does after a failed liveness probe."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def metric_total(self, name: str) -> float:
        """Sum of every series of the counter `name` on the metrics endpoint."""
        text = httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5).text
        pattern = re.compile(rf"^{name}(?:\{{[^}}]*\}})? (\S+)$", re.MULTILINE)
        return sum(float(value) for value in pattern.findall(text))

    def writes(self) -> float:
        """Write requests the reconciler sent, from gldr_operator_api_writes_total."""
        return self.metric_total("gldr_operator_api_writes_total")

    def log_tail(self, lines: int = 60) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@contextlib.contextmanager
def running_operator(kubeconfig: Path, namespace: str, tmp_path: Path) -> Iterator[OperatorProcess]:
    process = OperatorProcess(kubeconfig, namespace, tmp_path / "operator.log")
    process.start()
    try:
        yield process
    finally:
        process.stop()
        if os.environ.get("GLDR_E2E_SHOW_OPERATOR_LOG") == "1":
            print(process.log_tail(200))


@contextlib.contextmanager
def static_volumes(k8s_client: Client) -> Iterator[None]:
    """Two hostPath PersistentVolumes for the managed Redis and RabbitMQ claims.

    The local control plane has no storage provisioner, so the claims bind
    to these static volumes of a dedicated storage class.
    """
    names = []
    for index in range(2):
        name = f"gldr-e2e-{uuid.uuid4().hex[:8]}-{index}"
        pv = {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": name},
            "spec": {
                "capacity": {"storage": "20Gi"},
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": STORAGE_CLASS,
                "hostPath": {"path": f"/tmp/{name}"},
            },
        }
        apply(k8s_client, pv)
        names.append(name)
    yield
    for name in names:
        try:
            k8s_client.delete(PersistentVolume, name)
        except ApiError as err:
            if err.status.code != 404:
                raise


def example_deployment() -> dict[str, Any]:
    """The minimal example with small resources and the static storage class."""
    deployment = load(REPO / "examples" / "deployment-minimal.yaml")[0]
    small = {
        "requests": {"cpu": "100m", "memory": "128Mi"},
        "limits": {"cpu": "500m", "memory": "512Mi"},
    }
    storage = {"storageClassName": STORAGE_CLASS, "size": "1Gi"}
    deployment["spec"]["api"] = {"resources": small}
    deployment["spec"]["worker"] = {"resources": small}
    deployment["spec"]["beat"] = {"resources": small}
    deployment["spec"]["redis"] = {"managed": {"resources": small, "storage": storage}}
    deployment["spec"]["rabbitmq"] = {"managed": {"resources": small, "storage": storage}}
    return deployment


def apply_examples(client: Client, namespace: str) -> dict[str, Any]:
    for document in load(REPO / "examples" / "secrets.yaml") + load(
        REPO / "examples" / "profiles.yaml"
    ):
        apply(client, document, namespace)
    deployment = example_deployment()
    apply(client, deployment, namespace)
    return deployment


def wait_until(description: str, probe: Any, timeout: float = 60.0) -> Any:
    return wait_for(description, probe, timeout=timeout, interval=0.5)


def now() -> float:
    return time.monotonic()
