#!/bin/sh
# Container entrypoint: refuse to start on weak secrets (production settings), wait until
# PostgreSQL accepts connections, then become the command (gunicorn, celery, manage.py ...)
# so it receives signals directly.
# LYO_WAIT_FOR_DB=0 skips the wait; LYO_DB_WAIT_SECONDS bounds it (default 60).
set -eu

# prometheus_client's multiprocess mode writes here and fails if the folder is missing (the
# container's /tmp is an empty tmpfs); gunicorn also empties it when it starts.
if [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
    mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
fi

# A production process does not start with a placeholder or weak secret: the deploy checks
# (apps/core/checks.py) must pass at ERROR level first. They need no database.
if [ "${DJANGO_SETTINGS_MODULE:-}" = "lyo.settings.production" ]; then
    python "$(dirname "$0")/../manage.py" check --deploy --fail-level ERROR >&2 || {
        echo "entrypoint: the deploy checks failed; not starting" >&2
        exit 1
    }
fi

if [ "${LYO_WAIT_FOR_DB:-1}" != "0" ] && [ -n "${DATABASE_URL:-}" ]; then
    python - <<'PY'
import os
import sys
import time

import environ
import psycopg

config = environ.Env.db_url_config(os.environ["DATABASE_URL"])
if "postgresql" not in config.get("ENGINE", ""):
    sys.exit(0)  # only PostgreSQL is waited for
params = {
    "dbname": config.get("NAME") or "postgres",
    "user": config.get("USER") or None,
    "password": config.get("PASSWORD") or None,
    "host": config.get("HOST") or None,
    "port": config.get("PORT") or None,
    **{k: v for k, v in config.get("OPTIONS", {}).items() if k in ("sslmode", "sslrootcert")},
}
deadline = time.monotonic() + float(os.environ.get("LYO_DB_WAIT_SECONDS", "60"))
attempt = 0
while True:
    attempt += 1
    try:
        psycopg.connect(connect_timeout=3, **params).close()
    except psycopg.OperationalError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if time.monotonic() >= deadline:
            print(f"entrypoint: database still unreachable after {attempt} attempts: {reason}",
                  file=sys.stderr)
            sys.exit(1)
        print(f"entrypoint: waiting for the database (attempt {attempt}): {reason}",
              file=sys.stderr)
        time.sleep(min(2.0, max(deadline - time.monotonic(), 0.1)))
    else:
        if attempt > 1:
            print(f"entrypoint: database is up after {attempt} attempts", file=sys.stderr)
        break
PY
fi

exec "$@"
