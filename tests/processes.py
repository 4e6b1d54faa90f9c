"""Plumbing of the tests that run real processes: free loopback ports, bounded waits, child
processes in their own session with their output in a file, and a private redis-server.

The shared Redis of the machine is never touched: a test that needs Redis to fail starts its
own (`RedisServer(...)`, or `with private_redis() as server:`), then `server.stop()` (gone:
connections refused), `server.freeze()` (SIGSTOP: connections accepted, nothing answered) and
`server.thaw()`. Importable from every test package and from scripts (`python -m tests...`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parents[1]


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
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


class RedisServer:
    """A private redis-server on a free loopback port (no persistence) that a test may stop,
    start again on the same port, or freeze (SIGSTOP: connections are accepted by the kernel
    but never answered, as a hung server)."""

    def __init__(
        self,
        name: str,
        *,
        log_dir: Path,
        env: dict | None = None,
        on_start: Callable[[Process], object] = lambda process: None,
        port: int | None = None,
        start: bool = True,
    ):
        """`on_start` is given each process started (e.g. Processes.add, for teardown);
        `start=False` only reserves the port (a server that is down until `start()`)."""
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed"
        self.name, self.binary, self.log_dir = name, binary, log_dir
        self.env = env if env is not None else {"PATH": os.environ["PATH"]}
        self.on_start = on_start
        self.port = port or free_port()
        self.process: Process | None = None
        self.frozen = False
        if start:
            self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.alive

    def start(self) -> None:
        self.process = Process.start(
            self.name,
            [
                self.binary,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--daemonize", "no",
                "--dir", str(self.log_dir),
            ],
            log_dir=self.log_dir,
            env=self.env,
        )  # fmt: skip
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

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2)

    def command(self, *args: str):
        """One command through redis-py (e.g. ZSCORE, LLEN), answered within 2 s."""
        client = redis.Redis(port=self.port, socket_timeout=2, socket_connect_timeout=2)
        try:
            return client.execute_command(*args)
        finally:
            client.close()


@contextlib.contextmanager
def private_redis() -> Iterator[RedisServer]:
    """A RedisServer in a directory of its own, stopped (and thawed) at the end."""
    with tempfile.TemporaryDirectory(prefix="lyo-redis-") as directory:
        server = RedisServer("redis", log_dir=Path(directory))
        try:
            yield server
        finally:
            server.stop()
