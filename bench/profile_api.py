"""Profile the API process with py-spy while wrk loads one route.

Prints the functions with the largest share of samples, inclusive (the
function or anything it called was on the stack) and exclusive (the
function itself was running). py-spy comes from `uvx`, so it is not a
project dependency.

Usage: uv run python -m bench.profile_api get|post [--seconds N] [--connections N]
"""

from __future__ import annotations

import argparse
import collections
import re
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import httpx

from bench.http_load import describe, run_wrk
from bench.services import create_account, delete_queues, prepare, start_server

FRAME_PATTERN = re.compile(r"^(?P<function>.+?) \((?P<file>[^()]*?)(?::\d+)?\)$")


def short_frame(frame: str) -> str:
    """Turn `name (path/to/module.py:12)` into `name (module.py)`."""
    match = FRAME_PATTERN.match(frame)
    if match is None:
        return frame
    return f"{match['function']} ({Path(match['file']).name})"


def summarize(collapsed: str, top: int) -> str:
    """Return inclusive and exclusive sample shares from py-spy's collapsed stacks."""
    inclusive: collections.Counter[str] = collections.Counter()
    exclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [short_frame(frame) for frame in stack.split(";")]
        total += count
        for frame in set(frames):
            inclusive[frame] += count
        exclusive[frames[-1]] += count
    if total == 0:
        return "py-spy recorded no samples"
    lines = [f"{total} samples of busy threads"]
    lines.append("inclusive share:")
    for frame, count in inclusive.most_common(top):
        lines.append(f"  {count / total:6.1%}  {frame}")
    lines.append("exclusive share:")
    for frame, count in exclusive.most_common(top):
        lines.append(f"  {count / total:6.1%}  {frame}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("route", choices=["get", "post"], help="which route wrk loads")
    parser.add_argument("--seconds", type=float, default=10, help="length of the profile")
    parser.add_argument("--connections", type=int, default=10, help="wrk connections")
    parser.add_argument("--top", type=int, default=30, help="rows per list")
    args = parser.parse_args()
    uvx = shutil.which("uvx")
    if uvx is None:
        raise SystemExit("uvx is not on PATH; install uv, which provides it")

    log_dir = Path(tempfile.mkdtemp(prefix="gldr-profile-"))
    bench = prepare(log_dir)
    api, api_url = start_server(
        bench, "gl_deep_research.api.main:app", "api-profile", CELERY_QUEUE_NAME=bench.new_queue()
    )
    try:
        auth = {"X-API-Key": create_account(api_url)}
        created = httpx.post(f"{api_url}/v1/tasks", headers=auth, data={"query": "Ada Lovelace"})
        created.raise_for_status()
        path = f"/v1/tasks/{created.json()['task_id']}" if args.route == "get" else "/v1/tasks"
        run_wrk(api_url + path, args.connections, 2, headers=auth, post=args.route == "post")

        output = log_dir / "profile.txt"
        results = []
        load = threading.Thread(
            target=lambda: results.append(
                run_wrk(
                    api_url + path,
                    args.connections,
                    args.seconds + 2,
                    headers=auth,
                    post=args.route == "post",
                )
            )
        )
        load.start()
        subprocess.run(
            [
                uvx,
                "py-spy",
                "record",
                "--pid",
                str(api.process.pid),
                "--duration",
                str(int(args.seconds)),
                "--rate",
                "200",
                "--nonblocking",
                "--format",
                "raw",
                "--output",
                str(output),
            ],
            check=True,
            capture_output=True,
        )
        load.join()
        print(f"load during the profile: {describe(results[0])}")
        print(summarize(output.read_text(), args.top))
    finally:
        api.stop()
        delete_queues(bench)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
