"""Fixtures that give e2e tests a Kubernetes API server.

By default the session starts a local control plane from the binaries of
scripts/k8s/build.sh (see e2e/controlplane.py) and stops it at the end. With
GLDR_E2E_USE_KUBECONFIG=1 the tests use the cluster of $KUBECONFIG instead,
for example a kind cluster, and start nothing.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import pytest
from lightkube import ApiError, Client
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Namespace, ServiceAccount

from e2e import controlplane
from e2e.kube import lightkube_client, wait_for


def uses_external_cluster() -> bool:
    """Return whether GLDR_E2E_USE_KUBECONFIG=1 selects the cluster of $KUBECONFIG."""
    return os.environ.get("GLDR_E2E_USE_KUBECONFIG") == "1"


class _LocalControlPlane:
    """Stop the control plane of one state folder exactly once: at teardown, exit or SIGTERM."""

    def __init__(self) -> None:
        self.state_dir = Path(tempfile.mkdtemp(prefix="gldr-e2e-k8s-"))
        self.keep_state = os.environ.get("GLDR_E2E_KEEP_STATE") == "1"
        self.stopped = False
        self.previous_handlers: dict[int, object] = {}

    def install(self) -> None:
        atexit.register(self.stop)
        for signum in (signal.SIGTERM, signal.SIGHUP):
            self.previous_handlers[signum] = signal.signal(signum, self._on_signal)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stop()
        # Restore the earlier handler and send the signal again, so the
        # process ends the way it would have without this fixture.
        signal.signal(signum, self.previous_handlers[signum])  # type: ignore[arg-type]
        os.kill(os.getpid(), signum)

    def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        controlplane.stop(self.state_dir)
        if self.keep_state:
            print(f"\nkept control plane state and logs in {self.state_dir}")
        else:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def uninstall(self) -> None:
        atexit.unregister(self.stop)
        for signum, handler in self.previous_handlers.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def kubeconfig() -> Iterator[Path]:
    """Path of an admin kubeconfig for the session's cluster.

    Starts the local control plane unless GLDR_E2E_USE_KUBECONFIG=1. The
    control plane stops when the session ends, when the test process exits,
    on SIGTERM or SIGHUP, and, through the parent-death signal, even when the
    test process is killed. Set GLDR_E2E_KEEP_STATE=1 to keep its logs.
    """
    if uses_external_cluster():
        path = os.environ.get("KUBECONFIG")
        if not path:
            pytest.fail("GLDR_E2E_USE_KUBECONFIG=1 is set, but KUBECONFIG is empty")
        yield Path(path)
        return

    local = _LocalControlPlane()
    local.install()
    try:
        started = controlplane.start(local.state_dir, end_with_parent=True)
        yield started.kubeconfig
    finally:
        local.stop()
        local.uninstall()


@pytest.fixture(scope="session")
def k8s_client(kubeconfig: Path) -> Client:
    """lightkube Client for the session's cluster, with the field manager gldr-e2e."""
    return lightkube_client(kubeconfig)


@pytest.fixture
def namespace(k8s_client: Client) -> Iterator[str]:
    """Name of a fresh namespace, deleted after the test.

    Waits for the namespace's default ServiceAccount, because the API server
    rejects pods in a namespace until the controller manager has created it.
    """
    name = f"e2e-{uuid.uuid4().hex[:10]}"
    k8s_client.create(Namespace(metadata=ObjectMeta(name=name, labels={"gldr-e2e": "true"})))

    def default_service_account() -> ServiceAccount | None:
        try:
            return k8s_client.get(ServiceAccount, "default", namespace=name)
        except ApiError as error:
            if error.status.code == 404:
                return None
            raise

    try:
        wait_for(f"ServiceAccount default in namespace {name}", default_service_account)
        yield name
    finally:
        k8s_client.delete(Namespace, name)
