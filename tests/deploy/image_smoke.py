"""`make image-smoke`: build docker/Dockerfile and run the image as production would, without a
Docker engine or a registry (buildah and podman, rootful, host network).

    .venv/bin/python -m tests.deploy.image_smoke [--image localhost/lyo:smoke] [--no-build]

1. docker/build-image.sh builds the image (a debootstrap base, cached between runs).
2. The release step (migrate + periodic tasks) runs from the image, then web x 2, worker and beat
   start from it with docker/compose.production.yml's hardening (read-only root, tmpfs /tmp,
   every capability dropped, no-new-privileges, init, CPU and memory limits, the image's
   unprivileged user), each web container on a loopback port of its own.
3. The repository's nginx (TLS, docker/nginx/) runs on the host in front of both; a short
   journey goes through it: readiness, sign-up with the email sent by the worker, the browser
   confirmation form, an instructor publishing a course, the learner completing it and the
   worker awarding XP, a task from beat, static files, metrics.
4. One web container is killed; nginx keeps every request succeeding on the other.
5. Everything started here is removed, whatever happens: containers, nginx, redis-server, the
   S3 and SMTP stand-ins, the database, temporary folders. The image and its layer cache stay.

Outside services are local: a database of its own on the PostgreSQL server (libpq's PGHOST,
PGPORT, PGUSER, PGPASSWORD; default postgres@127.0.0.1:5432), a private redis-server, moto in
server mode for S3, aiosmtpd for SMTP. Secrets are generated for the run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import boto3
import requests
import yaml
from aiosmtpd.controller import Controller
from moto.server import ThreadedMotoServer

from tests.deploy.conftest import ROOT, PgServer, clean_env, unique_name
from tests.deploy.stack import Processes, nginx_binary, nginx_prefix
from tests.processes import Process, RedisServer, free_port, wait_until
from tests.smtp import RecordingHandler

COMPOSE = ROOT / "docker" / "compose.production.yml"
CONTAINERS_CONF = ROOT / "docker" / "containers.conf"
PASSWORD = "a long and unguessable smoke passphrase 42"
INSTRUCTOR = "instructor@smoke.example.com"
LEARNER = "learner@smoke.example.com"
BUCKET = "lyo-smoke-media"

SETUP_SCRIPT = f"""
from allauth.account.models import EmailAddress
from django.contrib.auth.models import Group
from django_celery_beat.models import IntervalSchedule, PeriodicTask
from apps.accounts.models import User

instructor = User.objects.create_user(email={INSTRUCTOR!r}, password={PASSWORD!r},
                                      display_name="Ines Smoke")
instructor.groups.add(Group.objects.get(name="instructor"))
EmailAddress.objects.create(user=instructor, email={INSTRUCTOR!r}, verified=True, primary=True)
every_second, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.SECONDS)
PeriodicTask.objects.create(name="smoke-beat-probe", interval=every_second,
                            task="apps.mailing.tasks.requeue_stale_emails")
print("SETUP-OK")
"""


class SmokeFailure(AssertionError):
    pass


class Interrupted(BaseException):
    """SIGTERM/SIGINT/SIGHUP or the overall deadline: unwind so every cleanup runs."""


def check(condition: object, message: str) -> None:
    if not condition:
        raise SmokeFailure(message)


def log(message: str) -> None:
    print(f"image-smoke: {message}", flush=True)


class Podman:
    """podman with the private containers.conf; every container it starts carries the run's
    label, so cleanup finds them all (even ones whose start command failed half-way)."""

    def __init__(self, run_id: str):
        self.run_id = run_id
        self.label = f"lyo.smoke={run_id}"
        self.env = dict(
            os.environ, CONTAINERS_CONF=os.environ.get("CONTAINERS_CONF") or str(CONTAINERS_CONF)
        )

    def __call__(
        self, *args: str, timeout: float = 60, ok: bool = True
    ) -> subprocess.CompletedProcess:
        result = subprocess.run(
            ["podman", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        if ok and result.returncode != 0:
            raise SmokeFailure(
                f"podman {' '.join(args[:3])} ... exited {result.returncode}\n"
                f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
        return result

    def name(self, role: str) -> str:
        return f"lyo-smoke-{self.run_id}-{role}"

    def ours(self) -> list[str]:
        listed = self(
            "ps", "--all", "--quiet", "--filter", f"label={self.label}", timeout=30, ok=False
        )
        return listed.stdout.split()

    def remove_all(self) -> None:
        # Twice at most: a container still stopping when the first `rm` ran can be left
        # (seen once, after a failed run: exited, not removed).
        for _ in range(2):
            containers = self.ours()
            if not containers:
                return
            self("rm", "--force", "--time", "2", *containers, timeout=60, ok=False)


def compose_services() -> dict:
    return yaml.safe_load(COMPOSE.read_text())["services"]


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ${VAR:-default} and $$ in the few places the app services use them."""
    value = re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: env.get(m[1]) or m[2], value)
    return value.replace("$$", "$")


def seconds(duration: str) -> int:
    match = re.fullmatch(r"(\d+)s", str(duration))
    check(match, f"unexpected compose duration {duration!r}")
    return int(match[1])


def hardening(service: dict) -> list[str]:
    """The compose service's isolation and limits as podman flags (so they cannot drift)."""
    flags = ["--network", "host"]  # each web container on its own loopback port instead
    if service.get("read_only"):
        flags.append("--read-only")
    for path in service.get("tmpfs", []):
        flags += ["--tmpfs", path]
    for capability in service.get("cap_drop", []):
        flags += ["--cap-drop", capability]
    for option in service.get("security_opt", []):
        flags += ["--security-opt", option]
    if service.get("init"):
        flags.append("--init")
    limits = service.get("deploy", {}).get("resources", {}).get("limits", {})
    if "cpus" in limits:
        flags += ["--cpus", str(limits["cpus"])]
    if "memory" in limits:
        flags += ["--memory", str(limits["memory"])]
    if "stop_grace_period" in service:
        flags += ["--stop-timeout", str(seconds(service["stop_grace_period"]))]
    if "stop_signal" in service:
        flags += ["--stop-signal", service["stop_signal"]]
    return flags


def literal_environment(service: dict) -> dict[str, str]:
    """The service's own environment entries (those not taken from .env.production)."""
    return {
        key: str(value)
        for key, value in (service.get("environment") or {}).items()
        if "${" not in str(value)
    }


class Smoke:
    def __init__(self, image: str):
        self.image = image
        self.run_id = secrets.token_hex(4)
        self.podman = Podman(self.run_id)
        self.work = Path(tempfile.mkdtemp(prefix="lyo-image-smoke-"))
        self.work.chmod(0o755)
        self.log_dir = self.work / "logs"
        self.log_dir.mkdir()
        self.processes = Processes()
        self.services = compose_services()
        self.pg = PgServer(
            host=os.environ.get("PGHOST", "127.0.0.1"),
            port=int(os.environ.get("PGPORT", "5432")),
            user=os.environ.get("PGUSER", "postgres"),
            password=os.environ.get("PGPASSWORD", ""),
        )
        self.database = unique_name("lyo_image_smoke")
        self.database_created = False
        self.moto = self.smtp = None
        self.prefix: Path | None = None
        self.timings: list[tuple[str, float]] = []

    # --- phases ---------------------------------------------------------------------------------
    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        log(f"{name} ...")
        started = time.monotonic()
        yield
        self.timings.append((name, time.monotonic() - started))
        log(f"{name}: {self.timings[-1][1]:.1f}s")

    def outside_services(self) -> None:
        self.pg.create_database(self.database)
        self.database_created = True
        self.moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.moto.start()
        s3_host, s3_port = self.moto.get_host_and_port()
        self.s3_endpoint = f"http://{s3_host}:{s3_port}"
        boto3.client(
            "s3",
            endpoint_url=self.s3_endpoint,
            region_name="us-east-1",
            aws_access_key_id="smoke",
            aws_secret_access_key="smoke",
        ).create_bucket(Bucket=BUCKET)
        self.mail = RecordingHandler()
        self.smtp = Controller(self.mail, hostname="127.0.0.1", port=free_port())
        self.smtp.start()
        self.redis_url = RedisServer(
            "redis", log_dir=self.log_dir, env=clean_env(), on_start=self.processes.add
        ).url

        self.http_port, self.https_port = free_port(), free_port()
        self.web_ports = [free_port(), free_port()]
        self.metrics_token = secrets.token_hex(16)
        self.env = {
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "LYO_JWT_SIGNING_KEY": secrets.token_urlsafe(50),
            "DJANGO_ALLOWED_HOSTS": "localhost,127.0.0.1",
            "DJANGO_CSRF_TRUSTED_ORIGINS": f"https://localhost:{self.https_port}",
            "DATABASE_URL": self.pg.url(self.database),
            "REDIS_URL": self.redis_url,
            "DJANGO_AWS_STORAGE_BUCKET_NAME": BUCKET,
            "DJANGO_AWS_S3_ENDPOINT_URL": self.s3_endpoint,
            "DJANGO_AWS_S3_REGION_NAME": "us-east-1",
            "DJANGO_AWS_ACCESS_KEY_ID": "smoke",
            "DJANGO_AWS_SECRET_ACCESS_KEY": "smoke",
            "DJANGO_EMAIL_HOST": "127.0.0.1",
            "DJANGO_EMAIL_PORT": str(self.smtp.port),
            "DJANGO_EMAIL_USE_TLS": "false",
            "DJANGO_DEFAULT_FROM_EMAIL": "Lyo Smoke <no-reply@smoke.example.com>",
            "LYO_METRICS_TOKEN": self.metrics_token,
            "CELERY_CONCURRENCY": "1",
            # What an engine sets on the host network (the compose worker's healthcheck pings
            # worker@$HOSTNAME); podman leaves it empty there.
            "HOSTNAME": socket.gethostname(),
        }

    def env_file(self, role: str, **extra: str) -> Path:
        """Secrets reach the containers in a file (mode 0600), never on a command line."""
        service = self.services[role.rstrip("12")]
        values = {**literal_environment(service), **self.env, **extra}
        path = self.work / f"{role}.env"
        path.touch(mode=0o600)
        path.write_text("".join(f"{key}={value}\n" for key, value in values.items()))
        return path

    def command(self, role: str) -> list[str]:
        return [interpolate(str(part), self.env) for part in self.services[role]["command"]]

    def container_args(self, role: str, service: str, env_file: Path) -> list[str]:
        return [
            "--name",
            self.podman.name(role),
            "--label",
            self.podman.label,
            "--env-file",
            str(env_file),
            *hardening(self.services[service]),
            self.image,
        ]

    def release(self) -> None:
        result = self.podman(
            "run",
            "--rm",
            *self.container_args("release", "release", self.env_file("release")),
            *self.command("release"),
            timeout=300,
        )
        check(
            "Applying" in result.stdout or "No migrations" in result.stdout, result.stdout[-2000:]
        )
        setup = self.podman(
            "run",
            "--rm",
            *self.container_args("setup", "release", self.env_file("release")),
            "python",
            "manage.py",
            "shell",
            "-c",
            SETUP_SCRIPT,
            timeout=120,
        )
        check("SETUP-OK" in setup.stdout, setup.stdout + setup.stderr)

    def start_app(self) -> None:
        for role in ("worker", "beat"):
            self.podman(
                "run",
                "--detach",
                *self.container_args(role, role, self.env_file(role)),
                *self.command(role),
            )
        for index, port in enumerate(self.web_ports, start=1):
            # Loopback only: with the host's network, compose's 0.0.0.0 would be public here;
            # and nginx, on the host too, reaches the web containers from loopback, not from
            # compose's fixed nginx address (172.30.0.10): loopback is the trusted proxy here.
            env_file = self.env_file(
                f"web{index}",
                PORT=str(port),
                GUNICORN_BIND=f"127.0.0.1:{port}",
                LYO_TRUSTED_PROXIES="127.0.0.1/32",
                GUNICORN_FORWARDED_ALLOW_IPS="127.0.0.1",
            )
            self.podman(
                "run",
                "--detach",
                *self.container_args(f"web{index}", "web", env_file),
                *self.command("web"),
            )

    def start_nginx(self) -> None:
        self.prefix = nginx_prefix(
            web_ports=self.web_ports,
            http_port=self.http_port,
            https_port=self.https_port,
            server_names="localhost 127.0.0.1",
        )
        args = [
            nginx_binary(),
            "-p",
            f"{self.prefix}/",
            "-c",
            str(self.prefix / "nginx.conf"),
            "-e",
            str(self.prefix / "logs" / "error.log"),
        ]
        tested = subprocess.run(
            [*args, "-t"], capture_output=True, text=True, timeout=30, check=False
        )
        check(tested.returncode == 0, tested.stderr)
        self.processes.add(Process.start("nginx", args, log_dir=self.log_dir, env=clean_env()))
        self.base = f"https://localhost:{self.https_port}"
        self.cert = self.prefix / "certs" / "fullchain.pem"

    def wait_healthy(self) -> None:
        """The image's own HEALTHCHECK (kept by --format docker), run the way an engine does."""
        for index in (1, 2):
            name = self.podman.name(f"web{index}")
            wait_until(
                lambda name=name: (
                    self.running(name)
                    and self.podman("healthcheck", "run", name, timeout=30, ok=False).returncode
                    == 0
                ),
                timeout=90,
                what=f"{name}'s HEALTHCHECK",
                interval=1,
            )
        worker = self.services["worker"]["healthcheck"]["test"]
        check(worker[0] == "CMD-SHELL", worker)
        wait_until(
            lambda: (
                self.podman(
                    "exec",
                    self.podman.name("worker"),
                    "sh",
                    "-c",
                    interpolate(worker[1], {}),
                    timeout=40,
                    ok=False,
                ).returncode
                == 0
            ),
            timeout=90,
            what="the worker's compose healthcheck (celery inspect ping)",
            interval=2,
        )

    def running(self, name: str) -> bool:
        state = self.podman("inspect", "--format", "{{.State.Running}}", name, ok=False)
        if state.stdout.strip() == "false":
            raise SmokeFailure(f"{name} exited:\n{self.logs(name)}")
        return state.stdout.strip() == "true"

    def logs(self, name: str, tail: int = 80) -> str:
        result = self.podman("logs", "--tail", str(tail), name, timeout=30, ok=False)
        return (result.stdout + result.stderr)[-8000:]

    # --- checks ---------------------------------------------------------------------------------
    def hardened_as_compose(self) -> None:
        web1 = self.podman.name("web1")
        inside = self.podman(
            "exec",
            web1,
            "sh",
            "-c",
            "id -u; grep CapEff /proc/1/status; grep NoNewPrivs /proc/1/status;"
            " touch /app/written 2>/dev/null && echo writable || echo read-only;"
            " touch /tmp/written && echo tmp-writable",
        ).stdout
        check(inside.split()[0] == "10001", f"web runs as uid {inside.split()[0]}, not lyo (10001)")
        check(re.search(r"CapEff:\s+0+\n", inside), f"capabilities left: {inside}")
        check(re.search(r"NoNewPrivs:\s+1", inside), f"no-new-privileges is off: {inside}")
        check("read-only" in inside and "tmp-writable" in inside, inside)
        # gunicorn sizes its pool from the CPU quota (--cpus 1.0 from the compose file, a cgroup v1
        # quota on hybrid hosts): 2 x 1 + 1 workers.
        booted = len(re.findall(r"Booting worker with pid", self.logs(web1, tail=400)))
        check(booted == 3, f"web1 booted {booted} gunicorn workers, 3 expected under --cpus 1")

    def session(self) -> requests.Session:
        session = requests.Session()
        session.trust_env = False  # REQUESTS_CA_BUNDLE would replace our certificate
        session.verify = str(self.cert)
        return session

    def url(self, path: str) -> str:
        return urljoin(self.base, path)

    def journey(self) -> None:
        api = self.session()
        ready = wait_until(
            lambda: (r := api.get(self.url("/health/ready/"), timeout=10)).status_code == 200 and r,
            timeout=60,
            what="/health/ready/ through nginx",
            interval=0.5,
        )
        checks = {name: entry["status"] for name, entry in ready.json()["checks"].items()}
        check(set(checks.values()) == {"ok"}, f"readiness: {checks}")
        check("Strict-Transport-Security" in ready.headers, ready.headers)
        redirect = requests.get(
            f"http://127.0.0.1:{self.http_port}/api/v1/courses/", allow_redirects=False, timeout=10
        )
        check(redirect.status_code == 301, f"plain HTTP answered {redirect.status_code}")

        # Sign-up: the verification email goes out through the worker container.
        registered = api.post(
            self.url("/api/v1/auth/register/"),
            json={"email": LEARNER, "password": PASSWORD, "display_name": "Lea Smoke"},
            timeout=15,
        )
        check(
            registered.status_code == 201,
            f"register: {registered.status_code} {registered.text[:500]}",
        )
        message = wait_until(
            lambda: next((m.message for m in self.mail.messages if LEARNER in m.rcpt_tos), None),
            timeout=45,
            what="the verification email (sent by the worker container)",
            interval=0.3,
        )
        body = message.get_body(preferencelist=("plain", "html")).get_content()
        link = re.search(r"https://[^/\s]+(/accounts/confirm-email/[^\s/]+/)", body)
        check(link, f"no confirmation link in:\n{body}")

        browser = self.session()
        page = browser.get(self.url(link[1]), timeout=10)
        check(page.status_code == 200, f"confirmation page: {page.status_code}")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        action = re.search(r'<form[^>]*method="post"[^>]*action="([^"]*)"', page.text, flags=re.I)
        check(token, "no CSRF token on the confirmation page")
        confirmed = browser.post(
            urljoin(page.url, action[1] if action and action[1] else page.url),
            data={"csrfmiddlewaretoken": token[1]},
            headers={"Referer": page.url},
            timeout=10,
        )
        check(
            confirmed.status_code == 200,
            f"confirming: {confirmed.status_code} {confirmed.text[:300]}",
        )
        check(urlsplit(confirmed.url).path == "/accounts/confirmed/", confirmed.url)

        def bearer(email: str) -> dict[str, str]:
            answer = api.post(
                self.url("/api/v1/auth/token/"),
                json={"email": email, "password": PASSWORD},
                timeout=10,
            )
            check(
                answer.status_code == 200,
                f"token for {email}: {answer.status_code} {answer.text[:300]}",
            )
            return {"Authorization": f"Bearer {answer.json()['access']}"}

        learner, instructor = bearer(LEARNER), bearer(INSTRUCTOR)
        course = api.post(
            self.url("/api/v1/courses/"),
            json={"title": "Shipping images", "summary": "Built without Docker."},
            headers=instructor,
            timeout=10,
        )
        check(course.status_code == 201, f"course: {course.status_code} {course.text[:300]}")
        slug = course.json()["slug"]
        lesson = api.post(
            self.url(f"/api/v1/courses/{slug}/lessons/"),
            json={"title": "Read-only roots", "body_markdown": "Write to **/tmp** only."},
            headers=instructor,
            timeout=10,
        )
        check(lesson.status_code == 201, f"lesson: {lesson.status_code} {lesson.text[:300]}")
        published = api.post(
            self.url(f"/api/v1/courses/{slug}/publish/"), headers=instructor, timeout=10
        )
        check(
            published.status_code == 200, f"publish: {published.status_code} {published.text[:300]}"
        )
        enrolled = api.post(
            self.url(f"/api/v1/courses/{slug}/enrollment/"), headers=learner, timeout=10
        )
        check(
            enrolled.status_code in (200, 201),
            f"enroll: {enrolled.status_code} {enrolled.text[:300]}",
        )
        completed = api.post(
            self.url(f"/api/v1/lessons/{lesson.json()['id']}/complete/"),
            headers=learner,
            timeout=10,
        )
        check(
            completed.status_code == 200,
            f"complete: {completed.status_code} {completed.text[:300]}",
        )
        wait_until(
            lambda: (
                api.get(self.url("/api/v1/me/gamification/"), headers=learner, timeout=10).json()[
                    "xp"
                ]
                > 0
            ),
            timeout=45,
            what="XP awarded by the worker container",
            interval=0.5,
        )
        wait_until(
            lambda: "requeue_stale_emails" in self.logs(self.podman.name("worker"), tail=2000),
            timeout=30,
            what="a task scheduled by the beat container to reach the worker",
            interval=1,
        )

        # Static files collected at build time, served by WhiteNoise from the read-only image.
        manifest = self.podman(
            "run",
            "--rm",
            "--network",
            "none",
            "--entrypoint",
            "cat",
            self.image,
            "/app/staticfiles/staticfiles.json",
        )
        hashed = json.loads(manifest.stdout)["paths"]["admin/css/base.css"]
        static = api.get(self.url(f"/static/{hashed}"), timeout=10)
        check(
            static.status_code == 200 and "immutable" in static.headers.get("Cache-Control", ""),
            static.headers,
        )

        hidden = api.get(self.url("/metrics"), timeout=10)
        check(hidden.status_code == 404, f"/metrics through nginx answered {hidden.status_code}")
        metrics = requests.get(
            f"http://127.0.0.1:{self.web_ports[0]}/metrics",
            headers={"Host": "localhost", "Authorization": f"Bearer {self.metrics_token}"},
            timeout=10,
        )
        check(
            metrics.status_code == 200 and "django_http_requests" in metrics.text,
            f"metrics: {metrics.status_code}",
        )

        # nginx spread the journey over both web containers.
        for index in (1, 2):
            name = self.podman.name(f"web{index}")
            proxied = self.logs(name, tail=2000).count('"forwarded_for": "127.0.0.1"')
            check(proxied >= 3, f"{name} got {proxied} requests through nginx")

    def failover(self) -> None:
        web1, web2 = self.podman.name("web1"), self.podman.name("web2")
        self.podman("kill", "--signal", "KILL", web1, timeout=30)
        wait_until(
            lambda: not self.container_running(web1),
            timeout=20,
            what=f"{web1} to die",
            interval=0.2,
        )
        api = self.session()
        statuses = [
            api.get(self.url("/api/v1/courses/"), timeout=10).status_code for _ in range(20)
        ]
        check(statuses == [200] * 20, f"after killing web1: {statuses}")
        check(self.container_running(web2), f"web2 stopped:\n{self.logs(web2)}")

    def container_running(self, name: str) -> bool:
        state = self.podman("inspect", "--format", "{{.State.Running}}", name, ok=False)
        return state.stdout.strip() == "true"

    # --- cleanup and reporting ------------------------------------------------------------------
    def diagnostics(self) -> str:
        parts = []
        for role in ("release", "web1", "web2", "worker", "beat"):
            name = self.podman.name(role)
            if self.podman("container", "exists", name, ok=False).returncode == 0:
                parts.append(f"===== {name} =====\n{self.logs(name)}")
        parts.append(self.processes.report())
        if self.prefix is not None:
            error_log = self.prefix / "logs" / "error.log"
            if error_log.exists():
                parts.append(
                    f"===== nginx error.log =====\n{error_log.read_text(errors='replace')[-3000:]}"
                )
        return "\n".join(parts)

    def cleanup(self) -> None:
        steps = [
            ("containers", self.podman.remove_all),
            ("processes", self.processes.stop_all),
            ("smtp", lambda: self.smtp and self.smtp.stop()),
            ("moto", lambda: self.moto and self.moto.stop()),
            ("database", lambda: self.database_created and self.pg.drop_database(self.database)),
            (
                "nginx prefix",
                lambda: self.prefix and shutil.rmtree(self.prefix, ignore_errors=True),
            ),
            ("work dir", lambda: shutil.rmtree(self.work, ignore_errors=True)),
        ]
        for what, step in steps:
            try:
                step()
            except Exception as exc:  # one failed step must not keep the others from running
                print(f"image-smoke: cleanup of {what} failed: {exc!r}", file=sys.stderr)
        left = self.podman.ours()
        if left:
            print(f"image-smoke: containers left behind: {left}", file=sys.stderr)


def build(image: str, timeout: float) -> None:
    env = dict(
        os.environ, CONTAINERS_CONF=os.environ.get("CONTAINERS_CONF") or str(CONTAINERS_CONF)
    )
    result = subprocess.run(
        ["bash", str(ROOT / "docker" / "build-image.sh"), image],
        cwd=ROOT,
        env=env,
        timeout=timeout,
        check=False,
    )
    check(result.returncode == 0, f"docker/build-image.sh exited {result.returncode}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image", default=os.environ.get("LYO_SMOKE_IMAGE", "localhost/lyo:smoke"))
    parser.add_argument("--no-build", action="store_true", help="use the image as it is")
    parser.add_argument(
        "--timeout", type=int, default=int(os.environ.get("LYO_SMOKE_TIMEOUT", "1200"))
    )
    args = parser.parse_args(argv)

    def interrupt(signum, _frame):
        raise Interrupted(signal.Signals(signum).name)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGALRM):
        signal.signal(signum, interrupt)
    signal.alarm(args.timeout)  # the whole run, build included

    started = time.monotonic()
    smoke = Smoke(args.image)
    try:
        if not args.no_build:
            with smoke.phase("build"):
                build(args.image, timeout=args.timeout)
        try:
            with smoke.phase("services (PostgreSQL database, redis-server, moto S3, SMTP)"):
                smoke.outside_services()
            with smoke.phase("release step (migrate, periodic tasks) from the image"):
                smoke.release()
            with smoke.phase("web x 2, worker, beat hardened; nginx with TLS"):
                smoke.start_app()
                smoke.start_nginx()
                smoke.wait_healthy()
            with smoke.phase("hardening as the compose file declares it"):
                smoke.hardened_as_compose()
            with smoke.phase("API journey through nginx"):
                smoke.journey()
            with smoke.phase("one web container killed, nginx keeps serving"):
                smoke.failover()
        except (
            AssertionError,
            Interrupted,
            subprocess.TimeoutExpired,
            requests.RequestException,
        ) as failure:
            print(f"image-smoke: FAILED: {failure}\n\n{smoke.diagnostics()}", file=sys.stderr)
            return 1
    except (AssertionError, Interrupted, subprocess.TimeoutExpired) as failure:
        print(f"image-smoke: FAILED: {failure}", file=sys.stderr)
        return 1
    finally:
        signal.alarm(0)
        with smoke.phase("cleanup"):
            smoke.cleanup()
        for name, duration in smoke.timings:
            log(f"  {duration:6.1f}s  {name}")
        log(f"  {time.monotonic() - started:6.1f}s  total")
    log("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
