"""A private PostgreSQL primary and its streaming replica on free loopback ports, for the read
replica tests (tests/deploy/test_replicas.py): initdb, then `pg_basebackup -R` into a second
data directory, both started with pg_ctl. The suite's shared server is never reconfigured.

PostgreSQL refuses to run as root: when the tests run as root (as .ci/run does), every server
binary runs as the `postgres` OS user, which owns the data directories.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.deploy.conftest import PgServer
from tests.processes import free_port, wait_until


def postgres_bin() -> Path:
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name)
    )
    assert versions, "PostgreSQL server binaries are missing (/usr/lib/postgresql/*/bin)"
    return versions[-1].parent


def _as_server_user(args: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return args
    return ["runuser", "-u", "postgres", "--", *args]


def _run(args: list[str], timeout: float = 60) -> str:
    result = subprocess.run(
        _as_server_user(args), capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, f"{args[0]} failed ({result.returncode}):\n{result.stderr}"
    return result.stdout


@dataclass
class Instance:
    data_dir: Path
    port: int

    @property
    def server(self) -> PgServer:
        return PgServer(host="127.0.0.1", port=self.port, user="postgres", password="")

    @property
    def log(self) -> Path:
        return self.data_dir.parent / f"{self.data_dir.name}.log"

    def start(self) -> None:
        _run(
            [
                str(postgres_bin() / "pg_ctl"),
                "start",
                "--wait",
                "--timeout=60",
                "-D",
                str(self.data_dir),
                "-l",
                str(self.log),
            ],
            timeout=90,
        )

    def stop(self, mode: str = "fast") -> None:
        with contextlib.suppress(AssertionError, subprocess.TimeoutExpired):
            _run(
                [
                    str(postgres_bin() / "pg_ctl"),
                    "stop",
                    "--wait",
                    "--timeout=30",
                    "-m",
                    mode,
                    "-D",
                    str(self.data_dir),
                ],
                timeout=45,
            )

    def query(self, statement: str, dbname: str = "postgres"):
        with self.server.connect(dbname, autocommit=True) as conn:
            cursor = conn.execute(statement)
            return cursor.fetchall() if cursor.description else []


@dataclass
class ReplicatedCluster:
    root: Path
    primary: Instance
    replica: Instance

    def replica_caught_up(self) -> bool:
        (target,) = self.primary.query("SELECT pg_current_wal_insert_lsn()::text")[0]
        (caught_up,) = self.replica.query(f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn")[
            0
        ]
        return bool(caught_up)

    def wait_for_replica(self, timeout: float = 30) -> None:
        wait_until(self.replica_caught_up, timeout=timeout, what="the replica to catch up")

    def stop(self) -> None:
        self.replica.stop("immediate")
        self.primary.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


_SETTINGS = """
# lyo test cluster: fast and disposable (no durability), loopback only.
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{sockets}'
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 32MB
max_connections = 60
wal_level = replica
max_wal_senders = 4
hot_standby = on
"""


def start_replicated_cluster() -> ReplicatedCluster:
    """A primary (initdb, trust authentication on loopback, replication allowed) and a hot
    standby streaming from it. The caller stops both with .stop()."""
    root = Path(tempfile.mkdtemp(prefix="lyo-pgpair-"))
    root.chmod(0o755)
    if os.geteuid() == 0:
        postgres = pwd.getpwnam("postgres")
        os.chown(root, postgres.pw_uid, postgres.pw_gid)
    bin_dir = postgres_bin()
    primary = Instance(root / "primary", free_port())
    replica = Instance(root / "replica", free_port())
    cluster = ReplicatedCluster(root, primary, replica)
    try:
        _run(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(primary.data_dir),
                "-U",
                "postgres",
                "--auth=trust",  # its pg_hba.conf then also lets loopback replicate
                "--encoding=UTF8",
                "--no-sync",
            ],
            timeout=120,
        )
        with (primary.data_dir / "postgresql.conf").open("a") as conf:
            conf.write(_SETTINGS.format(port=primary.port, sockets=root))
        primary.start()
        _run(
            [
                str(bin_dir / "pg_basebackup"),
                "-h",
                "127.0.0.1",
                "-p",
                str(primary.port),
                "-U",
                "postgres",
                "-D",
                str(replica.data_dir),
                "-R",  # standby.signal + primary_conninfo: a streaming replica
                "--wal-method=stream",
                "--checkpoint=fast",
                "--no-sync",
            ],
            timeout=120,
        )
        _run(
            [
                "sh",
                "-c",
                f"echo 'port = {replica.port}' >> '{replica.data_dir / 'postgresql.conf'}'",
            ]
        )
        replica.start()
        wait_until(
            lambda: replica.query("SELECT pg_is_in_recovery()")[0][0],
            timeout=30,
            what="the replica to accept read-only connections",
        )
    except BaseException:
        cluster.stop()
        raise
    return cluster
