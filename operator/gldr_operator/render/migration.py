"""Migration Job that runs `gldr migrate` before API and workers roll to a new version."""

from __future__ import annotations

from gldr_operator.render.common import Object, child_name, metadata, resources, stable_hash
from gldr_operator.render.pods import service_container, service_pod_template
from gldr_operator.spec import DeepResearchDeployment


def render_migration_job(drd: DeepResearchDeployment, env: list[Object]) -> Object:
    """The Job for spec.version, named after a hash of its spec.

    A Job's pod template is immutable, so a changed template gets a new name
    (and a new run) instead of a rejected update.
    """
    version = drd.spec.version
    container = service_container(
        drd, "migrate", version, env, resources("api", drd.spec.api.resources)
    )
    container["command"] = ["gldr", "migrate"]
    template = service_pod_template(drd, "migration", version, container, config_hash=None)
    template["spec"]["restartPolicy"] = "Never"
    spec: Object = {
        "backoffLimit": drd.spec.migration.backoff_limit,
        "activeDeadlineSeconds": drd.spec.migration.active_deadline_seconds,
        "template": template,
    }
    name = f"{child_name(drd, 'migrate')}-{stable_hash(spec, length=8)}"
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata(drd, "migration", name=name, version=version),
        "spec": spec,
    }
