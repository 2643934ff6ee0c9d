#!/usr/bin/env bash
# Run GL Open DeepResearch end to end on a kind cluster. The script builds
# both images and loads them into kind, installs the chart and a PostgreSQL,
# and applies a DeepResearchDeployment with the example profiles. When the
# deployment is Ready, it runs one research task through the API over a
# port-forward.
#
# Usage: e2e/kind.sh [--keep]
#   --keep  leave the release and the research namespace in place; by
#           default both are removed at the end, so that the e2e suite can
#           run its own operators afterwards without a second one watching.
#
# Needs docker, kind, kubectl and helm on PATH, and a kind cluster named
# $KIND_CLUSTER (default: gldr) as the current kubectl context. Pulls
# postgres, redis and rabbitmq images from Docker Hub inside the cluster.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${repo_root}"

cluster="${KIND_CLUSTER:-gldr}"
tag="${IMAGE_TAG:-ci}"
service_image="gl-open-deepresearch:${tag}"
operator_image="gldr-operator:${tag}"
release="gldr"
operator_namespace="gldr-system"
namespace="research"
local_port="${API_LOCAL_PORT:-18000}"
keep=0

if [[ "${1:-}" == "--keep" ]]; then
  keep=1
elif [[ $# -gt 0 ]]; then
  echo "usage: $0 [--keep]" >&2
  exit 2
fi

log() {
  echo "kind.sh: $*" >&2
}

# Print what a failed step needs for diagnosis before the script exits.
dump_state() {
  log "failed; state of namespaces ${operator_namespace} and ${namespace}:"
  kubectl get drd,rp,pods,jobs -n "${namespace}" -o wide || true
  kubectl get drd research -n "${namespace}" -o yaml || true
  kubectl logs -n "${operator_namespace}" deployment/"${release}-gl-deep-research-operator" --tail=200 || true
  kubectl logs -n "${namespace}" deployment/research-api --tail=100 || true
  kubectl logs -n "${namespace}" deployment/research-worker --tail=100 || true
}
trap dump_state ERR

port_forward_pid=""
cleanup() {
  if [[ -n "${port_forward_pid}" ]]; then
    kill "${port_forward_pid}" 2>/dev/null || true
  fi
}
trap cleanup EXIT

log "building ${service_image} and ${operator_image}"
docker build -f Dockerfile.service -t "${service_image}" .
docker build -f Dockerfile.operator -t "${operator_image}" .
kind load docker-image "${service_image}" "${operator_image}" --name "${cluster}"

log "installing the chart, watching namespace ${namespace}"
kubectl create namespace "${namespace}" --dry-run=client -o yaml | kubectl apply -f -
kubectl apply --server-side -f crds/
helm upgrade --install "${release}" helm/gl-deep-research \
  --namespace "${operator_namespace}" --create-namespace \
  --set operator.image.repository=gldr-operator \
  --set operator.image.tag="${tag}" \
  --set operator.image.pullPolicy=Never \
  --set operator.scope=namespaces \
  --set "operator.watchNamespaces={${namespace}}" \
  --wait --timeout 5m

log "starting PostgreSQL in namespace ${namespace}"
db_password="$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
master_key="$(head -c 24 /dev/urandom | base64 | tr -d '/+=')"
kubectl -n "${namespace}" create secret generic postgres \
  --from-literal=password="${db_password}" --dry-run=client -o yaml | kubectl apply -f -
kubectl -n "${namespace}" apply -f - <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: postgres
spec:
  replicas: 1
  selector:
    matchLabels: {app: postgres}
  template:
    metadata:
      labels: {app: postgres}
    spec:
      containers:
        - name: postgres
          image: postgres:16-alpine
          env:
            - {name: POSTGRES_USER, value: gldr}
            - {name: POSTGRES_DB, value: gldr}
            - name: POSTGRES_PASSWORD
              valueFrom:
                secretKeyRef: {name: postgres, key: password}
          ports:
            - containerPort: 5432
          readinessProbe:
            exec:
              command: [pg_isready, -U, gldr, -d, gldr]
            periodSeconds: 2
---
apiVersion: v1
kind: Service
metadata:
  name: postgres
spec:
  selector: {app: postgres}
  ports:
    - port: 5432
      targetPort: 5432
YAML
kubectl -n "${namespace}" rollout status deployment/postgres --timeout=5m

kubectl -n "${namespace}" create secret generic gldr-database \
  --from-literal=url="postgresql://gldr:${db_password}@postgres.${namespace}.svc:5432/gldr" \
  --dry-run=client -o yaml | kubectl apply -f -
kubectl -n "${namespace}" create secret generic gldr-auth \
  --from-literal=master-api-key="${master_key}" \
  --dry-run=client -o yaml | kubectl apply -f -

log "applying the example profiles and a DeepResearchDeployment sized for a CI runner"
kubectl -n "${namespace}" apply --server-side -f examples/profiles.yaml
kubectl -n "${namespace}" apply --server-side -f - <<YAML
apiVersion: research.gdplabs.id/v1alpha1
kind: DeepResearchDeployment
metadata:
  name: research
spec:
  version: "${tag}"
  image:
    repository: gl-open-deepresearch
    pullPolicy: Never
  database:
    urlSecretRef: {name: gldr-database, key: url}
  secrets:
    masterApiKey: {name: gldr-auth, key: master-api-key}
  api:
    resources:
      requests: {cpu: 250m, memory: 512Mi}
      limits: {cpu: "1", memory: 2Gi}
  worker:
    concurrency: 1
    resources:
      requests: {cpu: 250m, memory: 512Mi}
      limits: {cpu: "1", memory: 2Gi}
  redis:
    managed:
      resources:
        requests: {cpu: 100m, memory: 128Mi}
        limits: {cpu: 500m, memory: 512Mi}
      storage: {size: 1Gi}
  rabbitmq:
    managed:
      resources:
        requests: {cpu: 100m, memory: 256Mi}
        limits: {cpu: "1", memory: 1Gi}
      storage: {size: 1Gi}
YAML
kubectl -n "${namespace}" wait drd/research --for=condition=Ready --timeout=15m
kubectl -n "${namespace}" get drd,rp

log "running one research task through the API on 127.0.0.1:${local_port}"
kubectl -n "${namespace}" port-forward --address 127.0.0.1 svc/research-api "${local_port}:8000" >/dev/null &
port_forward_pid=$!
api="http://127.0.0.1:${local_port}"
for _ in $(seq 60); do
  curl -fsS "${api}/health" >/dev/null 2>&1 && break
  sleep 1
done
curl -fsS "${api}/health"
echo

account_key="$(curl -fsS -X POST "${api}/v1/accounts/" \
  -H "X-API-Key: ${master_key}" -H 'Content-Type: application/json' \
  -d '{"name": "kind-e2e"}' | python3 -c 'import json, sys; print(json.load(sys.stdin)["data"]["api_key"])')"
task_id="$(curl -fsS -X POST "${api}/v1/tasks" \
  -H "X-API-Key: ${account_key}" \
  --data-urlencode 'query=What is photosynthesis?' \
  --data-urlencode 'profile=quick' | python3 -c 'import json, sys; print(json.load(sys.stdin)["task_id"])')"
log "created task ${task_id}"

status=""
for _ in $(seq 300); do
  body="$(curl -fsS "${api}/v1/tasks/${task_id}" -H "X-API-Key: ${account_key}")"
  status="$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["status"])' "${body}")"
  case "${status}" in
    SUCCESS | FAILURE | REVOKED) break ;;
  esac
  sleep 2
done
if [[ "${status}" != "SUCCESS" ]]; then
  log "task ${task_id} ended ${status:-without a status} instead of SUCCESS: ${body}"
  false
fi
python3 -c 'import json, sys; print(json.loads(sys.argv[1])["data"]["result"][:1500])' "${body}"
log "task ${task_id} succeeded"

if [[ ${keep} -eq 0 ]]; then
  log "removing the DeepResearchDeployment, the release and namespace ${namespace}"
  # The operator removes its finalizer, so the resource goes before the operator.
  kubectl -n "${namespace}" delete drd --all --wait --timeout=3m
  helm uninstall "${release}" --namespace "${operator_namespace}" --wait --timeout 3m
  kubectl delete namespace "${namespace}" --wait --timeout=3m
fi
