"""Optional Ingress for the API, annotated for the AWS Load Balancer Controller."""

from __future__ import annotations

import json

from gldr_operator.render.common import Object, child_name, metadata
from gldr_operator.spec import DeepResearchDeployment

ALB = "alb.ingress.kubernetes.io"


def render_ingress(drd: DeepResearchDeployment) -> Object:
    ingress = drd.spec.api.ingress
    assert ingress.host is not None, "the CRD requires api.ingress.host when ingress is enabled"
    annotations = {
        f"{ALB}/scheme": ingress.scheme,
        f"{ALB}/target-type": ingress.target_type,
        f"{ALB}/healthcheck-path": "/health",
    }
    if ingress.tls.enabled:
        listen_ports = [{"HTTP": 80}, {"HTTPS": 443}]
        annotations[f"{ALB}/listen-ports"] = json.dumps(listen_ports, separators=(",", ":"))
        annotations[f"{ALB}/ssl-redirect"] = "443"
        if ingress.tls.certificate_arn:
            annotations[f"{ALB}/certificate-arn"] = ingress.tls.certificate_arn
    annotations.update(ingress.annotations)

    spec: Object = {
        "ingressClassName": ingress.class_name,
        "rules": [
            {
                "host": ingress.host,
                "http": {
                    "paths": [
                        {
                            "path": "/",
                            "pathType": "Prefix",
                            "backend": {
                                "service": {
                                    "name": child_name(drd, "api"),
                                    "port": {"number": drd.spec.api.service.port},
                                }
                            },
                        }
                    ]
                },
            }
        ],
    }
    if ingress.tls.enabled:
        tls: Object = {"hosts": [ingress.host]}
        if ingress.tls.secret_name:
            tls["secretName"] = ingress.tls.secret_name
        spec["tls"] = [tls]

    ingress_metadata = metadata(drd, "api")
    ingress_metadata["annotations"] = annotations
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": ingress_metadata,
        "spec": spec,
    }
