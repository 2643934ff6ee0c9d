"""Celery beat Deployment: the scheduler of the service's periodic jobs.

Beat sends the webhook retry sweep every few seconds and the table cleanup on
`TABLE_CLEANUP_SCHEDULE`; the workers run them. Exactly one beat may run, so
the Deployment has one replica and the `Recreate` strategy, which stops the
old pod before the new one starts.
"""

from __future__ import annotations

from gldr_operator.render.common import Object, metadata, resources, selector_labels
from gldr_operator.render.pods import service_container, service_pod_template
from gldr_operator.render.worker import CELERY_APP
from gldr_operator.spec import DeepResearchDeployment

# Beat keeps its last-run times in this file; /tmp is writable for the image's user.
SCHEDULE_FILE = "/tmp/celerybeat-schedule"  # noqa: S108


def beat_command(drd: DeepResearchDeployment) -> list[str]:
    return [
        "celery",
        "-A",
        CELERY_APP,
        "beat",
        f"--loglevel={drd.spec.config.log_level}",
        f"--schedule={SCHEDULE_FILE}",
    ]


def render_beat_deployment(
    drd: DeepResearchDeployment, version: str, env: list[Object], config_hash: str
) -> Object:
    container = service_container(
        drd, "beat", version, env, resources("beat", drd.spec.beat.resources)
    )
    container["command"] = beat_command(drd)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(drd, "beat", version=version),
        "spec": {
            "replicas": 1,
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": selector_labels(drd, "beat")},
            "revisionHistoryLimit": 5,
            "template": service_pod_template(drd, "beat", version, container, config_hash),
        },
    }
