#!/usr/bin/env bash
# The local services the test suite talks to: PostgreSQL (127.0.0.1:5432), Redis (6379) and
# RabbitMQ (5672). Starts each one that is installed but down (as the machine's own commands
# would), waits for it, and otherwise says in one line what is missing. Used by `make test` and
# `.ci/run`; LYO_SKIP_SERVICES=1 skips it (services elsewhere, DATABASE_URL/REDIS_URL set).
set -Euo pipefail
[ "${LYO_SKIP_SERVICES:-}" = 1 ] && exit 0
PATH="$PATH:/usr/sbin"
missing=()

wait_for() {  # wait_for NAME COMMAND...: up to 30 s
  for _ in $(seq 1 30); do "${@:2}" >/dev/null 2>&1 && return 0; sleep 1; done
  missing+=("$1")
  return 1
}

if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  clusters=(/etc/postgresql/*)
  if [ -d "${clusters[0]}" ] && command -v pg_ctlcluster >/dev/null 2>&1; then
    pg_ctlcluster --skip-systemctl-redirect "$(basename "${clusters[0]}")" main start \
      >/dev/null 2>&1 || true
  fi
  wait_for "PostgreSQL on 127.0.0.1:5432 (pg_ctlcluster ... main start)" \
    pg_isready -q -h 127.0.0.1 -p 5432
fi

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  if command -v redis-server >/dev/null 2>&1; then
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log >/dev/null 2>&1 || true
  fi
  wait_for "Redis on 127.0.0.1:6379 (redis-server)" redis-cli -h 127.0.0.1 -p 6379 ping
fi

if ! rabbitmq-diagnostics -q ping >/dev/null 2>&1; then
  if command -v rabbitmq-server >/dev/null 2>&1; then
    rabbitmq-server -detached >/dev/null 2>&1 || true
    timeout 120 rabbitmqctl await_startup >/dev/null 2>&1 || true
  fi
  wait_for "RabbitMQ on 127.0.0.1:5672 (rabbitmq-server)" rabbitmq-diagnostics -q ping
fi

if [ "${#missing[@]}" -gt 0 ]; then
  printf 'Not running and could not be started: %s\n' "$(IFS=';'; echo "${missing[*]}")" >&2
  exit 1
fi
echo "services: PostgreSQL, Redis and RabbitMQ answer"
