"""The no-op check that keeps a resync from writing."""

from __future__ import annotations

import copy

import pytest

from gldr_operator.drift import contains, needs_apply, parse_quantity, with_applied_hash
from gldr_operator.reconcile import immutable_change

pytestmark = pytest.mark.unit

DESIRED = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "x", "namespace": "ns", "labels": {"a": "b"}},
    "data": {"k": "v"},
}


def live_from(desired: dict[str, object]) -> dict[str, object]:
    live = copy.deepcopy(desired)
    live["metadata"]["uid"] = "123"  # type: ignore[index]
    live["metadata"]["resourceVersion"] = "7"  # type: ignore[index]
    return live


def test_unchanged_child_needs_no_apply() -> None:
    desired = with_applied_hash(DESIRED)
    assert not needs_apply(desired, live_from(desired))


def test_missing_child_needs_apply() -> None:
    assert needs_apply(with_applied_hash(DESIRED), None)


def test_edited_field_needs_apply() -> None:
    desired = with_applied_hash(DESIRED)
    live = live_from(desired)
    live["data"] = {"k": "edited"}
    assert needs_apply(desired, live)


def test_changed_spec_needs_apply() -> None:
    live = live_from(with_applied_hash(DESIRED))
    changed = with_applied_hash({**DESIRED, "data": {"k": "new"}})
    assert needs_apply(changed, live)


def test_quantities_compare_by_value() -> None:
    assert contains({"limits": {"cpu": "1"}}, {"limits": {"cpu": "1000m"}})
    assert not contains({"limits": {"cpu": "2"}}, {"limits": {"cpu": "1000m"}})
    assert parse_quantity("2Gi") == 2 * 1024**3
    assert parse_quantity("abc") is None


def test_lists_must_match_length() -> None:
    assert not contains({"a": [1, 2]}, {"a": [1]})


def statefulset(size: str, selector: str = "redis") -> dict[str, object]:
    return {
        "kind": "StatefulSet",
        "metadata": {"name": "r"},
        "spec": {
            "selector": {"matchLabels": {"c": selector}},
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "data"},
                    "spec": {"resources": {"requests": {"storage": size}}},
                }
            ],
        },
    }


def test_volume_claim_change_is_reported() -> None:
    message = immutable_change(statefulset("20Gi"), statefulset("10Gi"))
    assert message is not None
    assert "volumeClaimTemplates[0]" in message
    assert "--cascade=orphan" in message


def test_selector_change_is_reported() -> None:
    message = immutable_change(statefulset("10Gi", "a"), statefulset("10Gi", "b"))
    assert message is not None
    assert "spec.selector" in message


def test_equal_statefulset_is_not_reported() -> None:
    assert immutable_change(statefulset("10Gi"), statefulset("10240Mi")) is None
