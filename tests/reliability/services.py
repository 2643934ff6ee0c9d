"""A separate set of PostgreSQL, Redis and RabbitMQ that fault tests may stop.

Other test sessions use the default set that `scripts/services.sh up`
starts (PostgreSQL 25432, Redis 26379, RabbitMQ 27672), so fault tests never
touch it. They run their own set through the same script with other ports,
another state folder and another RabbitMQ node. Each pytest session takes a
free slot under an exclusive file lock, so two sessions on one machine get
two sets and never stop each other's services.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from tests.service.support import REPO_ROOT

SLOTS = 4
PG_BIN_ROOT = Path("/usr/lib/postgresql")
RABBITMQ_BIN = Path("/usr/lib/rabbitmq/bin")


def _postgres_bin() -> Path:
    versions = sorted(
        (path for path in PG_BIN_ROOT.glob("*/bin") if (path / "pg_ctl").exists()),
        key=lambda path: int(path.parent.name),
    )
    if not versions:
        raise RuntimeError(
            f"No PostgreSQL found under {PG_BIN_ROOT}; run `scripts/services.sh up` once to "
            "install it."
        )
    return versions[-1]


@dataclass
class FaultServices:
    """One slot's services, with the commands that stop and start each of them."""

    slot: int
    state_dir: Path
    pg_port: int
    redis_port: int
    amqp_port: int
    amqp_dist_port: int
    rabbit_node: str
    lock_file: IO[str] | None = field(default=None, repr=False)

    @classmethod
    def for_slot(cls, slot: int) -> FaultServices:
        suffix = "" if slot == 0 else f"-{slot}"
        return cls(
            slot=slot,
            state_dir=Path(f"/tmp/gldr-faults{suffix}"),
            pg_port=25442 + 10 * slot,
            redis_port=26389 + 10 * slot,
            amqp_port=27692 + 10 * slot,
            amqp_dist_port=27693 + 10 * slot,
            rabbit_node=f"faults{slot or ''}@localhost",
        )

    @property
    def script_env(self) -> dict[str, str]:
        """The variables that point `scripts/services.sh` at this set."""
        return {
            **os.environ,
            "GLDR_SERVICES_DIR": str(self.state_dir),
            "GLDR_PG_PORT": str(self.pg_port),
            "GLDR_REDIS_PORT": str(self.redis_port),
            "GLDR_AMQP_PORT": str(self.amqp_port),
            "GLDR_AMQP_DIST_PORT": str(self.amqp_dist_port),
            "GLDR_RABBIT_NODE": self.rabbit_node,
        }

    @property
    def admin_database_url(self) -> str:
        return f"postgresql://gldr:gldr@127.0.0.1:{self.pg_port}/gldr"

    @property
    def broker_url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.amqp_port}//"

    def _script(self, command: str, timeout: float = 240) -> None:
        result = subprocess.run(
            ["bash", str(REPO_ROOT / "scripts/services.sh"), command],
            env=self.script_env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"`scripts/services.sh {command}` for the fault set in {self.state_dir} failed "
                f"with exit code {result.returncode}:\n{result.stderr[-3000:]}"
            )

    def up(self) -> None:
        """Start whatever of the three is not running and wait until each answers."""
        self._script("up")

    def down(self) -> None:
        self._script("down")

    # PostgreSQL

    def _pg_ctl(self, *arguments: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", str(_postgres_bin() / "pg_ctl"), *arguments],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def stop_postgres(self) -> None:
        """Stop PostgreSQL with a fast shutdown: open sessions are ended, as in a restart."""
        self._pg_ctl("-D", str(self.state_dir / "postgres"), "-m", "fast", "-w", "stop")

    def start_postgres(self) -> None:
        """Start PostgreSQL with the options of `scripts/services.sh` and wait until it is up."""
        data = self.state_dir / "postgres"
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.pg_port} -k {data} "
            "-c max_connections=300 -c fsync=off"
        )
        log = str(self.state_dir / "postgres.log")
        self._pg_ctl("-D", str(data), "-l", log, "-w", "start", "-o", options)

    # Redis

    def stop_redis(self) -> None:
        subprocess.run(
            ["redis-cli", "-p", str(self.redis_port), "shutdown", "nosave"],
            capture_output=True,
            timeout=30,
            check=False,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            ping = subprocess.run(
                ["redis-cli", "-p", str(self.redis_port), "ping"],
                capture_output=True,
                timeout=10,
                check=False,
            )
            if ping.returncode != 0 or b"PONG" not in ping.stdout:
                return
            time.sleep(0.2)
        raise RuntimeError(f"Redis on port {self.redis_port} did not stop within 30 s.")

    def start_redis(self) -> None:
        self.up()

    # RabbitMQ

    def stop_rabbitmq(self) -> None:
        """Stop the whole RabbitMQ node, so every connection and channel is closed."""
        env = {
            **os.environ,
            "PATH": f"{RABBITMQ_BIN}:{os.environ.get('PATH', '')}",
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        }
        subprocess.run(
            ["rabbitmqctl", "-n", self.rabbit_node, "stop"],
            env=env,
            check=True,
            capture_output=True,
            timeout=120,
        )

    def start_rabbitmq(self) -> None:
        self.up()


def claim_free_slot() -> FaultServices:
    """Lock the first free slot for this process; the lock ends with the process."""
    for slot in range(SLOTS):
        services = FaultServices.for_slot(slot)
        lock_path = Path(f"{services.state_dir}.lock")
        handle = lock_path.open("w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        services.lock_file = handle
        return services
    raise RuntimeError(
        f"All {SLOTS} fault service slots (/tmp/gldr-faults*.lock) are locked by other test "
        "sessions; wait for one of them to finish and run the tests again."
    )


def release_slot(services: FaultServices) -> None:
    if services.lock_file is not None:
        fcntl.flock(services.lock_file, fcntl.LOCK_UN)
        services.lock_file.close()
        services.lock_file = None
