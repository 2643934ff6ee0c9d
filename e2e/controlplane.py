"""Start and stop a local Kubernetes control plane from the binaries of scripts/k8s/build.sh.

The control plane runs etcd, kube-apiserver, kube-controller-manager,
kube-scheduler and kwok as processes on 127.0.0.1, and kwok plays three fake
nodes, so pods are scheduled and reach Running and Ready without containers.
Every file (certificates, kubeconfigs, etcd data, logs, pid files) lives in one
state folder, and `stop` ends every process that `start` wrote a pid file for.

Usage from a shell, run from the repository root:

    uv run python -m e2e.controlplane up [--state-dir DIR]
    uv run python -m e2e.controlplane down --state-dir DIR
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import ctypes
import datetime
import ipaddress
import logging
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

log = logging.getLogger("gldr.e2e.controlplane")

REPO_ROOT = Path(__file__).resolve().parent.parent
VERSIONS_FILE = REPO_ROOT / "scripts" / "k8s" / "versions.env"

# Start order. `stop` ends the processes in the reverse order.
COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")

# Pod and Service addresses exist only as API data here: no process routes or
# listens on them, so a test must not connect to a pod or Service IP. The
# ranges are the ones kind uses by default.
SERVICE_CLUSTER_IP_RANGE = "10.96.0.0/16"
POD_CIDR = "10.244.0.0/16"
# The API server connects to a node's InternalIP for logs, exec and
# port-forward, and kwok serves those for every node on one loopback port.
NODE_IP = "127.0.0.1"
NODE_COUNT = 3

START_TIMEOUT_SECONDS = 180.0
STOP_TIMEOUT_SECONDS = 15.0


class ControlPlaneError(RuntimeError):
    """A control plane process failed to start, or did not become healthy in time."""


@dataclass(frozen=True)
class ControlPlane:
    """A running control plane: its state folder, admin kubeconfig and API server URL."""

    state_dir: Path
    kubeconfig: Path
    server: str


def read_versions() -> dict[str, str]:
    """Read K8S_VERSION, ETCD_VERSION and KWOK_VERSION from scripts/k8s/versions.env."""
    versions = {}
    for line in VERSIONS_FILE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            versions[key.strip()] = value.strip()
    return versions


def default_bin_dir() -> Path:
    """Return the folder that scripts/k8s/build.sh builds into, with the same rule."""
    if override := os.environ.get("GLDR_K8S_BIN_DIR"):
        return Path(override)
    versions = read_versions()
    cache_dir = Path(os.environ.get("GLDR_CACHE_DIR", Path.home() / ".cache" / "gldr"))
    key = (
        f"{versions['K8S_VERSION']}_etcd-{versions['ETCD_VERSION']}_kwok-{versions['KWOK_VERSION']}"
    )
    return cache_dir / "k8s" / key / "bin"


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    # NOTE: another process can take the port between this call and the
    # component's bind. `start` then fails with the component's log tail.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# PKI


def _write_private_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.write_bytes(data)
    path.chmod(0o600)


def _write_certificate(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _new_ca(common_name: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _new_leaf(
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    common_name: str,
    *,
    organization: str | None = None,
    dns_names: tuple[str, ...] = (),
    ip_addresses: tuple[str, ...] = (),
    server: bool = False,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        # Kubernetes reads a client certificate's O as the user's group.
        attributes.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    now = datetime.datetime.now(datetime.UTC)
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(attributes))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if dns_names or ip_addresses:
        names: list[x509.GeneralName] = [x509.DNSName(name) for name in dns_names]
        names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


@dataclass(frozen=True)
class ClientIdentity:
    """A client certificate's user (CN) and group (O), and the kubeconfig file it goes into."""

    name: str
    user: str
    group: str | None


# Each component gets its own user, so RBAC applies to it as in a real
# cluster. The system:kube-* users are bound to their roles by the API server's
# bootstrap RBAC policy.
CLIENT_IDENTITIES = (
    ClientIdentity("admin", "kubernetes-admin", "system:masters"),
    ClientIdentity("kube-controller-manager", "system:kube-controller-manager", None),
    ClientIdentity("kube-scheduler", "system:kube-scheduler", None),
    # kwok writes the status of every node and pod, so it acts as an admin,
    # as kwokctl sets it up.
    ClientIdentity("kwok", "kwok-controller", "system:masters"),
)


def write_pki(pki_dir: Path) -> None:
    """Write the CA, serving certificates, front-proxy certificates and service account keys."""
    pki_dir.mkdir(parents=True, exist_ok=True)
    ca_cert, ca_key = _new_ca("gldr-e2e-ca")
    _write_certificate(pki_dir / "ca.crt", ca_cert)
    _write_private_key(pki_dir / "ca.key", ca_key)

    service_ip = str(next(ipaddress.ip_network(SERVICE_CLUSTER_IP_RANGE).hosts()))
    serving_cert, serving_key = _new_leaf(
        ca_cert,
        ca_key,
        "kube-apiserver",
        dns_names=(
            "localhost",
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
        ),
        ip_addresses=("127.0.0.1", service_ip),
        server=True,
    )
    _write_certificate(pki_dir / "serving.crt", serving_cert)
    _write_private_key(pki_dir / "serving.key", serving_key)

    # The aggregation layer proxies requests to extension API servers with
    # this client certificate, which those servers check against their own CA.
    proxy_ca_cert, proxy_ca_key = _new_ca("gldr-e2e-front-proxy-ca")
    _write_certificate(pki_dir / "front-proxy-ca.crt", proxy_ca_cert)
    proxy_cert, proxy_key = _new_leaf(proxy_ca_cert, proxy_ca_key, "front-proxy-client")
    _write_certificate(pki_dir / "front-proxy-client.crt", proxy_cert)
    _write_private_key(pki_dir / "front-proxy-client.key", proxy_key)

    for identity in CLIENT_IDENTITIES:
        cert, key = _new_leaf(ca_cert, ca_key, identity.user, organization=identity.group)
        _write_certificate(pki_dir / f"{identity.name}.crt", cert)
        _write_private_key(pki_dir / f"{identity.name}.key", key)

    sa_key = ec.generate_private_key(ec.SECP256R1())
    _write_private_key(pki_dir / "sa.key", sa_key)
    sa_public = sa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    (pki_dir / "sa.pub").write_bytes(sa_public)


def write_kubeconfig(path: Path, server: str, pki_dir: Path, identity: ClientIdentity) -> None:
    """Write a kubeconfig with the CA and the identity's client certificate embedded."""

    def encoded(name: str) -> str:
        return base64.b64encode((pki_dir / name).read_bytes()).decode()

    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "gldr-e2e",
                "cluster": {"server": server, "certificate-authority-data": encoded("ca.crt")},
            }
        ],
        "users": [
            {
                "name": identity.user,
                "user": {
                    "client-certificate-data": encoded(f"{identity.name}.crt"),
                    "client-key-data": encoded(f"{identity.name}.key"),
                },
            }
        ],
        "contexts": [
            {
                "name": "gldr-e2e",
                "context": {"cluster": "gldr-e2e", "user": identity.user},
            }
        ],
        "current-context": "gldr-e2e",
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)


# Processes


def _end_with_parent() -> None:
    """Ask Linux to send SIGTERM to this child when the process that started it exits."""
    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _pid_file(state_dir: Path, name: str) -> Path:
    return state_dir / "pids" / f"{name}.pid"


def _log_file(state_dir: Path, name: str) -> Path:
    return state_dir / "logs" / f"{name}.log"


def log_tail(state_dir: Path, name: str, lines: int = 30) -> str:
    """Return the last lines of a component's log, for error messages."""
    try:
        text = _log_file(state_dir, name).read_text(errors="replace")
    except FileNotFoundError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def spawn(
    state_dir: Path, name: str, argv: list[str], *, end_with_parent: bool
) -> subprocess.Popen[bytes]:
    """Start one component in its own session, logging to logs/NAME.log and writing pids/NAME.pid.

    With end_with_parent, Linux stops the component when the calling process
    exits, even on SIGKILL. Without it the component outlives the caller, as
    `up` needs, and only `stop` ends it.
    """
    log_path = _log_file(state_dir, name)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    _pid_file(state_dir, name).parent.mkdir(parents=True, exist_ok=True)
    log.info("starting %s", name)
    with log_path.open("ab") as log_stream:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log_stream,
            stderr=subprocess.STDOUT,
            cwd=state_dir,
            start_new_session=True,
            preexec_fn=_end_with_parent if end_with_parent else None,
        )
    _pid_file(state_dir, name).write_text(f"{process.pid}\n")
    return process


def _is_running(pid: int) -> bool:
    """Return whether pid is a live process, reaping it first if it is an exited child."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    # The state letter follows the command name, which is in parentheses.
    return stat.rpartition(")")[2].split()[0] != "Z"


def _belongs_to(pid: int, state_dir: Path) -> bool:
    """Return whether pid is a component with a file of state_dir in its arguments.

    Every component gets such a file, and a reused pid does not, so it is
    never signalled.
    """
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (FileNotFoundError, ProcessLookupError):
        return False
    if os.path.basename(argv[0]).decode(errors="replace") not in COMPONENTS:
        return False
    return any(f"{state_dir}/".encode() in argument for argument in argv[1:])


def _stray_pids(state_dir: Path) -> list[int]:
    """Return the pids of components of state_dir that have no pid file, such as after a crash."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _belongs_to(int(entry.name), state_dir):
            pids.append(int(entry.name))
    return pids


def _terminate(name: str, pid: int, timeout: float) -> None:
    """Send SIGTERM to pid, then SIGKILL if it still runs after timeout seconds."""
    log.info("stopping %s (pid %d)", name, pid)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _is_running(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if not _is_running(pid):
        return
    log.warning(
        "%s (pid %d) still running %.0f s after SIGTERM, sending SIGKILL", name, pid, timeout
    )
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    while _is_running(pid):
        time.sleep(0.05)


def stop_process(state_dir: Path, name: str, timeout: float = STOP_TIMEOUT_SECONDS) -> None:
    """Stop one component of state_dir by its pid file, and remove the pid file."""
    pid_file = _pid_file(state_dir, name)
    try:
        pid = int(pid_file.read_text().strip())
    except FileNotFoundError:
        return
    if _is_running(pid) and _belongs_to(pid, state_dir):
        _terminate(name, pid, timeout)
    pid_file.unlink()


def stop(state_dir: Path, *, remove_state: bool = False) -> None:
    """Stop every component of state_dir in reverse start order, then optionally delete it.

    Components whose pid file is missing are found by their arguments and
    stopped too, so no process of state_dir is left behind.
    """
    state_dir = state_dir.resolve()
    for name in reversed(COMPONENTS):
        stop_process(state_dir, name)
    for pid in _stray_pids(state_dir):
        _terminate("process without pid file", pid, STOP_TIMEOUT_SECONDS)
    if remove_state:
        shutil.rmtree(state_dir)


# Start


@dataclass(frozen=True)
class Ports:
    """Loopback TCP ports of every component."""

    etcd_client: int
    etcd_peer: int
    apiserver: int
    controller_manager: int
    scheduler: int
    kwok: int

    @classmethod
    def pick(cls) -> Ports:
        ports: set[int] = set()
        while len(ports) < 6:
            ports.add(free_port())
        return cls(*sorted(ports))


def etcd_args(bin_dir: Path, state_dir: Path, ports: Ports) -> list[str]:
    client_url = f"http://127.0.0.1:{ports.etcd_client}"
    peer_url = f"http://127.0.0.1:{ports.etcd_peer}"
    return [
        str(bin_dir / "etcd"),
        "--name=node0",
        f"--data-dir={state_dir / 'etcd'}",
        f"--listen-client-urls={client_url}",
        f"--advertise-client-urls={client_url}",
        f"--listen-peer-urls={peer_url}",
        f"--initial-advertise-peer-urls={peer_url}",
        f"--initial-cluster=node0={peer_url}",
        "--auto-compaction-retention=1",
        # The data is thrown away after the run, so losing writes on a crash
        # is fine, and skipping fsync keeps etcd fast on a busy disk.
        "--unsafe-no-fsync=true",
        "--log-level=warn",
    ]


def apiserver_args(bin_dir: Path, state_dir: Path, ports: Ports) -> list[str]:
    pki = state_dir / "pki"
    return [
        str(bin_dir / "kube-apiserver"),
        f"--etcd-servers=http://127.0.0.1:{ports.etcd_client}",
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        # Endpoints may not hold loopback addresses, so the API server could
        # not publish itself as the endpoint of the `kubernetes` Service.
        "--endpoint-reconciler-type=none",
        f"--secure-port={ports.apiserver}",
        f"--cert-dir={pki}",
        f"--tls-cert-file={pki / 'serving.crt'}",
        f"--tls-private-key-file={pki / 'serving.key'}",
        f"--client-ca-file={pki / 'ca.crt'}",
        f"--service-account-key-file={pki / 'sa.pub'}",
        f"--service-account-signing-key-file={pki / 'sa.key'}",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
        f"--requestheader-client-ca-file={pki / 'front-proxy-ca.crt'}",
        "--requestheader-allowed-names=front-proxy-client",
        "--requestheader-username-headers=X-Remote-User",
        "--requestheader-group-headers=X-Remote-Group",
        "--requestheader-extra-headers-prefix=X-Remote-Extra-",
        f"--proxy-client-cert-file={pki / 'front-proxy-client.crt'}",
        f"--proxy-client-key-file={pki / 'front-proxy-client.key'}",
        "--authorization-mode=Node,RBAC",
        "--allow-privileged=true",
        "--profiling=false",
    ]


def _component_server_args(state_dir: Path, port: int, kubeconfig: Path) -> list[str]:
    """Return the flags that kube-controller-manager and kube-scheduler share."""
    pki = state_dir / "pki"
    return [
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics",
        "--bind-address=127.0.0.1",
        f"--secure-port={port}",
        f"--tls-cert-file={pki / 'serving.crt'}",
        f"--tls-private-key-file={pki / 'serving.key'}",
        # One instance per control plane, so leader election only delays the start.
        "--leader-elect=false",
        "--kube-api-qps=100",
        "--kube-api-burst=200",
    ]


def controller_manager_args(bin_dir: Path, state_dir: Path, ports: Ports) -> list[str]:
    pki = state_dir / "pki"
    kubeconfig = state_dir / "kubeconfigs" / "kube-controller-manager.kubeconfig"
    return [
        str(bin_dir / "kube-controller-manager"),
        *_component_server_args(state_dir, ports.controller_manager, kubeconfig),
        "--use-service-account-credentials=true",
        f"--root-ca-file={pki / 'ca.crt'}",
        f"--service-account-private-key-file={pki / 'sa.key'}",
        f"--cluster-signing-cert-file={pki / 'ca.crt'}",
        f"--cluster-signing-key-file={pki / 'ca.key'}",
        f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
    ]


def scheduler_args(bin_dir: Path, state_dir: Path, ports: Ports) -> list[str]:
    kubeconfig = state_dir / "kubeconfigs" / "kube-scheduler.kubeconfig"
    return [
        str(bin_dir / "kube-scheduler"),
        *_component_server_args(state_dir, ports.scheduler, kubeconfig),
    ]


def write_kwok_config(path: Path, stages_dir: Path) -> None:
    """Write kwok's configuration file: kwok's default node and pod stages.

    The file has no KwokConfiguration document, because kwok applies its
    option defaults only when there is none, and kwok_args sets the options.
    """
    stage_files = sorted(stages_dir.glob("*.yaml"))
    if not stage_files:
        raise ControlPlaneError(
            f"no kwok stage files in {stages_dir}; run scripts/k8s/build.sh to copy them"
        )
    documents = [stage_file.read_text() for stage_file in stage_files]
    path.write_text("\n---\n".join(documents))


def kwok_args(bin_dir: Path, state_dir: Path, ports: Ports) -> list[str]:
    pki = state_dir / "pki"
    return [
        str(bin_dir / "kwok"),
        f"--kubeconfig={state_dir / 'kubeconfigs' / 'kwok.kubeconfig'}",
        f"--config={state_dir / 'kwok.yaml'}",
        "--manage-all-nodes=true",
        f"--cidr={POD_CIDR}",
        f"--node-ip={NODE_IP}",
        "--node-name=localhost",
        f"--node-port={ports.kwok}",
        f"--server-address=127.0.0.1:{ports.kwok}",
        f"--tls-cert-file={pki / 'serving.crt'}",
        f"--tls-private-key-file={pki / 'serving.key'}",
        "--node-lease-duration-seconds=40",
    ]


def node_manifest(index: int) -> dict[str, object]:
    """Return a fake Node for kwok, with the capacity kwokctl gives its nodes."""
    name = f"kwok-node-{index}"
    pod_cidr = str(list(ipaddress.ip_network(POD_CIDR).subnets(new_prefix=24))[index])
    resources = {"cpu": "32", "memory": "256Gi", "pods": "110"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "kubernetes.io/arch": "amd64",
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "node-role.kubernetes.io/agent": "",
                "type": "kwok",
            },
        },
        "spec": {"podCIDR": pod_cidr, "podCIDRs": [pod_cidr]},
        "status": {
            "allocatable": resources,
            "capacity": resources,
            "addresses": [
                {"type": "InternalIP", "address": NODE_IP},
                {"type": "Hostname", "address": name},
            ],
            "nodeInfo": {"architecture": "amd64", "operatingSystem": "linux"},
        },
    }


def _is_node_ready(node: dict[str, object]) -> bool:
    conditions = node.get("status", {}).get("conditions", [])  # type: ignore[attr-defined]
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


class _Starter:
    """Start the components one by one and wait for each, failing fast when one exits."""

    def __init__(self, bin_dir: Path, state_dir: Path, end_with_parent: bool, timeout: float):
        self.bin_dir = bin_dir
        self.state_dir = state_dir
        self.end_with_parent = end_with_parent
        self.deadline = time.monotonic() + timeout
        self.timeout = timeout
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.ports = Ports.pick()
        self.server = f"https://127.0.0.1:{self.ports.apiserver}"
        pki = state_dir / "pki"
        self.tls = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        self.tls.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))

    def spawn(self, name: str, argv: list[str]) -> None:
        self.processes[name] = spawn(
            self.state_dir, name, argv, end_with_parent=self.end_with_parent
        )

    def check_processes(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise ControlPlaneError(
                    f"{name} exited with code {process.returncode} during start; "
                    f"last lines of {_log_file(self.state_dir, name)}:\n"
                    f"{log_tail(self.state_dir, name)}"
                )

    def wait_until(self, description: str, check: Callable[[], bool]) -> None:
        """Call check every 0.2 s until it returns True, a process exits or the deadline passes."""
        started = time.monotonic()
        last_error: Exception | None = None
        while True:
            self.check_processes()
            try:
                if check():
                    log.info("%s after %.1f s", description, time.monotonic() - started)
                    return
            except (httpx.HTTPError, OSError) as error:
                last_error = error
            if time.monotonic() > self.deadline:
                names = ", ".join(self.processes)
                raise ControlPlaneError(
                    f"timed out after {self.timeout:.0f} s waiting until {description} "
                    f"(last error: {last_error!r}); logs of {names} are in "
                    f"{self.state_dir / 'logs'}"
                )
            time.sleep(0.2)

    def get_ok(self, url: str) -> bool:
        with httpx.Client(verify=self.tls, timeout=5) as client:
            return client.get(url).status_code == 200

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=self.server, verify=self.tls, timeout=10)

    def all_nodes_ready(self) -> bool:
        with self.api() as client:
            response = client.get("/api/v1/nodes", params={"labelSelector": "type=kwok"})
            response.raise_for_status()
            nodes = response.json()["items"]
        return len(nodes) == NODE_COUNT and all(_is_node_ready(node) for node in nodes)

    def default_service_account_exists(self) -> bool:
        with self.api() as client:
            response = client.get("/api/v1/namespaces/default/serviceaccounts/default")
        return response.status_code == 200

    def create_nodes(self) -> None:
        with self.api() as client:
            for index in range(NODE_COUNT):
                response = client.post("/api/v1/nodes", json=node_manifest(index))
                if response.status_code != 201:
                    raise ControlPlaneError(
                        f"creating node kwok-node-{index} failed with HTTP "
                        f"{response.status_code}: {response.text}"
                    )

    def run(self) -> ControlPlane:
        state_dir, bin_dir, ports = self.state_dir, self.bin_dir, self.ports
        kubeconfigs = state_dir / "kubeconfigs"
        kubeconfigs.mkdir(exist_ok=True)
        for identity in CLIENT_IDENTITIES:
            path = kubeconfigs / f"{identity.name}.kubeconfig"
            write_kubeconfig(path, self.server, state_dir / "pki", identity)
        admin_kubeconfig = state_dir / "kubeconfig"
        admin_kubeconfig.write_bytes((kubeconfigs / "admin.kubeconfig").read_bytes())
        admin_kubeconfig.chmod(0o600)
        write_kwok_config(state_dir / "kwok.yaml", bin_dir.parent / "kwok-stages")

        self.spawn("etcd", etcd_args(bin_dir, state_dir, ports))
        etcd_health = f"http://127.0.0.1:{ports.etcd_client}/health"
        self.wait_until("etcd is healthy", lambda: self.get_ok(etcd_health))

        self.spawn("kube-apiserver", apiserver_args(bin_dir, state_dir, ports))
        self.wait_until("kube-apiserver is ready", lambda: self.get_ok(f"{self.server}/readyz"))

        self.spawn("kube-controller-manager", controller_manager_args(bin_dir, state_dir, ports))
        self.spawn("kube-scheduler", scheduler_args(bin_dir, state_dir, ports))
        controller_manager_health = f"https://127.0.0.1:{ports.controller_manager}/healthz"
        scheduler_health = f"https://127.0.0.1:{ports.scheduler}/healthz"
        self.wait_until(
            "kube-controller-manager is healthy", lambda: self.get_ok(controller_manager_health)
        )
        self.wait_until("kube-scheduler is healthy", lambda: self.get_ok(scheduler_health))

        self.create_nodes()
        self.spawn("kwok", kwok_args(bin_dir, state_dir, ports))
        self.wait_until(f"{NODE_COUNT} kwok nodes are Ready", self.all_nodes_ready)
        # The service account controller creates each namespace's "default"
        # ServiceAccount, and pods cannot be created in a namespace before it.
        self.wait_until("the default ServiceAccount exists", self.default_service_account_exists)
        return ControlPlane(state_dir=state_dir, kubeconfig=admin_kubeconfig, server=self.server)


def start(
    state_dir: Path | None = None,
    bin_dir: Path | None = None,
    *,
    end_with_parent: bool = False,
    timeout: float = START_TIMEOUT_SECONDS,
) -> ControlPlane:
    """Start every component and wait until the control plane is ready for tests.

    A failed start stops what it started and keeps state_dir for its logs.
    """
    bin_dir = (bin_dir or default_bin_dir()).resolve()
    missing = [name for name in (*COMPONENTS,) if not (bin_dir / name).is_file()]
    if missing:
        raise ControlPlaneError(
            f"{', '.join(missing)} not found in {bin_dir}; run scripts/k8s/build.sh first"
        )
    if state_dir is None:
        state_dir = Path(tempfile.mkdtemp(prefix="gldr-k8s-"))
    state_dir = state_dir.resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    for name in COMPONENTS:
        if _pid_file(state_dir, name).exists():
            raise ControlPlaneError(
                f"{_pid_file(state_dir, name)} exists, so a control plane may still run "
                f"from {state_dir}; stop it with scripts/k8s/down.sh --state-dir {state_dir}"
            )
    log.info("state folder %s, binaries from %s", state_dir, bin_dir)

    write_pki(state_dir / "pki")
    started = time.monotonic()
    try:
        control_plane = _Starter(bin_dir, state_dir, end_with_parent, timeout).run()
    except BaseException:
        stop(state_dir)
        raise
    log.info(
        "control plane ready in %.1f s at %s", time.monotonic() - started, control_plane.server
    )
    return control_plane


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m e2e.controlplane",
        description="Start or stop a local Kubernetes control plane from cached binaries.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start the control plane and print export lines")
    up.add_argument(
        "--state-dir",
        type=Path,
        help="folder for certificates, kubeconfigs, data, logs and pid files "
        "(default: a new temporary folder)",
    )
    up.add_argument(
        "--timeout", type=float, default=START_TIMEOUT_SECONDS, help="start timeout in seconds"
    )
    down = commands.add_parser("down", help="stop every process of a state folder")
    down.add_argument(
        "--state-dir",
        type=Path,
        default=os.environ.get("GLDR_K8S_STATE_DIR"),
        help="state folder that `up` printed (default: $GLDR_K8S_STATE_DIR)",
    )
    down.add_argument(
        "--keep-state", action="store_true", help="keep the state folder and its logs"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    # httpx logs every request at INFO, and the start polls many times a second.
    logging.getLogger("httpx").setLevel(logging.WARNING)

    if args.command == "up":
        try:
            control_plane = start(args.state_dir, timeout=args.timeout)
        except ControlPlaneError as error:
            log.error("%s", error)
            return 1
        print(f"export KUBECONFIG={control_plane.kubeconfig}")
        print(f"export GLDR_K8S_STATE_DIR={control_plane.state_dir}")
        return 0

    if args.state_dir is None:
        parser.error("down needs --state-dir or GLDR_K8S_STATE_DIR")
    if not args.state_dir.is_dir():
        log.error("state folder %s not found", args.state_dir)
        return 1
    stop(args.state_dir, remove_state=not args.keep_state)
    log.info("stopped the control plane of %s", args.state_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
