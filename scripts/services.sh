#!/usr/bin/env bash
# Install (when missing) and start PostgreSQL, Redis and RabbitMQ on loopback
# for the test suite and for local development.
#
#   scripts/services.sh up      install what is missing, start all three, wait until ready
#   scripts/services.sh down    stop all three
#   scripts/services.sh env     print the environment variables that point the service at them
#
# State lives in $GLDR_SERVICES_DIR (default /tmp/gldr-services). Ports are
# non-standard so they never collide with a system-wide installation. They also
# lie below Linux's default ephemeral range (32768-60999, see
# /proc/sys/net/ipv4/ip_local_port_range). Inside it, a listener can fail with
# EADDRINUSE because an outgoing connection, such as the broker's own link to
# epmd, was just given the same port. Set GLDR_SERVICES_DIR,
# GLDR_PG_PORT, GLDR_REDIS_PORT, GLDR_AMQP_PORT, GLDR_AMQP_DIST_PORT and
# GLDR_RABBIT_NODE to run a second, separate set.
set -euo pipefail

STATE_DIR=${GLDR_SERVICES_DIR:-/tmp/gldr-services}
PG_PORT=${GLDR_PG_PORT:-25432}
REDIS_PORT=${GLDR_REDIS_PORT:-26379}
AMQP_PORT=${GLDR_AMQP_PORT:-27672}
AMQP_DIST_PORT=${GLDR_AMQP_DIST_PORT:-27673}
RABBIT_NODE=${GLDR_RABBIT_NODE:-gldr@localhost}

log() { printf 'services: %s\n' "$*" >&2; }

pg_bin() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$dir" ] && echo "$dir"
}

install_missing() {
  local packages=()
  [ -n "$(pg_bin)" ] && [ -x "$(pg_bin)/postgres" ] || packages+=(postgresql)
  command -v redis-server >/dev/null || packages+=(redis-server)
  [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || command -v rabbitmq-server >/dev/null \
    || packages+=(rabbitmq-server)
  if [ ${#packages[@]} -eq 0 ]; then
    return
  fi
  log "installing ${packages[*]} from Debian's packages"
  # Keep the packages' init scripts from starting system-wide copies.
  local policy=/usr/sbin/policy-rc.d created_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created_policy=1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null
  [ "$created_policy" = 1 ] && rm -f "$policy"
  return 0
}

wait_for() {
  local what=$1 tries=$2
  shift 2
  for _ in $(seq "$tries"); do
    if "$@" >/dev/null 2>&1; then
      log "$what is ready"
      return 0
    fi
    sleep 0.5
  done
  log "$what did not become ready; see the logs in $STATE_DIR"
  return 1
}

# Fail with a clear message when something else already listens on PORT.
require_free_port() {
  local what=$1 port=$2 variable=$3 holder
  holder=$(ss -Hltnp "sport = :$port" 2>/dev/null | head -n 1)
  [ -z "$holder" ] && return 0
  log "$what cannot start: port $port is taken ($holder); stop that process or set $variable"
  return 1
}

postgres_up() {
  local bin data=$STATE_DIR/postgres
  bin=$(pg_bin)
  mkdir -p "$STATE_DIR"
  id postgres >/dev/null 2>&1 || useradd --system --home-dir "$STATE_DIR" postgres
  if [ ! -f "$data/PG_VERSION" ]; then
    mkdir -p "$data" && chown postgres "$data"
    runuser -u postgres -- "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 >/dev/null
  fi
  chown -R postgres "$data"
  touch "$STATE_DIR/postgres.log" && chown postgres "$STATE_DIR/postgres.log"
  if ! runuser -u postgres -- "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    require_free_port PostgreSQL "$PG_PORT" GLDR_PG_PORT
    runuser -u postgres -- "$bin/pg_ctl" -D "$data" -l "$STATE_DIR/postgres.log" -w start \
      -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $data -c max_connections=300 -c fsync=off" \
      >/dev/null
  fi
  wait_for PostgreSQL 60 "$bin/pg_isready" -h 127.0.0.1 -p "$PG_PORT"
  local psql=("$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -v ON_ERROR_STOP=1 -qtA)
  if [ "$("${psql[@]}" -c "SELECT 1 FROM pg_roles WHERE rolname='gldr'")" != 1 ]; then
    "${psql[@]}" -c "CREATE ROLE gldr LOGIN SUPERUSER PASSWORD 'gldr'"
  fi
  if [ "$("${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname='gldr'")" != 1 ]; then
    "${psql[@]}" -c "CREATE DATABASE gldr OWNER gldr"
  fi
}

redis_up() {
  mkdir -p "$STATE_DIR/redis"
  if ! redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
    require_free_port Redis "$REDIS_PORT" GLDR_REDIS_PORT
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$STATE_DIR/redis" \
      --daemonize yes --pidfile "$STATE_DIR/redis.pid" --logfile "$STATE_DIR/redis.log" \
      --save '' --appendonly no
  fi
  wait_for Redis 60 redis-cli -p "$REDIS_PORT" ping
}

rabbitmq_env() {
  export RABBITMQ_NODENAME=$RABBIT_NODE
  export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
  export RABBITMQ_NODE_PORT=$AMQP_PORT
  export RABBITMQ_DIST_PORT=$AMQP_DIST_PORT
  export RABBITMQ_MNESIA_BASE=$STATE_DIR/rabbitmq/mnesia
  export RABBITMQ_LOG_BASE=$STATE_DIR/rabbitmq/log
  export RABBITMQ_PID_FILE=$STATE_DIR/rabbitmq/rabbitmq.pid
  export RABBITMQ_ENABLED_PLUGINS_FILE=$STATE_DIR/rabbitmq/enabled_plugins
  export RABBITMQ_CONFIG_FILE=$STATE_DIR/rabbitmq/rabbitmq
  export ERL_EPMD_ADDRESS=127.0.0.1
  export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
  export PATH=/usr/lib/rabbitmq/bin:$PATH
}

rabbitmq_up() {
  rabbitmq_env
  mkdir -p "$RABBITMQ_MNESIA_BASE" "$RABBITMQ_LOG_BASE"
  [ -f "$RABBITMQ_ENABLED_PLUGINS_FILE" ] || echo '[].' >"$RABBITMQ_ENABLED_PLUGINS_FILE"
  # A long consumer timeout, because a research task is acknowledged only when it ends.
  printf 'loopback_users = none\nconsumer_timeout = 7200000\n' >"$RABBITMQ_CONFIG_FILE.conf"
  local server=""
  if ! rabbitmqctl -n "$RABBIT_NODE" status >/dev/null 2>&1; then
    require_free_port RabbitMQ "$AMQP_PORT" GLDR_AMQP_PORT
    # In the foreground of a detached session rather than with -detached, so the
    # wait below can tell a broker that stopped from one still starting.
    setsid nohup rabbitmq-server >"$STATE_DIR/rabbitmq/server.out" 2>&1 </dev/null &
    server=$!
  fi
  for _ in $(seq 180); do
    if rabbitmqctl -n "$RABBIT_NODE" await_startup --timeout 5 >/dev/null 2>&1; then
      log "RabbitMQ is ready"
      return 0
    fi
    if [ -n "$server" ] && ! kill -0 "$server" 2>/dev/null; then
      log "RabbitMQ stopped during start-up; the end of $STATE_DIR/rabbitmq/server.out:"
      tail -n 3 "$STATE_DIR/rabbitmq/server.out" >&2
      return 1
    fi
    sleep 0.5
  done
  log "RabbitMQ did not become ready; see the logs in $STATE_DIR/rabbitmq"
  return 1
}

print_env() {
  cat <<ENV
export GL_DEEP_RESEARCH_DB_URL=postgresql://gldr:gldr@127.0.0.1:$PG_PORT/gldr
export REDIS_HOST=127.0.0.1
export REDIS_PORT=$REDIS_PORT
export CELERY_BROKER_URL=amqp://guest:guest@127.0.0.1:$AMQP_PORT//
ENV
}

down() {
  local bin
  bin=$(pg_bin || true)
  if [ -n "$bin" ] && [ -f "$STATE_DIR/postgres/PG_VERSION" ]; then
    runuser -u postgres -- "$bin/pg_ctl" -D "$STATE_DIR/postgres" -m fast -w stop \
      >/dev/null 2>&1 || true
  fi
  redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
  if [ -d /usr/lib/rabbitmq/bin ]; then
    rabbitmq_env
    rabbitmqctl -n "$RABBIT_NODE" stop >/dev/null 2>&1 || true
  fi
  log "stopped"
}

case "${1:-}" in
  up)
    install_missing
    postgres_up
    redis_up
    rabbitmq_up
    ;;
  down) down ;;
  env) print_env ;;
  *)
    echo "usage: $0 up|down|env" >&2
    exit 2
    ;;
esac
