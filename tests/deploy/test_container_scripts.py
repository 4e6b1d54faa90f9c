"""docker/entrypoint.sh (waits for PostgreSQL, bounded) and docker/healthcheck.py, run for real."""

import contextlib
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.deploy.conftest import ROOT, clean_env
from tests.processes import free_port

ENTRYPOINT = ROOT / "docker" / "entrypoint.sh"
HEALTHCHECK = ROOT / "docker" / "healthcheck.py"
VENV_PATH = f"{Path(sys.executable).parent}:{clean_env()['PATH']}"


def entrypoint(*command: str, timeout: float = 30, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["sh", str(ENTRYPOINT), *command],
        env=clean_env(PATH=VENV_PATH, **env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class _DelayedForwarder:
    """A TCP port that starts forwarding to PostgreSQL only after `delay` seconds: a database
    container that is still starting."""

    def __init__(self, target: tuple[str, int], delay: float):
        self.port = free_port()
        self.target = target
        self.delay = delay
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)

    def _serve(self) -> None:
        if self._stop.wait(self.delay):
            return
        with socket.create_server(("127.0.0.1", self.port)) as server:
            server.settimeout(0.2)
            while not self._stop.is_set():
                try:
                    client, _ = server.accept()
                except TimeoutError:
                    continue
                upstream = socket.create_connection(self.target)
                for a, b in ((client, upstream), (upstream, client)):
                    threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)


def test_entrypoint_waits_for_the_database_then_runs_the_command(pg_server):
    with _DelayedForwarder((pg_server.host, pg_server.port), delay=1.5) as late:
        url = f"postgres://{pg_server.user}@127.0.0.1:{late.port}/postgres"
        started = time.monotonic()
        result = entrypoint("sh", "-c", "echo command-ran", DATABASE_URL=url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "command-ran"
    assert "waiting for the database (attempt 1)" in result.stderr
    assert "database is up after" in result.stderr
    assert time.monotonic() - started >= 1.5


def test_entrypoint_gives_up_after_the_deadline_without_running_the_command():
    url = f"postgres://postgres@127.0.0.1:{free_port()}/postgres"
    started = time.monotonic()
    result = entrypoint("sh", "-c", "echo command-ran", DATABASE_URL=url, LYO_DB_WAIT_SECONDS="1")
    assert result.returncode == 1
    assert "command-ran" not in result.stdout
    assert "database still unreachable after" in result.stderr
    assert time.monotonic() - started < 15


@pytest.mark.parametrize(
    "env", [{"DATABASE_URL": "sqlite:////tmp/x.sqlite3"}, {"LYO_WAIT_FOR_DB": "0"}, {}]
)
def test_entrypoint_skips_the_wait_when_there_is_nothing_to_wait_for(env):
    result = entrypoint("sh", "-c", 'echo "args: $0 $1"', "first", **env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "args: first"


def test_entrypoint_prepares_the_prometheus_multiprocess_folder(tmp_path):
    folder = tmp_path / "tmpfs" / "prometheus"
    result = entrypoint(
        "sh",
        "-c",
        'test -d "$PROMETHEUS_MULTIPROC_DIR" && echo ready',
        PROMETHEUS_MULTIPROC_DIR=str(folder),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ready"


class _Recorder(BaseHTTPRequestHandler):
    seen: list = []

    def do_GET(self):
        type(self).seen.append(
            (self.path, self.headers.get("Host"), self.headers.get("X-Forwarded-Proto"))
        )
        status = 200 if self.path == "/health/live/" else 503
        self.send_response(status)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


def test_healthcheck_asks_the_local_process_as_an_allowed_host():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        env = clean_env(
            PORT=str(server.server_address[1]),
            DJANGO_ALLOWED_HOSTS=".lyo.example.com,other.example.com",
        )

        def probe(*args: str) -> int:
            return subprocess.run(
                [sys.executable, str(HEALTHCHECK), *args], env=env, capture_output=True, timeout=15
            ).returncode

        assert probe() == 0
        assert probe("/health/ready/") == 1  # a 503 is unhealthy
        assert _Recorder.seen[0] == ("/health/live/", "lyo.example.com", "https")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    assert probe() == 1  # nothing listening
