"""Splitting of documents into paragraph-sized passages.

A passage is the unit that the index scores and that a citation points to.
Its `start` and `end` are character offsets into the document text, so
`document.text[start:end] == passage.text` always holds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gl_deep_research.engines.local.analysis import sentence_spans
from gl_deep_research.engines.local.corpus import Document

# Passage sizes in characters. Paragraphs shorter than MIN_CHARS are merged
# with the next one, and paragraphs longer than MAX_CHARS are cut at sentence
# boundaries into pieces of about TARGET_CHARS.
MIN_CHARS = 300
TARGET_CHARS = 900
MAX_CHARS = 1500

_PARAGRAPH_BREAK = re.compile(r"\n[ \t\r\f\v]*\n")


@dataclass(frozen=True)
class Passage:
    """A paragraph-sized span of one document."""

    title: str
    url_or_path: str
    text: str
    start: int
    end: int


def split_passages(document: Document) -> list[Passage]:
    """Split `document` into passages that cover its paragraphs in order."""
    text = document.text
    spans: list[tuple[int, int]] = []
    for start, end in _paragraph_spans(text):
        if end - start > MAX_CHARS:
            spans.extend(_split_long(text, start, end))
            continue
        if spans and _mergeable(spans[-1], (start, end)):
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((start, end))
    return [
        Passage(
            title=document.title,
            url_or_path=document.url_or_path,
            text=text[start:end],
            start=start,
            end=end,
        )
        for start, end in spans
    ]


def _mergeable(previous: tuple[int, int], current: tuple[int, int]) -> bool:
    return previous[1] - previous[0] < MIN_CHARS and current[1] - previous[0] <= TARGET_CHARS


def _paragraph_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    cursor = 0
    for match in _PARAGRAPH_BREAK.finditer(text):
        spans.append(_strip_span(text, cursor, match.start()))
        cursor = match.end()
    spans.append(_strip_span(text, cursor, len(text)))
    return [(start, end) for start, end in spans if end > start]


def _strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _split_long(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Cut a long paragraph at sentence boundaries into pieces near TARGET_CHARS."""
    pieces: list[tuple[int, int]] = []
    piece_start: int | None = None
    piece_end = start
    for sentence_start, sentence_end in sentence_spans(text, start, end):
        if piece_start is None:
            piece_start = sentence_start
        elif sentence_end - piece_start > TARGET_CHARS:
            pieces.append((piece_start, piece_end))
            piece_start = sentence_start
        piece_end = sentence_end
    if piece_start is not None:
        pieces.append((piece_start, piece_end))
    # A single sentence longer than MAX_CHARS stays whole: cutting it would
    # leave a citation pointing at half a sentence.
    return pieces or [(start, end)]
