"""Alerts that reach someone, on real processes: Prometheus (Debian's) scrapes a gunicorn with
production settings using the repository's prometheus.yml job and alerts.yml rules, and sends
to Alertmanager (Debian's) running the repository's alertmanager.yml routing; the web process
stops, LyoWebDown fires, and Alertmanager delivers it to a webhook receiver and by email to an
SMTP server, both on loopback.

Only what ties the files to this machine changes in the copies: addresses (loopback ports
instead of compose service names), no SMTP TLS or login (the local server has neither), and
shorter timings (scrape and evaluation every second, `for:` 2 s, group_wait 1 s) to keep the
test bounded. Rule expressions, labels, routes and receivers are the repository's.
"""

import json
import re
import secrets
import shutil
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
import yaml
from aiosmtpd.controller import Controller

from tests.deploy.conftest import ROOT, clean_env
from tests.deploy.stack import Processes
from tests.processes import Process, RedisServer, free_port, wait_until
from tests.smtp import RecordingHandler

MONITORING = ROOT / "docker" / "monitoring"
VENV_BIN = Path(sys.executable).parent


class WebhookReceiver:
    """An HTTP server that keeps every JSON body POSTed to it."""

    def __init__(self):
        self.payloads: list[dict] = []
        received = self.payloads

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.append({"path": self.path, **json.loads(body)})
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def firing(self, alertname: str) -> list[dict]:
        return [
            alert
            for payload in self.payloads
            for alert in payload["alerts"]
            if alert["labels"]["alertname"] == alertname and alert["status"] == "firing"
        ]


def _binary(*names: str) -> str:
    for name in names:
        found = shutil.which(name) or (
            f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else ""
        )
        if found:
            return found
    raise AssertionError(f"none of {names} is installed (.ci/run installs Debian's packages)")


def prometheus_config(
    directory: Path, *, web_port: int, alertmanager_port: int, token: str
) -> Path:
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    alerts = yaml.safe_load((MONITORING / "alerts.yml").read_text())
    for group in alerts["groups"]:
        for rule in group["rules"]:
            if "for" in rule:
                rule["for"] = "2s"
    (directory / "alerts.yml").write_text(yaml.safe_dump(alerts))
    config["rule_files"] = [str(directory / "alerts.yml")]
    (config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]) = [
        f"127.0.0.1:{alertmanager_port}"
    ]
    (web_job,) = [job for job in config["scrape_configs"] if job["job_name"] == "lyo-web"]
    (directory / "metrics-token").write_text(token)
    web_job["authorization"]["credentials_file"] = str(directory / "metrics-token")
    del web_job["dns_sd_configs"]
    web_job["static_configs"] = [{"targets": [f"127.0.0.1:{web_port}"]}]
    config["scrape_configs"] = [web_job]
    path = directory / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def alertmanager_config(directory: Path, *, smtp_port: int, webhook_port: int) -> Path:
    config = yaml.safe_load((MONITORING / "alertmanager.yml").read_text())
    config["global"].update(smtp_smarthost=f"127.0.0.1:{smtp_port}", smtp_require_tls=False)
    for key in ("smtp_auth_username", "smtp_auth_password_file"):
        config["global"].pop(key)
    config["route"]["group_wait"] = "1s"
    for route in config["route"]["routes"]:
        route["group_wait"] = "1s"
    for receiver in config["receivers"]:
        for webhook in receiver.get("webhook_configs", []):
            webhook["url"] = re.sub(
                r"^https?://[^/]+", f"http://127.0.0.1:{webhook_port}", webhook["url"]
            )
    path = directory / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def smtp() -> Iterator[RecordingHandler]:
    handler = RecordingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    handler.port = controller.port  # type: ignore[attr-defined]
    try:
        yield handler
    finally:
        controller.stop()


def test_a_firing_alert_reaches_the_webhook_and_the_mailbox(
    pg_server, fresh_database, smtp, tmp_path
):
    processes = Processes()
    token = secrets.token_hex(16)
    web_port, am_port, prom_port, redis_port = free_port(), free_port(), free_port(), free_port()
    with WebhookReceiver() as webhook:
        try:
            RedisServer("redis", log_dir=tmp_path, on_start=processes.add, port=redis_port)
            env = clean_env(
                PATH=f"{VENV_BIN}:{clean_env()['PATH']}",
                DJANGO_SETTINGS_MODULE="lyo.settings.production",
                DJANGO_SECRET_KEY="alerting-test-secret-" + "x" * 40,
                LYO_JWT_SIGNING_KEY="alerting-test-jwt-" + "y" * 40,
                DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
                DJANGO_SECURE_SSL_REDIRECT="false",
                DATABASE_URL=pg_server.url(fresh_database()),
                REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
                DJANGO_AWS_STORAGE_BUCKET_NAME="lyo-alerting-test",
                LYO_METRICS_TOKEN=token,
                GUNICORN_WORKERS="1",
                GUNICORN_BIND=f"127.0.0.1:{web_port}",
                PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prometheus-multiproc"),
            )
            web = processes.add(
                Process.start(
                    "web",
                    [
                        str(VENV_BIN / "gunicorn"),
                        "lyo.wsgi:application",
                        "--config",
                        "docker/gunicorn.conf.py",
                    ],
                    log_dir=tmp_path,
                    env=env,
                )
            )
            base = f"http://127.0.0.1:{web_port}"
            wait_until(
                lambda: requests.get(f"{base}/health/live/", timeout=2).status_code == 200,
                timeout=60,
                what=f"gunicorn\n{web.log()}",
            )
            am_config = alertmanager_config(
                tmp_path, smtp_port=smtp.port, webhook_port=webhook.port
            )
            prom_config = prometheus_config(
                tmp_path, web_port=web_port, alertmanager_port=am_port, token=token
            )
            alertmanager = processes.add(
                Process.start(
                    "alertmanager",
                    [
                        _binary("prometheus-alertmanager", "alertmanager"),
                        f"--config.file={am_config}",
                        f"--storage.path={tmp_path / 'alertmanager-data'}",
                        f"--web.listen-address=127.0.0.1:{am_port}",
                        "--cluster.listen-address=",
                    ],
                    log_dir=tmp_path,
                    env=clean_env(),
                )
            )
            prometheus = processes.add(
                Process.start(
                    "prometheus",
                    [
                        _binary("prometheus"),
                        f"--config.file={prom_config}",
                        f"--storage.tsdb.path={tmp_path / 'prometheus-data'}",
                        f"--web.listen-address=127.0.0.1:{prom_port}",
                    ],
                    log_dir=tmp_path,
                    env=clean_env(),
                )
            )

            def up() -> list:
                answer = requests.get(
                    f"http://127.0.0.1:{prom_port}/api/v1/query",
                    params={"query": 'up{job="lyo-web"}'},
                    timeout=5,
                ).json()
                return [sample["value"][1] for sample in answer["data"]["result"]]

            # Prometheus scrapes the web process with the metrics token, and nothing fires.
            wait_until(lambda: up() == ["1"], timeout=60, what=f"a scrape\n{prometheus.log()}")
            assert webhook.payloads == []

            web.stop()
            wait_until(
                lambda: webhook.firing("LyoWebDown"),
                timeout=90,
                what=f"LyoWebDown at the webhook\n{prometheus.log()}\n{alertmanager.log()}",
            )
            (alert,) = webhook.firing("LyoWebDown")[:1]
            assert alert["labels"]["severity"] == "page"
            assert alert["labels"]["service"] == "lyo"  # Prometheus' external label
            assert webhook.payloads[0]["receiver"] == "on-call"
            assert webhook.payloads[0]["path"] == "/lyo"

            wait_until(
                lambda: [m for m in smtp.messages if "LyoWebDown" in m.message["Subject"]],
                timeout=60,
                what=f"the alert email\n{alertmanager.log()}",
            )
            email = next(m for m in smtp.messages if "LyoWebDown" in m.message["Subject"])
            assert email.rcpt_tos == ["ops@lyo.example.com"]
        finally:
            processes.stop_all()
