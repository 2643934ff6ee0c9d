#!/bin/sh
# Entrypoint of the service image.
#
#   (no arguments) or "api"  migrate the database, then serve the API on $PORT
#   "worker" [celery options] run the Celery worker on $CELERY_QUEUE_NAME, with
#                             metrics and GET /livez on $WORKER_METRICS_PORT
#   "flower" [flower options] run the Flower dashboard on port 5555
#   "migrate"                 only upgrade the database schema
#   any other command         run it as given (for example `celery ...`)
#
# `gldr migrate` holds a PostgreSQL advisory lock, so API replicas that start
# together migrate one at a time and the rest find the schema at head.
# Kubernetes `command:` replaces this entrypoint, so the operator's worker and
# Flower pods call celery directly with the same arguments as below.
set -eu

celery_app="gl_deep_research.worker.celery_app"

if [ "$#" -eq 0 ]; then
  set -- api
fi

case "$1" in
  api)
    shift
    echo "entrypoint.sh: upgrading the database schema before the API starts" >&2
    gldr migrate
    exec gldr serve --skip-migrations --host "${HOST:-0.0.0.0}" --port "${PORT:-8000}" "$@"
    ;;
  worker)
    shift
    if [ -n "${WORKER_METRICS_PORT:-}" ] && [ -z "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
      # The pool processes write their metric samples here for the metrics endpoint.
      PROMETHEUS_MULTIPROC_DIR="$(mktemp -d "${TMPDIR:-/tmp}/gldr-metrics.XXXXXX")"
      export PROMETHEUS_MULTIPROC_DIR
    fi
    exec celery -A "${celery_app}" worker \
      --loglevel="${LOG_LEVEL:-INFO}" \
      --concurrency="${WORKER_CONCURRENCY:-4}" \
      --prefetch-multiplier="${WORKER_PREFETCH_MULTIPLIER:-1}" \
      -Q "${CELERY_QUEUE_NAME:-deep_research}" "$@"
    ;;
  flower)
    shift
    exec celery -A "${celery_app}" flower --port="${FLOWER_PORT:-5555}" "$@"
    ;;
  migrate)
    shift
    exec gldr migrate "$@"
    ;;
  *)
    exec "$@"
    ;;
esac
