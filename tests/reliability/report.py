"""Render the reliability results JSON as the Markdown table of docs/reliability.md.

uv run python -m tests.reliability.report bench/results/reliability.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

COLUMNS = (
    ("fault", "Fault injected"),
    ("load", "Load during it"),
    ("accepted", "Accepted"),
    ("completed", "Completed"),
    ("lost", "Lost"),
    ("duplicated", "Duplicated"),
    ("client_errors", "Client errors"),
    ("command", "Command"),
)


def render(entries: dict[str, dict[str, object]]) -> str:
    lines = [
        "| " + " | ".join(title for _, title in COLUMNS) + " | Measured |",
        "|" + " --- |" * (len(COLUMNS) + 1),
    ]
    for name in sorted(entries):
        entry = entries[name]
        cells = [_cell(entry.get(key, "")) for key, _ in COLUMNS]
        cells[-1] = f"`{entry.get('command', '')}`"
        errors = entry.get("error_kinds")
        if errors:
            cells[6] += " (" + ", ".join(f"{kind}: {count}" for kind, count in errors.items()) + ")"
        extra = {
            key: value
            for key, value in entry.items()
            if key.endswith("_seconds") or key in ("tasks_per_second", "stream_status_while_down")
        }
        measured = ", ".join(f"{key} {value}" for key, value in sorted(extra.items()))
        lines.append("| " + " | ".join([*cells, f"{measured}; {entry['recorded_at']}"]) + " |")
    return "\n".join(lines)


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|")


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m tests.reliability.report RESULTS_JSON")
    path = Path(sys.argv[1])
    if not path.exists():
        raise SystemExit(
            f"No results file at {path}; run `scripts/reliability.sh test` to write it."
        )
    print(render(json.loads(path.read_text())))


if __name__ == "__main__":
    main()
