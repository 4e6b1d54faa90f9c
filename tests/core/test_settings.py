"""Production settings, loaded in a separate process exactly as a server would load them."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "lyo.settings.production",
    "DJANGO_SECRET_KEY": "prod-secret-" + "k" * 60,
    "LYO_JWT_SIGNING_KEY": "jwt-secret-" + "j" * 60,
    "DJANGO_ALLOWED_HOSTS": "lyo.example.com",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres",
    "REDIS_URL": "redis://127.0.0.1:6379/9",
    "DJANGO_AWS_STORAGE_BUCKET_NAME": "lyo-media",
    "LYO_METRICS_TOKEN": "metrics-" + "m" * 40,
}


def run_python(code: str, env: dict) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "LYO_", "DATABASE_URL", "REDIS_URL", "CELERY_"))
    }
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    "missing", ["DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "LYO_JWT_SIGNING_KEY", "DATABASE_URL"]
)
def test_production_refuses_to_boot_without_a_secret(missing):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}
    result = run_python("import django; django.setup()", env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert missing in result.stderr


def test_production_boots_and_deploy_check_is_clean():
    result = run_python(
        "import sys; from django.core.management import execute_from_command_line;"
        "execute_from_command_line(['manage.py', 'check', '--deploy', '--fail-level', 'WARNING'])",
        PRODUCTION_ENV,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_production_metrics_need_the_token():
    code = """
import django
django.setup()
from django.test import Client
client = Client()
print(client.get('/metrics', secure=True).status_code)
token = 'metrics-' + 'm' * 40
print(client.get('/metrics', secure=True, HTTP_AUTHORIZATION='Bearer ' + token).status_code)
"""
    result = run_python(code, {**PRODUCTION_ENV, "DJANGO_ALLOWED_HOSTS": "testserver"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["403", "200"]


LOG_ONE_REQUEST = """
import django, logging
django.setup()
extra = {"method": "GET", "path": "/x/", "status": 200}
logging.getLogger("lyo.access").info("request", extra=extra)
"""


def test_make_run_logs_readable_lines_and_production_json():
    local = run_python(LOG_ONE_REQUEST, {"DJANGO_SETTINGS_MODULE": "lyo.settings.local"})
    assert local.returncode == 0, local.stderr
    [line] = [line for line in local.stderr.splitlines() if "lyo.access" in line]
    assert line.endswith("INFO    lyo.access: request method=GET path=/x/ status=200"), line

    production = run_python(LOG_ONE_REQUEST, PRODUCTION_ENV)
    assert production.returncode == 0, production.stderr
    [line] = [line for line in production.stderr.splitlines() if "lyo.access" in line]
    record = json.loads(line)
    assert (record["logger"], record["message"], record["path"]) == ("lyo.access", "request", "/x/")
