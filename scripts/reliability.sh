#!/usr/bin/env bash
# Fault, load and hostile-input tests on a separate set of services, and the
# table of their results for docs/reliability.md.
#
#   scripts/reliability.sh test     run tests/reliability (the default suite runs them too)
#   scripts/reliability.sh load     the full load run: 10,000 tasks from 50 clients
#                                   (GLDR_RELIABILITY_LOAD_TASKS sets another count)
#   scripts/reliability.sh report   print the results table in Markdown
#
# Measured counts go to $GLDR_RELIABILITY_RESULTS (default
# bench/results/reliability.json). The tests start and stop their own
# PostgreSQL, Redis and RabbitMQ (ports 25442, 26389 and 27692, or the next
# free slot), never the set that `scripts/services.sh up` starts.
set -euo pipefail
cd "$(dirname "$0")/.."

export GLDR_RELIABILITY_RESULTS=${GLDR_RELIABILITY_RESULTS:-$PWD/bench/results/reliability.json}

case "${1:-}" in
  test)
    uv run --frozen pytest -p no:cacheprovider tests/reliability
    ;;
  load)
    export GLDR_RELIABILITY_LOAD_TASKS=${GLDR_RELIABILITY_LOAD_TASKS:-10000}
    uv run --frozen pytest -p no:cacheprovider tests/reliability/test_load.py
    ;;
  report)
    uv run --frozen python -m tests.reliability.report "$GLDR_RELIABILITY_RESULTS"
    ;;
  *)
    echo "usage: $0 test|load|report" >&2
    exit 2
    ;;
esac
