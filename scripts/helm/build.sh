#!/usr/bin/env bash
# Build the helm binary from the Go module proxy into a cache folder outside
# the repository, so the chart tests need no download from get.helm.sh.
#
# Usage: scripts/helm/build.sh [--print-path]
#
# The binary goes to ${GLDR_CACHE_DIR:-$HOME/.cache/gldr}/helm/<version>/helm.
# When it is already there, nothing is built and the script returns at once.
# Set GLDR_HELM_VERSION to build another v3 release.
set -euo pipefail

helm_version="${GLDR_HELM_VERSION:-v3.21.4}"
cache_dir="${GLDR_CACHE_DIR:-${HOME}/.cache/gldr}"
bin_dir="${cache_dir}/helm/${helm_version}"
binary="${bin_dir}/helm"

log() {
  echo "scripts/helm/build.sh: $*" >&2
}

if [[ "${1:-}" == "--print-path" ]]; then
  echo "${binary}"
  exit 0
elif [[ $# -gt 0 ]]; then
  echo "usage: $0 [--print-path]" >&2
  exit 2
fi

if [[ -x "${binary}" ]]; then
  log "found helm ${helm_version} at ${binary}"
  exit 0
fi

if ! command -v go >/dev/null; then
  log "go not found in PATH; install Go 1.26 or newer (helm ${helm_version} requires it)"
  exit 1
fi

module="helm.sh/helm/v3"

# Run go outside the repository, so that no go.mod of ours is picked up.
work_dir="$(mktemp -d "${TMPDIR:-/tmp}/gldr-helm-build.XXXXXX")"
trap 'rm -rf "${work_dir}"' EXIT
cd "${work_dir}"

# helm's Makefile derives the Kubernetes version that `helm template` and
# `helm lint` assume from its k8s.io/client-go requirement (v0.N.x means
# Kubernetes 1.N). Without these ldflags helm assumes Kubernetes 1.20.
module_dir="$(go mod download -json "${module}@${helm_version}" |
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
client_go_version="$(sed -n 's/^[[:space:]]*k8s.io\/client-go v0\.\([0-9]*\)\..*/\1/p' \
  "${module_dir}/go.mod")"
if [[ -z "${client_go_version}" ]]; then
  log "could not read the k8s.io/client-go version from ${module_dir}/go.mod"
  exit 1
fi

ldflags=(
  -w -s
  -X "${module}/internal/version.version=${helm_version}"
  -X "${module}/internal/version.gitTreeState=clean"
  -X "${module}/pkg/lint/rules.k8sVersionMajor=1"
  -X "${module}/pkg/lint/rules.k8sVersionMinor=${client_go_version}"
  -X "${module}/pkg/chartutil.k8sVersionMajor=1"
  -X "${module}/pkg/chartutil.k8sVersionMinor=${client_go_version}"
)

log "building helm ${helm_version} (Kubernetes 1.${client_go_version} defaults) into ${bin_dir}"
started=${SECONDS}
mkdir -p "${bin_dir}"
# Build into a temporary name first, so an interrupted build never leaves a
# partial binary that the next run would take as finished.
GOBIN="${work_dir}/bin" CGO_ENABLED=0 nice -n 10 \
  go install -trimpath -ldflags "${ldflags[*]}" "${module}/cmd/helm@${helm_version}"
install -m 0755 "${work_dir}/bin/helm" "${binary}.partial"
mv "${binary}.partial" "${binary}"
log "built ${binary} in $((SECONDS - started)) s: $("${binary}" version --short)"
