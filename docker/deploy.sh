#!/usr/bin/env bash
# Roll out a Lyo release on a Docker host that runs docker/compose.production.yml.
# Run from anywhere; works in the directory holding docker/ and .env.production (e.g. /srv/lyo).
#
#   LYO_TAG=v1.4.0 docker/deploy.sh pull      # fetch the release's image
#   LYO_TAG=v1.4.0 docker/deploy.sh migrate   # release step: migrations + periodic tasks
#   LYO_TAG=v1.4.0 docker/deploy.sh rollout   # new web replicas beside the old, then retire the
#                                             # old ones; then worker and beat; record the tag
#   docker/deploy.sh status
#
# Zero downtime relies on: migrations that old code tolerates (expand/contract, see
# docs/operations.md), nginx re-resolving the web replicas (lyo/upstream.conf) and retrying a
# refused connection on another replica, and gunicorn finishing requests on SIGTERM.
# Rolling back = `LYO_TAG=<previous tag> docker/deploy.sh rollout` (no migrate).
set -Eeuo pipefail
cd "$(dirname "$0")/.."

ENV_FILE=${LYO_ENV_FILE:-.env.production}
COMPOSE_FILE=docker/compose.production.yml
WEB_REPLICAS=${LYO_WEB_REPLICAS:-2}
HEALTH_TIMEOUT=${LYO_HEALTH_TIMEOUT:-180}

log() { printf '%s deploy: %s\n' "$(date -u +%FT%TZ)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
compose() { docker compose --env-file "$ENV_FILE" -f "$COMPOSE_FILE" "$@"; }
need_tag() { : "${LYO_TAG:?set LYO_TAG to the image tag to deploy (e.g. v1.4.0)}"; export LYO_TAG; }

[ -f "$ENV_FILE" ] || die "$ENV_FILE is missing (copy .env.production.example and fill it in)"

wait_healthy() {  # container ids...
  local deadline=$((SECONDS + HEALTH_TIMEOUT)) id status
  for id in "$@"; do
    while :; do
      status=$(docker inspect --format '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$id")
      case "$status" in
        healthy) break ;;
        unhealthy|exited|dead) docker logs --tail 50 "$id" >&2 || true; return 1 ;;
      esac
      [ "$SECONDS" -lt "$deadline" ] || { docker logs --tail 50 "$id" >&2 || true; return 1; }
      sleep 2
    done
  done
}

record_tag() {
  if grep -q '^LYO_TAG=' "$ENV_FILE"; then
    sed -i "s/^LYO_TAG=.*/LYO_TAG=${LYO_TAG}/" "$ENV_FILE"
  else
    printf 'LYO_TAG=%s\n' "$LYO_TAG" >> "$ENV_FILE"
  fi
}

cmd_pull() {
  need_tag
  log "pulling ${LYO_TAG}"
  compose --profile release pull --quiet web worker beat release
}

cmd_migrate() {
  need_tag
  log "release step (migrate + setup_periodic_tasks) with ${LYO_TAG}"
  compose up -d --wait postgres redis
  compose run --rm release
}

cmd_rollout() {
  need_tag
  local old new total id
  old=$(compose ps -q web | sort)
  total=$(( $(printf '%s\n' "$old" | grep -c . || true) + WEB_REPLICAS ))
  log "starting ${WEB_REPLICAS} new web replica(s) with ${LYO_TAG} beside the running ones"
  compose up -d --no-deps --no-recreate --scale "web=${total}" web
  new=$(comm -13 <(printf '%s\n' "$old") <(compose ps -q web | sort))
  [ -n "$new" ] || die "no new web container started"
  # shellcheck disable=SC2086 # one id per word
  if ! wait_healthy $new; then
    log "new replicas are not healthy: removing them, the old ones keep serving"
    # shellcheck disable=SC2086
    docker rm -f $new >/dev/null
    die "rollout of ${LYO_TAG} aborted"
  fi
  for id in $old; do
    log "retiring web container ${id:0:12} (graceful, in-flight requests finish)"
    docker stop --time 45 "$id" >/dev/null
    docker rm "$id" >/dev/null
  done
  compose up -d --no-deps --no-recreate --scale "web=${WEB_REPLICAS}" web
  log "restarting worker and beat with ${LYO_TAG} (warm shutdown)"
  compose up -d --no-deps worker beat
  log "applying the rest of the compose file (nginx, datastores)"
  compose up -d --remove-orphans
  # New nginx files take effect without dropping connections: re-render the template (the
  # image's own script), test, reload.
  compose exec -T nginx sh -c \
    '/docker-entrypoint.d/20-envsubst-on-templates.sh >/dev/null && nginx -t -q && nginx -s reload'
  compose exec -T web python /app/docker/healthcheck.py /health/ready/ \
    || die "/health/ready/ fails after the rollout"
  record_tag
  log "${LYO_TAG} is live"
}

cmd_status() {
  compose ps
}

case "${1:-}" in
  pull) cmd_pull ;;
  migrate) cmd_migrate ;;
  rollout) cmd_rollout ;;
  status) cmd_status ;;
  *) echo "usage: LYO_TAG=vX.Y.Z $0 pull|migrate|rollout|status" >&2; exit 2 ;;
esac
