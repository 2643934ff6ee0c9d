"""The `local` research engine: runs bench/bench_local.py and turns its output into rows.

bench_local.py measures each phase in a fresh process (median of `--repeat`
runs, peak RSS of that process); see its docstring for the phases.
Targets: index build under 10 s, a research task under 2 s.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from bench.report import Row, verdict

SCRIPT = Path(__file__).with_name("bench_local.py")
LINE_PATTERN = re.compile(r"^(baseline|ours)\s+(.+?)\s+([\d.]+)\s+([\d.]+)$")
TIMEOUT_SECONDS = 1800

# (our phase, the baseline phase it is shown next to, target in seconds or None)
PAIRS = (
    ("index build (cold, to disk)", "plain bm25s build", 10.0),
    ("index load (from disk)", "json load of the summaries", None),
    ("research task (median)", "plain bm25s query (median)", 2.0),
)


def parse(output: str) -> dict[str, tuple[float, float]]:
    """Return {phase label: (seconds, peak MiB)} from bench_local.py's table."""
    phases = {}
    for line in output.splitlines():
        match = LINE_PATTERN.match(line.strip())
        if match:
            phases[match[2]] = (float(match[3]), float(match[4]))
    return phases


def bench_engine(repeat: int) -> list[Row]:
    completed = subprocess.run(
        [sys.executable, str(SCRIPT), "--repeat", str(repeat)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        check=False,
    )
    print(completed.stdout, end="", flush=True)
    if completed.returncode != 0:
        raise RuntimeError(f"bench_local.py failed: {completed.stderr[-2000:]}")
    phases = parse(completed.stdout)
    rows = []
    for ours, baseline, target in PAIRS:
        our_seconds, our_peak = phases[ours]
        base_seconds, base_peak = phases[baseline]
        rows.append(
            Row(
                "Engine",
                ours,
                f"10,048 passages, median of {repeat}",
                f"{our_seconds:.3f} s, peak {our_peak:.0f} MiB",
                f"{baseline}: {base_seconds:.3f} s, peak {base_peak:.0f} MiB",
                f"< {target:.0f} s" if target else "none",
                verdict(our_seconds < target, f"{our_seconds:.3f} s") if target else "",
            )
        )
    return rows
