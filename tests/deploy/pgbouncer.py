"""A private PgBouncer (Debian's `pgbouncer` package) in transaction pooling mode on a free
loopback port, in front of a PostgreSQL server: the configuration docs/operations.md gives for
production, with loopback paths. PgBouncer refuses to run as root; as root it runs as the
`postgres` OS user."""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psycopg

from tests.deploy.conftest import PgServer
from tests.processes import Process, free_port, wait_until

INI = """\
[databases]
; every database name, on the server PgBouncer pools for
* = host={host} port={server_port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
pidfile = {root}/pgbouncer.pid
auth_type = trust
auth_file = {root}/userlist.txt
admin_users = {user}
pool_mode = transaction
; a few server connections serve many clients: the point of a pooler
default_pool_size = 8
max_client_conn = 400
; psycopg and Django send no other startup parameters PgBouncer does not track
ignore_startup_parameters = extra_float_digits,options
server_reset_query =
"""


@dataclass
class PgBouncer:
    process: Process
    port: int
    server: PgServer

    @property
    def pooled(self) -> PgServer:
        """Connection details of the pooler, as clients use them."""
        return PgServer(host="127.0.0.1", port=self.port, user=self.server.user, password="")

    def show(self, what: str) -> list[dict]:
        """SHOW <what> on the admin console (e.g. STATS, POOLS)."""
        with psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user=self.server.user,
            dbname="pgbouncer",
            autocommit=True,
            prepare_threshold=None,
        ) as conn:
            cursor = conn.cursor()
            cursor.execute(f"SHOW {what}")
            names = [column.name for column in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def start_pgbouncer(server: PgServer, log_dir: Path) -> tuple[PgBouncer, Path]:
    binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    assert Path(binary).exists(), "pgbouncer is not installed (.ci/run installs Debian's package)"
    root = Path(tempfile.mkdtemp(prefix="lyo-pgbouncer-"))
    root.chmod(0o755)
    port = free_port()
    (root / "userlist.txt").write_text(f'"{server.user}" ""\n')
    ini = root / "pgbouncer.ini"
    ini.write_text(
        INI.format(
            host=server.host, server_port=server.port, port=port, root=root, user=server.user
        )
    )
    args = [binary, str(ini)]
    if os.geteuid() == 0:
        postgres = pwd.getpwnam("postgres")
        for path in (root, ini, root / "userlist.txt"):
            os.chown(path, postgres.pw_uid, postgres.pw_gid)
        args = ["runuser", "-u", "postgres", "--", *args]
    process = Process.start("pgbouncer", args, log_dir=log_dir, env={"PATH": os.environ["PATH"]})
    bouncer = PgBouncer(process=process, port=port, server=server)
    wait_until(lambda: bouncer.show("VERSION"), timeout=15, what=f"pgbouncer\n{process.log()}")
    return bouncer, root
