"""Building blocks of the production-like stack on loopback (tests/deploy/test_production_stack.py):
processes in their own process groups with their output in files, a self-signed certificate,
and nginx configured from the repository's own files (docker/nginx/)."""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.deploy.conftest import ROOT

NGINX_DIR = ROOT / "docker" / "nginx"
VENV_BIN = Path(sys.executable).parent


def procfile() -> dict[str, str]:
    """The Procfile's process types and their commands (release, web, worker, beat)."""
    entries = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if ":" in line and not line.startswith("#"):
            name, command = line.split(":", 1)
            entries[name.strip()] = command.strip()
    return entries


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(check: Callable[[], object], *, timeout: float, what: str, interval=0.1):
    """Poll `check` until it returns something truthy; fail with `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
        except Exception as exc:
            last_error = exc
        else:
            if result:
                return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} ({last_error!r})")


@dataclass
class Process:
    """A child process in its own session (so the whole group can be signalled)."""

    name: str
    popen: subprocess.Popen
    log_path: Path

    @classmethod
    def start(cls, name: str, args: list[str], *, log_dir: Path, env: dict, cwd: Path = ROOT):
        log_path = log_dir / f"{name}.log"
        with log_path.open("wb") as log:
            popen = subprocess.Popen(
                args,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return cls(name=name, popen=popen, log_path=log_path)

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def log(self, tail: int = 6000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-tail:]
        except OSError:
            return ""

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the whole process group (master and workers), as a crashed container."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, sig)

    def stop(self, timeout: float = 8) -> None:
        if self.alive:
            self.kill(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout)
        self.kill(signal.SIGKILL)  # stragglers of the group, if any
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(5)


def child_pids(pid: int) -> list[int]:
    """The live child processes of `pid` (e.g. gunicorn's or Celery's workers), from /proc."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # "pid (comm) state ppid ...": comm may hold spaces, so split after its ")".
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            children.append(int(entry.name))
    return sorted(children)


class RedisServer:
    """A private redis-server on a free loopback port (no persistence) that a test may stop,
    start again on the same port, or freeze (SIGSTOP: connections are accepted by the kernel
    but never answered, as a hung server)."""

    def __init__(
        self,
        name: str,
        *,
        log_dir: Path,
        env: dict,
        on_start: Callable[[Process], object] = lambda process: None,
    ):
        """`on_start` is given each process started (e.g. Processes.add, for teardown)."""
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed"
        self.name, self.binary, self.log_dir, self.env = name, binary, log_dir, env
        self.on_start = on_start
        self.port = free_port()
        self.process: Process | None = None
        self.frozen = False
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = Process.start(
            self.name,
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--dir",
                str(self.log_dir),
            ],
            log_dir=self.log_dir,
            env=self.env,
        )
        self.on_start(self.process)
        wait_until(self.answers, timeout=10, what=f"{self.name} to answer ({self.process.log()})")

    def answers(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
            conn.settimeout(1)
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")

    def stop(self) -> None:
        """Gone: the port refuses connections (its data is lost, as without persistence)."""
        if self.process is not None:
            self.thaw()
            self.process.stop(timeout=5)
            self.process = None

    def freeze(self) -> None:
        assert self.process is not None and self.process.alive
        os.kill(self.process.popen.pid, signal.SIGSTOP)
        self.frozen = True

    def thaw(self) -> None:
        if self.frozen and self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.popen.pid, signal.SIGCONT)
        self.frozen = False

    def command(self, *args: str):
        """One command through redis-py (e.g. ZSCORE, LLEN), answered within 2 s."""
        import redis

        client = redis.Redis(port=self.port, socket_timeout=2, socket_connect_timeout=2)
        try:
            return client.execute_command(*args)
        finally:
            client.close()


@dataclass
class Processes:
    items: list[Process] = field(default_factory=list)

    def add(self, process: Process) -> Process:
        self.items.append(process)
        return process

    def stop_all(self) -> None:
        for process in reversed(self.items):
            process.stop()

    def report(self) -> str:
        return "\n".join(
            f"===== {p.name} (exit {p.popen.poll()}) =====\n{p.log(3000)}" for p in self.items
        )


def start_redis(processes: Processes, log_dir: Path, name: str, port: int) -> Process:
    """A private redis-server on `port` (no persistence), ready when this returns."""
    redis = processes.add(
        Process.start(
            name,
            [
                "redis-server",
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(log_dir),
            ],
            log_dir=log_dir,
            env={"PATH": os.environ["PATH"]},
        )
    )
    wait_until(
        lambda: (
            subprocess.run(
                ["redis-cli", "-p", str(port), "ping"], capture_output=True, text=True, check=False
            ).stdout.strip()
            == "PONG"
        ),
        timeout=10,
        what=f"redis-server ({name})",
    )
    return redis


def self_signed_certificate(directory: Path, hosts=("localhost",), ips=("127.0.0.1",)) -> Path:
    """fullchain.pem + privkey.pem for the given names (a self-signed CA certificate, so
    clients can trust it directly); returns the certificate's path."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(h) for h in hosts]
                + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path = directory / "fullchain.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path = directory / "privkey.pem"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return cert_path


def render_template(text: str, variables: dict[str, str]) -> str:
    """envsubst as the nginx image runs it: only ${LYO_NGINX_*} are replaced."""

    def replace(match: re.Match) -> str:
        return variables[match.group(1)]

    rendered = re.sub(r"\$\{(LYO_NGINX_[A-Z_]+)\}", replace, text)
    assert "${LYO_NGINX_" not in rendered
    return rendered


def loopback_upstream(web_ports: list[int]) -> str:
    """docker/nginx/lyo/upstream.conf with its servers (Docker DNS name "web") replaced by the
    gunicorn ports on loopback; every other parameter stays as in production."""
    text = (NGINX_DIR / "lyo" / "upstream.conf").read_text()
    text = re.sub(r"^resolver .*$", "", text, flags=re.M)
    server = re.search(r"^\s*server web:8000 resolve (?P<params>[^;]*);$", text, flags=re.M)
    assert server, "upstream.conf no longer has the expected server line"
    lines = "\n".join(f"    server 127.0.0.1:{port} {server['params']};" for port in web_ports)
    return text.replace(server.group(0), lines)


def nginx_prefix(
    *,
    web_ports: list[int],
    http_port: int,
    https_port: int,
    server_names: str,
) -> Path:
    """A self-contained nginx prefix: generated nginx.conf (process settings for a test run),
    the repository's lyo/*.conf and rendered template, and a fresh certificate."""
    prefix = Path(tempfile.mkdtemp(prefix="lyo-nginx-"))
    prefix.chmod(0o755)  # workers run as nobody when the test runs as root
    (prefix / "logs").mkdir()
    (prefix / "conf.d").mkdir()
    shutil.copytree(NGINX_DIR / "lyo", prefix / "lyo")
    (prefix / "lyo" / "upstream.conf").write_text(loopback_upstream(web_ports))
    template = (NGINX_DIR / "templates" / "lyo.conf.template").read_text()
    (prefix / "conf.d" / "lyo.conf").write_text(
        render_template(
            template,
            {
                "LYO_NGINX_SERVER_NAME": server_names,
                "LYO_NGINX_HTTP_LISTEN": f"127.0.0.1:{http_port}",
                "LYO_NGINX_HTTPS_LISTEN": f"127.0.0.1:{https_port}",
            },
        )
    )
    self_signed_certificate(prefix / "certs")
    production = (NGINX_DIR / "nginx.conf").read_text()
    http_includes = re.search(r"http \{(?P<body>.*)\}", production, flags=re.S)["body"]
    user = "user nobody nogroup;" if os.geteuid() == 0 else ""
    mime = "" if Path("/etc/nginx/mime.types").exists() else "\n# (no mime.types)"
    http_body = (
        http_includes if not mime else http_includes.replace("include /etc/nginx/mime.types;", mime)
    )
    (prefix / "nginx.conf").write_text(
        f"""# Generated for a test run: production's http block, loopback process settings.
{user}
worker_processes 2;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log info;
events {{
    worker_connections 512;
}}
http {{
    client_body_temp_path {prefix}/spool/body;
    proxy_temp_path {prefix}/spool/proxy;
    fastcgi_temp_path {prefix}/spool/fastcgi;
    uwsgi_temp_path {prefix}/spool/uwsgi;
    scgi_temp_path {prefix}/spool/scgi;
{http_body}
}}
"""
    )
    (prefix / "spool").mkdir()
    return prefix


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else "")
    assert found, "nginx is not installed (.ci/run installs Debian's nginx-light)"
    return found
