"""Image HEALTHCHECK: probe whatever process the container runs.

Docker runs this; Kubernetes ignores image health checks and uses the pod's
probes instead. The process is read from PID 1's command line: the API is
probed on GET /health, Flower on GET /healthcheck, the operator on its
kopf liveness endpoint, and a Celery worker on GET /livez of its
WORKER_METRICS_PORT, which returns 503 once its consumer stops making
progress. Celery beat, and a worker without that port, have no HTTP
endpoint, so for them the check only confirms that the process is alive
(exit 0).
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

TIMEOUT_SECONDS = 5.0


def probe(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
            status = int(response.status)
    except (urllib.error.URLError, OSError) as err:
        print(f"healthcheck: GET {url} failed: {err}", file=sys.stderr)
        return 1
    if status != 200:
        print(f"healthcheck: GET {url} returned HTTP {status}", file=sys.stderr)
        return 1
    return 0


def health_url(command: str, environ: Mapping[str, str]) -> str | None:
    """Return the URL that shows the health of `command`, or None when it has none."""
    if "gldr-operator" in command:
        return environ.get("GLDR_OPERATOR_HEALTH_URL", "http://127.0.0.1:8080/healthz")
    if "flower" in command:
        port = environ.get("FLOWER_PORT", "5555")
        return f"http://127.0.0.1:{port}/healthcheck"
    if "celery" in command:
        worker_port = environ.get("WORKER_METRICS_PORT")
        if "worker" in command.split() and worker_port:
            return f"http://127.0.0.1:{worker_port}/livez"
        return None
    port = environ.get("PORT", "8000")
    return f"http://127.0.0.1:{port}/health"


def process_command(pid: int) -> str:
    """Return the command line of process `pid`, its arguments joined by spaces."""
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")


def main() -> int:
    url = health_url(process_command(1), os.environ)
    if url is None:
        return 0
    return probe(url)


if __name__ == "__main__":
    sys.exit(main())
