"""Lyo as production runs it, on loopback: nginx (TLS, the repository's own config) in front of
TWO gunicorn processes started from the Procfile with production settings, a Celery worker and
beat, PostgreSQL (a database of this test's own), Redis, S3 (moto in server mode) and SMTP
(aiosmtpd). A person signs up, confirms the email in the browser form, an instructor publishes a
course, the learner completes it and the worker awards XP; then one gunicorn is SIGKILLed and
nginx keeps every request succeeding. web1 runs as docker/compose.production.yml configures it
(HTTPS redirect left to nginx), web2 with production.py's defaults (as on a Procfile platform).

Redis: a private redis-server on a free port when the binary exists (it does wherever .ci/run
runs), otherwise database 0 of the suite's REDIS_URL (never used by the test settings).
"""

import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import boto3
import pytest
import requests
from aiosmtpd.controller import Controller
from moto.server import ThreadedMotoServer

from tests.deploy.conftest import ROOT, PgServer, clean_env, unique_name
from tests.deploy.stack import VENV_BIN, Processes, nginx_binary, nginx_prefix, procfile
from tests.processes import Process, RedisServer, free_port, wait_until
from tests.smtp import RecordingHandler

PASSWORD = "a long and unguessable e2e passphrase 42"
INSTRUCTOR = "instructor@e2e.example.com"
LEARNER = "learner@e2e.example.com"
BUCKET = "lyo-e2e-media"


@dataclass
class Stack:
    base: str  # https://localhost:<port>
    http_base: str  # http://127.0.0.1:<port>
    https_port: int
    cert: Path
    web_ports: list[int]
    webs: list[Process]
    worker: Process
    processes: Processes
    smtp: RecordingHandler
    database: str
    pg: PgServer
    env: dict
    metrics_token: str
    nginx_prefix: Path

    def session(self) -> requests.Session:
        session = requests.Session()
        session.trust_env = False  # REQUESTS_CA_BUNDLE etc. would replace our certificate
        session.verify = str(self.cert)
        return session

    def url(self, path: str) -> str:
        return urljoin(self.base, path)

    def sql(self, query: str, params=()):
        with self.pg.connect(self.database) as conn:
            return conn.execute(query, params).fetchall()

    def diagnostics(self) -> str:
        nginx_errors = self.nginx_prefix / "logs" / "error.log"
        tail = nginx_errors.read_text(errors="replace")[-3000:] if nginx_errors.exists() else ""
        return self.processes.report() + f"\n===== nginx error.log =====\n{tail}"


def _static_files_are_current() -> bool:
    """STATIC_ROOT's manifest is newer than every static source file (skip collectstatic)."""
    from django.contrib.staticfiles import finders

    manifest = ROOT / "staticfiles" / "staticfiles.json"
    if not manifest.exists():
        return False
    newest = 0.0
    for finder in finders.get_finders():
        for path, storage in finder.list([]):
            newest = max(newest, Path(storage.path(path)).stat().st_mtime)
    return newest < manifest.stat().st_mtime


def _collectstatic(env: dict) -> subprocess.Popen | None:
    """Production static files (hashed manifest) in STATIC_ROOT, as the Dockerfile builds them;
    a lock keeps concurrent test runs from writing the manifest at the same time."""
    if _static_files_are_current():
        return None
    checkout = hashlib.sha256(str(ROOT).encode()).hexdigest()[:12]
    lock_path = Path(tempfile.gettempdir()) / f"lyo-collectstatic-{checkout}.lock"
    script = (
        "import fcntl, subprocess, sys\n"
        f"with open({str(lock_path)!r}, 'w') as lock:\n"
        "    fcntl.flock(lock, fcntl.LOCK_EX)\n"
        "    sys.exit(subprocess.call([sys.executable, 'manage.py', 'collectstatic', "
        "'--noinput', '--verbosity', '0']))\n"
    )
    return subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _run(args: list[str], env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def _finish(process: subprocess.Popen | None, what: str, timeout: float = 120) -> None:
    if process is None:
        return
    output = process.communicate(timeout=timeout)[0]
    assert process.returncode == 0, f"{what} failed:\n{output[-4000:]}"


def _redis_url(processes: Processes, log_dir: Path, env: dict) -> str:
    if not shutil.which("redis-server"):
        base = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0").rsplit("/", 1)[0]
        return f"{base}/0"
    return RedisServer("redis", log_dir=log_dir, env=env, on_start=processes.add).url


def _direct_get(port: int, path: str, **headers) -> requests.Response:
    """Straight to one gunicorn, bypassing nginx (plain HTTP, as on the internal network)."""
    return requests.get(
        f"http://127.0.0.1:{port}{path}",
        headers={"Host": "localhost", **headers},
        allow_redirects=False,
        timeout=10,
    )


SETUP_SCRIPT = f"""
from allauth.account.models import EmailAddress
from django.contrib.auth.models import Group
from django_celery_beat.models import IntervalSchedule, PeriodicTask
from apps.accounts.models import User

instructor = User.objects.create_user(email={INSTRUCTOR!r}, password={PASSWORD!r},
                                      display_name="Ines E2E")
instructor.groups.add(Group.objects.get(name="instructor"))
EmailAddress.objects.create(user=instructor, email={INSTRUCTOR!r}, verified=True, primary=True)
every_second, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.SECONDS)
PeriodicTask.objects.create(name="e2e-beat-probe", interval=every_second,
                            task="apps.mailing.tasks.requeue_stale_emails")
print("SETUP-OK")
"""


@pytest.fixture
def stack(pg_server, migrated_template, tmp_path) -> Iterator[Stack]:
    processes = Processes()
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    database = unique_name("lyo_deploy_e2e")
    moto = smtp = prefix = None
    pg_server.create_database(database, template=migrated_template.name)
    try:
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        moto.start()
        s3_host, s3_port = moto.get_host_and_port()
        s3_endpoint = f"http://{s3_host}:{s3_port}"
        boto3.client(
            "s3",
            endpoint_url=s3_endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        ).create_bucket(Bucket=BUCKET)

        handler = RecordingHandler()
        smtp = Controller(handler, hostname="127.0.0.1", port=free_port())
        smtp.start()

        http_port, https_port = free_port(), free_port()
        web_ports = [free_port(), free_port()]
        metrics_token = secrets.token_hex(16)
        env = clean_env(
            PATH=f"{VENV_BIN}:{clean_env()['PATH']}",
            DJANGO_SETTINGS_MODULE="lyo.settings.production",
            DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
            LYO_JWT_SIGNING_KEY=secrets.token_urlsafe(50),
            DJANGO_ALLOWED_HOSTS="localhost,127.0.0.1",
            DJANGO_CSRF_TRUSTED_ORIGINS=f"https://localhost:{https_port}",
            DATABASE_URL=pg_server.url(database),
            DJANGO_AWS_STORAGE_BUCKET_NAME=BUCKET,
            DJANGO_AWS_S3_ENDPOINT_URL=s3_endpoint,
            DJANGO_AWS_S3_REGION_NAME="us-east-1",
            DJANGO_AWS_ACCESS_KEY_ID="testing",
            DJANGO_AWS_SECRET_ACCESS_KEY="testing",
            DJANGO_EMAIL_HOST="127.0.0.1",
            DJANGO_EMAIL_PORT=str(smtp.port),
            DJANGO_EMAIL_USE_TLS="false",
            DJANGO_DEFAULT_FROM_EMAIL="Lyo E2E <no-reply@e2e.example.com>",
            LYO_METRICS_TOKEN=metrics_token,
            CELERY_CONCURRENCY="1",
            GUNICORN_WORKERS="2",
            GUNICORN_ACCESS_LOG="1",
        )
        env["REDIS_URL"] = _redis_url(processes, log_dir, env)

        static = _collectstatic(env)
        commands = procfile()
        # The release step exactly as the Procfile declares it (migrate + periodic tasks), and
        # this test's own data (an instructor, a beat probe) beside it.
        release = _run(["sh", "-c", commands["release"]], env)
        setup = _run([sys.executable, "manage.py", "shell", "-c", SETUP_SCRIPT], env)
        _finish(release, "the Procfile's release step")
        _finish(setup, "the test data setup")
        worker = processes.add(
            Process.start("worker", ["sh", "-c", commands["worker"]], log_dir=log_dir, env=env)
        )
        # beat writes celerybeat.pid into its working directory: keep it out of the repository.
        beat_dir = tmp_path / "beat"
        beat_dir.mkdir()
        processes.add(
            Process.start(
                "beat",
                ["sh", "-c", commands["beat"]],
                log_dir=log_dir,
                env=dict(env, PYTHONPATH=str(ROOT)),
                cwd=beat_dir,
            )
        )
        _finish(static, "collectstatic")  # WhiteNoise indexes STATIC_ROOT when gunicorn starts

        webs = []
        for index, port in enumerate(web_ports, start=1):
            prom_dir = tmp_path / f"prometheus-web{index}"
            web_env = dict(
                env, GUNICORN_BIND=f"127.0.0.1:{port}", PROMETHEUS_MULTIPROC_DIR=str(prom_dir)
            )
            if index == 1:
                # web1 as docker/compose.production.yml runs it: nginx does the HTTPS redirect,
                # so Prometheus can scrape /metrics over plain HTTP on the internal network.
                # web2 keeps production.py's default (Django redirects too), as a Procfile
                # platform would run it: both must work behind nginx.
                web_env["DJANGO_SECURE_SSL_REDIRECT"] = "false"
            webs.append(
                processes.add(
                    Process.start(
                        f"web{index}",
                        ["sh", "-c", commands["web"]],
                        log_dir=log_dir,
                        env=web_env,
                    )
                )
            )
        prefix = nginx_prefix(
            web_ports=web_ports,
            http_port=http_port,
            https_port=https_port,
            server_names="localhost 127.0.0.1",
        )
        test_config = subprocess.run(
            [
                nginx_binary(),
                "-t",
                "-p",
                f"{prefix}/",
                "-c",
                str(prefix / "nginx.conf"),
                "-e",
                str(prefix / "logs" / "error.log"),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert test_config.returncode == 0, test_config.stderr
        processes.add(
            Process.start(
                "nginx",
                [
                    nginx_binary(),
                    "-p",
                    f"{prefix}/",
                    "-c",
                    str(prefix / "nginx.conf"),
                    "-e",
                    str(prefix / "logs" / "error.log"),
                ],
                log_dir=log_dir,
                env=env,
            )
        )
        built = Stack(
            base=f"https://localhost:{https_port}",
            http_base=f"http://127.0.0.1:{http_port}",
            https_port=https_port,
            cert=prefix / "certs" / "fullchain.pem",
            web_ports=web_ports,
            webs=webs,
            worker=worker,
            processes=processes,
            smtp=handler,
            database=database,
            pg=pg_server,
            env=env,
            metrics_token=metrics_token,
            nginx_prefix=prefix,
        )
        for web, port in zip(webs, web_ports, strict=True):
            wait_until(
                lambda port=port, web=web: (
                    web.alive
                    and _direct_get(port, "/health/live/", **{"X-Forwarded-Proto": "https"}).ok
                ),
                timeout=45,
                what=f"{web.name} to answer\n{built.diagnostics()}",
                interval=0.25,
            )
        yield built
    finally:
        processes.stop_all()
        if smtp is not None:
            smtp.stop()
        if moto is not None:
            moto.stop()
        if prefix is not None:
            shutil.rmtree(prefix, ignore_errors=True)
        pg_server.drop_database(database)


class _FormParser(HTMLParser):
    """The first POST form of a page: its action and its inputs (no JavaScript needed)."""

    def __init__(self):
        super().__init__()
        self.action = None
        self.fields: dict[str, str] = {}
        self._in_form = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "form" and (attributes.get("method") or "").lower() == "post":
            if self.action is None:
                self.action = attributes.get("action") or ""
                self._in_form = True
        elif tag == "input" and self._in_form and attributes.get("name"):
            self.fields[attributes["name"]] = attributes.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "form":
            self._in_form = False


def _tls_version(port: int, server_name: str, maximum=None) -> str:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if maximum is not None:
        with warnings.catch_warnings():  # TLS 1.1 is deprecated: that is the point
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
            context.maximum_version = maximum
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname=server_name) as tls,
    ):
        return f"{tls.version()} {tls.cipher()[0]}"


def _assert_edge_headers(response: requests.Response, request_id: str | None = None) -> None:
    assert response.headers.get("Strict-Transport-Security") == (
        "max-age=31536000; includeSubDomains; preload"
    ), response.headers
    assert "," not in response.headers["Strict-Transport-Security"]  # one HSTS header, not two
    if request_id:
        assert response.headers["X-Request-ID"] == request_id
    else:
        assert re.fullmatch(r"[A-Za-z0-9._:-]{1,128}", response.headers["X-Request-ID"])


def test_production_stack_end_to_end(stack: Stack):
    try:
        _run_scenario(stack)
    except AssertionError as failure:
        raise AssertionError(f"{failure}\n\n{stack.diagnostics()}") from failure


def _run_scenario(stack: Stack) -> None:
    api = stack.session()

    # --- Edge: readiness, TLS, redirects, headers --------------------------------------------
    ready = wait_until(
        lambda: (r := api.get(stack.url("/health/ready/"), timeout=10)).status_code == 200 and r,
        timeout=30,
        what="/health/ready/ through nginx",
        interval=0.25,
    )
    assert {name: check["status"] for name, check in ready.json()["checks"].items()} == {
        "database": "ok",
        "cache": "ok",
        "broker": "ok",
        "storage": "ok",
    }
    _assert_edge_headers(ready)

    assert _tls_version(stack.https_port, "localhost").startswith("TLSv1.3")
    tls12 = _tls_version(stack.https_port, "localhost", maximum=ssl.TLSVersion.TLSv1_2)
    assert re.fullmatch(r"TLSv1\.2 ECDHE-(ECDSA|RSA)-(AES\d+-GCM-SHA\d+|CHACHA20-POLY1305)", tls12)
    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        _tls_version(stack.https_port, "localhost", maximum=ssl.TLSVersion.TLSv1_1)
    with pytest.raises(ssl.SSLError):  # unknown host names get no certificate at all
        _tls_version(stack.https_port, "unknown.example.com")

    redirect = requests.get(
        f"{stack.http_base}/api/v1/courses/?page=2", allow_redirects=False, timeout=10
    )
    assert redirect.status_code == 301
    assert redirect.headers["Location"] == "https://127.0.0.1/api/v1/courses/?page=2"
    assert "Strict-Transport-Security" not in redirect.headers  # HSTS only over HTTPS

    # Behind nginx the API answers over HTTPS without redirecting, and Django sees the request
    # as secure only because nginx says so (X-Forwarded-Proto): its HSTS header is sent then.
    catalog = api.get(stack.url("/api/v1/courses/"), allow_redirects=False, timeout=10)
    assert catalog.status_code == 200, catalog.text
    as_https = _direct_get(stack.web_ports[0], "/api/v1/courses/", **{"X-Forwarded-Proto": "https"})
    as_http = _direct_get(stack.web_ports[0], "/api/v1/courses/")
    assert as_https.status_code == as_http.status_code == 200
    assert "Strict-Transport-Security" in as_https.headers
    assert "Strict-Transport-Security" not in as_http.headers
    # web2 (Django's own redirect on): plain HTTP is redirected, what nginx forwards is not.
    redirected = _direct_get(stack.web_ports[1], "/api/v1/courses/")
    assert redirected.status_code == 301
    assert redirected.headers["Location"] == "https://localhost/api/v1/courses/"
    forwarded = _direct_get(
        stack.web_ports[1], "/api/v1/courses/", **{"X-Forwarded-Proto": "https"}
    )
    assert forwarded.status_code == 200

    # --- Sign up: the verification email goes out through the worker and real SMTP -----------
    request_id = f"e2e-{secrets.token_hex(6)}"
    registered = api.post(
        stack.url("/api/v1/auth/register/"),
        json={"email": LEARNER, "password": PASSWORD, "display_name": "Lea Learner"},
        headers={"X-Request-ID": request_id, "X-Forwarded-For": "198.51.100.66"},
        allow_redirects=False,
        timeout=15,
    )
    assert registered.status_code == 201, registered.text
    _assert_edge_headers(registered, request_id)
    # nginx replaces X-Forwarded-For: the spoofed entry never reaches Django, the request id
    # travelled from the client through nginx into the audit log.
    assert stack.sql(
        "SELECT host(ip), request_id FROM accounts_auditevent WHERE action = %s",
        ["account.registered"],
    ) == [("127.0.0.1", request_id)]

    def verification_email():
        for received in stack.smtp.messages:
            if LEARNER in received.rcpt_tos:
                return received.message
        return None

    message = wait_until(
        verification_email, timeout=30, what="the verification email", interval=0.2
    )
    body = message.get_body(preferencelist=("plain", "html")).get_content()
    link = re.search(r"https://[^/\s]+(/accounts/confirm-email/[^\s/]+/)", body)
    assert link, body
    assert link.group(0).startswith("https://localhost/")  # links point at the public host

    # --- The browser form: GET the page, POST it with the CSRF token, as a person would ------
    browser = stack.session()
    page = browser.get(stack.url(link.group(1)), timeout=10)
    assert page.status_code == 200, page.text[:500]
    form = _FormParser()
    form.feed(page.text)
    assert "csrfmiddlewaretoken" in form.fields, page.text[:1000]
    assert any(c.name == "__Secure-csrftoken" and c.secure for c in browser.cookies)
    confirmed = browser.post(
        urljoin(page.url, form.action or page.url),
        data=form.fields,
        headers={"Referer": page.url},
        timeout=10,
    )
    assert confirmed.status_code == 200, confirmed.text[:1000]
    assert urlsplit(confirmed.url).path == "/accounts/confirmed/"
    assert stack.sql("SELECT verified FROM account_emailaddress WHERE email = %s", [LEARNER]) == [
        (True,)
    ]

    # --- Tokens -------------------------------------------------------------------------------
    def token_for(email: str) -> dict:
        response = api.post(
            stack.url("/api/v1/auth/token/"),
            json={"email": email, "password": PASSWORD},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access']}"}

    learner = token_for(LEARNER)
    instructor = token_for(INSTRUCTOR)

    # --- An instructor publishes a course with a lesson -----------------------------------------
    course = api.post(
        stack.url("/api/v1/courses/"),
        json={"title": "Deploying Django", "summary": "From laptop to production."},
        headers=instructor,
        allow_redirects=False,
        timeout=10,
    )
    assert course.status_code == 201, course.text
    slug = course.json()["slug"]
    lesson = api.post(
        stack.url(f"/api/v1/courses/{slug}/lessons/"),
        json={"title": "Behind a proxy", "body_markdown": "Trust **one** proxy."},
        headers=instructor,
        timeout=10,
    )
    assert lesson.status_code == 201, lesson.text
    published = api.post(
        stack.url(f"/api/v1/courses/{slug}/publish/"), headers=instructor, timeout=10
    )
    assert published.status_code == 200 and published.json()["status"] == "published"
    search = api.get(stack.url("/api/v1/courses/?q=laptops"), timeout=10).json()
    assert [c["slug"] for c in search["results"]] == [slug]  # PostgreSQL full-text search

    # --- The learner enrolls and completes it; the worker awards XP ----------------------------
    assert (
        api.get(stack.url("/api/v1/me/gamification/"), headers=learner, timeout=10).json()["xp"]
        == 0
    )
    enrolled = api.post(
        stack.url(f"/api/v1/courses/{slug}/enrollment/"), headers=learner, timeout=10
    )
    assert enrolled.status_code in (200, 201), enrolled.text
    completed = api.post(
        stack.url(f"/api/v1/lessons/{lesson.json()['id']}/complete/"), headers=learner, timeout=10
    )
    assert completed.status_code == 200, completed.text

    def awarded_xp():
        answer = api.get(stack.url("/api/v1/me/gamification/"), headers=learner, timeout=10)
        assert answer.status_code == 200, answer.text
        # All that completing a one-lesson course earns under the default rules, which arrives
        # one event at a time (outbox): the lesson (10), "first-lesson" (10), "first-course"
        # (100) and the course (100).
        return answer.json()["xp"] >= 220 and answer.json()

    stats = wait_until(awarded_xp, timeout=30, what="XP from the Celery worker", interval=0.25)
    assert stats["xp"] == 220
    assert "deliver_outbox_events" in stack.worker.log(200_000)

    # beat -> broker -> worker: the every-second probe task was sent by beat and run.
    wait_until(
        lambda: "requeue_stale_emails" in stack.worker.log(400_000),
        timeout=20,
        what="a task scheduled by celery beat to reach the worker",
        interval=0.25,
    )

    # --- Static files: WhiteNoise's hashed names, long-cached and kept by nginx ----------------
    manifest = json.loads((ROOT / "staticfiles" / "staticfiles.json").read_text())
    hashed = manifest["paths"]["admin/css/base.css"]
    first = api.get(stack.url(f"/static/{hashed}"), headers={"Accept-Encoding": "gzip"}, timeout=10)
    again = api.get(stack.url(f"/static/{hashed}"), headers={"Accept-Encoding": "gzip"}, timeout=10)
    assert first.status_code == again.status_code == 200
    assert "immutable" in first.headers["Cache-Control"]
    assert "max-age=315360000" in first.headers["Cache-Control"]
    assert first.headers.get("Content-Encoding") == "gzip"
    assert again.headers["X-Cache-Status"] == "HIT"
    _assert_edge_headers(again)

    # --- Metrics stay internal; each replica serves them (plain HTTP + token, as Prometheus) ---
    hidden = api.get(stack.url("/metrics"), timeout=10)
    assert hidden.status_code == 404 and hidden.json()["error"]["code"] == "not_found"
    metrics = _direct_get(
        stack.web_ports[0], "/metrics", Authorization=f"Bearer {stack.metrics_token}"
    )
    assert metrics.status_code == 200
    assert "django_http_requests_total_by_method_total" in metrics.text

    # --- Logs are JSON lines (gunicorn's access log escapes what clients send) ----------------
    odd_agent = 'e2e "quoted" \\ agent {json}'
    api.get(stack.url("/health/live/"), headers={"User-Agent": odd_agent}, timeout=10)

    def access_line_for_odd_agent():
        records = []
        for web in stack.webs:
            for line in web.log_path.read_text(errors="replace").splitlines():
                if line.startswith("{"):
                    records.append(json.loads(line))  # every JSON-looking line parses
        return [r for r in records if r.get("user_agent") == odd_agent]

    (access,) = wait_until(access_line_for_odd_agent, timeout=10, what="the gunicorn access line")
    # nginx spread the requests over both replicas.
    for web in stack.webs:
        proxied = [
            line
            for line in web.log_path.read_text(errors="replace").splitlines()
            if '"gunicorn.access"' in line and '"forwarded_for": "' in line
        ]
        assert len(proxied) >= 3, f"{web.name} got {len(proxied)} requests through nginx"
    assert access["logger"] == "gunicorn.access" and access["status"] == 200
    assert access["request_id"] and access["forwarded_for"] == "127.0.0.1"

    # --- nginx's own errors use the API's error shape ------------------------------------------
    too_big = api.post(
        stack.url("/api/v1/auth/register/"),
        data=b"x" * (27 * 1024 * 1024),
        headers={"Content-Type": "application/octet-stream", "X-Request-ID": "e2e-too-big"},
        timeout=30,
    )
    assert too_big.status_code == 413
    assert too_big.json()["error"] == {
        "code": "payload_too_large",
        "message": "The request body is too large.",
        "details": {"max_bytes": 26214400},
        "request_id": "e2e-too-big",
    }

    # --- The container health probe ------------------------------------------------------------
    def probe(port: int) -> int:
        return subprocess.run(
            [sys.executable, str(ROOT / "docker" / "healthcheck.py"), "/health/ready/"],
            env=dict(stack.env, PORT=str(port)),
            capture_output=True,
            timeout=15,
            check=False,
        ).returncode

    assert probe(stack.web_ports[1]) == 0

    # --- One replica dies hard; nginx routes every request to the other (web2, whose own HTTPS
    # redirect would show up here as a redirect loop if X-Forwarded-Proto were not honoured) ----
    stack.webs[0].kill(signal.SIGKILL)
    stack.webs[0].popen.wait(10)
    assert probe(stack.web_ports[0]) == 1
    statuses = []
    started = time.monotonic()
    for _ in range(20):
        answer = api.get(
            stack.url("/api/v1/me/gamification/"),
            headers=learner,
            allow_redirects=False,
            timeout=10,
        )
        statuses.append(answer.status_code)
        assert answer.json()["xp"] == stats["xp"]
    assert statuses == [200] * 20
    # ... and it did meet the dead replica: refused, retried on the live one, marked failed.
    errors = (stack.nginx_prefix / "logs" / "error.log").read_text(errors="replace")
    assert f"127.0.0.1:{stack.web_ports[0]}" in errors and "Connection refused" in errors
    assert time.monotonic() - started < 15
    assert stack.webs[1].alive
