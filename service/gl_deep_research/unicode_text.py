"""A check for request text that the database drivers cannot encode."""

from __future__ import annotations

from typing import Any

from gl_deep_research.errors import InvalidInput


def check_unicode(value: Any, field: str = "") -> None:
    """Raise InvalidInput naming the field when a string in `value` has a lone surrogate.

    JSON escapes such as `\\ud800` decode to lone surrogates, which no database
    driver can encode as UTF-8. Form bodies cannot carry them, because their
    strict UTF-8 decoding already rejects encoded surrogates.
    """
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as err:
            name = printable(field or "body")
            raise InvalidInput(
                f"Field {name!r} contains the lone surrogate "
                f"U+{ord(value[err.start]):04X} at position {err.start}, which is not valid "
                "Unicode text; send characters outside the BMP as a surrogate pair or as UTF-8.",
                field=name,
            ) from None
    elif isinstance(value, dict):
        for key, item in value.items():
            name = f"{field}.{key}" if field else str(key)
            check_unicode(key, name)
            check_unicode(item, name)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_unicode(item, f"{field}[{index}]")


def printable(text: str) -> str:
    """Return `text` with lone surrogates escaped, so that it encodes as UTF-8."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
