"""Image HEALTHCHECK: probe whatever process the container runs.

Docker runs this; Kubernetes ignores image health checks and uses the pod's
probes instead. The process is read from PID 1's command line: the API is
probed on GET /health, Flower on GET /healthcheck, and the operator on its
kopf liveness endpoint. A Celery worker has no HTTP endpoint, so for it the
check only confirms that the process is alive (exit 0).
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
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


def main() -> int:
    command = Path("/proc/1/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    if "gldr-operator" in command:
        return probe(os.environ.get("GLDR_OPERATOR_HEALTH_URL", "http://127.0.0.1:8080/healthz"))
    if "flower" in command:
        port = os.environ.get("FLOWER_PORT", "5555")
        return probe(f"http://127.0.0.1:{port}/healthcheck")
    if "celery" in command:
        return 0
    port = os.environ.get("PORT", "8000")
    return probe(f"http://127.0.0.1:{port}/health")


if __name__ == "__main__":
    sys.exit(main())
