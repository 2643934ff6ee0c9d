"""Check the report's `[n]` citations against the sources the tools returned.

Citations to numbers that no tool returned are removed, a Sources section
written by the model is replaced by one built from the registry, and the
report's sources are the ones it cites.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from gl_deep_research.engines.base import Source

# `[3]`, `[3, 5]` and `[3][5]`, but not a Markdown link `[3](...)`.
CITATION_PATTERN = re.compile(r"\s?\[(\d+(?:\s*,\s*\d+)*)\](?!\()")
# A heading or bold label that starts the model's own list of sources.
SOURCES_HEADING_PATTERN = re.compile(
    r"^\s*(?:#{1,6}\s*|\*\*)(?:sources|references|bibliography|citations)\s*:?\s*(?:\*\*)?\s*:?\s*$",
    re.IGNORECASE | re.MULTILINE,
)


@dataclass(frozen=True)
class CheckedReport:
    """The report with valid citations only, the cited sources, and the removed numbers."""

    markdown: str
    sources: list[Source]
    removed: list[int]


def check_citations(answer: str, sources: Mapping[int, Source]) -> CheckedReport:
    """Keep citations of known sources, drop the others and append a Sources section."""
    body = _strip_sources_section(answer).strip()
    cited: set[int] = set()
    removed: list[int] = []

    def replace(match: re.Match[str]) -> str:
        numbers = [int(part) for part in match.group(1).split(",")]
        kept = [number for number in numbers if number in sources]
        removed.extend(number for number in numbers if number not in sources)
        cited.update(kept)
        if not kept:
            return ""
        leading = match.group(0)[: len(match.group(0)) - len(match.group(0).lstrip())]
        return leading + "[" + ", ".join(str(number) for number in kept) + "]"

    body = CITATION_PATTERN.sub(replace, body)
    cited_sources = [sources[number] for number in sorted(cited)]
    if cited_sources:
        body += "\n\n## Sources\n\n" + "\n".join(
            f"[{source.id}] {source.title}: {source.url_or_path}" for source in cited_sources
        )
    return CheckedReport(markdown=body + "\n", sources=cited_sources, removed=removed)


def _strip_sources_section(answer: str) -> str:
    """Cut the model's own Sources section when it is the last section of the answer."""
    matches = list(SOURCES_HEADING_PATTERN.finditer(answer))
    if not matches:
        return answer
    last = matches[-1]
    rest = answer[last.end() :]
    if re.search(r"^\s*#{1,6}\s", rest, re.MULTILINE):
        return answer
    return answer[: last.start()]
