"""The operator on the local control plane (e2e/controlplane.py, with kwok nodes).

- Deployment: apply the minimal example (Secrets, three ResearchProfiles, a
  DeepResearchDeployment), then time until every child exists and until the
  deployment's `status.phase` is Ready. Baseline: the same children, rendered
  by `gldr_operator.preview` without owner references, applied directly by
  the client, timed until created and until their workloads are ready.
- No-op resync: writes the reconciler sent (its `gldr_operator_api_writes_total`
  metric) over four drift intervals after Ready. Target 0.
- Profiles: apply N ResearchProfiles at once and time until the deployment's
  `status.profiles` lists them all. Baseline: the time the client takes to
  apply them, which the operator cannot beat.
- Memory: resident set of the operator process after each step. Baseline: a
  bare kopf operator (`bench.kopf_baseline`) after it has seen the same
  objects.
"""

from __future__ import annotations

import copy
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from e2e import controlplane
from e2e.kube import lightkube_client
from e2e.operator_fixtures import (
    DRIFT_INTERVAL,
    REPO,
    OperatorProcess,
    apply,
    example_deployment,
    install_crds,
    load,
    static_volumes,
)
from lightkube import ApiError, Client
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.apps_v1 import Deployment, StatefulSet
from lightkube.resources.batch_v1 import Job
from lightkube.resources.core_v1 import Namespace

from bench.report import Row, verdict
from bench.services import rss_kib
from gldr_operator.kube import DeepResearchDeploymentResource as DRD
from gldr_operator.preview import render_documents

NAME = "research"
POLL_SECONDS = 0.1
WAIT_SECONDS = 300.0
NOOP_INTERVALS = 4


def wait_for(description: str, probe: Callable[[], bool]) -> float:
    """Poll `probe` until it is true; return the time.monotonic() of that moment."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if probe():
            return time.monotonic()
        time.sleep(POLL_SECONDS)
    raise TimeoutError(f"{description} not reached within {WAIT_SECONDS:.0f} s")


def create_namespace(client: Client) -> str:
    name = f"bench-{uuid.uuid4().hex[:6]}"
    client.create(Namespace(metadata=ObjectMeta(name=name)))
    return name


def example_documents() -> list[dict[str, Any]]:
    """Secrets, the three example profiles and the minimal deployment, in apply order."""
    secrets = load(REPO / "examples" / "secrets.yaml")
    profiles = load(REPO / "examples" / "profiles.yaml")
    return [*secrets, *profiles, example_deployment()]


def rendered_children(namespace: str) -> list[dict[str, Any]]:
    documents = [("bench", copy.deepcopy(document)) for document in example_documents()]
    for _, document in documents:
        document["metadata"]["namespace"] = namespace
    children = render_documents(documents)
    for child in children:
        # The placeholder owner does not exist; the garbage collector would delete the child.
        child["metadata"].pop("ownerReferences", None)
    return children


def exists(client: Client, child: dict[str, Any], namespace: str) -> bool:
    from lightkube.generic_resource import get_generic_resource
    from lightkube.resources import apps_v1, batch_v1, core_v1, networking_v1, policy_v1

    modules = (core_v1, apps_v1, batch_v1, networking_v1, policy_v1)
    kind = next((getattr(m, child["kind"]) for m in modules if hasattr(m, child["kind"])), None)
    if kind is None:
        kind = get_generic_resource(child["apiVersion"], child["kind"])
    try:
        client.get(kind, child["metadata"]["name"], namespace=namespace)
    except ApiError as err:
        if err.status.code == 404:
            return False
        raise
    return True


def workloads_ready(client: Client, namespace: str) -> bool:
    for kind in (Deployment, StatefulSet):
        for item in client.list(kind, namespace=namespace):
            expected = item.spec.replicas if item.spec.replicas is not None else 1
            if (item.status.readyReplicas or 0) < expected:
                return False
    return all((job.status.succeeded or 0) >= 1 for job in client.list(Job, namespace=namespace))


def deployment_status(client: Client, namespace: str) -> dict[str, Any]:
    return dict(client.get(DRD, NAME, namespace=namespace).get("status") or {})


def profile_document(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "research.gdplabs.id/v1alpha1",
        "kind": "ResearchProfile",
        "metadata": {"name": name},
        "spec": {"provider": "local", "description": "Benchmark profile", "params": {}},
    }


def mib(kib: int) -> str:
    return f"{kib / 1024:.0f} MiB"


class OperatorRun:
    """Our operator on one namespace, with the figures measured on it."""

    def __init__(self, client: Client, kubeconfig: Path, log_dir: Path) -> None:
        self.client = client
        self.namespace = create_namespace(client)
        self.process = OperatorProcess(kubeconfig, self.namespace, log_dir / "operator.log")

    def deploy(self) -> tuple[float, float]:
        """Apply the example; return seconds to all children created and to Ready."""
        children = rendered_children(self.namespace)
        started = time.monotonic()
        for document in example_documents():
            apply(self.client, document, self.namespace)
        created = wait_for(
            "all children created",
            lambda: all(exists(self.client, child, self.namespace) for child in children),
        )
        ready = wait_for(
            "DeepResearchDeployment Ready",
            lambda: deployment_status(self.client, self.namespace).get("phase") == "Ready",
        )
        return created - started, ready - started

    def noop_writes(self) -> float:
        before = self.process.writes()
        time.sleep(NOOP_INTERVALS * DRIFT_INTERVAL + 1)
        return self.process.writes() - before

    def add_profiles(self, prefix: str, count: int) -> tuple[float, float, float]:
        """Apply `count` profiles; return apply seconds, seconds to status, API writes."""
        names = [f"{prefix}-{index}" for index in range(count)]
        before = self.process.writes()
        started = time.monotonic()
        for name in names:
            apply(self.client, profile_document(name), self.namespace)
        applied = time.monotonic()

        def listed() -> bool:
            profiles = set(deployment_status(self.client, self.namespace).get("profiles") or [])
            return profiles.issuperset(names)

        reconciled = wait_for(f"{count} profiles in status.profiles", listed)
        return applied - started, reconciled - started, self.process.writes() - before


def direct_baseline(client: Client) -> tuple[float, float]:
    """Apply the rendered children directly; return seconds to created and to ready."""
    namespace = create_namespace(client)
    children = rendered_children(namespace)
    started = time.monotonic()
    for document in example_documents()[:-1]:
        apply(client, document, namespace)
    for child in children:
        apply(client, child, namespace)
    created = time.monotonic()
    ready = wait_for("directly applied workloads ready", lambda: workloads_ready(client, namespace))
    return created - started, ready - started


def kopf_baseline_rss(kubeconfig: Path, namespace: str, log_dir: Path) -> int:
    """Run the bare kopf operator until it has handled the namespace; return its RSS in KiB."""
    log_path = log_dir / "kopf-baseline.log"
    command = [
        sys.executable,
        "-m",
        "kopf",
        "run",
        "--standalone",
        "--namespace",
        namespace,
        str(Path(__file__).with_name("kopf_baseline.py")),
    ]
    env = {"KUBECONFIG": str(kubeconfig), "PATH": "/usr/bin:/bin"}
    with log_path.open("ab") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(
            "kopf baseline handled the objects",
            lambda: log_path.read_text(errors="replace").count("succeeded") > 0,
        )
        time.sleep(3 * DRIFT_INTERVAL)
        return rss_kib(process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def bench_operator(log_dir: Path, sizes: list[int]) -> list[Row]:
    state_dir = log_dir / "k8s"
    plane = controlplane.start(state_dir, end_with_parent=True)
    rows: list[Row] = []
    try:
        client = lightkube_client(plane.kubeconfig)
        install_crds(client)
        ours = OperatorRun(client, plane.kubeconfig, log_dir)
        ours.process.start()
        try:
            with static_volumes(client):
                created, ready = ours.deploy()
                print(f"operator: children created in {created:.1f} s, Ready in {ready:.1f} s")
                with static_volumes(client):
                    base_created, base_ready = direct_baseline(client)
                print(f"direct apply: created in {base_created:.1f} s, ready {base_ready:.1f} s")
                rows.append(
                    Row(
                        "Operator",
                        "apply to all children created",
                        "1 DeepResearchDeployment, 18 children",
                        f"{created:.1f} s",
                        f"direct apply of the rendered children: {base_created:.1f} s",
                        "none",
                        "",
                    )
                )
                rows.append(
                    Row(
                        "Operator",
                        "apply to Ready",
                        "1 DeepResearchDeployment",
                        f"{ready:.1f} s",
                        f"direct apply until workloads ready: {base_ready:.1f} s",
                        "none",
                        "",
                    )
                )
                writes = ours.noop_writes()
                print(f"operator: {writes:.0f} API writes over {NOOP_INTERVALS} drift intervals")
                rows.append(
                    Row(
                        "Operator",
                        "API writes on no-op resync",
                        f"{NOOP_INTERVALS} drift intervals of {DRIFT_INTERVAL:.0f} s",
                        f"{writes:.0f}",
                        "0",
                        "0",
                        verdict(writes == 0, f"{writes:.0f} writes"),
                    )
                )
                memory = [("after Ready", rss_kib(ours.process.process.pid))]  # type: ignore[union-attr]
                for size in sizes:
                    applied, reconciled, writes = ours.add_profiles(f"bench-{size}", size)
                    print(
                        f"operator: {size} profiles applied in {applied:.1f} s, in status after "
                        f"{reconciled:.1f} s, {writes:.0f} API writes"
                    )
                    rows.append(
                        Row(
                            "Operator",
                            "apply N ResearchProfiles to all in status",
                            f"{size} profiles",
                            f"{reconciled:.1f} s, {writes:.0f} API writes",
                            f"client apply alone: {applied:.1f} s",
                            "none",
                            "",
                        )
                    )
                    memory.append(
                        (f"after +{size} profiles", rss_kib(ours.process.process.pid))  # type: ignore[union-attr]
                    )
        finally:
            ours.process.stop()
        bare = kopf_baseline_rss(plane.kubeconfig, ours.namespace, log_dir)
        for label, kib in memory:
            print(f"operator RSS {label}: {mib(kib)}")
        rows.append(
            Row(
                "Operator",
                "operator resident memory",
                "; ".join(label for label, _ in memory),
                "; ".join(mib(kib) for _, kib in memory),
                f"bare kopf, no-op handlers, same objects: {mib(bare)}",
                "none",
                "",
            )
        )
    finally:
        controlplane.stop(state_dir)
    return rows
