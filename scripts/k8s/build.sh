#!/usr/bin/env bash
# Build etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl
# and kwok from the Go module proxy into a cache folder outside the repository.
#
# Usage: scripts/k8s/build.sh [--print-bin-dir]
#
# Binaries go to ${GLDR_CACHE_DIR:-$HOME/.cache/gldr}/k8s/<versions>/bin, where
# <versions> names the Kubernetes, etcd and kwok versions of versions.env.
# A binary that is already there is not built again, so a second run returns
# in seconds. Set GLDR_K8S_BIN_DIR to use another folder.
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "${script_dir}/versions.env"

cache_dir="${GLDR_CACHE_DIR:-${HOME}/.cache/gldr}"
bin_dir="${GLDR_K8S_BIN_DIR:-${cache_dir}/k8s/${K8S_VERSION}_etcd-${ETCD_VERSION}_kwok-${KWOK_VERSION}/bin}"

if [[ "${1:-}" == "--print-bin-dir" ]]; then
  echo "${bin_dir}"
  exit 0
elif [[ $# -gt 0 ]]; then
  echo "usage: $0 [--print-bin-dir]" >&2
  exit 2
fi

log() {
  echo "build.sh: $*" >&2
}

if ! command -v go >/dev/null; then
  log "go not found in PATH; install Go 1.26 or newer (kwok ${KWOK_VERSION} and etcd ${ETCD_VERSION} require it)"
  exit 1
fi

# Copy kwok's default Stage objects from its module source, which the Go
# module proxy serves, into the cache folder.
copy_kwok_stages() {
  local module_dir file
  module_dir="$(cd "${TMPDIR:-/tmp}" && go mod download -json "sigs.k8s.io/kwok@${KWOK_VERSION}" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  mkdir -p "${stages_dir}"
  for file in "${stage_files[@]}"; do
    install -m 0644 "${module_dir}/kustomize/stage/${file}" "${stages_dir}/"
  done
  log "copied kwok ${KWOK_VERSION} stages into ${stages_dir}"
}

kube_commands=(kube-apiserver kube-controller-manager kube-scheduler kubectl)
all_binaries=(etcd kwok "${kube_commands[@]}")
# kwok run on its own needs its Stage objects in its configuration file, and
# these are kwok's default node and pod stages, as kwokctl passes them.
stages_dir="$(dirname "${bin_dir}")/kwok-stages"
stage_files=(
  node/fast/node-initialize.yaml
  node/heartbeat-with-lease/node-heartbeat-with-lease.yaml
  pod/fast/pod-ready.yaml
  pod/fast/pod-complete.yaml
  pod/fast/pod-delete.yaml
)

missing=()
for name in "${all_binaries[@]}"; do
  [[ -x "${bin_dir}/${name}" ]] || missing+=("${name}")
done
missing_stages=0
for file in "${stage_files[@]}"; do
  [[ -f "${stages_dir}/$(basename "${file}")" ]] || missing_stages=1
done
if [[ ${missing_stages} -eq 1 ]]; then
  copy_kwok_stages
fi
if [[ ${#missing[@]} -eq 0 ]]; then
  log "all binaries found in ${bin_dir}"
  exit 0
fi
log "building ${missing[*]} into ${bin_dir}"

mkdir -p "${bin_dir}"
work_dir="$(mktemp -d "${TMPDIR:-/tmp}/gldr-k8s-build.XXXXXX")"
# Built binaries land here first and are moved into bin_dir only when the
# build succeeded, so an interrupted build never leaves a broken binary.
out_dir="${bin_dir}/.partial-$$"
mkdir -p "${out_dir}"
trap 'rm -rf "${work_dir}" "${out_dir}"' EXIT

export CGO_ENABLED=0
export GOFLAGS="${GOFLAGS:-} -trimpath -buildvcs=false"
build_date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"

needs() {
  local name
  for name in "${missing[@]}"; do
    [[ "${name}" == "$1" ]] && return 0
  done
  return 1
}

# Every module of Kubernetes' staging folder, as the replace block of
# k8s.io/kubernetes's own go.mod lists them.
staging_modules() {
  local go_mod
  go_mod="$(cd "${work_dir}/kube" && go mod download -json "k8s.io/kubernetes@${K8S_VERSION}" |
    sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')"
  sed -n 's#^[[:space:]]*\(k8s\.io/[a-z0-9-]*\) => \./staging/src/.*#\1#p' "${go_mod}"
}

build_kube() {
  local dir="${work_dir}/kube"
  local staging_version="v0.${K8S_VERSION#v1.}"
  local minor="${K8S_VERSION#v1.}"
  minor="${minor%%.*}"
  mkdir -p "${dir}"
  cat >"${dir}/go.mod" <<EOF
module gldr.local/k8s-build

go 1.24.0

require k8s.io/kubernetes ${K8S_VERSION}
EOF
  # k8s.io/kubernetes requires its staging modules at v0.0.0 and points them
  # at ./staging with replace directives, which a depending module ignores.
  # Each staging module is published with the tag v0.<minor>.<patch>.
  local module
  for module in $(staging_modules); do
    echo "replace ${module} => ${module} ${staging_version}" >>"${dir}/go.mod"
  done
  cat >"${dir}/tools.go" <<'EOF'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
EOF
  (cd "${dir}" && go mod tidy)

  local ldflags=()
  local package
  # `--version` and the API server's /version report these variables, which
  # are unset in a plain `go build`.
  for package in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=(
      "-X ${package}.gitVersion=${K8S_VERSION}"
      "-X ${package}.gitMajor=1"
      "-X ${package}.gitMinor=${minor}"
      "-X ${package}.gitTreeState=archive"
      "-X ${package}.buildDate=${build_date}"
    )
  done
  local packages=()
  for name in "${kube_commands[@]}"; do
    needs "${name}" && packages+=("k8s.io/kubernetes/cmd/${name}")
  done
  (cd "${dir}" && go build -ldflags "-s -w ${ldflags[*]}" -o "${out_dir}/" "${packages[@]}")
}

build_etcd() {
  local dir="${work_dir}/etcd"
  mkdir -p "${dir}"
  # go.etcd.io/etcd/server/v3 contains etcd's main package. Its go.mod points
  # the other etcd modules at sibling folders with replace directives, so
  # `go install` rejects it. A wrapper module resolves them by version instead.
  cat >"${dir}/go.mod" <<EOF
module gldr.local/etcd-build

go 1.26.0

require go.etcd.io/etcd/server/v3 ${ETCD_VERSION}
EOF
  cat >"${dir}/tools.go" <<'EOF'
//go:build tools

package tools

import _ "go.etcd.io/etcd/server/v3"
EOF
  (cd "${dir}" && go mod tidy && go build -ldflags "-s -w" -o "${out_dir}/etcd" go.etcd.io/etcd/server/v3)
}

build_kwok() {
  # sigs.k8s.io/kwok has no replace directives, so `go install` works. The
  # version variable is the one that kwok's hack/releases.sh sets.
  GOBIN="${out_dir}" go install \
    -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION}" \
    "sigs.k8s.io/kwok/cmd/kwok@${KWOK_VERSION}"
}

start_seconds=${SECONDS}
if needs etcd; then
  log "building etcd ${ETCD_VERSION}"
  time build_etcd
fi
if needs kwok; then
  log "building kwok ${KWOK_VERSION}"
  time build_kwok
fi
for name in "${kube_commands[@]}"; do
  if needs "${name}"; then
    log "building Kubernetes ${K8S_VERSION} commands"
    time build_kube
    break
  fi
done

for name in "${missing[@]}"; do
  mv -f "${out_dir}/${name}" "${bin_dir}/${name}"
done

"${bin_dir}/etcd" --version >&2
"${bin_dir}/kube-apiserver" --version >&2
"${bin_dir}/kwok" --version >&2
log "built ${missing[*]} in $((SECONDS - start_seconds)) s into ${bin_dir}"
