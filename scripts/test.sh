#!/usr/bin/env bash
# The whole test suite from a fresh checkout: installs uv and the locked
# dependencies, installs and starts PostgreSQL, Redis and RabbitMQ on loopback,
# runs the linters and type checks, the unit and service tests, and the
# Kubernetes end-to-end suite on a local control plane built from source.
# Exits non-zero when anything fails or when no test ran.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v uv >/dev/null 2>&1; then
  echo "test: installing uv with pip"
  python3 -m pip install --quiet uv
fi
uv sync --frozen

scripts/services.sh up

echo "test: ruff"
uv run --frozen ruff format --check .
uv run --frozen ruff check .
echo "test: mypy"
uv run --frozen mypy

echo "test: pytest"
uv run --frozen pytest -p no:cacheprovider

# The full load run (10,000 tasks, about ten minutes on 2 cores); the default
# suite above submits 1,000. GLDR_RELIABILITY_LOAD=0 skips it.
if [ "${GLDR_RELIABILITY_LOAD:-1}" = 1 ]; then
  echo "test: reliability load run"
  scripts/reliability.sh load
fi

if [ -x e2e/run.sh ]; then
  echo "test: Kubernetes end-to-end suite"
  e2e/run.sh
fi
