"""Building blocks of the production-like stack on loopback (tests/deploy/test_production_stack.py):
the stack's processes (each a tests.processes.Process: its own process group, its output in a
file), a self-signed certificate, and nginx configured from the repository's own files
(docker/nginx/). Ports, waits and private redis-servers are in tests/processes.py."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.deploy.conftest import ROOT
from tests.processes import Process

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
