"""nginx's own error answers (issue 17, item 7) are the API's JSON error envelope, not HTML:
a NUL (`%00`) in the path, a URI longer than a header buffer (414), a header or cookies beyond
the buffers, and plain HTTP sent to the HTTPS port. nginx runs with the repository's own
configuration (docker/nginx/, as tests/deploy/stack.py builds it) on loopback; these requests
never reach the web replicas, so none runs behind it."""

import json
import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.deploy.conftest import clean_env
from tests.deploy.stack import nginx_binary, nginx_prefix
from tests.processes import Process, free_port, wait_until


@dataclass
class Nginx:
    https_port: int
    cert: Path


@pytest.fixture(scope="module")
def nginx(tmp_path_factory) -> Iterator[Nginx]:
    https_port = free_port()
    prefix = nginx_prefix(
        web_ports=[free_port()],  # nothing listens there: these errors are nginx's own
        http_port=free_port(),
        https_port=https_port,
        server_names="localhost",
    )
    args = [nginx_binary(), "-p", f"{prefix}/", "-c", str(prefix / "nginx.conf")]
    args += ["-e", str(prefix / "logs" / "error.log")]
    checked = subprocess.run([*args, "-t"], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stderr
    process = Process.start(
        "nginx", args, log_dir=tmp_path_factory.mktemp("nginx"), env=clean_env()
    )
    try:
        wait_until(
            lambda: socket.create_connection(("127.0.0.1", https_port), timeout=1).close() or True,
            timeout=15,
            what="nginx listening",
        )
        yield Nginx(https_port=https_port, cert=prefix / "certs" / "fullchain.pem")
    finally:
        process.stop()
        shutil.rmtree(prefix, ignore_errors=True)


def exchange(nginx: Nginx, request: bytes, *, tls: bool = True) -> tuple[int, dict, bytes]:
    """Send raw bytes (nothing normalised on the way), read the whole answer."""
    raw = socket.create_connection(("127.0.0.1", nginx.https_port), timeout=10)
    if tls:
        context = ssl.create_default_context(cafile=str(nginx.cert))
        raw = context.wrap_socket(raw, server_hostname="localhost")
    with raw:
        raw.sendall(request)
        answer = b""
        while chunk := raw.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body


def get(path: str, *extra_headers: str) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: localhost", *extra_headers, "Connection: close"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def assert_envelope(status: int, headers: dict, body: bytes, expected: int, code: str) -> dict:
    assert status == expected, (status, body[:300])
    assert headers["content-type"].startswith("application/json"), headers
    error = json.loads(body)["error"]
    assert error["code"] == code
    assert set(error) == {"code", "message", "details", "request_id"}
    assert error["request_id"] and error["request_id"] == headers["x-request-id"]
    return error


def test_nul_in_the_path_is_a_json_400(nginx):
    status, headers, body = exchange(nginx, get("/api/v1/posts/%00/"))
    assert_envelope(status, headers, body, 400, "malformed_request")
    assert headers["strict-transport-security"].startswith("max-age=")


def test_a_uri_over_the_buffer_is_a_json_414(nginx):
    error = assert_envelope(
        *exchange(nginx, get("/api/v1/courses/?q=" + "a" * 9000)), 414, "uri_too_long"
    )
    assert error["details"] == {"max_bytes": 8192}


@pytest.mark.parametrize("header", ["Cookie: session=" + "c" * 9000, "X-Padding: " + "p" * 9000])
def test_an_oversized_header_is_a_json_400(nginx, header):
    answer = exchange(nginx, get("/api/v1/courses/", header))
    assert_envelope(*answer, 400, "headers_too_large")


def test_plain_http_to_the_https_port_is_a_json_400(nginx):
    answer = exchange(nginx, get("/api/v1/courses/"), tls=False)
    assert_envelope(*answer, 400, "malformed_request")
