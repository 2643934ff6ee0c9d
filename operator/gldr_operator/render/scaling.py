"""PodDisruptionBudgets and HorizontalPodAutoscalers of the API and the workers."""

from __future__ import annotations

from gldr_operator.render.common import Object, child_name, metadata, selector_labels
from gldr_operator.spec import Autoscaling, DeepResearchDeployment


def render_pod_disruption_budget(drd: DeepResearchDeployment, component: str) -> Object:
    # maxUnavailable rather than minAvailable, so a single replica can still
    # be evicted during a node drain instead of blocking it.
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": metadata(drd, component),
        "spec": {
            "maxUnavailable": 1,
            "selector": {"matchLabels": selector_labels(drd, component)},
        },
    }


def render_autoscaler(
    drd: DeepResearchDeployment, component: str, autoscaling: Autoscaling
) -> Object:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": metadata(drd, component),
        "spec": {
            "scaleTargetRef": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": child_name(drd, component),
            },
            "minReplicas": autoscaling.min_replicas,
            "maxReplicas": autoscaling.max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {
                            "type": "Utilization",
                            "averageUtilization": autoscaling.target_cpu_utilization_percentage,
                        },
                    },
                }
            ],
        },
    }
