#!/usr/bin/env bash
# Run the e2e suite against a local Kubernetes control plane: build missing
# binaries, then run every test marked k8s. The session's kubeconfig fixture
# starts the control plane and stops it at the end.
#
# Usage: e2e/run.sh [extra pytest arguments]
#
# With GLDR_E2E_USE_KUBECONFIG=1 the tests run against the cluster of
# $KUBECONFIG (for example kind) and nothing is built or started.
# Exits non-zero when a test fails and when no test ran.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${repo_root}"

if [[ "${GLDR_E2E_USE_KUBECONFIG:-}" != "1" ]]; then
  scripts/k8s/build.sh
fi

report="$(mktemp "${TMPDIR:-/tmp}/gldr-e2e-junit.XXXXXX.xml")"
trap 'rm -f "${report}"' EXIT

# pytest exits with 5 when it collected no test, which fails this script too.
uv run pytest e2e -m k8s -p no:cacheprovider --junitxml="${report}" "$@"

# A run in which every test was skipped exits with 0 but tested nothing.
uv run --quiet python - "${report}" <<'PYTHON'
import sys
import xml.etree.ElementTree as ElementTree

suite = ElementTree.parse(sys.argv[1]).getroot().find("testsuite")
executed = int(suite.get("tests")) - int(suite.get("skipped"))
if executed < 1:
    sys.exit("e2e/run.sh: no test ran (all were skipped or deselected)")
PYTHON
