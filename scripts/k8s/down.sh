#!/usr/bin/env bash
# Stop every process of a control plane that scripts/k8s/up.sh started, and
# delete its state folder.
#
# Usage: scripts/k8s/down.sh [--state-dir DIR] [--keep-state]
#
# Without --state-dir it stops the control plane of $GLDR_K8S_STATE_DIR.
# --keep-state keeps the folder with its logs.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "${repo_root}"
exec uv run --quiet python -m e2e.controlplane down "$@"
