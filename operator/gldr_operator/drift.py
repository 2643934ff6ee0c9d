"""Decide whether a child needs a server-side apply at all.

A no-op resync must send no write to the API server. So the reconciler
applies a child only in three cases. It is missing. Its applied-hash
annotation differs from the hash of the new rendering, because the spec or
an input changed. Or a rendered field is missing or different in the live
object, because someone edited or removed it. Fields that the API server or other
controllers add are ignored, as server-side apply would keep them too.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from gldr_operator.constants import APPLIED_HASH_ANNOTATION
from gldr_operator.render.common import Object, stable_hash

_QUANTITY = re.compile(r"^([0-9]+(?:\.[0-9]*)?|\.[0-9]+)([KMGTPE]i|[mkMGTPE])?$")
_SUFFIXES = {
    "": Decimal(1),
    "m": Decimal("0.001"),
    "k": Decimal(10) ** 3,
    "M": Decimal(10) ** 6,
    "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12,
    "P": Decimal(10) ** 15,
    "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10,
    "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50,
    "Ei": Decimal(2) ** 60,
}
# Keys whose values are resource quantities; the API server rewrites those
# into canonical form, so "1000m" comes back as "1".
_QUANTITY_PARENTS = frozenset({"requests", "limits"})


def parse_quantity(text: str) -> Decimal | None:
    """Value of a Kubernetes quantity such as "500m" or "2Gi", or None if `text` is not one."""
    match = _QUANTITY.match(text)
    if match is None:
        return None
    return Decimal(match.group(1)) * _SUFFIXES[match.group(2) or ""]


def _equal_scalars(live: Any, desired: Any, parent: str) -> bool:
    if live == desired:
        return True
    if parent in _QUANTITY_PARENTS and isinstance(live, str) and isinstance(desired, str):
        live_value, desired_value = parse_quantity(live), parse_quantity(desired)
        return live_value is not None and live_value == desired_value
    return False


def _contains_value(live: Any, desired: Any, parent: str, key: str) -> bool:
    """Compare one dict entry, where `parent` is the key of the dict that contains it."""
    if isinstance(desired, str):
        return _equal_scalars(live, desired, parent)
    return contains(live, desired, key)


def contains(live: Any, desired: Any, parent: str = "") -> bool:
    """Check that every field of `desired` is present in `live` with the same value."""
    if isinstance(desired, dict):
        if not isinstance(live, dict):
            return False
        return all(
            key in live and _contains_value(live[key], value, parent, key)
            for key, value in desired.items()
        )
    if isinstance(desired, list):
        if not isinstance(live, list) or len(live) != len(desired):
            return False
        return all(
            contains(item, wanted, parent) for item, wanted in zip(live, desired, strict=True)
        )
    return _equal_scalars(live, desired, parent)


def with_applied_hash(desired: Object) -> Object:
    """Copy of `desired` carrying the hash of its own content as an annotation."""
    digest = stable_hash(desired)
    metadata = dict(desired["metadata"])
    metadata["annotations"] = {**metadata.get("annotations", {}), APPLIED_HASH_ANNOTATION: digest}
    return {**desired, "metadata": metadata}


def needs_apply(desired: Object, live: Object | None) -> bool:
    """Check whether `desired`, already carrying its applied hash, differs from `live`."""
    if live is None:
        return True
    return not contains(live, desired)
