"""Optional Sentry error reporting (lyo/settings/production.py): off without SENTRY_DSN; with it,
errors reach the DSN's server tagged with the request id, and no personal data is sent."""

import gzip
import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.deploy.conftest import ROOT, clean_env

SCRIPT = """
import django
django.setup()
import sentry_sdk
from apps.core.context import request_id_var

client = sentry_sdk.get_client()
print(json.dumps({
    "active": client.is_active(),
    "integrations": sorted(getattr(client, "integrations", {})),
    "send_default_pii": client.options.get("send_default_pii") if client.is_active() else None,
}))
if client.is_active():
    request_id_var.set("req-sentry-42")
    try:
        1 / 0
    except ZeroDivisionError:
        sentry_sdk.capture_exception()
    sentry_sdk.flush(5)
"""


class _FakeSentry(BaseHTTPRequestHandler):
    envelopes: list[bytes] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        type(self).envelopes.append(body)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


def run_production_python(**env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "import json\n" + SCRIPT],
        cwd=ROOT,
        env=clean_env(
            DJANGO_SETTINGS_MODULE="lyo.settings.production",
            DJANGO_SECRET_KEY="test-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
            LYO_JWT_SIGNING_KEY="test-only-jwt-key-0123456789-abcdefghijklmnopqrstuvwxyz",
            DJANGO_ALLOWED_HOSTS="localhost",
            DATABASE_URL="postgres://postgres@127.0.0.1:5432/postgres",
            REDIS_URL="redis://127.0.0.1:6379/15",
            DJANGO_AWS_STORAGE_BUCKET_NAME="unused",
            **env,
        ),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_sentry_is_off_without_a_dsn():
    result = run_production_python()
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1])["active"] is False


def test_sentry_reports_errors_with_the_request_id_and_no_personal_data():
    _FakeSentry.envelopes = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeSentry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        result = run_production_python(
            SENTRY_DSN=f"http://publickey@127.0.0.1:{server.server_address[1]}/1",
            SENTRY_ENVIRONMENT="staging",
            SENTRY_RELEASE="v9.9.9",
        )
    finally:
        server.shutdown()
        thread.join(5)
    assert result.returncode == 0, result.stderr
    state = json.loads(result.stdout.splitlines()[0])
    assert state["active"] is True
    assert {"django", "celery", "logging"} <= set(state["integrations"])
    assert state["send_default_pii"] is False

    events = []
    for envelope in _FakeSentry.envelopes:
        for line in envelope.splitlines():
            item = json.loads(line)
            if item.get("exception"):
                events.append(item)
    assert len(events) == 1, _FakeSentry.envelopes
    event = events[0]
    assert event["tags"]["request_id"] == "req-sentry-42"
    assert event["environment"] == "staging"
    assert event["release"] == "v9.9.9"
    assert event["exception"]["values"][-1]["type"] == "ZeroDivisionError"
    assert "ip_address" not in event.get("user", {})
