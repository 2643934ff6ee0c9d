#!/usr/bin/env bash
# Copy crds/ into the Helm chart and refresh the chart's values schema.
#
# crds/ is the source of truth. Helm installs only the CRDs inside its chart
# folder, and the chart's values.schema.json embeds the CRD spec schemas, so
# run this after every CRD change. tests/helm checks that both are current.
#
# Usage: scripts/sync-chart-crds.sh [--check]
#   --check  change nothing; exit 1 when the chart's copies are stale.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
chart_crds="${repo_root}/helm/gl-deep-research/crds"

if [[ "${1:-}" == "--check" ]]; then
  status=0
  if ! diff -r "${repo_root}/crds" "${chart_crds}" >&2; then
    echo "sync-chart-crds.sh: ${chart_crds} differs from crds/; run scripts/sync-chart-crds.sh" >&2
    status=1
  fi
  uv run --quiet python "${repo_root}/scripts/helm/values_schema.py" --check || status=1
  exit "${status}"
elif [[ $# -gt 0 ]]; then
  echo "usage: $0 [--check]" >&2
  exit 2
fi

mkdir -p "${chart_crds}"
rm -f "${chart_crds}"/*.yaml
cp "${repo_root}"/crds/*.yaml "${chart_crds}/"
uv run --quiet python "${repo_root}/scripts/helm/values_schema.py"
echo "sync-chart-crds.sh: copied $(ls "${repo_root}"/crds/*.yaml | wc -l) CRDs and refreshed values.schema.json" >&2
