"""Result rows and the Markdown table that `python -m bench` prints."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    """One figure of the product next to its baseline from the same run."""

    area: str
    measure: str
    size: str
    ours: str
    baseline: str
    target: str = ""
    verdict: str = ""


def percentile(values: Sequence[float], fraction: float) -> float:
    """Return the nearest-rank percentile of `values`, `fraction` in [0, 1]."""
    if not values:
        raise ValueError("percentile of an empty sample")
    ordered = sorted(values)
    rank = max(1, round(fraction * len(ordered) + 0.5))
    return ordered[min(rank, len(ordered)) - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def verdict(met: bool, detail: str) -> str:
    return ("met: " if met else "MISSED: ") + detail


def render_table(rows: Sequence[Row]) -> str:
    header = "| Area | Measure | Size | Ours | Baseline | Target | Result |"
    lines = [header, "| --- | --- | --- | --- | --- | --- | --- |"]
    for row in rows:
        cells = (
            row.area,
            row.measure,
            row.size,
            row.ours,
            row.baseline,
            row.target,
            row.verdict,
        )
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines)
