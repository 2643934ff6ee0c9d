"""Names shared by the CRDs, the renderers and the reconciler."""

from __future__ import annotations

GROUP = "research.gdplabs.id"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
DEPLOYMENT_KIND = "DeepResearchDeployment"
DEPLOYMENT_PLURAL = "deepresearchdeployments"
PROFILE_KIND = "ResearchProfile"
PROFILE_PLURAL = "researchprofiles"

# Server-side apply field manager of every object the operator writes.
FIELD_MANAGER = "gldr-operator"
MANAGED_BY = "gldr-operator"
PART_OF = "gl-open-deepresearch"

# Annotations on the DeepResearchDeployment.
PAUSED_ANNOTATION = f"{GROUP}/paused"

# Annotations on children.
CONFIG_HASH_ANNOTATION = f"{GROUP}/config-hash"
APPLIED_HASH_ANNOTATION = f"{GROUP}/applied-hash"

API_PORT = 8000
FLOWER_PORT = 5555
# Prometheus metrics and GET /livez of each worker (WORKER_METRICS_PORT).
WORKER_METRICS_PORT = 9540
WORKER_LIVENESS_PATH = "/livez"
# The folder where the worker's pool processes write their metric samples, so
# that the endpoint on WORKER_METRICS_PORT serves the sum over all of them.
WORKER_METRICS_DIR = "/var/gldr/metrics"
REDIS_PORT = 6379
AMQP_PORT = 5672
PROFILES_FILE = "profiles.yaml"
PROFILES_MOUNT_DIR = "/etc/gldr"
