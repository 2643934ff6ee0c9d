#!/usr/bin/env bash
# Start a local Kubernetes control plane (etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kwok with 3 fake nodes) on
# 127.0.0.1, building missing binaries first.
#
# Usage: eval "$(scripts/k8s/up.sh [--state-dir DIR])"
#
# Prints `export KUBECONFIG=...` and `export GLDR_K8S_STATE_DIR=...` on
# standard output and progress on standard error. Stop it with
# scripts/k8s/down.sh.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
"${repo_root}/scripts/k8s/build.sh"
cd "${repo_root}"
exec uv run --quiet python -m e2e.controlplane up "$@"
