"""Accepted condition of a ResearchProfile, written only when it changes."""

from __future__ import annotations

import datetime
import logging

from gldr_operator.kube import Kube, ResearchProfileResource
from gldr_operator.profiles import Profile, check_profile
from gldr_operator.render.common import Object

log = logging.getLogger("gldr_operator.profiles")


def profile_status(body: Object, now: str) -> Object:
    """Status of a ResearchProfile: observedGeneration and the Accepted condition."""
    metadata = body["metadata"]
    profile = Profile(
        name=metadata["name"], labels=metadata.get("labels") or {}, spec=body.get("spec") or {}
    )
    verdict = check_profile(profile)
    generation = int(metadata.get("generation") or 0)
    previous = {
        item.get("type"): item for item in (body.get("status") or {}).get("conditions") or []
    }.get("Accepted", {})
    status = "True" if verdict.accepted else "False"
    unchanged = previous.get("status") == status
    condition = {
        "type": "Accepted",
        "status": status,
        "reason": verdict.reason,
        "message": verdict.message,
        "lastTransitionTime": previous.get("lastTransitionTime", now) if unchanged else now,
        "observedGeneration": generation,
    }
    return {"observedGeneration": generation, "conditions": [condition]}


async def sync_profile_status(kube: Kube, body: Object) -> None:
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    status = profile_status(body, now)
    if status == (body.get("status") or {}):
        return
    metadata = body["metadata"]
    await kube.patch_status(
        ResearchProfileResource, metadata["namespace"], metadata["name"], status
    )
    accepted = status["conditions"][0]
    log.info(
        "ResearchProfile %s/%s: Accepted=%s (%s).",
        metadata["namespace"],
        metadata["name"],
        accepted["status"],
        accepted["reason"],
    )
