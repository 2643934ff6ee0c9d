#!/usr/bin/env bash
# Run the whole benchmark suite, print the results table and write it into
# bench/README.md. Arguments go to `python -m bench` (for example --quick).
# Needs PostgreSQL, Redis and RabbitMQ (`scripts/services.sh up`), wrk, and
# for the operator the binaries of scripts/k8s/build.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v wrk >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "bench: installing wrk from Debian's packages"
    apt-get install -y -qq wrk >/dev/null || {
      apt-get update -qq && apt-get install -y -qq wrk >/dev/null
    }
  else
    echo "bench: wrk is missing; install it with: sudo apt-get install -y wrk" >&2
    exit 1
  fi
fi

scripts/services.sh up
# 1,000 SSE streams need about 4,000 file descriptors across the server and the clients.
ulimit -n "$(ulimit -Hn)"
exec uv run --frozen python -m bench "$@"
