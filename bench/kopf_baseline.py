"""The operator memory baseline: a bare kopf operator with no-op handlers.

It watches the same two custom resources as gldr-operator and does nothing
with them, so its resident memory is what kopf, its watches and its
in-memory state cost without our reconciler.

Usage: python -m kopf run --standalone --namespace NS bench/kopf_baseline.py
"""

from __future__ import annotations

from typing import Any

import kopf

GROUP = "research.gdplabs.id"


@kopf.on.login()
def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    return kopf.login_with_kubeconfig(**kwargs)


@kopf.on.resume(GROUP, "deepresearchdeployments")
@kopf.on.create(GROUP, "deepresearchdeployments")
@kopf.on.update(GROUP, "deepresearchdeployments")
def deployment_changed(**_: Any) -> None:
    return None


@kopf.on.resume(GROUP, "researchprofiles")
@kopf.on.create(GROUP, "researchprofiles")
@kopf.on.update(GROUP, "researchprofiles")
def profile_changed(**_: Any) -> None:
    return None
